/**
 * Fuzz targets: code that reads bytes someone else chose (a client, a user's
 * authorized_keys, the config file, the kernel). Each `run` swallows the
 * errors its code is designed to throw and throws anything else: a thrown
 * error from `run` is a finding.
 */
// First, as in the daemon: importing it installs its load-time repairs of ssh2's
// source, which only take if nothing has loaded ssh2 yet.
import { allowRepeatedUserauthService } from '../../src/ssh/ssh2-internals.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { Connection } from 'ssh2';
import { ConfigError, parseConfig } from '../../src/config/loader.js';
import { native } from '../../src/mptcp/native.js';
import { NetlinkParseError } from '../../src/netlink/errors.js';
import { decodeEndpoint, decodeEvent, decodeLimits } from '../../src/netlink/mptcp-pm-codec.js';
import { MpsshError } from '../../src/util/errors.js';
import { NLMSG_DONE, NLMSG_ERROR, parseDatagram, parseDonePayload, parseErrorPayload } from '../../src/netlink/nlmsg.js';
import * as rt from '../../src/netlink/rt-consts.js';
import { decodeAddress, decodeLink, decodeRoute } from '../../src/netlink/rt-decode.js';
import { findAuthorizedKey, type KeyUseContext } from '../../src/ssh/auth/access.js';
import { parseAuthorizedKeys } from '../../src/ssh/auth/authorized-keys.js';
import { chooseAlgorithms } from '../../src/ssh/server/algorithms.js';
import { SERVER_SOFTWARE, checkClientIdent } from '../../src/ssh/server/ident.js';
import { makeRng, mutate, type Rng } from './mutate.js';

/** Compiled to dist/test/fuzz; fixtures, config and corpus stay in the source tree. */
export const REPO_ROOT = path.resolve(__dirname, '../../..');

/** Something to fuzz. */
export interface Target {
  name: string;
  /** Well-formed inputs to start from (computed once per run). */
  seeds(): Buffer[];
  /** Feeds one input; throws only for a finding. */
  run(input: Buffer): void | Promise<void>;
  /** One mutation, when the default (mutate() on the whole input) would waste most inputs. */
  mutate?(input: Buffer, rng: Rng, others: readonly Buffer[]): Buffer;
}

/** Calls fn, swallowing errors that are instances of the allowed classes. */
function tolerate(allowed: readonly (abstract new (...args: never[]) => Error)[], fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (allowed.some((cls) => err instanceof cls)) return;
    throw err;
  }
}

const lines = (...l: string[]): Buffer => Buffer.from(l.join(''), 'latin1');

// ---------------------------------------------------------------- ident

const ident: Target = {
  name: 'ident',
  seeds: () => [
    lines('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'),
    lines('SSH-2.0-PuTTY_Release_0.78\r\n'),
    lines('GET / HTTP/1.1\r\nHost: example.org\r\n\r\n'),
    // Servers may send lines before their identification; clients may not.
    lines('Welcome to the machine\r\nSSH-2.0-OpenSSH_9.6\r\n'),
    lines('SSH-1.99-Cisco-1.25\n'),
    lines('SSH-2.0-'),
  ],
  run(input) {
    const v = checkClientIdent(input);
    const ok = v.state === 'ok' ? typeof v.version === 'string' : v.state === 'bad' ? typeof v.reason === 'string' : v.state === 'need-more';
    if (!ok) throw new Error(`checkClientIdent returned a malformed verdict: ${JSON.stringify(v)}`);
  },
};

// ---------------------------------------------------------------- authorized_keys

interface KeyMaterial {
  /** authorized_keys lines, one per key type, without options. */
  plain: string[];
  /** Public key blobs of those keys, for presenting. */
  blobs: Buffer[];
}

let keyMaterial: KeyMaterial | undefined;

/** Real public keys, made once by ssh-keygen: the parser should see what users paste. */
function keys(): KeyMaterial {
  if (keyMaterial) return keyMaterial;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-fuzz-'));
  try {
    const plain = ['ed25519', 'ecdsa', 'rsa'].map((t) => {
      const file = path.join(dir, t);
      // 2048-bit RSA: key generation time counts against the test's budget.
      execFileSync('ssh-keygen', ['-q', '-t', t, ...(t === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', `fuzz-${t}`, '-f', file], { stdio: 'ignore' });
      return fs.readFileSync(`${file}.pub`, 'utf8').trim();
    });
    const blobs = plain.map((l) => Buffer.from(l.split(' ')[1] ?? '', 'base64'));
    keyMaterial = { plain, blobs };
    return keyMaterial;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** IPv4 and IPv6 clients, with and without a verified name: from= matches each differently. */
const KEY_CONTEXTS: readonly KeyUseContext[] = [
  { user: 'alice', client: { ip: '192.0.2.7' }, now: 1_800_000_000 },
  { user: 'root', client: { ip: '2001:db8::7', name: 'host.example.org' }, now: 1_800_000_000 },
];

/** Entries looked up per input: each lookup scans all entries, so a huge file would be quadratic. */
const MAX_LOOKUPS = 64;

const authorizedKeys: Target = {
  name: 'authorized-keys',
  seeds() {
    const [ed, ecdsa, rsa] = keys().plain as [string, string, string];
    return [
      `restrict,from="192.0.2.0/24,!192.0.2.9",command="echo hi",permitopen="host:22",environment="A=B",expiry-time="20300101" ${ed}\n`,
      `cert-authority,principals="alice" ${ecdsa}\n`,
      `# a comment\n\n${rsa}\n   ${ed}   trailing comment\n`,
      `no-pty,no-port-forwarding,from="*.example.org,2001:db8::/32",permitlisten="localhost:8080",tunnel="0",no-touch-required ${rsa}\n`,
      `environment="PATH=/bin",environment="LANG=C",no-agent-forwarding,verify-required,expiry-time="203001011200Z" ${ecdsa} x\n#${ed}\n`,
      `from="!10.*,*",permitopen="[2001:db8::1]:443",permitopen="*:*",command="sh -c \\"echo \\\\\\"q\\\\\\"\\"" ${ed}\n`,
    ].map((s) => Buffer.from(s, 'utf8'));
  },
  run(input) {
    const { entries } = parseAuthorizedKeys(input.toString('utf8'));
    // Each entry's own key reaches its options (from=, expiry-time=); the seed keys reach the search.
    const presented = [...entries.slice(0, MAX_LOOKUPS).map((e) => e.key.blob), ...keys().blobs];
    for (const blob of presented) {
      for (const ctx of KEY_CONTEXTS) findAuthorizedKey(entries, blob, ctx, 'fuzz_authorized_keys');
    }
  },
};

// ---------------------------------------------------------------- config

const config: Target = {
  name: 'config',
  seeds: () =>
    [
      fs.readFileSync(path.join(REPO_ROOT, 'etc/mpsshd.yaml'), 'utf8'),
      'ssh:\n  Port: [22, 2222]\n',
      'pathManager:\n  interfaces:\n    - match: "wl*"\n      mode: backup\n',
      'api:\n  listen: ["127.0.0.1:8080"]\n',
      'a: &x [1, 2]\nb: *x\n',
    ].map((s) => Buffer.from(s, 'utf8')),
  run(input) {
    tolerate([ConfigError], () => parseConfig(input.toString('utf8'), 'fuzz.yaml'));
  },
};

// ---------------------------------------------------------------- rtnetlink

/** Parses a fixture file of the repository. */
function fixture(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures', name), 'utf8'));
}

/** Every hex string anywhere in a JSON value, decoded. */
function hexStrings(v: unknown): Buffer[] {
  if (typeof v === 'string') return /^(?:[0-9a-f]{2})+$/.test(v) ? [Buffer.from(v, 'hex')] : [];
  if (Array.isArray(v)) return v.flatMap(hexStrings);
  if (v !== null && typeof v === 'object') return Object.values(v).flatMap(hexStrings);
  return [];
}

/** The decoder the daemon uses for a message type, if any. */
function rtDecoder(type: number): ((payload: Buffer, flags: number) => unknown) | undefined {
  switch (type) {
    case rt.RTM_NEWLINK:
    case rt.RTM_DELLINK:
      return decodeLink;
    case rt.RTM_NEWADDR:
    case rt.RTM_DELADDR:
      return decodeAddress;
    case rt.RTM_NEWROUTE:
    case rt.RTM_DELROUTE:
      return decodeRoute;
    case NLMSG_ERROR:
      return parseErrorPayload;
    case NLMSG_DONE:
      return parseDonePayload;
    default:
      return undefined;
  }
}

const rtnetlink: Target = {
  name: 'rtnetlink',
  seeds() {
    const f = fixture('rtnl-messages.json') as Record<string, unknown>;
    // Only the captured messages; the "ip" key holds iproute2's JSON view of them.
    const msgs = ['links', 'addresses', 'routes', 'errors'].flatMap((k) => hexStrings(f[k]));
    // One multi-message datagram, as a dump delivers them.
    return [...msgs, Buffer.concat(msgs.slice(0, 6))];
  },
  run(input) {
    const { messages } = tolerateResult(() => parseDatagram(input)) ?? { messages: [] };
    for (const m of messages) {
      const decode = rtDecoder(m.type);
      if (decode) tolerate([NetlinkParseError], () => decode(m.payload, m.flags));
    }
  },
};

/** parseDatagram reports bad framing in its result; a NetlinkParseError thrown instead is still by design. */
function tolerateResult<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NetlinkParseError) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------- mptcp_pm

const mptcpPm: Target = {
  name: 'mptcp-pm',
  seeds() {
    const f = fixture('mptcp-pm-kernel-6.18.json') as Record<string, unknown>;
    // Requests, replies and events are all genl payloads (genl header + attributes).
    return ['requests', 'replies', 'events'].flatMap((k) => hexStrings(f[k]));
  },
  run(input) {
    for (const decode of [decodeEvent, decodeEndpoint, decodeLimits]) tolerate([NetlinkParseError, MpsshError], () => decode(input));
  },
};

// ---------------------------------------------------------------- ssh pre-auth

/** RFC 4251 string. */
function sshString(s: string | Buffer): Buffer {
  const body = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** An unencrypted binary packet (RFC 4253 §6): at least 4 bytes of padding, total a multiple of 8. */
function sshPacket(payload: Buffer, rng: Rng): Buffer {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + pad);
  head[4] = pad;
  return Buffer.concat([head, payload, rng.bytes(pad)]);
}

/** SSH_MSG_KEXINIT as a client offering one algorithm of each kind. */
function kexInit(rng: Rng, firstKexFollows: boolean): Buffer {
  const lists = [
    'curve25519-sha256',
    'ssh-ed25519',
    'chacha20-poly1305@openssh.com',
    'chacha20-poly1305@openssh.com',
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-256-etm@openssh.com',
    'none',
    'none',
    '',
    '',
  ];
  const tail = Buffer.alloc(5);
  tail[0] = firstKexFollows ? 1 : 0;
  return sshPacket(Buffer.concat([Buffer.from([20]), rng.bytes(16), ...lists.map((l) => sshString(l)), tail]), rng);
}

/** SSH_MSG_KEX_ECDH_INIT with a random curve25519 public key. */
function kexEcdhInit(rng: Rng): Buffer {
  return sshPacket(Buffer.concat([Buffer.from([30]), sshString(rng.bytes(32))]), rng);
}

const CLIENT_IDENT = 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n';

/** How long one input may keep a connection open: most inputs end it sooner with a protocol error. */
const HOLD_MS = 100;
/**
 * A server silent this long after the input has done what the input makes
 * it do (ssh2 answers synchronously): a fifth of the inputs leave it waiting
 * for more bytes, and waiting those out would cut the inputs per second by four.
 */
const QUIET_MS = 20;

let sshServerInstance: ssh2.Server | undefined;

/** ssh2's supported-algorithm lists, as the worker reads them. */
function ssh2Supported(): { kex: string[]; cipher: string[]; hmac: string[]; serverHostKey: string[] } {
  const c = require('ssh2/lib/protocol/constants.js') as Record<string, string[]>;
  return { kex: c.SUPPORTED_KEX ?? [], cipher: c.SUPPORTED_CIPHER ?? [], hmac: c.SUPPORTED_MAC ?? [], serverHostKey: c.SUPPORTED_SERVER_HOST_KEY ?? [] };
}

/** One server for all inputs, configured like the worker's; it never listens, so it holds no handle. */
function sshServer(): ssh2.Server {
  if (sshServerInstance) return sshServerInstance;
  const { private: hostKey } = ssh2.utils.generateKeyPairSync('ed25519');
  const { algorithms } = chooseAlgorithms(parseConfig(null, null).config.ssh, ssh2Supported());
  const server = new ssh2.Server({ hostKeys: [hostKey], algorithms, ident: SERVER_SOFTWARE } as ssh2.ServerConfig);
  server.on('connection', (client: Connection) => {
    allowRepeatedUserauthService(client);
    // Protocol errors are ssh2's designed reaction to bad input.
    client.on('error', () => {});
    client.on('authentication', (ctx) => ctx.reject());
  });
  sshServerInstance = server;
  return server;
}

/** A connected pair of stream sockets, in-process. */
function socketPair(): [net.Socket, net.Socket] {
  const [a, b] = native().socketPair();
  return [new net.Socket({ fd: a, readable: true, writable: true }), new net.Socket({ fd: b, readable: true, writable: true })];
}

/** Resolves once the socket has closed (at once if it already has). */
function closed(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => (sock.closed ? resolve() : sock.once('close', () => resolve())));
}

/** Resolves when the server side closes, has been silent for QUIET_MS, or after HOLD_MS; leaves no timer or listener behind. */
async function settle(serverSide: net.Socket, clientSide: net.Socket): Promise<void> {
  let done = (): void => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const quiet = setTimeout(done, QUIET_MS);
  const cap = setTimeout(done, HOLD_MS);
  // Reading also drains what the server sends (its ident, KEXINIT, replies).
  const onData = () => quiet.refresh();
  clientSide.on('data', onData);
  serverSide.once('close', done);
  await finished;
  clearTimeout(quiet);
  clearTimeout(cap);
  clientSide.off('data', onData);
  serverSide.off('close', done);
}

/** Feeds one input to a fresh server connection; throws what escaped to the process. */
async function feedSsh(input: Buffer): Promise<void> {
  const server = sshServer();
  const escaped: unknown[] = [];
  const record = (err: unknown) => escaped.push(err);
  // Anything thrown outside ssh2's own try/catch lands here: the daemon's worker would die of it.
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  const [serverSide, clientSide] = socketPair();
  try {
    clientSide.on('error', () => {}); // EPIPE / ECONNRESET once the server hangs up
    server.injectSocket(serverSide);
    clientSide.write(input);
    await settle(serverSide, clientSide);
  } finally {
    serverSide.destroy();
    clientSide.destroy();
    await Promise.all([closed(serverSide), closed(clientSide)]);
    // One more turn for errors raised by close handlers.
    await new Promise((resolve) => setImmediate(resolve));
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  }
  if (escaped.length > 0) throw escaped[0] instanceof Error ? escaped[0] : new Error(`non-Error thrown: ${String(escaped[0])}`);
}

const sshPreauth: Target = {
  name: 'ssh-preauth',
  seeds() {
    // Fixed randomness: the seeds are the same on every run.
    const rng = makeRng(0x55480001);
    const ident = Buffer.from(CLIENT_IDENT, 'latin1');
    return [
      ident,
      Buffer.concat([ident, kexInit(rng, false)]),
      Buffer.concat([ident, kexInit(rng, false), kexEcdhInit(rng)]),
      Buffer.concat([ident, kexInit(rng, true), kexEcdhInit(rng)]),
    ];
  },
  run: feedSsh,
  mutate(input, rng, others) {
    // The ident line is ident's own target; here mostly keep it, so inputs reach the packet parser.
    const nl = input.indexOf(0x0a);
    if (nl < 0 || rng.chance(0.1)) return mutate(input, rng, others);
    const rest = (b: Buffer) => b.subarray(b.indexOf(0x0a) + 1);
    return Buffer.concat([input.subarray(0, nl + 1), mutate(rest(input), rng, others.map(rest))]);
  },
};

/** Every target, in the order the CLI and the unit test run them. */
export const TARGETS: readonly Target[] = [ident, authorizedKeys, config, rtnetlink, mptcpPm, sshPreauth];
