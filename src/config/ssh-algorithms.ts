/**
 * The algorithm names of sshd_config's KexAlgorithms, Ciphers, MACs,
 * HostKeyAlgorithms and PubkeyAcceptedAlgorithms: the server's defaults
 * (modern ones only, in OpenSSH's order of preference where ssh2 implements
 * them: no SHA-1, no CBC), the names OpenSSH knows, and the `+ - ^` forms.
 * Strict key exchange (the Terrapin mitigation) is added by ssh2 itself.
 */

/** The four negotiated lists of the SSH transport. */
export type Kind = 'kex' | 'cipher' | 'hmac' | 'serverHostKey';

export const DEFAULT_ALGORITHMS = {
  // The post-quantum hybrid first, as OpenSSH 10. No NIST-curve ECDH (ssh-audit: weak curves);
  // KexAlgorithms +ecdh-sha2-nistp256 brings it back.
  kex: ['mlkem768x25519-sha256', 'curve25519-sha256', 'curve25519-sha256@libssh.org', 'diffie-hellman-group16-sha512', 'diffie-hellman-group18-sha512', 'diffie-hellman-group14-sha256'],
  cipher: ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr'],
  // sshd's order: encrypt-then-MAC first; the plain SHA-2 MACs for clients without ETM (libssh2 1.10, curl).
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'],
  serverHostKey: ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'],
  compress: ['none', 'zlib@openssh.com'],
} as const;

/**
 * Every algorithm name OpenSSH 10 knows (ssh -Q kex/cipher/mac/key-sig).
 * A name outside these is a typo and fails the config check, as with
 * `sshd -t`; a known name that ssh2 lacks is a warning at start.
 */
export const KNOWN_ALGORITHMS: Readonly<Record<Kind | 'pubkey', readonly string[]>> = {
  kex: [
    'diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1', 'diffie-hellman-group14-sha256', 'diffie-hellman-group16-sha512', 'diffie-hellman-group18-sha512',
    'diffie-hellman-group-exchange-sha1', 'diffie-hellman-group-exchange-sha256', 'ecdh-sha2-nistp256', 'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521',
    'curve25519-sha256', 'curve25519-sha256@libssh.org', 'sntrup761x25519-sha512', 'sntrup761x25519-sha512@openssh.com', 'mlkem768x25519-sha256',
    'diffie-hellman-group15-sha512', 'diffie-hellman-group17-sha512',
  ],
  cipher: ['3des-cbc', 'aes128-cbc', 'aes192-cbc', 'aes256-cbc', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr', 'aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com'],
  hmac: [
    'hmac-sha1', 'hmac-sha1-96', 'hmac-sha2-256', 'hmac-sha2-512', 'hmac-md5', 'hmac-md5-96', 'umac-64@openssh.com', 'umac-128@openssh.com',
    'hmac-sha1-etm@openssh.com', 'hmac-sha1-96-etm@openssh.com', 'hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-md5-etm@openssh.com',
    'hmac-md5-96-etm@openssh.com', 'umac-64-etm@openssh.com', 'umac-128-etm@openssh.com',
  ],
  serverHostKey: [
    'ssh-ed25519', 'ssh-ed25519-cert-v01@openssh.com', 'sk-ssh-ed25519@openssh.com', 'sk-ssh-ed25519-cert-v01@openssh.com', 'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384-cert-v01@openssh.com', 'ecdsa-sha2-nistp521',
    'ecdsa-sha2-nistp521-cert-v01@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com', 'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ssh-rsa',
    'ssh-rsa-cert-v01@openssh.com', 'rsa-sha2-256', 'rsa-sha2-256-cert-v01@openssh.com', 'rsa-sha2-512', 'rsa-sha2-512-cert-v01@openssh.com', 'ssh-dss',
    'ssh-dss-cert-v01@openssh.com',
  ],
  pubkey: [] as string[],
};
(KNOWN_ALGORITHMS.pubkey as string[]).push(...KNOWN_ALGORITHMS.serverHostKey);

/** sshd 9.x's default PubkeyAcceptedAlgorithms: no SHA-1, no DSA; certificates first, as sshd lists them. */
export const DEFAULT_PUBKEY_ALGORITHMS: readonly string[] = [
  'ssh-ed25519-cert-v01@openssh.com', 'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp384-cert-v01@openssh.com', 'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ssh-ed25519-cert-v01@openssh.com', 'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com', 'rsa-sha2-512-cert-v01@openssh.com', 'rsa-sha2-256-cert-v01@openssh.com',
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com', 'rsa-sha2-512', 'rsa-sha2-256'];

/** The user signature algorithms accepted under PubkeyAcceptedAlgorithms. */
export function acceptedPubkeyAlgorithms(given: readonly string[] | undefined): ReadonlySet<string> {
  return new Set(applyModifiers(DEFAULT_PUBKEY_ALGORITHMS, given));
}

/** Option name → kind, for messages. */
export const ALGORITHM_OPTIONS: Readonly<Record<Kind | 'pubkey', 'KexAlgorithms' | 'Ciphers' | 'MACs' | 'HostKeyAlgorithms' | 'PubkeyAcceptedAlgorithms'>> = {
  kex: 'KexAlgorithms',
  cipher: 'Ciphers',
  hmac: 'MACs',
  serverHostKey: 'HostKeyAlgorithms',
  pubkey: 'PubkeyAcceptedAlgorithms',
};

/** Names in an algorithm option that no OpenSSH knows (removal patterns with `*`/`?` are not checked). */
export function unknownAlgorithms(kind: Kind | 'pubkey', given: readonly string[] | undefined): string[] {
  if (given === undefined || given.length === 0) return [];
  const first = given[0] as string;
  const mod = first[0] === '+' || first[0] === '-' || first[0] === '^' ? first[0] : '';
  const names = [first.slice(mod.length), ...given.slice(1)].filter((n) => n !== '');
  return names.filter((n) => !(mod === '-' && /[*?]/.test(n)) && !KNOWN_ALGORITHMS[kind].includes(n));
}

/** sshd_config(5): `+a,b` appends, `-a,b` removes (patterns), `^a,b` prepends, else replaces. */
export function applyModifiers(defaults: readonly string[], given: readonly string[] | undefined): string[] {
  if (given === undefined || given.length === 0) return defaults.slice();
  const first = given[0] as string;
  const mod = first[0];
  if (mod !== '+' && mod !== '-' && mod !== '^') return dedupe(given);
  const names = [first.slice(1), ...given.slice(1)].filter((n) => n !== '');
  if (mod === '+') return dedupe([...defaults, ...names]);
  if (mod === '^') return dedupe([...names, ...defaults]);
  const drop = (a: string): boolean => names.some((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(a));
  return defaults.filter((a) => !drop(a));
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)];
}

