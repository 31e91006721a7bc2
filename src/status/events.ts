/**
 * The status event stream: something that happened, in the order it
 * happened. The publisher numbers (`seq`, rising by one per event) and dates
 * each body; /events sends them as server-sent events.
 */
import { z } from 'zod';

const rates = z.object({ sendBps: z.number(), recvBps: z.number() });

/** Every kind of event, before the publisher numbers and dates it. */
export const eventBody = z.union([
  z.object({ type: z.enum(['interface-up', 'interface-down']), ifindex: z.number().int(), ifname: z.string() }),
  z.object({ type: z.enum(['endpoint-added', 'endpoint-removed']), id: z.number().int(), address: z.string(), ifname: z.string().optional() }),
  z.object({ type: z.enum(['subflow-established', 'subflow-closed']), session: z.string(), local: z.string(), remote: z.string(), ifname: z.string().optional() }),
  z.object({ type: z.enum(['session-opened', 'session-closed']), session: z.string(), user: z.string().optional().describe("Left out where /proc hides other users' processes (hidepid), except on the control socket"), remote: z.string() }),
  z.object({
    type: z.literal('session-sample'),
    session: z.string(),
    sampledAt: z.number(),
    subflows: z.array(z.object({ ifname: z.string().optional(), local: z.string(), bytesSent: z.number().optional(), bytesReceived: z.number().optional() })),
  }),
  z.object({
    type: z.enum(['connection-opened', 'connection-closed']),
    connection: z.string(),
    direction: z.enum(['incoming', 'outgoing']),
    local: z.string(),
    remote: z.string(),
    command: z.string().optional(),
    destination: z.string().optional(),
  }),
  z.object({ type: z.enum(['connection-subflow-added', 'connection-subflow-removed']), connection: z.string(), local: z.string(), remote: z.string(), ifname: z.string().optional() }),
  /** Once per sample: bits per second per interface, host-wide and per connection. */
  z.object({
    type: z.literal('connection-rates'),
    sampledAt: z.number(),
    interfaces: z.record(z.string(), rates.extend({ subflows: z.number().int() })),
    connections: z.record(z.string(), z.record(z.string(), rates)),
  }),
  /** `pass` is the reconcile pass's own number (PassResult.seq); the event's `seq` is the event stream's. */
  z.object({ type: z.literal('reconcile'), pass: z.number().int(), durationMs: z.number(), changes: z.number().int(), errors: z.number().int() }),
]);
export type EventBody = z.infer<typeof eventBody>;

/** An event as published. */
export type StatusEvent = EventBody & { seq: number; at: number };
