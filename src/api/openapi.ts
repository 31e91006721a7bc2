/**
 * /openapi.json, generated from the same zod schemas the routes answer with
 * (zod 4's own JSON Schema output, which is the dialect OpenAPI 3.1 uses).
 */
import { z } from 'zod';
import { VERSION } from '../util/version.js';
import * as S from './schemas.js';

interface Op {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  summary: string;
  control?: boolean;
  params?: z.ZodObject;
  body?: z.ZodType;
  ok: { status: number; schema?: z.ZodType; type?: string; description?: string };
  errors: number[];
}

/** Every route, for the document. The routes themselves are registered in routes.ts. */
const OPS: Op[] = [
  { method: 'get', path: '/status', summary: 'Daemon status: version, uptime, MPTCP, path manager, limits, counts, last reconcile, warnings', ok: { status: 200, schema: S.status }, errors: [] },
  { method: 'get', path: '/interfaces', summary: 'Interfaces with their addresses and why each is or is not an endpoint', ok: { status: 200, schema: S.interfaces }, errors: [] },
  { method: 'get', path: '/endpoints', summary: "The kernel's MPTCP endpoints with owner, and the host's unused addresses with the reason", ok: { status: 200, schema: S.endpoints }, errors: [] },
  { method: 'get', path: '/sessions', summary: 'Open SSH sessions', ok: { status: 200, schema: S.sessions }, errors: [] },
  { method: 'get', path: '/sessions/{id}', summary: 'One SSH session with its subflows', params: S.sessionParams, ok: { status: 200, schema: S.session }, errors: [400, 404] },
  { method: 'get', path: '/connections', summary: "Every MPTCP connection of the host, outgoing and incoming, with its subflows per interface", ok: { status: 200, schema: S.connections }, errors: [] },
  { method: 'get', path: '/connections/{id}', summary: 'One MPTCP connection', params: S.connectionParams, ok: { status: 200, schema: S.connection }, errors: [400, 404] },
  {
    method: 'get',
    path: '/events',
    summary: 'Server-sent events (id = event sequence number; honours Last-Event-ID)',
    ok: { status: 200, type: 'text/event-stream', description: 'One SSE event per daemon event; `event:` is its type, `data:` its JSON' },
    errors: [400],
  },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', ok: { status: 200, type: 'text/plain; version=0.0.4' }, errors: [] },
  { method: 'get', path: '/healthz', summary: 'Liveness', ok: { status: 200, schema: S.health }, errors: [] },
  { method: 'get', path: '/openapi.json', summary: 'This document', ok: { status: 200, type: 'application/json' }, errors: [] },
  { method: 'post', path: '/reload', summary: 'Reload the configuration file (as SIGHUP)', control: true, ok: { status: 200, schema: S.reloadResult }, errors: [403, 422] },
  {
    method: 'patch',
    path: '/endpoints/{id}',
    summary: "Set or clear an endpoint's backup flag",
    control: true,
    params: S.endpointParams,
    body: S.endpointPatch,
    ok: { status: 200, schema: S.endpointView },
    errors: [400, 403, 404, 409, 500],
  },
  { method: 'delete', path: '/sessions/{id}', summary: 'End an SSH session', control: true, params: S.sessionParams, ok: { status: 200, schema: S.sessionClosed }, errors: [400, 403, 404] },
];

const ERROR_TEXT: Record<number, string> = {
  400: 'Bad request (code bad-request)',
  403: 'Only on the control socket (code forbidden)',
  404: 'No such object (code not-found)',
  409: 'Endpoint belongs to another manager (code conflict)',
  422: 'The configuration file is invalid; the running one is kept (code config-invalid)',
  500: 'Internal or kernel failure (code internal or kernel)',
};

/** A schema inline in the document: OpenAPI gives the dialect once, so no `$schema` per schema. */
function inline(s: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io: 'input' }) as Record<string, unknown>;
  return rest;
}

function schemaOf(registry: typeof S.registry, s: z.ZodType): Record<string, unknown> {
  const id = registry.get(s)?.id;
  return id ? { $ref: `#/components/schemas/${id}` } : inline(s);
}

/** Builds the OpenAPI 3.1 document. */
export function openApiDocument(): Record<string, unknown> {
  const registry = S.registry;
  const components = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, io: 'output' }).schemas;
  for (const c of Object.values(components)) {
    delete (c as Record<string, unknown>).$schema;
    delete (c as Record<string, unknown>).$id;
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPS) {
    const responses: Record<string, unknown> = {
      [op.ok.status]: {
        description: op.ok.description ?? 'OK',
        content: { [op.ok.type ?? 'application/json']: op.ok.schema ? { schema: schemaOf(registry, op.ok.schema) } : {} },
      },
    };
    for (const code of op.errors) {
      responses[code] = { description: ERROR_TEXT[code] ?? 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    const item: Record<string, unknown> = {
      summary: op.summary,
      operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
      responses,
    };
    if (op.control) item.description = 'Accepted only on the root-only Unix control socket; over TCP it answers 403.';
    if (op.params) {
      item.parameters = Object.entries(op.params.shape).map(([name, s]) => ({ name, in: 'path', required: true, schema: inline(s as z.ZodType) }));
    }
    if (op.body) item.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(registry, op.body) } } };
    (paths[op.path] ??= {})[op.method] = item;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'mpsshd status API', version: VERSION, description: 'Read-only over TCP; changes only through the root-only Unix control socket.' },
    paths,
    components: { schemas: components },
  };
}
