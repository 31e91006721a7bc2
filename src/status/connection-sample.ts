/**
 * From one sock_diag sample to what the status shows: each MPTCP connection
 * with its direction, owner, SSH session and per-subflow rates (against the
 * previous sample), and the events that tell what changed. Pure, so the
 * wire format and the event rules are tested with tables.
 */
import type { ConnectionStatus, ConnectionSubflowStatus } from './connection.js';
import type { EventBody } from './events.js';
import { isIncoming, type ListenerKey, type MptcpConnection } from '../mptcp/connections.js';
import type { SocketOwner } from '../mptcp/owners.js';
import { unmapIPv4, hostPort } from '../util/address.js';

/** TCP states, include/net/tcp_states.h. */
const STATES = ['unknown', 'established', 'syn-sent', 'syn-recv', 'fin-wait1', 'fin-wait2', 'time-wait', 'close', 'close-wait', 'last-ack', 'listen', 'closing', 'new-syn-recv'];

/** What the sampler knows besides the kernel's socket tables. */
export interface SampleContext {
  at: number;
  listeners: readonly ListenerKey[];
  ifname(ifindex: number): string | undefined;
  owner(inode: number): SocketOwner | undefined;
  userName(uid: number): string | undefined;
  /** The SSH session served on this 4-tuple, if any. */
  session(local: { address: string; port: number }, remote: { address: string; port: number }): { id: string; user: string } | undefined;
  /** net.mptcp.stale_loss_cnt. */
  staleLossCnt: number;
}

/** The previous sample, to compute rates and keep first-seen times. */
export interface PreviousSample {
  at: number;
  connections: ReadonlyMap<string, ConnectionStatus>;
}

const endpoint = (e: { address: string; port: number }) => ({ address: unmapIPv4(e.address), port: e.port });
const subflowKey = (s: { local: { address: string; port: number }; remote: { address: string; port: number } }): string => `${unmapIPv4(s.local.address)}:${s.local.port}>${unmapIPv4(s.remote.address)}:${s.remote.port}`;

function rate(now: number | undefined, before: number | undefined, ms: number): number | undefined {
  if (now === undefined || before === undefined || ms <= 0 || now < before) return undefined;
  return Math.round(((now - before) * 8 * 1000) / ms);
}

/** Builds the connections of one sample; fallen-back sockets are not MPTCP connections and are left out. */
export function buildConnections(raw: readonly MptcpConnection[], ctx: SampleContext, prev: PreviousSample | undefined): ConnectionStatus[] {
  const dt = prev === undefined ? 0 : ctx.at - prev.at;
  const out: ConnectionStatus[] = [];
  for (const c of raw) {
    if (c.fallback) continue;
    const id = c.cookie;
    const before = prev?.connections.get(id);
    const beforeSubflows = new Map((before?.subflows ?? []).map((s) => [subflowKey(s), s]));
    const subflows: ConnectionSubflowStatus[] = c.subflows.map((s) => {
      const local = { ...s.local, address: unmapIPv4(s.local.address) };
      const remote = { ...s.remote, address: unmapIPv4(s.remote.address) };
      const ifname = s.ifindex !== undefined ? ctx.ifname(s.ifindex) : undefined;
      const old = beforeSubflows.get(subflowKey(s));
      const sendBps = rate(s.bytesSent, old?.bytesSent, dt);
      const recvBps = rate(s.bytesReceived, old?.bytesReceived, dt);
      return {
        ...s,
        local,
        remote,
        ...(ifname !== undefined ? { ifname } : {}),
        stale: ctx.staleLossCnt > 0 && (s.rtoInARow ?? 0) >= ctx.staleLossCnt,
        ...(sendBps !== undefined ? { sendBps } : {}),
        ...(recvBps !== undefined ? { recvBps } : {}),
      };
    });
    const local = endpoint(c.local);
    const remote = endpoint(c.remote);
    const owner = c.inode !== 0 ? ctx.owner(c.inode) : undefined;
    const user = owner !== undefined ? ctx.userName(owner.uid) : undefined;
    const session = ctx.session(local, remote);
    const sendBps = rate(c.info?.bytesSent, before?.bytesSent, dt);
    const recvBps = rate(c.info?.bytesReceived, before?.bytesReceived, dt);
    out.push({
      id,
      token: c.token,
      direction: isIncoming(c, ctx.listeners) ? 'incoming' : 'outgoing',
      local,
      remote,
      state: STATES[c.state] ?? `state${c.state}`,
      ...(owner !== undefined ? { process: { pid: owner.pid, command: owner.command, uid: owner.uid, ...(user !== undefined ? { user } : {}), ...(owner.destination !== undefined ? { destination: owner.destination } : {}) } } : {}),
      ...(session !== undefined ? { session } : {}),
      ...(c.info?.bytesSent !== undefined ? { bytesSent: c.info.bytesSent } : {}),
      ...(c.info?.bytesReceived !== undefined ? { bytesReceived: c.info.bytesReceived } : {}),
      ...(sendBps !== undefined ? { sendBps } : {}),
      ...(recvBps !== undefined ? { recvBps } : {}),
      subflows,
      openedAt: before?.openedAt ?? ctx.at,
    });
  }
  return out;
}

const hp = (e: { address: string; port: number }): string => hostPort(e.address, e.port);

/** What a status event says about connections (the publisher adds seq and time). */
export type ConnectionEventBody = Extract<EventBody, { type: `connection-${string}` }>;

/** Connections and subflows that came and went between two samples, then one rates event. */
export function connectionEvents(before: ReadonlyMap<string, ConnectionStatus>, now: readonly ConnectionStatus[], at: number): ConnectionEventBody[] {
  const events: ConnectionEventBody[] = [];
  const nowIds = new Set(now.map((c) => c.id));
  const conn = (type: 'connection-opened' | 'connection-closed', c: ConnectionStatus): ConnectionEventBody => ({
    type,
    connection: c.id,
    direction: c.direction,
    local: hp(c.local),
    remote: hp(c.remote),
    ...(c.process !== undefined ? { command: c.process.command } : {}),
    ...(c.process?.destination !== undefined ? { destination: c.process.destination } : {}),
  });
  const sub = (type: 'connection-subflow-added' | 'connection-subflow-removed', c: ConnectionStatus, s: ConnectionSubflowStatus): ConnectionEventBody => ({ type, connection: c.id, local: hp(s.local), remote: hp(s.remote), ...(s.ifname !== undefined ? { ifname: s.ifname } : {}) });
  for (const c of now) {
    const old = before.get(c.id);
    if (old === undefined) events.push(conn('connection-opened', c));
    const oldKeys = new Set((old?.subflows ?? []).map(subflowKey));
    const newKeys = new Set(c.subflows.map(subflowKey));
    for (const s of c.subflows) if (!oldKeys.has(subflowKey(s))) events.push(sub('connection-subflow-added', c, s));
    for (const s of old?.subflows ?? []) if (!newKeys.has(subflowKey(s))) events.push(sub('connection-subflow-removed', c, s));
  }
  for (const [id, c] of before) {
    if (nowIds.has(id)) continue;
    for (const s of c.subflows) events.push(sub('connection-subflow-removed', c, s));
    events.push(conn('connection-closed', c));
  }
  const interfaces: Record<string, { sendBps: number; recvBps: number; subflows: number }> = {};
  const connections: Record<string, Record<string, { sendBps: number; recvBps: number }>> = {};
  for (const c of now) {
    const per: Record<string, { sendBps: number; recvBps: number }> = {};
    for (const s of c.subflows) {
      const name = s.ifname ?? '?';
      const i = (interfaces[name] ??= { sendBps: 0, recvBps: 0, subflows: 0 });
      i.subflows++;
      i.sendBps += s.sendBps ?? 0;
      i.recvBps += s.recvBps ?? 0;
      const p = (per[name] ??= { sendBps: 0, recvBps: 0 });
      p.sendBps += s.sendBps ?? 0;
      p.recvBps += s.recvBps ?? 0;
    }
    connections[c.id] = per;
  }
  events.push({ type: 'connection-rates', sampledAt: at, interfaces, connections });
  return events;
}
