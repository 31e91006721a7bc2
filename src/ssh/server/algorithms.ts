/**
 * The algorithms the server offers. Modern ones only, in OpenSSH's order of
 * preference where ssh2 implements them: no SHA-1, no CBC.
 * Strict key exchange (the Terrapin mitigation, kex-strict-s-v00@openssh.com)
 * is added by ssh2 itself to every server offer.
 */
import type { SshConfig } from '../../config/ssh-schema.js';
import { applyModifiers, DEFAULT_ALGORITHMS, type Kind } from '../../config/ssh-algorithms.js';

/** What ssh2 can do here (its SUPPORTED_* lists depend on the OpenSSL build). */
export interface Supported {
  kex: readonly string[];
  cipher: readonly string[];
  hmac: readonly string[];
  serverHostKey: readonly string[];
}

export interface AlgorithmChoice {
  algorithms: { kex: string[]; cipher: string[]; hmac: string[]; serverHostKey: string[]; compress: string[] };
  /** Config problems: unknown or unsupported names (the rest of the list is used). */
  problems: string[];
}

const OPTION: Record<Kind, keyof SshConfig> = { kex: 'KexAlgorithms', cipher: 'Ciphers', hmac: 'MACs', serverHostKey: 'HostKeyAlgorithms' };

/**
 * The offer: the config's list where given (sshd's `+`, `-` and `^` prefixes
 * modify the default list), else the default, each filtered by what ssh2
 * supports here.
 */
export function chooseAlgorithms(cfg: Pick<SshConfig, 'KexAlgorithms' | 'Ciphers' | 'MACs' | 'HostKeyAlgorithms'>, supported: Supported): AlgorithmChoice {
  const problems: string[] = [];
  const pick = (kind: Kind): string[] => {
    const def = DEFAULT_ALGORITHMS[kind] as readonly string[];
    const given = cfg[OPTION[kind] as 'KexAlgorithms'];
    let list = applyModifiers(def, given);
    const unknown = list.filter((a) => !supported[kind].includes(a));
    if (unknown.length > 0) problems.push(`${OPTION[kind]}: not supported, ignored: ${unknown.join(', ')}`);
    list = list.filter((a) => supported[kind].includes(a));
    if (list.length === 0) {
      problems.push(`${OPTION[kind]}: nothing usable left, using the defaults`);
      list = def.filter((a) => supported[kind].includes(a));
    }
    return list;
  };
  return {
    algorithms: { kex: pick('kex'), cipher: pick('cipher'), hmac: pick('hmac'), serverHostKey: pick('serverHostKey'), compress: [...DEFAULT_ALGORITHMS.compress] },
    problems,
  };
}

/** The host-key algorithms a key of `type` can serve (no SHA-1 for RSA). */
function algorithmsOfKey(type: string): string[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [type];
}

/**
 * Which host keys to serve, in HostKeyAlgorithms order: indexes into
 * `types`, a key dropped when none of its algorithms is offered. ssh2
 * offers every loaded key in load order, whatever the list says.
 */
export function hostKeyOrder(types: readonly string[], offered: readonly string[]): number[] {
  const rank = (t: string): number => Math.min(...algorithmsOfKey(t).map((a) => (offered.includes(a) ? offered.indexOf(a) : Infinity)));
  return types
    .map((t, i) => ({ i, r: rank(t) }))
    .filter((k) => k.r !== Infinity)
    .sort((a, b) => a.r - b.r)
    .map((k) => k.i);
}
