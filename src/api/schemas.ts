/**
 * The status API's wire format: the TypeScript types of every response come
 * from here, the tests check every response against these schemas, and
 * /openapi.json is generated from them. Each view is built from the status
 * schemas of src/status/ and says only where the API shows an object
 * differently: times are ISO 8601 strings in UTC, flags and codes open string
 * lists, sessions seen from the client. Byte counters are numbers (exact up
 * to 2^53).
 */
import { z } from 'zod';
import { connectionProcess, connectionsStatus, connectionStatus, connectionSubflowStatus } from '../status/connection.js';
import { address, limits as statusLimits, link } from '../status/kernel.js';
import { closeTimeoutState, endpointView as statusEndpoint, exclusion, passResult, warning as statusWarning } from '../status/path-manager.js';
import { sessionStatus, subflowStatus } from '../status/session.js';
import { statusSnapshot } from '../status/snapshot.js';

/** Named schemas: the components of /openapi.json. Kept out of zod's global registry. */
export const registry = z.registry<{ id: string; description?: string }>();

const time = z.iso.datetime().describe('ISO 8601 time, UTC');

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

export const warning = statusWarning.extend({ since: time }).register(registry, { id: 'Warning' });

export const limits = statusLimits.register(registry, { id: 'Limits', description: "The in-kernel path manager's limits (ip mptcp limits)." });

export const closeTimeout = closeTimeoutState.register(registry, {
  id: 'CloseTimeout',
  description: 'How long a connection whose last subflow went waits for a new one before the kernel closes it.',
});

export const apiListener = z.object({ address: z.string(), ok: z.boolean(), error: z.string().optional() }).register(registry, { id: 'ApiListener' });

const snapshotFields = statusSnapshot.shape;

export const status = z
  .object({
    version: snapshotFields.version,
    startedAt: time,
    uptimeSeconds: z.number().int().min(0),
    mptcp: snapshotFields.mptcp,
    pathManager: snapshotFields.pathManager,
    limits: snapshotFields.limits,
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
    reconcileCount: snapshotFields.reconcileCount,
    lastReconcile: z
      .object({
        pass: passResult.shape.seq,
        at: time,
        durationMs: passResult.shape.durationMs,
        triggers: z.array(z.string()),
        changes: z.number().int(),
        failedChanges: z.number().int(),
        errors: passResult.shape.errors,
      })
      .nullable(),
    ssh: snapshotFields.ssh,
    api: z.object({
      state: z.enum(['up', 'degraded']).describe('degraded: some listener of the status API could not be opened'),
      listeners: z.array(apiListener),
    }),
    warnings: z.array(warning),
  })
  .register(registry, { id: 'Status' });
export type StatusView = z.infer<typeof status>;

export const addressView = address
  .pick({ address: true, family: true, prefixLen: true, scope: true })
  .extend({
    flags: z.array(z.string()).describe('IFA_F_* flags that are set: tentative, deprecated, temporary, dadfailed, nodad, optimistic, permanent'),
    endpoint: z.object({ id: z.number().int(), flags: z.array(z.string()) }).nullable().describe('The MPTCP endpoint using this address, if any'),
    unused: exclusion.pick({ reason: true, detail: true }).extend({ reason: z.string() }).nullable().describe('Why the address is not an endpoint'),
  })
  .register(registry, { id: 'InterfaceAddress' });

export const interfaceView = link
  .pick({ index: true, name: true, up: true, lowerUp: true, operstate: true, kind: true, mtu: true })
  .extend({
    operstate: z.string(),
    mode: z.array(z.string()).nullable().describe('Endpoint mode the config gives this interface; null when ignored'),
    addresses: z.array(addressView),
    subflows: z.number().int().describe('Subflows of current SSH sessions through this interface'),
  })
  .register(registry, { id: 'Interface' });
export const interfaces = z.object({ interfaces: z.array(interfaceView) }).register(registry, { id: 'Interfaces' });
export type InterfacesView = z.infer<typeof interfaces>;

export const endpointView = statusEndpoint
  .pick({ id: true, family: true, address: true, port: true, ifindex: true, ifname: true, flags: true })
  .extend({
    flags: z.array(z.string()).describe('Kernel flags: signal, subflow, backup, fullmesh, implicit, laminar'),
    backup: z.boolean(),
    owner: statusEndpoint.shape.owner,
  })
  .register(registry, { id: 'Endpoint' });
export const unusedAddress = exclusion
  .pick({ address: true, family: true, ifindex: true, ifname: true, reason: true, detail: true })
  .extend({ reason: z.string() })
  .register(registry, { id: 'UnusedAddress', description: 'An address of the host that is not an endpoint, with the policy reason' });
export const endpoints = z.object({ endpoints: z.array(endpointView), unused: z.array(unusedAddress) }).register(registry, { id: 'Endpoints' });
export type EndpointsView = z.infer<typeof endpoints>;
export type EndpointItem = z.infer<typeof endpointView>;


const sessionFields = sessionStatus.shape;

/** Why a session's owner may be missing. */
const OWNER_HIDDEN = "Left out where /proc hides other users' processes (hidepid), except on the control socket";

/** A session seen from the client: `client` is the status's `remote`, `server` its `local`. */
export const sessionSummary = z
  .object({
    id: sessionFields.id,
    pid: sessionFields.pid.optional().describe(OWNER_HIDDEN),
    user: sessionFields.user.optional().describe(`Empty until authenticated. ${OWNER_HIDDEN}`),
    client: sessionFields.remote,
    server: sessionFields.local,
    startedAt: time,
    authenticatedAt: time.optional(),
    transport: sessionFields.transport,
    channels: sessionFields.channels,
    bytesSent: sessionFields.bytesSent,
    bytesReceived: sessionFields.bytesReceived,
    subflowsByInterface: z.record(z.string(), z.number().int()).describe('Subflow count per interface name ("?" when unknown)'),
  })
  .register(registry, { id: 'SessionSummary' });
export const sessions = z.object({ sessions: z.array(sessionSummary) }).register(registry, { id: 'Sessions' });
export type SessionsView = z.infer<typeof sessions>;

/** What the API shows of a subflow: the kernel's view without the counters kept for the daemon's own use. */
export const subflowView = subflowStatus
  .pick({
    id: true,
    local: true,
    remote: true,
    ifname: true,
    ifindex: true,
    state: true,
    backup: true,
    rttUs: true,
    rttVarUs: true,
    minRttUs: true,
    sndCwnd: true,
    pmtu: true,
    totalRetrans: true,
    bytesSent: true,
    bytesReceived: true,
    bytesRetrans: true,
    deliveryRate: true,
  })
  .extend({ state: z.string() })
  .register(registry, { id: 'Subflow' });
export const session = sessionSummary.extend({ sampledAt: time, subflows: z.array(subflowView) }).register(registry, { id: 'Session' });
export type SessionView = z.infer<typeof session>;

const subflowFields = connectionSubflowStatus.shape;

export const connectionSubflow = subflowView
  .extend({
    stale: subflowFields.stale.describe('Retransmission timeouts in a row reached net.mptcp.stale_loss_cnt: the kernel does not send on it while another subflow works'),
    sendBps: subflowFields.sendBps.describe('Bits per second sent over the last sampling period'),
    recvBps: subflowFields.recvBps.describe('Bits per second received over the last sampling period'),
  })
  .register(registry, { id: 'ConnectionSubflow', description: 'A subflow and the interface it really leaves through (the route of its 4-tuple).' });

const connectionFields = connectionStatus.shape;

export const connection = z
  .object({
    id: connectionFields.id.describe("The MPTCP socket's cookie: stable for the connection's life"),
    token: connectionFields.token.describe('Local MPTCP token'),
    direction: connectionFields.direction,
    local: connectionFields.local,
    remote: connectionFields.remote,
    state: connectionFields.state,
    process: connectionProcess
      .optional()
      .describe("The owning process; left out where /proc hides other users' processes (hidepid), except on the control socket"),
    session: connectionFields.session.describe("The SSH session mpsshd's server runs on this connection"),
    openedAt: time.describe('First seen'),
    bytesSent: connectionFields.bytesSent,
    bytesReceived: connectionFields.bytesReceived,
    sendBps: connectionFields.sendBps,
    recvBps: connectionFields.recvBps,
    subflows: z.array(connectionSubflow),
  })
  .register(registry, { id: 'Connection', description: "One MPTCP connection of the host, whoever owns it, from the kernel's socket tables." });
export type ConnectionView = z.infer<typeof connection>;

export const connections = z
  .object({
    periodMs: connectionsStatus.shape.periodMs.describe('Sampling period; 0 when sampling is off (api.connectionSampleMs)'),
    sampledAt: time.nullable(),
    error: connectionsStatus.shape.error.describe('Why the last sample failed; the connections are from the one before'),
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
