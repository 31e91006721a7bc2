/**
 * Messages between mpsshd and its per-connection workers. The daemon hands
 * a worker its connection (descriptor plus a `connection` message); the
 * worker answers status requests and relays its log lines. After a daemon
 * restart the new daemon reaches running workers through their session
 * sockets and speaks the same protocol. Worker messages are validated (a
 * worker parses the network); the daemon's, from root, are described by
 * types only.
 */
import { z } from 'zod';

const endpoint = z.object({ address: z.string().max(64), port: z.number().int().min(0).max(65535) });

/** Daemon → worker, once, right after the descriptor. */
export interface HandoffMessage {
  op: 'connection';
  id: string;
  acceptedAt: number;
  remote: { address: string; port: number };
  local: { address: string; port: number };
  transport: 'mptcp' | 'tcp-fallback';
  /** The `ssh` config section as parsed (already validated by the daemon). */
  ssh: unknown;
  /** Public host keys (`type base64`); the daemon signs with the private halves on request. */
  hostKeys: string[];
  logLevel: string;
  /** Bytes the daemon already read from the client (its identification line), base64. */
  early: string;
}

/** Daemon → worker. */
export type DaemonRequest = { op: 'hello' } | { op: 'status'; seq: number } | { op: 'close'; reason: string };

import { sessionReport, type SessionReport } from '../../status/session.js';
export type { SessionReport };

export const workerMessageSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('authenticated'), user: z.string().max(256) }),
  z.object({ op: z.literal('status'), seq: z.number().int(), session: sessionReport }),
  z.object({ op: z.literal('closing'), reason: z.string().max(200), authFailures: z.number().int().min(0).optional() }),
  z.object({ op: z.literal('log'), line: z.string().max(8192) }),
]);
export type WorkerMessage = z.infer<typeof workerMessageSchema>;
