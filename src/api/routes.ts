/**
 * The API's routes. Read-only routes answer from `source.snapshot()` and
 * never touch the kernel. Changing routes exist on every listener, so they
 * are documented in one place, but only the control socket's app accepts
 * them; elsewhere they answer 403.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { StatusSource } from '../status/snapshot.js';
import { MpsshError } from '../util/errors.js';
import { zodMessage } from './errors.js';
import type { ApiMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import * as S from './schemas.js';
import { parseLastEventId, type SseHub } from './sse.js';
import { connectionsView, connectionView, endpointItem, endpointsView, interfacesView, sessionsView, sessionView, statusView, type ApiListenersState } from './views.js';

export interface RouteDeps {
  source: StatusSource;
  control: boolean;
  hub: SseHub;
  metrics: ApiMetrics;
  apiState: () => ApiListenersState;
  now: () => number;
  /**
   * Who owns a session or a connection may be shown: always on the control
   * socket, elsewhere only where /proc does not hide other users' processes
   * (hidepid).
   */
  owners: boolean;
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new MpsshError('bad-request', zodMessage(r.error));
  return r.data;
}

/** The error a daemon call rejected with, as the API reports it: the daemon's own coded error, or a bug. */
function fromSourceError(err: unknown): MpsshError {
  if (err instanceof MpsshError) return err;
  return new MpsshError('internal', err instanceof Error ? err.message : String(err), undefined, { cause: err });
}

/** Registers the read-only routes. */
export function readRoutes(app: FastifyInstance, d: RouteDeps): void {
  const snap = () => d.source.snapshot();
  let openapi: string | undefined;
  app.get('/status', async () => statusView(snap(), d.apiState(), d.now()));
  app.get('/interfaces', async () => interfacesView(snap()));
  app.get('/endpoints', async () => endpointsView(snap()));
  const { owners } = d;
  app.get('/sessions', async () => sessionsView(snap(), owners));
  app.get('/sessions/:id', async (req) => {
    const { id } = parse(S.sessionParams, req.params);
    const v = sessionView(snap(), id, owners);
    if (!v) throw new MpsshError('not-found', `no session ${id}`);
    return v;
  });
  app.get('/connections', async () => connectionsView(snap(), owners));
  app.get('/connections/:id', async (req) => {
    const { id } = parse(S.connectionParams, req.params);
    const v = connectionView(snap(), id, owners);
    if (!v) throw new MpsshError('not-found', `no connection ${id}`);
    return v;
  });
  app.get('/healthz', async () => ({ ok: true as const }));
  app.get('/openapi.json', async (_req, reply) => {
    openapi ??= JSON.stringify(openApiDocument());
    return reply.type('application/json; charset=utf-8').send(openapi);
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await d.metrics.registry.metrics();
    return reply.type(d.metrics.registry.contentType).send(text);
  });
  app.get('/events', async (req: FastifyRequest<{ Querystring: { lastEventId?: string } }>, reply) => {
    const after = parseLastEventId(req.headers['last-event-id'] ?? req.query.lastEventId);
    if (after === null) throw new MpsshError('bad-request', 'Last-Event-ID must be a non-negative integer');
    if (d.hub.full) {
      req.log.warn({ streams: d.hub.size }, 'event stream refused: as many streams are open as allowed');
      throw new MpsshError('unavailable', 'too many event streams are open');
    }
    reply.hijack();
    d.hub.serve(req.raw, reply.raw, after);
  });
}

/** Registers the changing routes. */
export function controlRoutes(app: FastifyInstance, d: RouteDeps): void {
  const guard = async (): Promise<void> => {
    if (!d.control) throw new MpsshError('forbidden', 'changes are accepted only on the control socket (api.controlSocket, root only)');
  };
  app.post('/reload', { onRequest: guard }, async () => {
    try {
      return await d.source.reload();
    } catch (err) {
      throw fromSourceError(err);
    }
  });
  app.patch('/endpoints/:id', { onRequest: guard }, async (req) => {
    const { id } = parse(S.endpointParams, req.params);
    const { backup } = parse(S.endpointPatch, req.body ?? null);
    try {
      return endpointItem(await d.source.setEndpointBackup(id, backup));
    } catch (err) {
      throw fromSourceError(err);
    }
  });
  app.delete('/sessions/:id', { onRequest: guard }, async (req) => {
    const { id } = parse(S.sessionParams, req.params);
    if (!(await d.source.closeSession(id))) throw new MpsshError('not-found', `no session ${id}`);
    return { id, closed: true as const };
  });
}
