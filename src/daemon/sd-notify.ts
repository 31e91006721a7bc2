/**
 * Telling systemd how the daemon is doing (sd_notify(3)), for a unit of
 * Type=notify: READY=1 once the first reconcile pass is done and the
 * listeners are up, RELOADING=1 ... READY=1 around a SIGHUP reload,
 * STOPPING=1 on the way out, and a STATUS= line that `systemctl status`
 * shows. Without $NOTIFY_SOCKET (not started by systemd) every call does
 * nothing.
 */
import type { PassResult } from '../status/path-manager.js';
import type { SshStatus } from '../status/snapshot.js';
import { addon } from '../native/load.js';
import type { Logger } from '../util/logger.js';
import { hostPort } from '../util/address.js';

interface SdNotifyAddon {
  sdNotify(socketPath: string, message: string): void;
}

/** One notification; the fields set become the message's lines. */
export interface Notification {
  ready?: boolean;
  reloading?: boolean;
  stopping?: boolean;
  status?: string;
  /** CLOCK_MONOTONIC in microseconds, sent with RELOADING=1 (systemd >= 253 wants it there). */
  monotonicUsec?: bigint;
}

/** The sd_notify message for `n`: newline-separated VAR=VALUE lines. Pure. */
export function notifyMessage(n: Notification): string {
  const lines: string[] = [];
  if (n.reloading) lines.push('RELOADING=1');
  if (n.monotonicUsec !== undefined) lines.push(`MONOTONIC_USEC=${n.monotonicUsec}`);
  if (n.ready) lines.push('READY=1');
  if (n.stopping) lines.push('STOPPING=1');
  // A value ends at the newline, so a multi-line text would be cut there.
  if (n.status !== undefined) lines.push(`STATUS=${n.status.replace(/\s*\n\s*/g, '; ')}`);
  return lines.join('\n');
}

/** The STATUS= text after a pass: endpoints, and the SSH listeners when SSH is on. Pure. */
export function statusText(pass: PassResult | null, ssh: SshStatus | undefined): string {
  const parts: string[] = [];
  if (pass) {
    const own = pass.endpoints.filter((e) => e.owner === 'mpsshd').length;
    parts.push(pass.mptcpAvailable ? `${own} endpoint${own === 1 ? '' : 's'} managed` : 'MPTCP unavailable');
    if (pass.errors.length > 0) parts.push(`last pass failed: ${pass.errors[0]}`);
  }
  if (ssh && ssh.state !== 'disabled') {
    const up = ssh.listeners.filter((l) => l.state !== 'down');
    const down = ssh.listeners.filter((l) => l.state === 'down');
    if (up.length > 0) parts.push(`SSH on ${up.map((l) => hostPort(l.address, l.port)).join(', ')}`);
    if (down.length > 0) parts.push(`SSH cannot listen: ${down[0]?.error ?? 'down'}`);
  }
  return parts.join('; ');
}

/** What the daemon says to the service manager. */
export interface Notifier {
  /** True when a service manager listens ($NOTIFY_SOCKET was set). */
  readonly enabled: boolean;
  ready(status: string): void;
  reloading(status: string): void;
  stopping(status: string): void;
  /** Sends STATUS= when `text` differs from the last one sent. */
  status(text: string): void;
}

/** Delivers one datagram; the native one by default. */
export type NotifySend = (socketPath: string, message: string) => void;

const nativeSend: NotifySend = (socketPath, message) => addon<SdNotifyAddon>().sdNotify(socketPath, message);

/**
 * A notifier for $NOTIFY_SOCKET of `env`. The variable is removed from `env`
 * so that SSH workers and the sessions they start do not inherit it. A failed
 * send is logged once and otherwise ignored: the daemon works without systemd.
 */
export function systemdNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env, send: NotifySend = nativeSend): Notifier {
  const socketPath = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  let lastStatus: string | undefined;
  let warned = false;
  const notify = (n: Notification): void => {
    if (socketPath === undefined || socketPath === '') return;
    if (n.status !== undefined) lastStatus = n.status;
    try {
      send(socketPath, notifyMessage(n));
    } catch (err) {
      if (!warned) log.warn({ err: (err as Error).message, socket: socketPath }, 'cannot notify the service manager, ignoring');
      warned = true;
    }
  };
  return {
    enabled: socketPath !== undefined && socketPath !== '',
    ready: (status) => notify({ ready: true, status }),
    // process.hrtime is libuv's uv_hrtime(), which reads CLOCK_MONOTONIC on Linux.
    reloading: (status) => notify({ reloading: true, monotonicUsec: process.hrtime.bigint() / 1000n, status }),
    stopping: (status) => notify({ stopping: true, status }),
    status: (text) => {
      if (text !== lastStatus) notify({ status: text });
    },
  };
}
