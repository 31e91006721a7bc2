/**
 * The status API's wire format, described once in zod: the TypeScript types
 * of every response come from here, the tests check every response against
 * these schemas, and /openapi.json is generated from them. Times are ISO 8601
 * strings in UTC; byte counters are numbers (exact up to 2^53).
 */
import { z } from 'zod';

/** Named schemas: the components of /openapi.json. Kept out of zod's global registry. */
export const registry = z.registry<{ id: string; description?: string }>();

const time = z.iso.datetime().describe('ISO 8601 time, UTC');
const family = z.union([z.literal(4), z.literal(6)]);

/** `{error: {code, message}}`, the body of every failed request. */
export const errorBody = z
  .object({
    error: z.object({
      code: z.enum(['bad-request', 'not-found', 'forbidden', 'conflict', 'config-invalid', 'unsupported-media-type', 'payload-too-large', 'kernel', 'unavailable', 'internal']),
      message: z.string(),
    }),
  })
  .register(registry, { id: 'Error', description: 'Every failed request answers with this body; `code` is stable, `message` is for people.' });
export type ErrorBody = z.infer<typeof errorBody>;
export type ErrorCode = ErrorBody['error']['code'];

export const warning = z.object({ code: z.string(), message: z.string(), since: time }).register(registry, { id: 'Warning' });

export const limits = z
  .object({ subflows: z.number().int(), addAddrAccepted: z.number().int() })
  .register(registry, { id: 'Limits', description: "The in-kernel path manager's limits (ip mptcp limits)." });

export const closeTimeout = z
  .object({
    seconds: z.number().int().describe('net.mptcp.close_timeout'),
    managed: z.boolean().describe('mpsshd keeps it at pathManager.closeTimeout (false: left to the kernel)'),
  })
  .register(registry, { id: 'CloseTimeout', description: 'How long a connection whose last subflow went waits for a new one before the kernel closes it.' });

export const apiListener = z.object({ address: z.string(), ok: z.boolean(), error: z.string().optional() }).register(registry, { id: 'ApiListener' });

export const status = z
  .object({
    version: z.string(),
    startedAt: time,
    uptimeSeconds: z.number().int().min(0),
    mptcp: z.object({
      enabled: z.boolean().describe('net.mptcp.enabled'),
      available: z.boolean().describe('IPPROTO_MPTCP sockets can be made'),
    }),
    pathManager: z.object({ enabled: z.boolean(), kind: z.enum(['in-kernel', 'userspace', 'unknown']) }),
    limits: limits.nullable(),
    closeTimeout: closeTimeout.nullable(),
    counts: z.object({
      interfaces: z.number().int(),
      interfacesUp: z.number().int(),
      endpoints: z.number().int(),
      endpointsOwned: z.number().int(),
      addressesUnused: z.number().int(),
      sessions: z.number().int(),
      subflows: z.number().int(),
    }),
    reconcileCount: z.number().int(),
    lastReconcile: z
      .object({
        pass: z.number().int(),
        at: time,
        durationMs: z.number(),
        triggers: z.array(z.string()),
        changes: z.number().int(),
        failedChanges: z.number().int(),
        errors: z.array(z.string()),
      })
      .nullable(),
    ssh: z.object({
      state: z.enum(['up', 'degraded', 'disabled']),
      listeners: z.array(
        z.object({ address: z.string(), port: z.number().int(), state: z.enum(['mptcp', 'tcp-fallback', 'down']), error: z.string().optional() }),
      ),
    }),
    api: z.object({
      state: z.enum(['up', 'degraded']).describe('degraded: some listener of the status API could not be opened'),
      listeners: z.array(apiListener),
    }),
    warnings: z.array(warning),
  })
  .register(registry, { id: 'Status' });
export type StatusView = z.infer<typeof status>;

export const addressView = z
  .object({
    address: z.string(),
    family,
    prefixLen: z.number().int(),
    scope: z.number().int(),
    flags: z.array(z.string()).describe('IFA_F_* flags that are set: tentative, deprecated, temporary, dadfailed, nodad, optimistic, permanent'),
    endpoint: z.object({ id: z.number().int(), flags: z.array(z.string()) }).nullable().describe('The MPTCP endpoint using this address, if any'),
    unused: z.object({ reason: z.string(), detail: z.string().optional() }).nullable().describe('Why the address is not an endpoint'),
  })
  .register(registry, { id: 'InterfaceAddress' });

export const interfaceView = z
  .object({
    index: z.number().int(),
    name: z.string(),
    up: z.boolean(),
    lowerUp: z.boolean(),
    operstate: z.string(),
    kind: z.string().optional(),
    mtu: z.number().int().optional(),
    mode: z.array(z.string()).nullable().describe('Endpoint mode the config gives this interface; null when ignored'),
    addresses: z.array(addressView),
    subflows: z.number().int().describe('Subflows of current SSH sessions through this interface'),
  })
  .register(registry, { id: 'Interface' });
export const interfaces = z.object({ interfaces: z.array(interfaceView) }).register(registry, { id: 'Interfaces' });
export type InterfacesView = z.infer<typeof interfaces>;

export const endpointView = z
  .object({
    id: z.number().int(),
    family,
    address: z.string(),
    port: z.number().int().optional(),
    ifindex: z.number().int().optional(),
    ifname: z.string().optional(),
    flags: z.array(z.string()).describe('Kernel flags: signal, subflow, backup, fullmesh, implicit, laminar'),
    backup: z.boolean(),
    owner: z.enum(['mpsshd', 'foreign', 'implicit']),
  })
  .register(registry, { id: 'Endpoint' });
export const unusedAddress = z
  .object({ address: z.string(), family, ifindex: z.number().int(), ifname: z.string(), reason: z.string(), detail: z.string().optional() })
  .register(registry, { id: 'UnusedAddress', description: 'An address of the host that is not an endpoint, with the policy reason' });
export const endpoints = z.object({ endpoints: z.array(endpointView), unused: z.array(unusedAddress) }).register(registry, { id: 'Endpoints' });
export type EndpointsView = z.infer<typeof endpoints>;
export type EndpointItem = z.infer<typeof endpointView>;

const hostPort = z.object({ address: z.string(), port: z.number().int() });

export const sessionSummary = z
  .object({
    id: z.string(),
    pid: z.number().int(),
    user: z.string().describe('Empty until authenticated'),
    client: hostPort,
    server: hostPort,
    startedAt: time,
    authenticatedAt: time.optional(),
    transport: z.enum(['mptcp', 'tcp-fallback']),
    channels: z.record(z.string(), z.number().int()),
    bytesSent: z.number().optional(),
    bytesReceived: z.number().optional(),
    subflowsByInterface: z.record(z.string(), z.number().int()).describe('Subflow count per interface name ("?" when unknown)'),
  })
  .register(registry, { id: 'SessionSummary' });
export const sessions = z.object({ sessions: z.array(sessionSummary) }).register(registry, { id: 'Sessions' });
export type SessionsView = z.infer<typeof sessions>;

const subflowEnd = z.object({ family, address: z.string(), port: z.number().int() });
export const subflowView = z
  .object({
    id: z.number().int().optional(),
    local: subflowEnd,
    remote: subflowEnd,
    ifname: z.string().optional(),
    ifindex: z.number().int().optional(),
    state: z.string(),
    backup: z.boolean().optional(),
    rttUs: z.number(),
    rttVarUs: z.number(),
    minRttUs: z.number().optional(),
    sndCwnd: z.number(),
    pmtu: z.number(),
    totalRetrans: z.number(),
    bytesSent: z.number().optional(),
    bytesReceived: z.number().optional(),
    bytesRetrans: z.number().optional(),
    deliveryRate: z.number().optional().describe('Bytes per second (tcpi_delivery_rate)'),
  })
  .register(registry, { id: 'Subflow' });
export const session = sessionSummary.extend({ sampledAt: time, subflows: z.array(subflowView) }).register(registry, { id: 'Session' });
export type SessionView = z.infer<typeof session>;

export const connectionSubflow = subflowView
  .extend({
    stale: z.boolean().describe('Retransmission timeouts in a row reached net.mptcp.stale_loss_cnt: the kernel does not send on it while another subflow works'),
    sendBps: z.number().optional().describe('Bits per second sent over the last sampling period'),
    recvBps: z.number().optional().describe('Bits per second received over the last sampling period'),
  })
  .register(registry, { id: 'ConnectionSubflow', description: 'A subflow and the interface it really leaves through (the route of its 4-tuple).' });

export const connection = z
  .object({
    id: z.string().describe("The MPTCP socket's cookie: stable for the connection's life"),
    token: z.number().int().describe('Local MPTCP token'),
    direction: z.enum(['incoming', 'outgoing']),
    local: hostPort,
    remote: hostPort,
    state: z.string(),
    process: z
      .object({ pid: z.number().int(), command: z.string(), uid: z.number().int(), user: z.string().optional(), destination: z.string().optional().describe('For ssh and mpssh: the destination as typed') })
      .optional()
      .describe("The owning process; left out where /proc hides other users' processes (hidepid), except on the control socket"),
    session: z.object({ id: z.string(), user: z.string() }).optional().describe("The SSH session mpsshd's server runs on this connection"),
    openedAt: time.describe('First seen'),
    bytesSent: z.number().optional(),
    bytesReceived: z.number().optional(),
    sendBps: z.number().optional(),
    recvBps: z.number().optional(),
    subflows: z.array(connectionSubflow),
  })
  .register(registry, { id: 'Connection', description: "One MPTCP connection of the host, whoever owns it, from the kernel's socket tables." });
export type ConnectionView = z.infer<typeof connection>;

export const connections = z
  .object({
    periodMs: z.number().int().describe('Sampling period; 0 when sampling is off (api.connectionSampleMs)'),
    sampledAt: time.nullable(),
    error: z.string().optional().describe('Why the last sample failed; the connections are from the one before'),
    connections: z.array(connection),
  })
  .register(registry, { id: 'Connections' });
export type ConnectionsView = z.infer<typeof connections>;

/** Connection ids are socket cookies: decimal numbers. */
export const connectionParams = z.object({ id: z.string().regex(/^\d{1,20}$/, 'a connection id is a decimal number') });

export const health = z.object({ ok: z.literal(true) }).register(registry, { id: 'Health' });
export const reloadResult = z.object({ changed: z.boolean() }).register(registry, { id: 'ReloadResult' });
export const sessionClosed = z.object({ id: z.string(), closed: z.literal(true) }).register(registry, { id: 'SessionClosed' });

/** Session ids: the daemon's own, so a conservative character set is enough. */
export const sessionParams = z.object({ id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'a session id is 1-128 letters, digits or ._:-') });
/** MPTCP endpoint ids are u8 and 0 is the initial subflow's (include/uapi/linux/mptcp.h). */
export const endpointParams = z.object({
  id: z.string().regex(/^\d{1,3}$/, 'an endpoint id is a number from 1 to 255').transform(Number).pipe(z.number().min(1, 'an endpoint id is a number from 1 to 255').max(255, 'an endpoint id is a number from 1 to 255')),
});
export const endpointPatch = z.strictObject({ backup: z.boolean() }).register(registry, { id: 'EndpointPatch' });
