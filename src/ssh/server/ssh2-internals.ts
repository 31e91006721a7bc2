/**
 * Reaches into ssh2's internals (pinned version) for what its API lacks.
 * Each use says what is missing upstream. Importing this module installs
 * the load-time repairs, so a process that serves SSH imports it before
 * anything loads ssh2.
 */
import fs from 'node:fs';
import Module from 'node:module';
import type { Connection } from 'ssh2';

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
    from: 'const MAX_PACKET_SIZE = 35000;',
    // sshd's PACKET_MAX_SIZE (256 KiB) plus room for padding and MAC.
    to: 'const MAX_PACKET_SIZE = 256 * 1024 + 1024;',
    why: 'packets over 35 000 bytes ended the connection; OpenSSH sends up to 256 KiB (a 60 KB exec command)',
  },
];

/** Which repairs took (by file); a repair whose text is not found leaves that file as shipped. */
export const appliedRepairs = new Set<string>();

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
      appliedRepairs.add(r.file);
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
  // eslint-disable-next-line @typescript-eslint/no-require-imports
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
