/**
 * Per-interface byte counters of a namespace over time. A bash loop inside
 * the namespace reads /sys/class/net/<if>/statistics (sysfs as `ip netns
 * exec` mounts it for that namespace) with builtins only, so one process
 * samples for the whole run instead of one `ip -s -j link` per sample.
 */
import type { ChildProcess } from 'node:child_process';
import type { Netns } from '../tools/netns.js';
import { track } from './children.js';

/** One reading: wall-clock time (ms since the epoch) and bytes per interface. */
export interface CounterSample {
  at: number;
  ifaces: Record<string, { rx: number; tx: number }>;
}

/** Throughput of one interface between two samples, in Mbit/s, at the later sample's time. */
export interface RatePoint {
  at: number;
  rxMbit: number;
  txMbit: number;
}

const LOOP = (intervalMs: number): string =>
  `while :; do echo "T $EPOCHREALTIME"; for d in /sys/class/net/*; do ` +
  `{ read rx < "$d/statistics/rx_bytes" && read tx < "$d/statistics/tx_bytes" && echo "\${d##*/} $rx $tx"; } 2>/dev/null; ` +
  `done; sleep ${(intervalMs / 1000).toFixed(3)}; done`;

/** Parses the loop's output into samples; an unfinished last sample is left for the next chunk. */
export function parseCounterLines(lines: string[]): CounterSample[] {
  const out: CounterSample[] = [];
  let cur: CounterSample | null = null;
  for (const line of lines) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'T' && parts[1]) {
      cur = { at: Math.round(Number(parts[1].replace(',', '.')) * 1000), ifaces: {} };
      out.push(cur);
    } else if (cur && parts.length === 3 && parts[0]) {
      cur.ifaces[parts[0]] = { rx: Number(parts[1]), tx: Number(parts[2]) };
    }
  }
  return out;
}

/** Throughput per interface from consecutive samples; counters that went backwards (an interface re-created) count from zero. */
export function ratesByInterface(samples: CounterSample[]): Record<string, RatePoint[]> {
  const out: Record<string, RatePoint[]> = {};
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as CounterSample;
    const b = samples[i] as CounterSample;
    const dt = (b.at - a.at) / 1000;
    if (dt <= 0) continue;
    for (const [name, now] of Object.entries(b.ifaces)) {
      const before = a.ifaces[name] ?? { rx: 0, tx: 0 };
      const drx = now.rx >= before.rx ? now.rx - before.rx : now.rx;
      const dtx = now.tx >= before.tx ? now.tx - before.tx : now.tx;
      (out[name] ??= []).push({ at: b.at, rxMbit: (drx * 8) / dt / 1e6, txMbit: (dtx * 8) / dt / 1e6 });
    }
  }
  return out;
}

/** Samples the counters of `ns` every `intervalMs` until `stop()`. */
export class CounterSampler {
  readonly samples: CounterSample[] = [];
  private proc: ChildProcess | null = null;

  constructor(private readonly ns: Netns, private readonly intervalMs = 200) {}

  start(): void {
    if (this.proc) return;
    const proc = track(this.ns.spawn('bash', ['-c', LOOP(this.intervalMs)], { stdio: ['ignore', 'pipe', 'ignore'] }));
    this.proc = proc;
    let buf = '';
    let pending: string[] = [];
    proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      // A sample is complete when the next one's "T" line arrives.
      for (const line of lines) {
        if (line.startsWith('T ') && pending.length > 0) {
          this.samples.push(...parseCounterLines(pending));
          pending = [];
        }
        pending.push(line);
      }
    });
  }

  /** Stops the loop. Safe to call twice. */
  stop(): void {
    this.proc?.kill('SIGKILL');
    this.proc = null;
  }

  /** The samples as CSV: time in ms since `t0`, interface, rx and tx bytes. */
  csv(t0: number): string {
    const rows = ['t_ms,ifname,rx_bytes,tx_bytes'];
    for (const s of this.samples) {
      for (const [name, c] of Object.entries(s.ifaces)) rows.push(`${s.at - t0},${name},${c.rx},${c.tx}`);
    }
    return rows.join('\n') + '\n';
  }
}
