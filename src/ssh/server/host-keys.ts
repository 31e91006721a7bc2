/**
 * Host keys: the ones named in the config; else OpenSSH's own, so clients
 * see the fingerprint they already trust; else one ed25519 key generated on
 * first start and kept under dataDir (mode 0600).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import { MpsshError } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import type { SigningKey } from './host-key-signer.js';

/** OpenSSH's host keys, in the order sshd offers them. */
export const OPENSSH_HOST_KEYS = ['/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ecdsa_key', '/etc/ssh/ssh_host_rsa_key'];
export const GENERATED_KEY_NAME = 'ssh_host_ed25519_key';

/** A loaded private host key. */
export interface HostKey {
  file: string;
  type: string;
  /** SHA256:... of the public key, as ssh-keygen -l prints it. */
  fingerprint: string;
  /** The public half as an OpenSSH line (`type base64`): all a worker is given. */
  publicLine: string;
  /** The private key; it stays in the daemon, which signs for the workers. */
  signer: SigningKey;
}

/** Reads and parses one private key file; throws MpsshError host-key saying what is wrong. */
export function loadHostKey(file: string): HostKey {
  let pem: Buffer;
  try {
    pem = fs.readFileSync(file);
  } catch (err) {
    throw new MpsshError('host-key', `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const st = fs.statSync(file);
  if ((st.mode & 0o077) !== 0) throw new MpsshError('host-key', `${file}: permissions ${(st.mode & 0o777).toString(8)} are too open (must not be readable by group or others)`);
  const parsed = ssh2.utils.parseKey(pem);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error) throw new MpsshError('host-key', `${file}: not a usable private key${key instanceof Error ? `: ${key.message}` : ''}`);
  if (!key.isPrivateKey()) throw new MpsshError('host-key', `${file}: is a public key; HostKey needs the private key`);
  const blob = key.getPublicSSH();
  const fingerprint = `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { file, type: key.type, fingerprint, publicLine: `${key.type} ${blob.toString('base64')}`, signer: key as unknown as SigningKey };
}

/**
 * The keys to serve with. Configured keys that fail are logged and skipped
 * (as sshd does); no usable key at all is an error.
 */
export function loadHostKeys(configured: readonly string[], dataDir: string, log: Logger, opensshKeys: readonly string[] = OPENSSH_HOST_KEYS): HostKey[] {
  const candidates = configured.length > 0 ? configured : opensshKeys.filter((f) => fs.existsSync(f));
  const keys: HostKey[] = [];
  for (const file of candidates) {
    try {
      keys.push(loadHostKey(file));
    } catch (err) {
      log.error({ file }, `host key ${(err as Error).message}, skipping it`);
    }
  }
  if (keys.length === 0 && configured.length > 0) throw new MpsshError('host-key', `no usable host key among HostKey ${configured.join(' ')}`);
  if (keys.length === 0) keys.push(generatedKey(dataDir, log));
  for (const k of keys) log.info({ file: k.file, type: k.type, fingerprint: k.fingerprint }, 'host key loaded');
  return keys;
}

/** The key under dataDir, generated when it does not exist yet. */
function generatedKey(dataDir: string, log: Logger): HostKey {
  const file = path.join(dataDir, GENERATED_KEY_NAME);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'mpsshd host key' });
    // Written under a temporary name and renamed, so a crash never leaves half a key.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, pair.private, { mode: 0o600 });
    fs.writeFileSync(`${file}.pub`, `${pair.public}\n`, { mode: 0o644 });
    fs.renameSync(tmp, file);
    log.info({ file }, 'no OpenSSH host key found: generated an ed25519 host key');
  }
  return loadHostKey(file);
}
