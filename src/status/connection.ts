/**
 * Every MPTCP connection of the host (its network namespace), whoever owns
 * it, as the status shows it: built from sock_diag samples by
 * connection-sample.ts.
 */
import { z } from 'zod';
import { subflowStatus } from './session.js';

const hostPort = z.object({ address: z.string(), port: z.number().int() });

/** A subflow of a host connection: the kernel's view, the interface it leaves through, and its rates. */
export const connectionSubflowStatus = subflowStatus.extend({
  /** Retransmission timeouts in a row reached net.mptcp.stale_loss_cnt: the kernel has stopped using it for now. */
  stale: z.boolean(),
  /** Bits per second over the last sampling period (absent on a subflow's first sample). */
  sendBps: z.number().optional(),
  recvBps: z.number().optional(),
});
export type ConnectionSubflowStatus = z.infer<typeof connectionSubflowStatus>;

/** The owning process of a connection. */
export const connectionProcess = z.object({
  pid: z.number().int(),
  command: z.string(),
  uid: z.number().int(),
  user: z.string().optional(),
  destination: z.string().optional().describe('For ssh and mpssh: the destination as typed'),
});

/** One MPTCP connection of the host. */
export const connectionStatus = z.object({
  /** The MPTCP socket's cookie: unique for the connection's life and never reused until reboot. */
  id: z.string(),
  /** The connection's local MPTCP token. */
  token: z.number().int(),
  direction: z.enum(['incoming', 'outgoing']),
  local: hostPort,
  remote: hostPort,
  /** TCP state name of the MPTCP socket. */
  state: z.string(),
  /** The owning process, when it could be found (the socket may be shared or held by the kernel only). */
  process: connectionProcess.optional(),
  /** The SSH session of mpsshd's server (built-in or OpenSSH) on this connection. */
  session: z.object({ id: z.string(), user: z.string().optional().describe('Left out where /proc hides other users\' processes (hidepid), except on the control socket') }).optional(),
  /** Connection-level counters (MPTCP_INFO). */
  bytesSent: z.number().optional(),
  bytesReceived: z.number().optional(),
  sendBps: z.number().optional(),
  recvBps: z.number().optional(),
  subflows: z.array(connectionSubflowStatus),
  /** First seen by the sampler. */
  openedAt: z.number(),
});
export type ConnectionStatus = z.infer<typeof connectionStatus>;

/** The latest sample of every MPTCP connection. */
export const connectionsStatus = z.object({
  /** 0 when sampling is off. */
  periodMs: z.number().int(),
  sampledAt: z.number().nullable(),
  connections: z.array(connectionStatus),
  /** Why the last sample failed, if it did. */
  error: z.string().optional(),
});
export type ConnectionsStatus = z.infer<typeof connectionsStatus>;
