/**
 * The path manager's vocabulary as the status reports it: what a reconcile
 * pass decided and did, and why an address is left out. The daemon produces
 * these; the status snapshot, the API and the metrics read them.
 */
import { z } from 'zod';
import { MODES } from '../config/schema.js';
import type { NetSnapshot } from '../netlink/types.js';
import { family, kernelEndpoint, limits } from './kernel.js';

/** What caused a pass. */
export const trigger = z.enum(['start', 'link', 'address', 'route', 'overrun', 'family', 'reload', 'timer', 'hold-expired', 'retry', 'api', 'fast-path']);
export type Trigger = z.infer<typeof trigger>;

/** A kernel endpoint as the status reports it. */
export const endpointView = kernelEndpoint.extend({
  owner: z.enum(['mpsshd', 'foreign', 'implicit']),
  ifname: z.string().optional(),
});
export type EndpointView = z.infer<typeof endpointView>;

/** net.mptcp.close_timeout as the pass left it. */
export const closeTimeoutState = z.object({
  seconds: z.number().int().describe('net.mptcp.close_timeout'),
  managed: z.boolean().describe('mpsshd keeps it at pathManager.closeTimeout (false: left to the kernel)'),
});
export type CloseTimeoutState = z.infer<typeof closeTimeoutState>;

/** One step carried out (or tried) on the kernel. */
export const change = z.object({
  op: z.enum(['add', 'change', 'replace', 'remove']),
  address: z.string(),
  ifname: z.string().optional(),
  id: z.number().int().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  ok: z.boolean(),
  /** errno code and the kernel's message, when the step failed. */
  error: z.string().optional(),
});
export type Change = z.infer<typeof change>;

/** An address on an interface: what the policy judges, one at a time. */
const addressOnLink = z.object({
  family,
  address: z.string(),
  ifindex: z.number().int(),
  ifname: z.string(),
});

/** An endpoint the config asks for. */
export const desiredEndpoint = addressOnLink.extend({
  /** Canonical order: signal, subflow, backup, fullmesh. */
  flags: z.array(z.enum(MODES)),
  /** Position of the config rule that chose it; lower wins when slots are short. */
  priority: z.number().int(),
  /** The link is down but still inside `linkDownHoldMs`. */
  held: z.boolean(),
});
export type DesiredEndpoint = z.infer<typeof desiredEndpoint>;

/** Why an address is not (or not yet) an endpoint. Stable codes: the status API reports them. */
export const exclusionReason = z.enum([
  'interface-ignored',
  'loopback',
  'link-down',
  'no-carrier',
  'family-disabled',
  'host-scope',
  'tentative',
  'dadfailed',
  'deprecated',
  'link-local',
  'unique-local',
  'temporary',
  'no-route',
  'endpoint-limit',
  'duplicate-address',
  'foreign-endpoint',
]);
export type ExclusionReason = z.infer<typeof exclusionReason>;

/** An address that is not an endpoint, and why. */
export const exclusion = addressOnLink.extend({
  reason: exclusionReason,
  detail: z.string().optional(),
});
export type Exclusion = z.infer<typeof exclusion>;

/** A standing warning; `since` in milliseconds since the epoch. */
export const warning = z.object({ code: z.string(), message: z.string(), since: z.number() });
export type Warning = z.infer<typeof warning>;

/** The outcome of one pass, published for logs, tests and the status API. */
export const passResult = z.object({
  seq: z.number().int(),
  startedAt: z.number(),
  durationMs: z.number(),
  triggers: z.array(trigger),
  changes: z.array(change),
  limitsChange: z.object({ from: limits, to: limits }).optional(),
  closeTimeoutChange: z.object({ from: z.number(), to: z.number() }).optional(),
  errors: z.array(z.string()),
  desired: z.array(desiredEndpoint),
  excluded: z.array(exclusion),
  endpoints: z.array(endpointView),
  limits: limits.nullable(),
  /** net.mptcp.close_timeout; absent when it was not read (no sysctl access, or a kernel without it). */
  closeTimeout: closeTimeoutState.optional(),
  warnings: z.array(warning),
  mptcpAvailable: z.boolean(),
  /**
   * The links, addresses and routes this pass decided from: the daemon's
   * working data, which the snapshot leaves out (it shows them per interface).
   */
  net: z.custom<NetSnapshot>().optional(),
});
export type PassResult = z.infer<typeof passResult>;
