/**
 * The kernel's objects as the status reports them: links, addresses,
 * limits, MPTCP endpoints and subflows. The netlink and mptcp layers hand
 * these out as plain TypeScript types (the SSH worker reads subflows and must
 * not load zod); test/unit/status-schema.test.ts proves that each schema here
 * and its lower-layer type describe the same object.
 */
import { z } from 'zod';

/** The address family, 4 or 6. */
export const family = z.union([z.literal(4), z.literal(6)]);

/** The in-kernel path manager's limits (ip mptcp limits). */
export const limits = z.object({ subflows: z.number().int(), addAddrAccepted: z.number().int() });

/** One network interface (RTM_NEWLINK). */
export const link = z.object({
  index: z.number().int(),
  name: z.string(),
  up: z.boolean(),
  lowerUp: z.boolean(),
  operstate: z.enum(['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up']),
  loopback: z.boolean(),
  kind: z.string().optional(),
  mtu: z.number().int().optional(),
});

/** IFA_F_* flags that decide whether an address may be used. */
export const addressFlags = z.object({
  tentative: z.boolean(),
  deprecated: z.boolean(),
  temporary: z.boolean(),
  dadfailed: z.boolean(),
  nodad: z.boolean(),
  optimistic: z.boolean(),
  permanent: z.boolean(),
});

/** One IPv4 or IPv6 address (RTM_NEWADDR). */
export const address = z.object({
  family,
  address: z.string(),
  prefixLen: z.number().int(),
  ifindex: z.number().int(),
  scope: z.number().int(),
  flags: addressFlags,
  preferredLft: z.number().optional(),
  validLft: z.number().optional(),
});

/** One MPTCP endpoint as the kernel reports it. */
export const kernelEndpoint = z.object({
  id: z.number().int(),
  family,
  address: z.string(),
  port: z.number().int().optional(),
  ifindex: z.number().int().optional(),
  flags: z.array(z.enum(['signal', 'subflow', 'backup', 'fullmesh', 'implicit', 'laminar'])),
});

/** TCP state names, include/net/tcp_states.h. */
export const tcpState = z.enum(['unknown', 'established', 'syn-sent', 'syn-recv', 'fin-wait1', 'fin-wait2', 'time-wait', 'close', 'close-wait', 'last-ack', 'listen', 'closing', 'new-syn-recv']);

/** A subflow's end. */
export const subflowEnd = z.object({ family, address: z.string(), port: z.number().int() });

/** One subflow as MPTCP_FULL_INFO and sock_diag describe it (see SubflowInfo for each field's source). */
export const subflowInfo = z.object({
  id: z.number().int().optional(),
  local: subflowEnd,
  remote: subflowEnd,
  ifindex: z.number().int().optional(),
  state: tcpState,
  rttUs: z.number(),
  rttVarUs: z.number(),
  minRttUs: z.number().optional(),
  rtoUs: z.number(),
  sndCwnd: z.number(),
  pmtu: z.number(),
  totalRetrans: z.number(),
  lost: z.number(),
  rtoInARow: z.number().optional(),
  bytesSent: z.number().optional(),
  bytesReceived: z.number().optional(),
  bytesAcked: z.number().optional(),
  bytesRetrans: z.number().optional(),
  deliveryRate: z.number().optional().describe('Bytes per second (tcpi_delivery_rate)'),
  backup: z.boolean().optional(),
  backupLocal: z.boolean().optional(),
  backupRemote: z.boolean().optional(),
  localId: z.number().int().optional(),
  remoteId: z.number().int().optional(),
  flags: z.number().int().optional(),
});
