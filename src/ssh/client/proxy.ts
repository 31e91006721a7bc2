/**
 * `mpssh proxy HOST PORT [--fdpass]`, the ProxyCommand that puts OpenSSH on
 * MPTCP. With --fdpass (ssh's ProxyUseFdpass) the connected MPTCP socket is
 * handed to ssh, which then talks to the kernel directly and this process
 * exits; without it, stdin and stdout are relayed to the socket.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { connectMptcp, handOverSocket, type ConnectMptcpResult } from '../../mptcp/index.js';
import { AllAttemptsFailed, interleaveFamilies, race } from './happy-eyeballs.js';
import { forwardOfferedConnection } from './connection-offer.js';

/** A failure to report as one line, with ssh's exit status 255. */
export class ProxyError extends Error {
  readonly code = 'ERR_MPSSH_PROXY';
}

/** The proxy's options. */
export interface ProxyOptions {
  host: string;
  port: number;
  fdpass: boolean;
  /** `--from PATH`: fetch a connection mpssh already made, instead of connecting. */
  from?: string;
  /** Where the connection goes with --fdpass: ssh's socketpair, our stdout. */
  outFd?: number;
  verbose?: (line: string) => void;
}

/** strerror(3) wording for the errors a connect can end with, as ssh prints them. */
const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ECONNRESET: 'Connection reset by peer',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  ENODATA: 'No address associated with hostname',
};

/** The one-line text of an error, in strerror's words where known. */
export function describeError(err: unknown): string {
  const code = (err as { code?: string }).code;
  return (code && STRERROR[code]) || (err as Error).message || String(err);
}

/** Parses `proxy` arguments: HOST PORT [--fdpass] [-v], or --from PATH. */
export function parseProxyArgs(argv: readonly string[]): ProxyOptions {
  if (argv[0] === '--from') {
    if (argv.length !== 2) throw new ProxyError('usage: mpssh proxy --from PATH');
    return { host: '', port: 0, fdpass: true, from: argv[1] as string };
  }
  const positional = argv.filter((a) => !a.startsWith('-'));
  const flags = argv.filter((a) => a.startsWith('-'));
  const unknown = flags.find((f) => f !== '--fdpass' && f !== '-v');
  if (unknown) throw new ProxyError(`proxy: unknown option ${unknown} (usage: mpssh proxy HOST PORT [--fdpass])`);
  const [host, portText, extra] = positional;
  if (host === undefined || portText === undefined || extra !== undefined) throw new ProxyError('usage: mpssh proxy HOST PORT [--fdpass]');
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ProxyError(`proxy: bad port "${portText}"`);
  return { host, port, fdpass: flags.includes('--fdpass'), ...(flags.includes('-v') ? { verbose: (l: string) => process.stderr.write(`mpssh: ${l}\n`) } : {}) };
}

/** Resolves HOST to addresses (both families, the resolver's order); an IP literal is itself. */
export async function resolveHost(host: string): Promise<string[]> {
  const literal = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (net.isIP(literal)) return [literal];
  try {
    const found = await dns.lookup(host, { all: true, verbatim: true });
    return found.map((a) => a.address);
  } catch (err) {
    throw new ProxyError(`Could not resolve hostname ${host}: ${describeError(err)}`);
  }
}

/** Connects to HOST PORT over MPTCP, racing the addresses; rejects with a ProxyError. */
export async function connectHost(opts: Pick<ProxyOptions, 'host' | 'port' | 'verbose'>, paused: boolean): Promise<ConnectMptcpResult & { address: string }> {
  const addresses = interleaveFamilies(await resolveHost(opts.host));
  try {
    const { address, value } = await race(
      addresses,
      (a, signal) => {
        opts.verbose?.(`connecting to ${opts.host} [${a}] port ${opts.port}`);
        return connectMptcp({ host: a, port: opts.port, signal, paused });
      },
      (late) => late.socket.destroy(),
    );
    opts.verbose?.(`connected to ${address} port ${opts.port} over ${value.transport === 'mptcp' ? 'MPTCP' : `plain TCP (${value.fallbackReason ?? 'fallback'})`}`);
    return { ...value, address };
  } catch (err) {
    const last = err instanceof AllAttemptsFailed ? err.errors[err.errors.length - 1]?.error : err;
    throw new ProxyError(`connect to host ${opts.host} port ${opts.port}: ${describeError(last)}`);
  }
}

/** Runs the proxy; resolves when the connection is handed over or the relay has ended. */
export async function runProxy(opts: ProxyOptions): Promise<void> {
  if (opts.from !== undefined) {
    try {
      await forwardOfferedConnection(opts.from, opts.outFd ?? 1);
    } catch (err) {
      throw new ProxyError(`passing the connection to ssh: ${describeError(err)}`);
    }
    return;
  }
  const conn = await connectHost(opts, opts.fdpass);
  if (opts.fdpass) {
    try {
      handOverSocket(conn.socket, opts.outFd ?? 1);
    } catch (err) {
      conn.socket.destroy();
      const code = (err as { code?: string }).code;
      if (code === 'ENOTSOCK') throw new ProxyError('--fdpass needs a Unix socket as standard output (ssh gives one with ProxyUseFdpass yes)');
      throw new ProxyError(`passing the connection to ssh: ${describeError(err)}`);
    }
    return;
  }
  await relay(conn.socket, process.stdin, process.stdout);
}

/**
 * Copies both ways with back-pressure (stream.pipe pauses a side whose
 * destination is full) and half-close: end of input sends FIN and the relay
 * goes on until the server closes its side.
 */
export function relay(socket: net.Socket, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    input.pipe(socket);
    // stdout is not ended: the caller exits, which closes it. On Linux writes
    // to a pipe are synchronous, so nothing written is lost at exit.
    socket.pipe(output, { end: false });
    socket.on('error', (err) => reject(new ProxyError(`connection lost: ${describeError(err)}`)));
    socket.on('close', () => resolve());
    output.on('error', () => socket.destroy());
  });
}
