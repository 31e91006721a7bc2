/**
 * One fastify app of the status API. The read-only listeners share one app
 * built with `control: false`; the control socket has its own with
 * `control: true`, the only one that accepts the changing routes.
 */
import fs from 'node:fs';
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { StatusSource } from '../status/snapshot.js';
import type { Logger } from '../util/logger.js';
import { dashboardRoutes } from './dashboard.js';
import { errorBody, installErrorHandlers } from './errors.js';
import { hostAllowed } from './host-check.js';
import { createMetrics } from './metrics.js';
import { controlRoutes, readRoutes } from './routes.js';
import { DEFAULT_SSE, SseHub, type SseOptions } from './sse.js';
import type { ApiListenersState } from './views.js';

export interface BuildAppOptions {
  source: StatusSource;
  log: Logger;
  /** True only for the root-only Unix socket: accept POST/PATCH/DELETE. */
  control: boolean;
  /** Host names the read-only app answers besides IP literals and localhost (DNS rebinding). */
  allowedHosts?: readonly string[];
  /** The API's own listeners, for /status (startApi passes its state; alone, the app reports none). */
  apiState?: () => ApiListenersState;
  sse?: Partial<SseOptions>;
  now?: () => number;
  /** Whether /proc hides other users' processes; default: read from /proc/mounts. */
  processesHidden?: boolean;
}

/** /proc mounted with hidepid (1, 2, noaccess, invisible): users cannot see each other's processes. */
export function procHidesProcesses(mounts = '/proc/mounts'): boolean {
  try {
    const line = fs.readFileSync(mounts, 'utf8').split('\n').find((l) => l.split(' ')[1] === '/proc');
    return line !== undefined && /(^|,)hidepid=(1|2|noaccess|invisible)(,|$)/.test(line.split(' ')[3] ?? '');
  } catch {
    return false;
  }
}

/** Builds the app; call `ready()` (or `listen`, `inject`) before serving. */
export function buildApp(opts: BuildAppOptions): FastifyInstance {
  const app = fastify({
    loggerInstance: opts.log.child({ mod: 'api', control: opts.control }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024,
    return503OnClosing: true,
  });
  // Who owns a session or a connection: not on listeners any local user reaches when /proc hides it.
  const owners = opts.control || !(opts.processesHidden ?? procHidesProcesses());
  const hub = new SseHub(opts.source, { ...DEFAULT_SSE, ...opts.sse }, opts.log.child({ mod: 'api-events' }), owners);
  const metrics = createMetrics(opts.source, () => hub.size, owners);
  installErrorHandlers(app);
  if (!opts.control) {
    const allowed = opts.allowedHosts ?? [];
    app.addHook('onRequest', async (req, reply) => {
      if (hostAllowed(req.headers.host, allowed)) return;
      req.log.debug({ host: req.headers.host }, 'request for a Host that is not allowed, refused');
      return reply.code(403).send(errorBody('forbidden', `Host ${JSON.stringify(String(req.headers.host).slice(0, 100))} is not allowed: the status API answers IP addresses, localhost and api.allowedHosts only`));
    });
  }
  // One debug line per request: at info, a scraper would fill the journal.
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });
  const deps = { source: opts.source, control: opts.control, hub, metrics, apiState: opts.apiState ?? (() => ({ listeners: [] })), now: opts.now ?? Date.now, owners };
  readRoutes(app, deps);
  controlRoutes(app, deps);
  dashboardRoutes(app);
  app.addHook('preClose', async () => hub.closeAll());
  app.addHook('onClose', async () => metrics.close());
  return app;
}
