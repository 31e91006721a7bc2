/**
 * The daemon's view of running SSH sessions: one control channel per worker
 * (the handoff socket, or after a restart the worker's session socket),
 * polled for status. It reports sessions opening and closing, subflows
 * appearing and going, and byte samples for the status API.
 */
import fs from 'node:fs';
import net from 'node:net';
import { sendFd, socketPair } from '../../mptcp/fdpass.js';
import { native } from '../../mptcp/native.js';
import path from 'node:path';
import type { Logger } from '../../util/logger.js';
import { workerMessageSchema, type SessionReport } from './control-protocol.js';
import { jsonLines, type JsonLines } from './json-lines.js';
import { readRecord, removeRecord, writeRecord } from './session-records.js';
import { relayedLine } from './log-relay.js';
import { sourceKey } from '../auth/penalties.js';
import { MAX_WORKER_LINE, spend, trustedReport, WORKER_MESSAGE_BURST, type Budget, type KnownSession } from './worker-trust.js';
import { reportEvents, type SessionEvent, type UnauthenticatedEnd } from '../session-report.js';
export { reportEvents, type SessionEvent, type UnauthenticatedEnd };

export const POLL_MS = 1000;

/** How a connection that never logged in ended, for per-source penalties. */
interface Tracked {
  id: string;
  ch: JsonLines;
  sock: net.Socket;
  /** What the daemon knows itself; reports are shown through it. Undefined: an earlier daemon's session without a record. */
  known: KnownSession | undefined;
  report: SessionReport | undefined;
  authenticated: boolean;
  announced: boolean;
  budget: Budget;
  /** Messages dropped since the last warning, and when that was. */
  dropped: number;
  warnedAt: number;
  /** Relayed log lines have a budget of their own. */
  logBudget: Budget;
  closing?: { reason: string; authFailures: number };
  /** The monitor's count of failed attempts, which the worker cannot change. */
  authFailures?: () => number;
}

/** Relayed log lines a worker may send per second, and in one burst (a login writes a handful). */
const LOG_RATE = 50;
const LOG_BURST = 200;
const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** How often a misbehaving worker may cause a warning. */
const WARN_EVERY_MS = 60_000;

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
    /** Told of every handed-off connection that ended without logging in. */
    private readonly onUnauthenticatedEnd: (e: UnauthenticatedEnd) => void = () => {},
  ) {}

  /** Starts polling; safe to call twice (a reload that reopens the listeners calls it again). */
  start(): void {
    if (this.timer !== undefined) return;
    this.stopping = false;
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  /** Tracks a worker that was just handed a connection; `known` is what the daemon itself saw of it. */
  adopt(control: net.Socket, known: KnownSession, authFailures?: () => number): void {
    this.saveRecord(known);
    this.track(known.id, control, known);
    const t = this.sessions.get(known.id);
    if (t !== undefined && authFailures !== undefined) t.authFailures = authFailures;
  }

  /**
   * The monitor accepted a login on this connection: the user is the
   * daemon's knowledge from now on, recorded for a restarted daemon.
   */
  authenticated(id: string, user: string, authFailures?: () => number): void {
    const t = this.sessions.get(id);
    if (t === undefined) return;
    if (authFailures !== undefined) t.authFailures = authFailures;
    if (t.known !== undefined && t.known.user === undefined) {
      t.known = { ...t.known, user, authenticatedAt: Date.now() };
      this.saveRecord(t.known);
    }
    t.authenticated = true;
    t.ch.send({ op: 'status', seq: ++this.seq });
  }

  /**
   * Makes a monitor channel for a session found after a restart (signing
   * for its rekeys) and returns the worker's end, or undefined. Set by the
   * SSH server before discover().
   */
  monitorFor?: (known: KnownSession | undefined) => number | undefined;

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
        // A session already tracked keeps its one control channel.
        .filter((n) => /^[0-9a-f]{16}\.sock$/.test(n) && !this.sessions.has(n.slice(0, 16)))
        .map(
          (n) =>
            new Promise<void>((resolve) => {
              const file = path.join(this.sessionDir, n);
              const sock = net.connect(file);
              sock.once('connect', () => {
                found++;
                const id = n.slice(0, 16);
                const record = readRecord(this.sessionDir, id);
                this.passMonitor(sock, record);
                const t = this.track(id, sock, record);
                t.ch.send({ op: 'hello' });
                resolve();
              });
              sock.once('error', () => {
                // No one listens: the worker is gone and could not remove its socket (it runs as the user).
                fs.rmSync(file, { force: true });
                removeRecord(this.sessionDir, n.slice(0, 16));
                resolve();
              });
            }),
        ),
    );
    if (found > 0) this.log.info({ sessions: found }, `found ${found} SSH session(s) still running from before the restart`);
    return found;
  }

  /**
   * The worker reads a descriptor first on this socket (see worker.ts
   * takeMonitor), so one always goes: a monitor for a logged-in session, an
   * already closed channel otherwise. Ours is closed either way.
   */
  private passMonitor(sock: net.Socket, record: KnownSession | undefined): void {
    let fd = record?.user !== undefined ? this.monitorFor?.(record) : undefined;
    if (fd === undefined) {
      const [a, b] = socketPair();
      native().closeFd(a);
      fd = b;
    }
    try {
      const own = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (own !== undefined) sendFd(own, fd, { timeoutMs: 1000 });
    } catch (err) {
      this.log.warn({ err, session: record?.id }, 'cannot pass a monitor channel to a session found again: a rekey will end it');
    } finally {
      native().closeFd(fd);
    }
  }

  list(): SessionReport[] {
    return [...this.sessions.values()].flatMap((t) => (t.report ? [t.report] : []));
  }

  /** Connections handed over that have not authenticated yet (MaxStartups); with `source`, only those from that sourceKey(). */
  unauthenticated(source?: string): number {
    let n = 0;
    for (const t of this.sessions.values()) {
      if (t.authenticated) continue;
      if (source === undefined || (t.known !== undefined && sourceKey(t.known.remote.address) === source)) n++;
    }
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
    this.timer = undefined;
    for (const t of this.sessions.values()) t.sock.destroy();
    this.sessions.clear();
  }

  private track(id: string, sock: net.Socket, known: KnownSession | undefined): Tracked {
    const t: Tracked = {
      id,
      sock,
      known,
      report: undefined,
      authenticated: known?.user !== undefined,
      announced: false,
      ch: undefined as unknown as JsonLines,
      budget: { tokens: WORKER_MESSAGE_BURST, at: Date.now() },
      logBudget: { tokens: LOG_BURST, at: Date.now() },
      dropped: 0,
      warnedAt: 0,
    };
    t.ch = jsonLines(
      sock,
      (raw) => {
        if (typeof raw === 'object' && raw !== null && (raw as { op?: unknown }).op === 'log') {
          this.relay(t, raw);
          return;
        }
        const b = spend(t.budget, Date.now());
        t.budget = b.budget;
        if (b.ok) this.onMessage(t, raw);
        else this.misbehaving(t, 'sends more messages than it is asked for; dropping them');
      },
      (why) => this.misbehaving(t, `sent a bad message (${why.slice(0, 100)}), ignoring it`),
      MAX_WORKER_LINE,
    );
    sock.on('close', () => this.gone(t));
    this.sessions.set(id, t);
    t.ch.send({ op: 'status', seq: ++this.seq });
    return t;
  }

  /** Logs a worker's misbehaviour at most once a minute, with how much was dropped meanwhile. */
  private misbehaving(t: Tracked, what: string): void {
    t.dropped++;
    const now = Date.now();
    if (now - t.warnedAt < WARN_EVERY_MS) return;
    this.log.warn({ session: t.id, dropped: t.dropped }, `SSH worker ${what}`);
    t.warnedAt = now;
    t.dropped = 0;
  }

  /** Re-logs a worker's line under the daemon's bindings, within the log budget. */
  private relay(t: Tracked, raw: unknown): void {
    const b = spend(t.logBudget, Date.now(), LOG_RATE, LOG_BURST);
    t.logBudget = b.budget;
    if (!b.ok) {
      this.misbehaving(t, 'logs more than its share; dropping its lines');
      return;
    }
    const parsed = workerMessageSchema.safeParse(raw);
    const line = parsed.success && parsed.data.op === 'log' ? relayedLine(parsed.data.line, { session: t.id, workerPid: t.known?.pid ?? 0, afterLogin: t.authenticated, ...(t.known?.user !== undefined ? { user: t.known.user } : {}) }) : undefined;
    if (line === undefined) {
      this.misbehaving(t, 'sent a log line that is not a JSON object, ignoring it');
      return;
    }
    const method = LEVELS[line.level] ?? 'info';
    this.log[method](line.fields, line.msg);
  }

  private saveRecord(known: KnownSession): void {
    try {
      writeRecord(this.sessionDir, known);
    } catch (err) {
      this.log.warn({ err, session: known.id }, 'cannot record the session, a restarted daemon will not know its user, ignoring');
    }
  }

  private onMessage(t: Tracked, raw: unknown): void {
    const parsed = workerMessageSchema.safeParse(raw);
    if (!parsed.success || (parsed.data.op === 'status' && parsed.data.session.id !== t.id)) {
      this.misbehaving(t, 'sent a malformed message, ignoring it');
      return;
    }
    const msg = parsed.data;
    if (msg.op === 'authenticated') {
      // Workers of earlier versions said this themselves; only the monitor's word counts now.
      return;
    } else if (msg.op === 'status') {
      this.update(t, t.known ? trustedReport(msg.session, t.known) : msg.session);
    } else if (msg.op === 'closing' && t.closing === undefined) {
      t.closing = { reason: msg.reason, authFailures: msg.authFailures ?? 0 };
    }
  }

  private update(t: Tracked, report: SessionReport): void {
    const before = t.report;
    t.report = report;
    // Only a session without a daemon record (left by an older daemon) is judged by its report.
    if (t.known === undefined && report.user !== '') t.authenticated = true;
    const remote = `${report.remote.address}:${report.remote.port}`;
    let opening = false;
    if (t.authenticated && !t.announced) {
      t.announced = opening = true;
      this.onEvent({ type: 'session-opened', session: t.id, user: report.user, remote });
    }
    if (!t.announced) return;
    for (const e of reportEvents(t.id, before, report, opening)) this.onEvent(e);
  }

  private gone(t: Tracked): void {
    if (this.stopping || this.sessions.get(t.id) !== t) return;
    this.sessions.delete(t.id);
    fs.rmSync(path.join(this.sessionDir, `${t.id}.sock`), { force: true });
    removeRecord(this.sessionDir, t.id);
    if (t.closing === undefined && t.known !== undefined) {
      // Its output goes nowhere but through us: say that it went without a word.
      this.log.warn({ session: t.id, workerPid: t.known.pid }, 'SSH worker ended without saying why (it crashed or was killed)');
    }
    if (!t.authenticated && t.known !== undefined) {
      this.onUnauthenticatedEnd({ remoteAddress: t.known.remote.address, reason: t.closing?.reason ?? 'worker ended', authFailures: t.authFailures?.() ?? t.closing?.authFailures ?? 0, clean: t.closing !== undefined });
    }
    if (t.announced && t.report) this.onEvent({ type: 'session-closed', session: t.id, user: t.report.user, remote: `${t.report.remote.address}:${t.report.remote.port}` });
  }

  private poll(): void {
    for (const t of this.sessions.values()) t.ch.send({ op: 'status', seq: ++this.seq });
  }
}
