/**
 * The path manager's vocabulary as the status reports it: what a reconcile
 * pass decided and did, and why an address is left out. The daemon produces
 * these; the status snapshot, the API and the metrics read them.
 */
import type { Mode } from '../config/schema.js';
import type { KernelEndpoint, Limits, NetSnapshot } from '../netlink/types.js';

/** What caused a pass. */
export type Trigger = 'start' | 'link' | 'address' | 'route' | 'overrun' | 'family' | 'reload' | 'timer' | 'hold-expired' | 'retry' | 'api' | 'fast-path';

/** A kernel endpoint as the status reports it. */
export interface EndpointView extends KernelEndpoint {
  owner: 'mpsshd' | 'foreign' | 'implicit';
  ifname?: string;
}

/** The outcome of one pass, published for logs, tests and the status API. */
export interface PassResult {
  seq: number;
  startedAt: number;
  durationMs: number;
  triggers: Trigger[];
  changes: Change[];
  limitsChange?: { from: Limits; to: Limits };
  closeTimeoutChange?: { from: number; to: number };
  errors: string[];
  desired: DesiredEndpoint[];
  excluded: Exclusion[];
  endpoints: EndpointView[];
  limits: Limits | null;
  /** net.mptcp.close_timeout; absent when it was not read (no sysctl access, or a kernel without it). */
  closeTimeout?: CloseTimeoutState;
  warnings: Warning[];
  mptcpAvailable: boolean;
  /** The links, addresses and routes this pass decided from. */
  net?: NetSnapshot;
}

/** net.mptcp.close_timeout as the pass left it. */
export interface CloseTimeoutState {
  /** The kernel's value, seconds. */
  seconds: number;
  /** Whether mpsshd keeps it at its wish; false when the config leaves it to the kernel. */
  managed: boolean;
}

/** One step carried out (or tried) on the kernel. */
export interface Change {
  op: 'add' | 'change' | 'replace' | 'remove';
  address: string;
  ifname?: string;
  id?: number;
  from?: string;
  to?: string;
  ok: boolean;
  /** errno code and the kernel's message, when the step failed. */
  error?: string;
}

/** An endpoint the config asks for. */
export interface DesiredEndpoint {
  family: 4 | 6;
  address: string;
  ifindex: number;
  ifname: string;
  /** Canonical order: signal, subflow, backup, fullmesh. */
  flags: Mode[];
  /** Position of the config rule that chose it; lower wins when slots are short. */
  priority: number;
  /** The link is down but still inside `linkDownHoldMs`. */
  held: boolean;
}

/** Why an address is not (or not yet) an endpoint. Stable codes: the status API reports them. */
export type ExclusionReason =
  | 'interface-ignored'
  | 'loopback'
  | 'link-down'
  | 'no-carrier'
  | 'family-disabled'
  | 'host-scope'
  | 'tentative'
  | 'dadfailed'
  | 'deprecated'
  | 'link-local'
  | 'unique-local'
  | 'temporary'
  | 'no-route'
  | 'endpoint-limit'
  | 'duplicate-address'
  | 'foreign-endpoint';

/** An address that is not an endpoint, and why. */
export interface Exclusion {
  family: 4 | 6;
  address: string;
  ifindex: number;
  ifname: string;
  reason: ExclusionReason;
  detail?: string;
}

/** A standing warning, as the status API reports it. */
export interface Warning {
  code: string;
  message: string;
  since: number;
}
