/**
 * The client mpsshd's own view of the run: its `connection-rates` events
 * (every MPTCP connection's throughput per interface, host-wide), read from
 * its status API's event stream on the control socket. The lab's plot is
 * drawn from these, so a run shows what the dashboard shows, and checks them
 * against the interfaces' byte counters.
 */
import http from 'node:http';

/** One sample: when the daemon read the kernel, and bits per second per interface. */
export interface DaemonRateSample {
  at: number;
  interfaces: Record<string, { sendBps: number; recvBps: number; subflows: number }>;
}

/** Parses one server-sent event block; the connection-rates ones become samples (pure). */
export function rateSampleFromEvent(block: string): DaemonRateSample | null {
  const event = /^event: (.+)$/m.exec(block)?.[1];
  const data = /^data: (.+)$/m.exec(block)?.[1];
  if (event !== 'connection-rates' || data === undefined) return null;
  try {
    const e = JSON.parse(data) as { sampledAt?: number; interfaces?: DaemonRateSample['interfaces'] };
    if (typeof e.sampledAt !== 'number' || typeof e.interfaces !== 'object' || e.interfaces === null) return null;
    return { at: e.sampledAt, interfaces: e.interfaces };
  } catch {
    return null;
  }
}

/** Megabytes received per interface by integrating the samples' rates (pure). */
export function receivedBytes(samples: readonly DaemonRateSample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as DaemonRateSample;
    const b = samples[i] as DaemonRateSample;
    const dt = (b.at - a.at) / 1000;
    if (dt <= 0) continue;
    for (const [name, r] of Object.entries(b.interfaces)) out[name] = (out[name] ?? 0) + (r.recvBps / 8) * dt;
  }
  return out;
}

/** Follows the event stream of the daemon behind `socketPath` until `stop()`. */
export class DaemonSamples {
  readonly samples: DaemonRateSample[] = [];
  private req: http.ClientRequest | null = null;

  constructor(private readonly socketPath: string) {}

  start(): void {
    if (this.req) return;
    let buf = '';
    this.req = http.get({ socketPath: this.socketPath, path: '/events' }, (res) => {
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const s = rateSampleFromEvent(buf.slice(0, i));
          buf = buf.slice(i + 2);
          if (s !== null) this.samples.push(s);
        }
      });
    });
    this.req.on('error', () => {});
  }

  /** Safe to call twice. */
  stop(): void {
    this.req?.destroy();
    this.req = null;
  }
}
