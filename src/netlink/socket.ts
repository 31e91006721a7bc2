/**
 * A netlink socket with request/reply matching, multi-part dumps and
 * multicast notifications, over the addon's non-blocking socket.
 *
 * Rules the kernel imposes, and how they are met here:
 * - One dump at a time per socket (a second one gets EBUSY while the first
 *   runs), so dump requests queue; other requests go out at once and are
 *   matched by sequence number.
 * - A dump part flagged NLM_F_DUMP_INTR means the table changed under the
 *   dump; the whole dump is run again, at most MAX_DUMP_ATTEMPTS times.
 * - ENOBUFS (receive buffer overrun) drops multicast notifications and
 *   unicast acks, never dump parts: the kernel pauses a dump while the
 *   buffer is full and resumes it on the next read. So on overrun the
 *   socket emits `overrun` and pending dumps carry on; a non-dump request
 *   whose ack was lost ends by timeout, with the overrun named in its error.
 * - Multicast datagrams are told from replies by their group (NETLINK_PKTINFO),
 *   not their sequence number: a change we request is multicast with our seq.
 *
 * The socket keeps the event loop alive only while requests are pending,
 * unless ref() is called (a pure listener that should hold the process).
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { addon } from '../native/load.js';
import { inNetns } from '../native/netns.js';
import type { Logger } from '../util/logger.js';
import type { ReflexEntry } from './clients.js';
import { NetlinkError, type NetlinkParseError } from './errors.js';
import {
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  encodeMessage,
  parseDatagram,
  parseDonePayload,
  parseErrorPayload,
  type NlAck,
  type NlMessage,
} from './nlmsg.js';

export type { NlMessage } from './nlmsg.js';

/** The addon's socket object (native/src/netlink_socket.cc). */
export interface NativeHandle {
  readonly portId: number;
  readonly rcvbuf: number;
  readonly foreignDropped: number;
  start(onMessages: (bufs: Buffer[], groups: number[], reflex?: ReflexFired[]) => void, onOverrun: () => void, onError: (err: Error) => void, maxReads?: number): void;
  /** Sends to the kernel, or to another socket's port id (tests only). */
  send(buf: Buffer, portId?: number): void;
  /** Sends from a pool thread and calls `done` once sendto returned. */
  sendAsync(buf: Buffer, done: (err: NodeJS.ErrnoException | null) => void): void;
  addMembership(group: number): void;
  dropMembership(group: number): void;
  ref(): void;
  unref(): void;
  close(): void;
  /** See native/src/address_reflex.h; null disarms. */
  armReflex(target: NativeHandle | null, entries?: ReflexEntry[], refuse?: ReflexPrefix[], known?: ReflexPrefix[]): void;
}

/** An address prefix: `len` leading bits of `prefix`. */
export interface ReflexPrefix {
  family: 4 | 6;
  prefix: Buffer;
  len: number;
}

/** What the reflex is armed with: the requests, where they go, and what they are not for. */
export interface ReflexArm {
  /** The generic netlink socket the requests go out on; nothing else may read it. */
  target: NativeHandle;
  entries: ReflexEntry[];
  refuse: ReflexPrefix[];
  known: ReflexPrefix[];
}

/** A request the reflex sent: errno 0 when the kernel acknowledged it, EINPROGRESS when no ack was read. */
export interface ReflexFired {
  ifindex: number;
  family: 4 | 6;
  address: Buffer;
  errno: number;
}

interface NetlinkAddon {
  NetlinkSocketHandle: new (protocol: number, rcvbuf: number) => NativeHandle;
}

export interface NetlinkSocketOptions {
  /** Multicast groups to join at once (ids above 31 work). */
  groups?: number[];
  /** Receive buffer size asked for; default 4 MiB. The kernel doubles it for bookkeeping. */
  rcvbuf?: number;
  /** `ip netns` name or path: the socket is created inside that namespace. */
  netns?: string;
  /** Datagrams read per wakeup before yielding to the event loop; default 64. */
  maxReadsPerWakeup?: number;
  log?: Logger;
  /** Names message types for errors and logs, e.g. 20 -> "RTM_NEWADDR". */
  typeName?: (type: number) => string | undefined;
}

export interface RequestOptions {
  /** Inactivity limit: reject when nothing arrives for this long; default 5000 ms. */
  timeoutMs?: number;
  /** Name for errors (default from the socket's typeName). */
  name?: string;
  /**
   * Sends from a pool thread. Generic netlink runs a request's handler
   * inside the sender's sendto, under a lock all families share, and
   * deleting an MPTCP endpoint waits there for an RCU grace period
   * (milliseconds): on the event loop's thread that would stall everything
   * else the daemon does. Not the default: the hand-over costs a thread
   * wake-up, which a busy machine makes slow.
   */
  offThread?: boolean;
}

export interface NetlinkSocketEvents {
  notification: [msg: NlMessage];
  /** The armed reflex sent a request; emitted before the batch's notifications. */
  reflex: [fired: ReflexFired];
  overrun: [];
  error: [err: Error];
}

/** Netlink protocol numbers (include/uapi/linux/netlink.h). */
export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

const DEFAULT_RCVBUF = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;
/** Runs of one dump before giving up on a table that keeps changing. */
export const MAX_DUMP_ATTEMPTS = 5;
const EBUSY_RETRY_MS = 20;
/** Sequence numbers of abandoned or finished requests kept to recognise late replies. */
const STALE_SEQS = 64;

interface Pending {
  seq: number;
  type: number;
  flags: number;
  payload: Buffer;
  name: string;
  dump: boolean;
  timeoutMs: number;
  offThread: boolean;
  replies: NlMessage[];
  interrupted: boolean;
  attempts: number;
  timer?: NodeJS.Timeout;
  overrunSeen: boolean;
  resolve: (msgs: NlMessage[]) => void;
  reject: (err: Error) => void;
}

/** A netlink socket: requests with matched replies, dumps, and multicast notifications. */
export class NetlinkSocket extends EventEmitter<NetlinkSocketEvents> {
  readonly portId: number;
  readonly rcvbuf: number;
  private readonly pending = new Map<number, Pending>();
  private readonly dumpQueue: Pending[] = [];
  private dumpRunning: Pending | undefined;
  private readonly stale = new Set<number>();
  private readonly loggedKinds = new Set<string>();
  private seq: number;
  private closed = false;
  private userRef = false;
  private referenced = true;

  private constructor(
    private readonly handle: NativeHandle,
    private readonly log: Logger | undefined,
    private readonly typeName: ((type: number) => string | undefined) | undefined,
  ) {
    super();
    this.portId = handle.portId;
    this.rcvbuf = handle.rcvbuf;
    // Start away from 1 so replies meant for an earlier socket with the same port id cannot match.
    this.seq = (Date.now() & 0x3fffffff) + 1;
  }

  /** Creates, binds and starts a socket of `protocol` (NETLINK_ROUTE, NETLINK_GENERIC, ...). */
  static open(protocol: number, opts: NetlinkSocketOptions = {}): NetlinkSocket {
    const native = addon<NetlinkAddon>();
    const rcvbuf = opts.rcvbuf ?? DEFAULT_RCVBUF;
    const make = (): NativeHandle => new native.NetlinkSocketHandle(protocol, rcvbuf);
    const handle = opts.netns !== undefined ? inNetns(opts.netns, make) : make();
    return NetlinkSocket.withHandle(handle, protocol, opts);
  }

  /**
   * Wraps an already created handle. Exported for tests that must feed the
   * socket bytes the kernel never sends (truncated or garbled messages).
   * @internal
   */
  static withHandle(handle: NativeHandle, protocol: number, opts: NetlinkSocketOptions = {}): NetlinkSocket {
    const log = opts.log?.child({ mod: 'netlink', protocol, portId: handle.portId });
    const sock = new NetlinkSocket(handle, log, opts.typeName);
    try {
      handle.start(
        (bufs, groups, reflex) => sock.onDatagrams(bufs, groups, reflex),
        () => sock.onOverrun(),
        (err) => sock.onSocketError(err),
        opts.maxReadsPerWakeup,
      );
      for (const g of opts.groups ?? []) handle.addMembership(g);
    } catch (err) {
      handle.close();
      throw err;
    }
    sock.updateRef();
    return sock;
  }

  /**
   * Sends a request with NLM_F_REQUEST|NLM_F_ACK added; resolves with the
   * reply messages (every dump part, NLMSG_DONE excluded; [] for a bare
   * ACK); rejects with NetlinkError.
   */
  request(type: number, flags: number, payload: Buffer, opts: RequestOptions = {}): Promise<NlMessage[]> {
    const name = opts.name ?? this.typeName?.(type) ?? `netlink type ${type}`;
    return new Promise<NlMessage[]>((resolve, reject) => {
      const p: Pending = {
        seq: 0,
        type,
        flags: flags | NLM_F_REQUEST | NLM_F_ACK,
        payload,
        name,
        dump: (flags & NLM_F_DUMP) === NLM_F_DUMP,
        timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        offThread: opts.offThread === true,
        replies: [],
        interrupted: false,
        attempts: 0,
        overrunSeen: false,
        resolve,
        reject,
      };
      if (this.closed) {
        reject(new NetlinkError({ errno: os.constants.errno.EBADF, requestType: type, requestName: name, detail: 'socket is closed' }));
        return;
      }
      if (p.dump && this.dumpRunning !== undefined) {
        this.dumpQueue.push(p);
        this.updateRef();
        return;
      }
      this.send(p);
    });
  }

  /** Joins a multicast group. */
  addMembership(group: number): void {
    this.handle.addMembership(group);
  }

  /** Leaves a multicast group. */
  dropMembership(group: number): void {
    this.handle.dropMembership(group);
  }

  /** Keeps the event loop alive while the socket is open, also with nothing pending. */
  ref(): this {
    this.userRef = true;
    this.updateRef();
    return this;
  }

  /** Lets the process exit while the socket is idle (the default). */
  unref(): this {
    this.userRef = false;
    this.updateRef();
    return this;
  }

  /** Datagrams dropped because a process rather than the kernel sent them. */
  get foreignDropped(): number {
    return this.handle.foreignDropped;
  }

  /**
   * Arms the address reflex on this (notification) socket, or disarms it
   * with null. It acts at most once, on the next datagram: rearm after
   * taking each batch in.
   */
  armReflex(arm: ReflexArm | null): void {
    if (this.closed) return;
    if (arm === null) this.handle.armReflex(null);
    else this.handle.armReflex(arm.target, arm.entries, arm.refuse, arm.known);
  }

  /**
   * A bound socket nobody reads from the event loop: the reflex sends its
   * requests on it and reads their acks itself.
   */
  static openQuiet(protocol: number, opts: Pick<NetlinkSocketOptions, 'netns'> = {}): NativeHandle {
    const native = addon<NetlinkAddon>();
    const make = (): NativeHandle => new native.NetlinkSocketHandle(protocol, 0);
    return opts.netns !== undefined ? inNetns(opts.netns, make) : make();
  }

  /** Closes the socket and rejects pending requests with ECANCELED; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
    // A dump waiting to be re-sent is in neither the map nor the queue.
    const all = new Set([...this.pending.values(), ...this.dumpQueue, ...(this.dumpRunning ? [this.dumpRunning] : [])]);
    this.pending.clear();
    this.dumpQueue.length = 0;
    this.dumpRunning = undefined;
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(this.localError(p, os.constants.errno.ECANCELED, 'socket closed'));
    }
  }

  // ---- sending -------------------------------------------------------

  private send(p: Pending): void {
    p.seq = this.nextSeq();
    p.attempts++;
    this.pending.set(p.seq, p);
    if (p.dump) this.dumpRunning = p;
    this.armTimer(p);
    this.updateRef();
    const failed = (err: unknown): void => {
      const e = err as NodeJS.ErrnoException;
      // The reply may have ended the request already; a resent dump has another seq.
      if (this.pending.get(p.seq) !== p) return;
      this.finish(p, new NetlinkError({ errno: typeof e.errno === 'number' ? e.errno : os.constants.errno.EIO, requestType: p.type, requestName: p.name, syscall: e.syscall ?? 'sendto' }));
    };
    const msg = encodeMessage({ type: p.type, flags: p.flags, seq: p.seq, portId: 0, payload: p.payload });
    try {
      if (p.offThread) this.handle.sendAsync(msg, (err) => err && failed(err));
      else this.handle.send(msg);
    } catch (err) {
      failed(err);
    }
  }

  private nextSeq(): number {
    do {
      this.seq = (this.seq + 1) >>> 0;
    } while (this.seq === 0 || this.pending.has(this.seq));
    return this.seq;
  }

  private armTimer(p: Pending): void {
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      const why = p.overrunSeen ? `no reply within ${p.timeoutMs} ms; the receive buffer overran, so the reply may have been dropped` : `no reply within ${p.timeoutMs} ms`;
      this.finish(p, this.localError(p, os.constants.errno.ETIMEDOUT, why));
    }, p.timeoutMs);
  }

  /** Ends a request (resolved when `err` is undefined) and starts the next queued dump. */
  private finish(p: Pending, err?: Error): void {
    clearTimeout(p.timer);
    if (this.pending.get(p.seq) === p) this.pending.delete(p.seq);
    this.markStale(p.seq);
    if (this.dumpRunning === p) this.dumpRunning = undefined;
    if (err) p.reject(err);
    else p.resolve(p.replies);
    this.startQueuedDump();
    this.updateRef();
  }

  private startQueuedDump(): void {
    if (this.closed || this.dumpRunning !== undefined) return;
    const next = this.dumpQueue.shift();
    if (next) this.send(next);
  }

  /** Runs a dump again under a new sequence number (after DUMP_INTR or EBUSY). */
  private restartDump(p: Pending, why: string, delayMs = 0): void {
    clearTimeout(p.timer);
    this.pending.delete(p.seq);
    this.markStale(p.seq);
    if (p.attempts >= MAX_DUMP_ATTEMPTS) {
      const errno = why === 'EBUSY' ? os.constants.errno.EBUSY : os.constants.errno.EINTR;
      const detail = why === 'EBUSY' ? `another dump kept the socket busy ${p.attempts} times` : `dump was interrupted by concurrent changes ${p.attempts} times`;
      this.finish(p, this.localError(p, errno, detail));
      return;
    }
    this.log?.debug({ request: p.name, attempt: p.attempts, why }, 'netlink: dump restarted');
    p.replies = [];
    p.interrupted = false;
    if (delayMs === 0) {
      this.send(p);
      return;
    }
    p.timer = setTimeout(() => {
      if (!this.closed) this.send(p);
    }, delayMs);
  }

  private markStale(seq: number): void {
    this.stale.add(seq);
    if (this.stale.size > STALE_SEQS) {
      const oldest = this.stale.values().next().value;
      if (oldest !== undefined) this.stale.delete(oldest);
    }
  }

  private localError(p: Pending, errno: number, detail: string): NetlinkError {
    return new NetlinkError({ errno, requestType: p.type, requestName: p.name, detail });
  }

  private updateRef(): void {
    if (this.closed) return;
    const want = this.userRef || this.pending.size > 0 || this.dumpQueue.length > 0;
    if (want === this.referenced) return;
    this.referenced = want;
    if (want) this.handle.ref();
    else this.handle.unref();
  }

  // ---- receiving -----------------------------------------------------

  private onDatagrams(bufs: Buffer[], groups: number[], reflex?: ReflexFired[]): void {
    for (const fired of reflex ?? []) {
      try {
        this.emit('reflex', fired);
      } catch (err) {
        this.log?.error({ err }, 'netlink: a reflex listener threw');
      }
    }
    for (let i = 0; i < bufs.length && !this.closed; i++) {
      const { messages, error } = parseDatagram(bufs[i]!);
      if (error) this.dropped(error.kind, error);
      for (const msg of messages) {
        if (this.closed) return;
        this.dispatch(msg, groups[i] ?? 0);
      }
    }
  }

  private dispatch(msg: NlMessage, group: number): void {
    if (msg.type === NLMSG_NOOP || msg.type === NLMSG_OVERRUN) return;
    const p = group === 0 && msg.seq !== 0 ? this.pending.get(msg.seq) : undefined;
    if (p === undefined) {
      this.unmatched(msg, group);
      return;
    }
    // Inactivity timeout: every part of a long dump restarts the clock.
    p.timer?.refresh();
    if (msg.type === NLMSG_ERROR) this.onAck(p, msg);
    else if (msg.type === NLMSG_DONE) this.onDone(p, msg);
    else {
      if (msg.flags & NLM_F_DUMP_INTR) p.interrupted = true;
      p.replies.push(msg);
    }
  }

  private unmatched(msg: NlMessage, group: number): void {
    if (group === 0 && msg.seq !== 0 && this.stale.has(msg.seq)) return;
    if (msg.type === NLMSG_ERROR || msg.type === NLMSG_DONE) {
      this.dropped('stray-ack', new Error(`netlink: ${msg.type === NLMSG_ERROR ? 'NLMSG_ERROR' : 'NLMSG_DONE'} for seq ${msg.seq}, which no request is waiting for`));
      return;
    }
    try {
      this.emit('notification', msg);
    } catch (err) {
      this.log?.error({ err }, 'netlink: a notification listener threw');
    }
  }

  private onAck(p: Pending, msg: NlMessage): void {
    let ack: NlAck;
    try {
      ack = parseErrorPayload(msg.payload, msg.flags);
    } catch (err) {
      const e = err as NetlinkParseError;
      this.dropped(e.kind, e);
      // Keep the errno if the payload had it: the request is answered either way.
      if (msg.payload.length < 4) {
        this.finish(p, this.localError(p, os.constants.errno.EPROTO, 'malformed NLMSG_ERROR'));
        return;
      }
      ack = { errno: Math.abs(msg.payload.readInt32LE(0)) };
    }
    if (ack.errno === 0) {
      this.finish(p);
      return;
    }
    if (p.dump && ack.errno === os.constants.errno.EBUSY) {
      this.restartDump(p, 'EBUSY', EBUSY_RETRY_MS);
      return;
    }
    if (p.dump && ack.errno === os.constants.errno.ENOBUFS) {
      // The dump found our buffer full at its start; the kernel resumes it as we read.
      this.log?.debug({ request: p.name }, 'netlink: dump start hit a full buffer; waiting for its parts');
      return;
    }
    this.finish(p, this.kernelError(p, ack));
  }

  private onDone(p: Pending, msg: NlMessage): void {
    let ack: NlAck;
    try {
      ack = parseDonePayload(msg.payload, msg.flags);
    } catch (err) {
      const e = err as NetlinkParseError;
      this.dropped(e.kind, e);
      ack = { errno: Math.abs(msg.payload.readInt32LE(0)) };
    }
    if (ack.errno !== 0) {
      this.finish(p, this.kernelError(p, ack));
      return;
    }
    if (p.interrupted || msg.flags & NLM_F_DUMP_INTR) {
      this.restartDump(p, 'NLM_F_DUMP_INTR');
      return;
    }
    this.finish(p);
  }

  private kernelError(p: Pending, ack: NlAck): NetlinkError {
    return new NetlinkError({
      errno: ack.errno,
      requestType: p.type,
      requestName: p.name,
      ...(ack.extack !== undefined ? { extack: ack.extack } : {}),
      ...(ack.extackOffset !== undefined ? { extackOffset: ack.extackOffset } : {}),
    });
  }

  private onOverrun(): void {
    for (const p of this.pending.values()) p.overrunSeen = true;
    this.log?.debug('netlink: receive buffer overrun (ENOBUFS)');
    try {
      this.emit('overrun');
    } catch (err) {
      this.log?.error({ err }, 'netlink: an overrun listener threw');
    }
  }

  private onSocketError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.log?.warn({ err }, 'netlink: socket error');
  }

  /** Logs malformed input once per kind at warn, later ones at debug. */
  private dropped(kind: string, err: Error): void {
    if (this.loggedKinds.has(kind)) {
      this.log?.debug({ kind, err: err.message }, 'netlink: dropped malformed input');
      return;
    }
    this.loggedKinds.add(kind);
    this.log?.warn({ kind, err: err.message }, 'netlink: dropped malformed input (further ones of this kind are logged at debug)');
  }
}
