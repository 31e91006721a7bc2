/**
 * The daemon's view of running SSH sessions: one control channel per worker
 * (the handoff socket, or after a restart the worker's session socket),
 * polled for status. It reports sessions opening and closing, subflows
 * appearing and going, and byte samples for the status API.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../../util/logger.js';
import { workerMessageSchema, type SessionReport } from './control-protocol.js';
import { jsonLines, type JsonLines } from './json-lines.js';

export const POLL_MS = 1000;

/** What the registry tells the status publisher (it adds seq, time and interface names). */
export type SessionEvent =
  | { type: 'session-opened' | 'session-closed'; session: string; user: string; remote: string }
  | { type: 'subflow-established' | 'subflow-closed'; session: string; local: string; remote: string; ifindex?: number }
  | { type: 'session-sample'; session: string; report: SessionReport };

interface Tracked {
  id: string;
  ch: JsonLines;
  sock: net.Socket;
  report: SessionReport | undefined;
  authenticated: boolean;
  announced: boolean;
}

function subflowKey(s: SessionReport['subflows'][number]): string {
  return `${s.local.address}:${s.local.port}>${s.remote.address}:${s.remote.port}`;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private stopping = false;

  constructor(
    private readonly log: Logger,
    readonly sessionDir: string,
    private readonly onEvent: (e: SessionEvent) => void,
    private readonly pollMs = POLL_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  /** Tracks a worker that was just handed a connection. */
  adopt(id: string, control: net.Socket): void {
    this.track(id, control);
  }

  /** Finds sessions left by an earlier daemon: their workers listen on sessionDir/<id>.sock. */
  async discover(): Promise<number> {
    let names: string[];
    try {
      names = fs.readdirSync(this.sessionDir);
    } catch {
      return 0;
    }
    let found = 0;
    await Promise.all(
      names
        .filter((n) => /^[0-9a-f]{16}\.sock$/.test(n))
        .map(
          (n) =>
            new Promise<void>((resolve) => {
              const file = path.join(this.sessionDir, n);
              const sock = net.connect(file);
              sock.once('connect', () => {
                found++;
                const t = this.track(n.slice(0, 16), sock);
                t.ch.send({ op: 'hello' });
                resolve();
              });
              sock.once('error', () => {
                // No one listens: the worker is gone and could not remove its socket (it runs as the user).
                fs.rmSync(file, { force: true });
                resolve();
              });
            }),
        ),
    );
    if (found > 0) this.log.info({ sessions: found }, `found ${found} SSH session(s) still running from before the restart`);
    return found;
  }

  list(): SessionReport[] {
    return [...this.sessions.values()].flatMap((t) => (t.report ? [t.report] : []));
  }

  /** Connections handed over that have not authenticated yet (MaxStartups). */
  unauthenticated(): number {
    let n = 0;
    for (const t of this.sessions.values()) if (!t.authenticated) n++;
    return n;
  }

  /** Asks a worker to end its connection; false when no such session. */
  close(id: string, reason: string): boolean {
    const t = this.sessions.get(id);
    if (!t) return false;
    t.ch.send({ op: 'close', reason });
    return true;
  }

  /** Stops polling and lets go of the workers, which keep serving. */
  stop(): void {
    this.stopping = true;
    clearInterval(this.timer);
    for (const t of this.sessions.values()) t.sock.destroy();
    this.sessions.clear();
  }

  private track(id: string, sock: net.Socket): Tracked {
    const t: Tracked = { id, sock, report: undefined, authenticated: false, announced: false, ch: undefined as unknown as JsonLines };
    t.ch = jsonLines(
      sock,
      (raw) => this.onMessage(t, raw),
      (why) => this.log.warn({ session: id, why }, 'bad message from an SSH worker, ignoring'),
    );
    sock.on('close', () => this.gone(t));
    this.sessions.set(id, t);
    t.ch.send({ op: 'status', seq: ++this.seq });
    return t;
  }

  private onMessage(t: Tracked, raw: unknown): void {
    const parsed = workerMessageSchema.safeParse(raw);
    if (!parsed.success || (parsed.data.op === 'status' && parsed.data.session.id !== t.id)) {
      this.log.warn({ session: t.id }, 'SSH worker sent a malformed message, ignoring');
      return;
    }
    const msg = parsed.data;
    if (msg.op === 'authenticated') {
      t.authenticated = true;
      t.ch.send({ op: 'status', seq: ++this.seq });
    } else if (msg.op === 'status') {
      this.update(t, msg.session);
    }
  }

  private update(t: Tracked, report: SessionReport): void {
    const before = t.report;
    t.report = report;
    if (report.user !== '') t.authenticated = true;
    const remote = `${report.remote.address}:${report.remote.port}`;
    let opening = false;
    if (t.authenticated && !t.announced) {
      t.announced = opening = true;
      this.onEvent({ type: 'session-opened', session: t.id, user: report.user, remote });
    }
    if (!t.announced) return;
    // A session announced just now: its subflows are all news to listeners.
    const old = new Map((opening ? [] : before?.subflows ?? []).map((s) => [subflowKey(s), s]));
    const now = new Map(report.subflows.map((s) => [subflowKey(s), s]));
    for (const [k, s] of now) if (!old.has(k)) this.onEvent({ type: 'subflow-established', session: t.id, local: `${s.local.address}:${s.local.port}`, remote: `${s.remote.address}:${s.remote.port}`, ...(s.ifindex !== undefined ? { ifindex: s.ifindex } : {}) });
    for (const [k, s] of old) if (!now.has(k)) this.onEvent({ type: 'subflow-closed', session: t.id, local: `${s.local.address}:${s.local.port}`, remote: `${s.remote.address}:${s.remote.port}`, ...(s.ifindex !== undefined ? { ifindex: s.ifindex } : {}) });
    this.onEvent({ type: 'session-sample', session: t.id, report });
  }

  private gone(t: Tracked): void {
    if (this.stopping || this.sessions.get(t.id) !== t) return;
    this.sessions.delete(t.id);
    fs.rmSync(path.join(this.sessionDir, `${t.id}.sock`), { force: true });
    if (t.announced && t.report) this.onEvent({ type: 'session-closed', session: t.id, user: t.report.user, remote: `${t.report.remote.address}:${t.report.remote.port}` });
  }

  private poll(): void {
    for (const t of this.sessions.values()) t.ch.send({ op: 'status', seq: ++this.seq });
  }
}
