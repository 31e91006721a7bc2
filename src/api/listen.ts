/**
 * The API's sockets. Each configured address gets its own http.Server feeding
 * the shared app, so one address failing (port taken, IPv6 disabled) leaves
 * the others serving; the failure is reported, never thrown.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { hostPort, splitHostPort } from '../util/address.js';
import { MpsshError } from '../util/errors.js';

/** A listen address from the config. */
export type ListenSpec = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** Parses `host:port`, `[v6]:port` or an absolute Unix socket path; throws on anything else. */
export function parseListen(text: string): ListenSpec {
  if (text.startsWith('/')) return { kind: 'unix', path: text };
  const hp = splitHostPort(text);
  if (hp === null || hp.port === undefined) throw new Error(`bad listen address "${text}": expected host:port, [v6-address]:port or an absolute path`);
  if (hp.bracketed && !net.isIPv6(hp.host)) throw new Error(`bad listen address "${text}": "${hp.host}" is not an IPv6 address`);
  return { kind: 'tcp', host: hp.host, port: hp.port };
}

/** How an address is named in logs and state: as configured, with the real port once bound to port 0. */
export function describeListen(spec: ListenSpec, boundPort?: number): string {
  if (spec.kind === 'unix') return spec.path;
  const port = boundPort ?? spec.port;
  return hostPort(spec.host, port);
}

function connects(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Makes `p` free for a new Unix socket: creates its directory (0755) when
 * missing and removes a socket nobody listens on (left by a crash). A live
 * socket or a file of another kind is left alone.
 */
export async function prepareSocketPath(p: string): Promise<void> {
  fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 });
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new MpsshError('in-use', `${p} exists and is not a socket; not replacing it`);
  if (await connects(p)) throw new MpsshError('in-use', `${p} is in use by a running process (another mpsshd?)`);
  fs.unlinkSync(p);
}

/** Connections one listener holds at once (see openListener). */
export const MAX_CONNECTIONS = 256;

/** One open listener. */
export interface OpenListener {
  address: string;
  server: http.Server;
  close(): Promise<void>;
}

/** Opens one listener for `app` (which must be ready). `mode` applies to Unix sockets. Rejects with the listen error. */
export async function openListener(app: FastifyInstance, spec: ListenSpec, mode = 0o666): Promise<OpenListener> {
  if (spec.kind === 'unix') await prepareSocketPath(spec.path);
  const server = http.createServer({ requestTimeout: 30_000 }, (req, res) => app.routing(req, res));
  server.keepAliveTimeout = 5_000;
  // Any local user may connect to a loopback listener: past this many
  // connections new ones are closed at once, so that no one can take all of
  // the daemon's descriptors (which its SSH listener and netlink need too).
  server.maxConnections = MAX_CONNECTIONS;
  let lastDropLog = 0;
  server.on('drop', () => {
    if (Date.now() - lastDropLog < 60_000) return;
    lastDropLog = Date.now();
    app.log.warn({ listener: spec.kind === 'unix' ? spec.path : `${spec.host}:${spec.port}`, max: MAX_CONNECTIONS }, 'status API connection refused: as many connections are open as allowed');
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (spec.kind === 'unix') server.listen(spec.path, done);
    else server.listen({ host: spec.host, port: spec.port, ipv6Only: spec.host.includes(':') }, done);
  });
  if (spec.kind === 'unix') {
    // With the default umask the socket is created 0755 at worst, which
    // already lets no one else connect (connect needs write permission).
    fs.chmodSync(spec.path, mode);
  }
  const bound = server.address();
  const address = describeListen(spec, typeof bound === 'object' && bound ? bound.port : undefined);
  let closed: Promise<void> | undefined;
  return {
    address,
    server,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => {
        if (spec.kind === 'unix') fs.rmSync(spec.path, { force: true });
      });
      return closed;
    },
  };
}
