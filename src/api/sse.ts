/**
 * GET /events: the daemon's events as server-sent events. Each event goes out
 * with `id: <seq>`, so a client that reconnects with Last-Event-ID gets what
 * it missed from the daemon's backlog, in order and without duplicates.
 *
 * A client that reads slower than events come is not allowed to grow the
 * daemon's memory: once more than `maxBufferedBytes` wait in its socket's
 * write buffer, the connection is dropped. An EventSource reconnects by
 * itself and resumes from its last id.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusEvent } from '../status/events.js';
import type { StatusSource } from '../status/snapshot.js';
import type { Logger } from '../util/logger.js';

export interface SseOptions {
  /** Interval of the comment lines that keep proxies and idle timers from closing the stream. */
  heartbeatMs: number;
  /** Bytes allowed to wait in one client's write buffer before it is dropped. */
  maxBufferedBytes: number;
  /**
   * Streams open at once on one app: any local user may open them, and each
   * holds a descriptor and some memory of the daemon for as long as it likes.
   */
  maxStreams: number;
}

export const DEFAULT_SSE: SseOptions = { heartbeatMs: 15_000, maxBufferedBytes: 1 << 20, maxStreams: 64 };

/** Parses a Last-Event-ID value; undefined when absent, null when malformed. */
export function parseLastEventId(v: string | string[] | undefined): number | undefined | null {
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s === '') return undefined;
  return /^\d{1,15}$/.test(s.trim()) ? Number(s.trim()) : null;
}

/** One event in SSE framing. JSON.stringify never emits a raw newline, so one data line is enough. */
export function frame(e: StatusEvent): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/** `e` without who owns what it is about: a session's user, a connection's program and its destination. */
export function withoutOwner(e: StatusEvent): StatusEvent {
  if (e.type === 'session-opened' || e.type === 'session-closed') {
    const { user: _user, ...rest } = e;
    return rest;
  }
  if (e.type === 'connection-opened' || e.type === 'connection-closed') {
    const { command: _command, destination: _destination, ...rest } = e;
    return rest;
  }
  return e;
}

/** The open event streams of one app, so closing the app can end them. */
export class SseHub {
  private readonly clients = new Set<() => void>();

  constructor(
    private readonly source: StatusSource,
    private readonly opts: SseOptions,
    private readonly log: Logger,
    /** False: session events go out without their user (hidepid, see sessionsView). */
    private readonly owners = true,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** No stream may be opened now (maxStreams are open). */
  get full(): boolean {
    return this.clients.size >= this.opts.maxStreams;
  }

  /** Serves one client until it goes away (or is dropped). The response must not have been written yet. */
  serve(req: IncomingMessage, res: ServerResponse, after: number | undefined): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let lastSent = after ?? -1;
    let pending: StatusEvent[] | null = [];
    let done = false;
    const write = (text: string): void => {
      if (done) return;
      res.write(text);
      if (res.writableLength > this.opts.maxBufferedBytes) {
        this.log.warn({ remote: req.socket.remoteAddress, buffered: res.writableLength }, 'event stream client too slow; dropping it (it may resume with Last-Event-ID)');
        stop();
        res.destroy();
      }
    };
    const send = (e: StatusEvent): void => {
      if (e.seq <= lastSent) return;
      lastSent = e.seq;
      write(frame(this.owners ? e : withoutOwner(e)));
    };
    // Subscribe before reading the backlog: an event that arrives in between
    // is then held, not lost, and `lastSent` drops the overlap.
    const unsubscribe = this.source.subscribe((e) => (pending ? pending.push(e) : send(e)));
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), this.opts.heartbeatMs);
    heartbeat.unref();
    const stop = (): void => {
      if (done) return;
      done = true;
      clearInterval(heartbeat);
      unsubscribe();
      this.clients.delete(end);
    };
    const end = (): void => {
      stop();
      res.end();
    };
    this.clients.add(end);
    res.on('close', stop);
    res.on('error', stop);

    write('retry: 2000\n: connected\n\n');
    if (after !== undefined) {
      const newest = this.source.eventsSince(-1).at(-1)?.seq ?? 0;
      if (after > newest) {
        // An id from before a daemon restart: numbering started again, so
        // every event from now on is new to this client.
        write(`event: gap\ndata: ${JSON.stringify({ after, next: null, reason: 'restarted' })}\n\n`);
        lastSent = -1;
      }
      const backlog = after > newest ? [] : this.source.eventsSince(after);
      const first = backlog[0];
      if (first && first.seq > after + 1) {
        // The backlog no longer reaches back to what the client saw last.
        write(`event: gap\ndata: ${JSON.stringify({ after, next: first.seq })}\n\n`);
      }
      for (const e of backlog) send(e);
    }
    const held = pending;
    pending = null;
    for (const e of held) send(e);
  }

  /** Ends every open stream (on close). */
  closeAll(): void {
    for (const end of [...this.clients]) end();
  }
}
