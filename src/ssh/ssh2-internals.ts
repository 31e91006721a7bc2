/**
 * Reaches into ssh2's internals (pinned version) for what its API lacks.
 * Each use says what is missing upstream. Importing this module installs
 * the load-time repairs, so a process that serves SSH imports it before
 * anything loads ssh2.
 */
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { HYBRID_KEX_NAME } from './kex-mlkem.js';
import type { Connection, ServerChannel } from 'ssh2';

/** Separates the offers in ssh2's "no matching ..." errors (see negotiationFailure). */
export const NEGOTIATION_MARK = '\u0000offer\u0000';

/** sshd's words for what could not be agreed on. */
const NEGOTIATED: Record<string, string> = {
  'key exchange algorithm': 'key exchange method',
  'host key format': 'host key type',
  'C->S cipher': 'cipher',
  'C->S MAC': 'MAC',
};

/** Longest client offer a log line repeats. */
export const OFFER_LOG_MAX = 512;

/**
 * From a repaired ssh2 handshake error: what found no match, the client's
 * offer and ours. The offer is the client's text, logged before any
 * authentication: a name-list has no spaces or control characters (RFC 4251
 * §5), so those become "?" and it is cut at OFFER_LOG_MAX, so that it cannot
 * pass for another log line ("Failed password for root from ...") to a log
 * filter.
 */
export function negotiationFailure(message: string): { what: string; theirs: string; ours: string } | undefined {
  const m = /^Handshake failed: no matching (.+?)\u0000offer\u0000(.*)\u0000offer\u0000(.*)$/s.exec(message);
  if (!m) return undefined;
  const offer = m[2] as string;
  const theirs = (offer.length > OFFER_LOG_MAX ? `${offer.slice(0, OFFER_LOG_MAX)}...` : offer).replace(/[^\x21-\x7e]/g, '?');
  return { what: NEGOTIATED[m[1] as string] ?? (m[1] as string), theirs, ours: m[3] as string };
}

/** A change to one of ssh2's files as it is loaded: the exact text replaced, and why. */
interface SourceRepair {
  file: string;
  from: string;
  to: string;
  why: string;
}

export const SOURCE_REPAIRS: readonly SourceRepair[] = [
  {
    file: 'ssh2/lib/protocol/crypto.js',
    // The WebAssembly Poly1305 serves only the JavaScript chacha20-poly1305,
    // which ssh2 uses when its native binding lacks that cipher. With the
    // binding it was still compiled and instantiated in every worker, with
    // 16 MiB of WebAssembly memory reserved; poly1305_auth stays undefined,
    // so a fall-back that needed it would throw, never skip the MAC.
    from: "        POLY1305_WASM_MODULE = await require('./crypto/poly1305.js')();",
    to: "        if (ChaChaPolyCipher && ChaChaPolyDecipher)\n          return resolve();\n        POLY1305_WASM_MODULE = await require('./crypto/poly1305.js')();",
    why: 'every worker compiled a WebAssembly Poly1305 that the native binding made useless (0.26 MiB of private memory each)',
  },
  {
    file: 'ssh2/lib/protocol/crypto.js',
    from: 'const MAX_PACKET_SIZE = 35000;',
    // sshd's PACKET_MAX_SIZE (256 KiB) plus room for padding and MAC.
    to: 'const MAX_PACKET_SIZE = 256 * 1024 + 1024;',
    why: 'packets over 35 000 bytes ended the connection; OpenSSH sends up to 256 KiB (a 60 KB exec command)',
  },
  {
    file: 'ssh2/lib/protocol/kex.js',
    // The negotiated name has just replaced the remote list (init.kex), so
    // comparing with remote.kex[0] took its first letter: every correct
    // first_kex_packet_follows guess was discarded and Dropbear hung. A guess
    // is right when both sides prefer the same key exchange and host-key
    // algorithm (RFC 4253 §7.1; OpenSSH's proposals_match()).
    from: 'if (firstFollows && (!remote.kex.length || clientList[i] !== remote.kex[0])) {',
    to: 'if (firstFollows && (clientList[0] !== serverList[0] || remote.serverHostKey[0] !== local.lists.serverHostKey.array[0])) {',
    why: "a client's correct first-packet guess (Dropbear's dbclient) was thrown away and the key exchange hung",
  },
  {
    file: 'ssh2/lib/protocol/kex.js',
    // Marks a key exchange that follows an earlier one (a rekey).
    from: 'this.sessionID = (protocol._kex ? protocol._kex.sessionID : undefined);',
    to: 'this.sessionID = (protocol._kex ? protocol._kex.sessionID : undefined); this._mpsshRekey = !!protocol._kex;',
    why: 'strict key exchange forbids IGNORE/DEBUG only before the first NEWKEYS; a rekey must take them',
  },
  {
    file: 'ssh2/lib/protocol/kex.js',
    from: '  if (!this._strictMode) {\n    switch (type) {\n      case MESSAGE.IGNORE:',
    // During a rekey the connection layer (messages 50 and up) goes on, as in sshd, whose key
    // exchange takes over only the transport messages; what ssh2 answers waits in its queue.
    to: [
      '  if (this._kex && this._kex._mpsshRekey && type >= 50) {',
      '    if (!MESSAGE_HANDLERS)',
      "      MESSAGE_HANDLERS = require('./handlers.js');",
      '    const handler = MESSAGE_HANDLERS[type];',
      '    return handler ? handler(this, payload) : undefined;',
      '  }',
      '  if (!this._strictMode || (this._kex && this._kex._mpsshRekey)) {',
      '    switch (type) {',
      '      case MESSAGE.IGNORE:',
    ].join('\n'),
    why: 'asyncssh sends IGNORE and window adjustments during every rekey; ssh2 ended the connection (KeyExchangeFailed)',
  },
  {
    file: 'ssh2/lib/protocol/Protocol.js',
    // A missing comma joined two names; ssh-rsa (SHA-1) and ssh-dss are not accepted here.
    from: "'ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521'\n      + 'rsa-sha2-512,rsa-sha2-256,ssh-rsa,ssh-dss';",
    to: "'ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,'\n      + 'rsa-sha2-512,rsa-sha2-256';",
    why: 'server-sig-algs read "...nistp521rsa-sha2-512...": OpenSSH with PubkeyAcceptedAlgorithms=rsa-sha2-512 found no mutual algorithm',
  },
  {
    file: 'ssh2/lib/protocol/kex.js',
    // Our hybrid (kex-mlkem.ts) is built on ssh2's KeyExchange class, which only this file can name.
    from: '  return (negotiated, ...args) => {',
    to: [
      `  const MpsshHybridExchange = require(${JSON.stringify(path.join(__dirname, 'kex-mlkem.js'))}).defineHybridExchange(KeyExchange);`,
      `  require('./constants.js').SUPPORTED_KEX.unshift(${JSON.stringify(HYBRID_KEX_NAME)});`,
      '  return (negotiated, ...args) => {',
    ].join('\n'),
    why: 'post-quantum hybrid key exchange (mlkem768x25519-sha256): OpenSSH 10 warns on every login without one',
  },
  {
    file: 'ssh2/lib/protocol/kex.js',
    from: "        case 'curve25519-sha256':\n        case 'curve25519-sha256@libssh.org':",
    to: `        case ${JSON.stringify(HYBRID_KEX_NAME)}:\n          return new MpsshHybridExchange('sha256', ...args);\n        case 'curve25519-sha256':\n        case 'curve25519-sha256@libssh.org':`,
    why: 'the factory names the hybrid',
  },
  ...(['key exchange algorithm', 'host key format', 'C->S cipher', 'C->S MAC'] as const).map((what) => ({
    file: 'ssh2/lib/protocol/kex.js',
    // Both lists ride along in the error, for sshd's "Unable to negotiate ... Their offer: ..." line.
    from: `'Handshake failed: no matching ${what}',`,
    to: `'Handshake failed: no matching ${what}' + NEGOTIATION_MARK + clientList + NEGOTIATION_MARK + serverList,`,
    why: 'a client that shares no algorithm with us was only a debug line; sshd names both offers',
  })),
  {
    file: 'ssh2/lib/protocol/kex.js',
    from: 'function handleKexInit(self, payload) {',
    to: `const NEGOTIATION_MARK = ${JSON.stringify(NEGOTIATION_MARK)};\nfunction handleKexInit(self, payload) {`,
    why: 'the separator of the offers in those errors',
  },
  {
    file: 'ssh2/lib/server.js',
    from: "               || name === 'cancel-streamlocal-forward@openssh.com')\n              && listenerCount(this, 'request')",
    to: "               || name === 'cancel-streamlocal-forward@openssh.com'\n               || name === 'hostkeys-prove-00@openssh.com')\n              && listenerCount(this, 'request')",
    why: "OpenSSH's UpdateHostKeys asks the server to prove its host keys; ssh2 refused the request unseen",
  },
  {
    file: 'ssh2/lib/server.js',
    from: '              accept = (chosenPort) => {\n                if (replied)\n                  return;\n                replied = true;',
    to: '              accept = (chosenPort) => {\n                if (replied)\n                  return;\n                replied = true;\n                if (Buffer.isBuffer(chosenPort))\n                  return setReply(\'SUCCESS\', chosenPort);',
    why: 'a global request answered with data (the proofs)',
  },
  {
    file: 'ssh2/lib/server.js',
    // A channel refusal takes a reason code and text, as sshd sends them.
    from: '          const reject = () => {',
    to: '          const reject = (code, text) => {\n            if (code !== undefined) reason = code;\n            rejectText = text;',
    why: '"open failed" with no reason left users guessing; sshd says "connect failed: Connection refused"',
  },
  {
    file: 'ssh2/lib/server.js',
    from: "            proto.channelOpenFail(info.sender, reason, '');",
    to: "            proto.channelOpenFail(info.sender, reason, typeof rejectText === 'string' ? rejectText : '');",
    why: 'the refusal text reaches the client',
  },
  {
    file: 'ssh2/lib/server.js',
    from: '          let replied = false;\n\n          let accept;',
    to: '          let replied = false;\n          let rejectText;\n\n          let accept;',
    why: 'where the refusal text is kept',
  },
  {
    file: 'ssh2/lib/server.js',
    from: '          sha1Pos = Infinity;',
    to: '          sha1Pos = -1;',
    why: 'an RSA host key always offered ssh-rsa (SHA-1), whatever HostKeyAlgorithms said',
  },
];

/** Which repairs took; a repair whose text is not found leaves its file as shipped. */
export const appliedRepairs = new Set<SourceRepair>();

/**
 * Repairs that did not take, as one line each; call once ssh2 is loaded.
 * A process that serves SSH must not run with any missing: the daemon
 * refuses to start.
 */
export function missingRepairs(): string[] {
  require('ssh2');
  return [...SOURCE_REPAIRS.filter((r) => !appliedRepairs.has(r)).map((r) => `${r.file}: expected text not found (${r.why})`), ...shapeProblems()];
}

function installLoadRepairs(): void {
  const byPath = new Map<string, SourceRepair[]>();
  for (const r of SOURCE_REPAIRS) {
    let resolved: string;
    try {
      resolved = require.resolve(r.file);
    } catch {
      continue;
    }
    byPath.set(resolved, [...(byPath.get(resolved) ?? []), r]);
  }
  const ext = (Module as unknown as { _extensions: Record<string, (m: { _compile(src: string, f: string): void }, f: string) => void> })._extensions;
  const load = ext['.js'] as (m: { _compile(src: string, f: string): void }, f: string) => void;
  ext['.js'] = function repairedLoad(m, filename) {
    const repairs = byPath.get(filename);
    if (repairs === undefined) return load.call(this, m, filename);
    let src = fs.readFileSync(filename, 'utf8');
    for (const r of repairs) {
      if (!src.includes(r.from)) continue;
      src = src.replace(r.from, r.to);
      appliedRepairs.add(r);
    }
    m._compile(src, filename);
  };
}

installLoadRepairs();

/** SSH_MSG_DISCONNECT (RFC 4253 §11.1). */
const MSG_DISCONNECT = 1;

interface Ssh2Protocol {
  _packetRW?: { write: { allocStartKEX: number; alloc(n: number, force: boolean): Buffer; finalize(p: Buffer, force: boolean): Buffer } };
}

/**
 * Sends SSH_MSG_DISCONNECT with a reason code and text, then closes, as
 * sshd does ("Too many authentication failures", code 2). ssh2's own
 * disconnect sends an empty description and code 11 from Connection.end().
 */
export function disconnectWithText(client: Connection, socket: { end(): unknown }, code: number, text: string): void {
  const proto = (client as unknown as { _protocol?: Ssh2Protocol })._protocol;
  const rw = proto?._packetRW?.write;
  if (rw === undefined) {
    client.end();
    return;
  }
  const { sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket(p: unknown, packet: Buffer, bypass: boolean): void };
  const desc = Buffer.from(text.slice(0, 200), 'utf8');
  let p = rw.allocStartKEX;
  // Allocated as during a key exchange: a disconnect may be sent at any time.
  const packet = rw.alloc(1 + 4 + 4 + desc.length + 4, true);
  packet[p] = MSG_DISCONNECT;
  packet.writeUInt32BE(code, ++p);
  packet.writeUInt32BE(desc.length, (p += 4));
  desc.copy(packet, (p += 4));
  packet.writeUInt32BE(0, p + desc.length); // language tag: empty
  sendPacket(proto, rw.finalize(packet, true), true);
  socket.end();
}

interface Ssh2Handlers {
  SERVICE_REQUEST(p: unknown, service: string): void;
}

/**
 * Accepts a repeated "ssh-userauth" service request before authentication,
 * as sshd does: paramiko asks again before each key it tries, and ssh2
 * disconnects on the second request (Ansible's paramiko mode and Fabric
 * failed whenever the first key was not the right one).
 */
export function allowRepeatedUserauthService(client: Connection): void {
  const proto = (client as unknown as { _protocol?: { _handlers?: Ssh2Handlers; serviceAccept(s: string): void } })._protocol;
  const handlers = proto?._handlers;
  if (proto === undefined || handlers === undefined) return;
  const original = handlers.SERVICE_REQUEST;
  let asked = false;
  handlers.SERVICE_REQUEST = (p: unknown, service: string) => {
    const authenticated = (client as unknown as { authenticated?: boolean }).authenticated === true;
    if (asked && service === 'ssh-userauth' && !authenticated) {
      proto.serviceAccept(service);
      return;
    }
    asked ||= service === 'ssh-userauth';
    original(p, service);
  };
}

/**
 * Answers a public-key query (no signature yet) with SSH_MSG_USERAUTH_PK_OK
 * naming the algorithm the client asked about, as RFC 4252 §7 requires:
 * ssh2 names the key type (ssh-rsa) even for rsa-sha2-256/512, and asyncssh
 * then stops ("Key mismatch").
 */
export function acceptKeyQuery(ctx: { key: { algo: string }; hashAlgo?: string | undefined; accept(): void }): void {
  if (ctx.key.algo === 'ssh-rsa' && (ctx.hashAlgo === 'sha256' || ctx.hashAlgo === 'sha512')) {
    ctx.key.algo = ctx.hashAlgo === 'sha256' ? 'rsa-sha2-256' : 'rsa-sha2-512';
  }
  ctx.accept();
}

/** SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 §5.1). */
export const OPEN_FAILURE = { prohibited: 1, connectFailed: 2, unknownType: 3, resourceShortage: 4 } as const;

/** Refuses a channel with a reason code and sshd's text (ssh2's own reject takes neither; see SOURCE_REPAIRS). */
export function rejectChannel(reject: () => void, code: number, text: string): void {
  (reject as (code: number, text: string) => void)(code, text);
}

/** The connection's session id (the first exchange hash), once the first key exchange is done. */
export function sessionIdOf(client: Connection): Buffer | undefined {
  return (client as unknown as { _protocol?: { _kex?: { sessionID?: Buffer } } })._protocol?._kex?.sessionID;
}

/** SSH_MSG_GLOBAL_REQUEST without a reply wanted (ssh2's server has no call for it). */
export function sendGlobalRequest(client: Connection, name: string, payload: Buffer): void {
  const proto = (client as unknown as { _protocol?: Ssh2Protocol })._protocol;
  const rw = proto?._packetRW?.write as (NonNullable<Ssh2Protocol['_packetRW']>['write'] & { allocStart: number }) | undefined;
  if (rw === undefined) return;
  const { sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket(p: unknown, packet: Buffer, bypass?: boolean): void };
  const nameBuf = Buffer.from(name);
  let p = rw.allocStart;
  const packet = rw.alloc(1 + 4 + nameBuf.length + 1 + payload.length, false);
  packet[p] = 80; // SSH_MSG_GLOBAL_REQUEST
  packet.writeUInt32BE(nameBuf.length, ++p);
  nameBuf.copy(packet, (p += 4));
  packet[(p += nameBuf.length)] = 0; // want reply: no
  payload.copy(packet, p + 1);
  sendPacket(proto, rw.finalize(packet, false));
}

/** ssh2's conversion of a signature into the SSH wire form for `keyType` (ECDSA: DER to r, s). */
export function toSshSignature(sig: Buffer, keyType: string): Buffer | undefined {
  const { convertSignature } = require('ssh2/lib/protocol/utils.js') as { convertSignature(s: Buffer, t: string): Buffer | false };
  const out = convertSignature(sig, keyType);
  return out === false ? undefined : out;
}

type ChannelRequestHandler = (p: unknown, recipient: number, type: string, wantReply: boolean, data: unknown) => void;
interface ConnectionInternals {
  _protocol?: { _handlers?: { CHANNEL_REQUEST?: ChannelRequestHandler }; openssh_authAgent?(chan: number, window: number, packet: number): void };
  _chanMgr?: { get(id: number): unknown; add(cb: unknown): number };
}

/**
 * Turns the OpenSSH client's `eow@openssh.com` channel request into an
 * `eow` event on the session: ssh2 rejects requests it does not know before
 * any listener sees them, so this wraps its channel-request dispatch.
 */
export function emitEndOfWrite(client: Connection): void {
  const c = client as unknown as ConnectionInternals;
  const handlers = c._protocol?._handlers;
  const original = handlers?.CHANNEL_REQUEST;
  const chanMgr = c._chanMgr;
  if (!handlers || !original || !chanMgr) return;
  handlers.CHANNEL_REQUEST = (p, recipient, type, wantReply, data) => {
    if (type === 'eow@openssh.com') {
      const session = chanMgr.get(recipient);
      if (session && typeof (session as NodeJS.EventEmitter).emit === 'function') (session as NodeJS.EventEmitter).emit('eow');
      return;
    }
    original(p, recipient, type, wantReply, data);
  };
}

/**
 * Opens an `auth-agent@openssh.com` channel to the client (agent
 * forwarding). ssh2's server has no call for it; its protocol writer has the
 * message, and its channel manager pairs the reply with `cb` the way it
 * does for forwarded-tcpip.
 */
export function openAgentChannel(client: Connection, window: number, packet: number, cb: (err: Error | undefined, ch?: ServerChannel) => void): void {
  const c = client as unknown as ConnectionInternals;
  if (!c._chanMgr || !c._protocol?.openssh_authAgent) {
    cb(new Error('ssh2 cannot open agent channels'));
    return;
  }
  const wrapper = Object.assign((err: Error | undefined, ch: ServerChannel) => cb(err, ch), { type: 'auth-agent@openssh.com' });
  const id = c._chanMgr.add(wrapper);
  if (id === -1) {
    cb(new Error('no free channels'));
    return;
  }
  c._protocol.openssh_authAgent(id, window, packet);
}

/**
 * ClientAliveInterval/ClientAliveCountMax. ssh2 keeps a 15 s × 3 keepalive
 * of its own in class statics unless told otherwise, and treats 0 as "use
 * the default": set the statics, with -1 to turn it off for real. sshd's
 * ClientAliveCountMax 0 means "never disconnect", which ssh2 cannot
 * express; it is then off.
 */
export function applyKeepalive(interval: number, countMax: number): { keepaliveInterval?: number; keepaliveCountMax?: number } {
  const S = (require('ssh2') as typeof import('ssh2')).Server as unknown as { KEEPALIVE_CLIENT_INTERVAL: number; KEEPALIVE_CLIENT_COUNT_MAX: number };
  if (interval <= 0 || countMax <= 0) {
    S.KEEPALIVE_CLIENT_INTERVAL = -1;
    S.KEEPALIVE_CLIENT_COUNT_MAX = -1;
    return {};
  }
  S.KEEPALIVE_CLIENT_INTERVAL = interval * 1000;
  S.KEEPALIVE_CLIENT_COUNT_MAX = countMax;
  return { keepaliveInterval: interval * 1000, keepaliveCountMax: countMax };
}

/** ssh2's supported-algorithm lists (they depend on the OpenSSL build, and include the hybrid). */
export function supportedAlgorithms(): { kex: string[]; cipher: string[]; hmac: string[]; serverHostKey: string[] } {
  const c = require('ssh2/lib/protocol/constants.js') as Record<string, string[]>;
  return { kex: c.SUPPORTED_KEX ?? [], cipher: c.SUPPORTED_CIPHER ?? [], hmac: c.SUPPORTED_MAC ?? [], serverHostKey: c.SUPPORTED_SERVER_HOST_KEY ?? [] };
}

/** What the reaches above expect of ssh2's shape, checked at start (missingRepairs). */
function shapeProblems(): string[] {
  const ssh2 = require('ssh2') as Record<string, unknown>;
  const Protocol = require('ssh2/lib/protocol/Protocol.js') as { prototype: Record<string, unknown> };
  const utils = require('ssh2/lib/protocol/utils.js') as Record<string, unknown>;
  const S = ssh2.Server as Record<string, unknown>;
  const checks: [boolean, string][] = [
    [typeof S.KEEPALIVE_CLIENT_INTERVAL === 'number' && typeof S.KEEPALIVE_CLIENT_COUNT_MAX === 'number', 'Server.KEEPALIVE_CLIENT_* statics'],
    [typeof Protocol.prototype.openssh_authAgent === 'function', 'Protocol#openssh_authAgent'],
    [typeof Protocol.prototype.serviceAccept === 'function', 'Protocol#serviceAccept'],
    [typeof utils.sendPacket === 'function' && typeof utils.convertSignature === 'function', 'protocol/utils sendPacket, convertSignature'],
    [Array.isArray(supportedAlgorithms().kex) && supportedAlgorithms().kex.includes(HYBRID_KEX_NAME), 'constants.SUPPORTED_KEX with the hybrid'],
  ];
  return checks.filter(([ok]) => !ok).map(([, what]) => `ssh2 has no ${what}`);
}
