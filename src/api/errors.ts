/**
 * Errors the status API answers with. Every failure, including fastify's own
 * (unknown route, unparsable body), leaves as `{error: {code, message}}`
 * with a stable code; a 5xx never shows what went wrong inside.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { ZodError } from 'zod';
import type { ErrorBody, ErrorCode } from './schemas.js';

const STATUS: Record<ErrorCode, number> = {
  'bad-request': 400,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'config-invalid': 422,
  internal: 500,
  kernel: 500,
  unavailable: 503,
};

/** An expected failure of a request, with its stable code. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

/** The body for an error. */
export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/** One line out of a zod error: "backup: expected boolean, received string". */
export function zodMessage(err: ZodError): string {
  return err.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Maps fastify's own 4xx errors onto our codes. */
function codeForStatus(status: number): ErrorCode {
  if (status === 404) return 'not-found';
  if (status === 403) return 'forbidden';
  if (status === 413) return 'payload-too-large';
  if (status === 415) return 'unsupported-media-type';
  return 'bad-request';
}

/** Installs the not-found and error handlers. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody('not-found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    if (err instanceof ApiError) {
      if (err.status >= 500) req.log.error({ code: err.code, err: err.message }, 'request failed');
      void reply.code(err.status).send(errorBody(err.code, err.status >= 500 ? publicMessage(err.code) : err.message));
      return;
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      void reply.code(status).send(errorBody(codeForStatus(status), err.message));
      return;
    }
    req.log.error({ err }, 'request failed');
    void reply.code(500).send(errorBody('internal', publicMessage('internal')));
  });
}

function publicMessage(code: ErrorCode): string {
  if (code === 'kernel') return 'the kernel refused the change; the daemon log has the details';
  if (code === 'unavailable') return 'the daemon cannot answer this now';
  return 'internal error; the daemon log has the details';
}
