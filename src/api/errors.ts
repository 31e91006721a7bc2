/**
 * Errors the status API answers with. Every failure, including fastify's own
 * (unknown route, unparsable body), leaves as `{error: {code, message}}`
 * with a stable code; a 5xx never shows what went wrong inside.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { ZodError } from 'zod';
import { MpsshError, type ErrorCode } from '../util/errors.js';
import type { ErrorBody, ErrorCode as ApiErrorCode } from './schemas.js';

/**
 * The HTTP status of each code a client may see. Every API code is here and
 * every key is an MpsshError code; any other code (usage, host-key, closed)
 * reaching a handler is a bug and answers 500 "internal".
 */
const HTTP_STATUS = {
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
} as const satisfies Record<ApiErrorCode, number> & Partial<Record<ErrorCode, number>>;

function isApiCode(code: ErrorCode): code is ApiErrorCode {
  return Object.hasOwn(HTTP_STATUS, code);
}

/** The body for an error. */
export function errorBody(code: ApiErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/** One line out of a zod error: "backup: expected boolean, received string". */
export function zodMessage(err: ZodError): string {
  return err.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Maps fastify's own 4xx errors onto our codes. */
function codeForStatus(status: number): ApiErrorCode {
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
  app.setErrorHandler((err: FastifyError | MpsshError, req, reply) => {
    if (err instanceof MpsshError) {
      const code = isApiCode(err.code) ? err.code : 'internal';
      const status = HTTP_STATUS[code];
      if (status >= 500) req.log.error({ code: err.code, err: err.message, ...(err.details ? { details: err.details } : {}) }, 'request failed');
      void reply.code(status).send(errorBody(code, status >= 500 ? publicMessage(code) : err.message));
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

function publicMessage(code: ApiErrorCode): string {
  if (code === 'kernel') return 'the kernel refused the change; the daemon log has the details';
  if (code === 'unavailable') return 'the daemon cannot answer this now';
  return 'internal error; the daemon log has the details';
}
