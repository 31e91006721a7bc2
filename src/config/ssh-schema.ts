/**
 * The `ssh` section of the config: the SSH server, with sshd_config(5)'s own
 * option names and defaults so that an OpenSSH administrator reads it without
 * a manual. Values are written the way sshd_config writes them (yes/no,
 * `2m`, `10:30:100`, space-separated lists) or as YAML booleans, numbers and
 * lists; zod turns both into one typed shape.
 */
import { z } from 'zod';
import { ALGORITHM_OPTIONS, unknownAlgorithms } from './ssh-algorithms.js';
import { listenTargets } from './listen-targets.js';
import { DEFAULT_PENALTIES, parseMaxStartups, parsePenalties, parseSshdTime, parsePermitRootLogin, validateUserAccessConfig, type MaxStartups, type PenaltyConfig, type PermitRootLogin } from '../ssh/auth/index.js';
import { parseAuthMethods } from '../ssh/auth/auth-methods.js';

/** yes/no as sshd writes it, or a YAML boolean. */
const yesNo = z.union([z.boolean(), z.string()]).transform((v, ctx): boolean => {
  if (typeof v === 'boolean') return v;
  const w = v.trim().toLowerCase();
  if (w === 'yes' || w === 'true') return true;
  if (w === 'no' || w === 'false') return false;
  ctx.addIssue({ code: 'custom', message: `expected yes or no, got "${v}"` });
  return z.NEVER;
});

/** A list: YAML sequence, or one string of space- or comma-separated words as sshd_config writes it. */
const wordList = (sep: RegExp = /[\s,]+/) =>
  z.union([z.array(z.union([z.string(), z.number()])), z.string(), z.number()]).transform((v): string[] => {
    const items = Array.isArray(v) ? v.map(String) : String(v).split(sep);
    return items.map((w) => w.trim()).filter((w) => w !== '');
  });

/**
 * The longest time a setting may hold: Node.js timers take at most 2^31-1 ms
 * (24.8 days) and fire at once beyond that, which would drop every login at
 * once or send a keepalive every millisecond.
 */
export const MAX_TIME_SECONDS = 24 * 86_400;

/** sshd time format (`120`, `2m`, `1h30m`), in seconds; 0 allowed where sshd allows it. */
const sshdTime = z.union([z.number().int().min(0), z.string()]).transform((v, ctx): number => {
  let s: number | null;
  if (typeof v === 'number') s = v;
  else s = v.trim() === '0' ? 0 : parseSshdTime(v.trim());
  if (s === null) {
    ctx.addIssue({ code: 'custom', message: `invalid time "${String(v)}" (examples: 120, 90s, 2m, 1h30m)` });
    return z.NEVER;
  }
  if (s > MAX_TIME_SECONDS) {
    ctx.addIssue({ code: 'custom', message: `time "${String(v)}" is longer than the 24 days (24d) mpsshd can wait` });
    return z.NEVER;
  }
  return s;
});

const permitRootLogin = z.union([z.boolean(), z.string()]).transform((v, ctx): PermitRootLogin => {
  const p = parsePermitRootLogin(typeof v === 'boolean' ? (v ? 'yes' : 'no') : v.trim());
  if (p === null) {
    ctx.addIssue({ code: 'custom', message: `expected yes, prohibit-password, forced-commands-only or no, got "${String(v)}"` });
    return z.NEVER;
  }
  return p;
});

const maxStartups = z.union([z.number().int().positive(), z.string()]).transform((v, ctx): MaxStartups => {
  const m = parseMaxStartups(String(v).trim());
  if (m === null) {
    ctx.addIssue({ code: 'custom', message: `expected start:rate:full (e.g. 10:30:100) or a number, got "${String(v)}"` });
    return z.NEVER;
  }
  return m;
});

/** AllowTcpForwarding: yes/all, no, local, remote. */
const tcpForwarding = z.union([z.boolean(), z.string()]).transform((v, ctx): 'all' | 'local' | 'remote' | 'no' => {
  const w = typeof v === 'boolean' ? (v ? 'yes' : 'no') : v.trim().toLowerCase();
  if (w === 'yes' || w === 'all') return 'all';
  if (w === 'no' || w === 'local' || w === 'remote') return w;
  ctx.addIssue({ code: 'custom', message: `expected yes, no, local or remote, got "${String(v)}"` });
  return z.NEVER;
});

/** An absolute path. */
const absolutePath = z.string().startsWith('/', { message: 'must be an absolute path' });

/** Who serves SSH on mpsshd's listeners. */
const server = z.string().transform((v, ctx): 'builtin' | 'openssh' => {
  const w = v.trim().toLowerCase();
  if (w === 'builtin' || w === 'openssh') return w;
  ctx.addIssue({ code: 'custom', message: `expected builtin or openssh, got "${v}"` });
  return z.NEVER;
});

/** How OpenSSH's sshd is started for a connection (ssh.Server: openssh). */
const openssh = z
  .object({
    /** sshd's binary. */
    Path: absolutePath.default('/usr/sbin/sshd'),
    /** sshd's configuration; a checked copy is used (see sshd -f). */
    Config: absolutePath.default('/etc/ssh/sshd_config'),
    /** Extra options, each `Keyword=value` or `Keyword value`, as sshd -o takes them. */
    Options: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9]*(=|\s+)\S[^\n\r]*$/, { message: 'expected Keyword=value' })).max(64).default([]),
  })
  .strict();

/** A port number. */
const port = z.number().int().min(1).max(65535);

export const sshSchema = z
  .object({
    /** Serve SSH at all. With `no`, mpsshd only manages paths (and serves the status API). */
    Enabled: yesNo.default(true),
    /**
     * Who serves SSH: `builtin` (mpsshd's own server) or `openssh` (the
     * system's sshd, started as `sshd -i` for each accepted connection).
     */
    Server: server.default('builtin'),
    OpenSSH: openssh.default({ Path: '/usr/sbin/sshd', Config: '/etc/ssh/sshd_config', Options: [] }),
    /** Listen with IPPROTO_MPTCP (falling back to TCP where the kernel has no MPTCP). */
    UseMPTCP: yesNo.default(true),
    /** Addresses to listen on; empty means every IPv4 and IPv6 address. `host:port` and `[v6]:port` allowed. */
    ListenAddress: wordList().default([]),
    Port: z.union([port, z.array(port).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])).default([22]),
    /** Private host keys. Empty: OpenSSH's /etc/ssh/ssh_host_{ed25519,ecdsa,rsa}_key, else one generated under dataDir. */
    HostKey: wordList().default([]),
    AuthorizedKeysFile: wordList(/\s+/).default(['.ssh/authorized_keys', '.ssh/authorized_keys2']),
    StrictModes: yesNo.default(true),
    /** File of CA public keys trusted to sign user certificates (sshd's TrustedUserCAKeys); `none` for none. */
    TrustedUserCAKeys: z.string().default('none'),
    /** With TrustedUserCAKeys: the principals accepted for a user (tokens %h %u %U, relative to HOME); `none`: the user's name. */
    AuthorizedPrincipalsFile: z.string().default('none'),
    /** Signature algorithms a CA may sign certificates with; sshd's list and its + - ^ forms. */
    CASignatureAlgorithms: wordList().optional(),
    PubkeyAuthentication: yesNo.default(true),
    /** Passwords checked by the PAM stack (needs UsePAM). */
    PasswordAuthentication: yesNo.default(false),
    /** keyboard-interactive through the PAM conversation (needs UsePAM). */
    KbdInteractiveAuthentication: yesNo.default(false),
    /** An account whose password is empty may log in with it (password, keyboard-interactive); sshd's default: no. */
    PermitEmptyPasswords: yesNo.default(false),
    /** `any`, or lists of methods to complete in order: `publickey,keyboard-interactive publickey,password`. */
    AuthenticationMethods: z.string().default('any').transform((v, ctx) => {
      const p = parseAuthMethods(v);
      if (typeof p === 'string') {
        ctx.addIssue({ code: 'custom', message: p });
        return z.NEVER;
      }
      return p;
    }),
    /** Account and session through Linux-PAM, as Debian's sshd (UsePAM yes). */
    UsePAM: yesNo.default(true),
    /** The PAM service (/etc/pam.d/<name>). */
    PAMServiceName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a file name under /etc/pam.d').default('mpsshd'),
    /** Show /etc/motd on a login shell; Debian leaves it to pam_motd (no). */
    PrintMotd: yesNo.default(false),
    /** "Last login: ..." on a login shell with a terminal. */
    PrintLastLog: yesNo.default(true),
    PermitRootLogin: permitRootLogin.default('prohibit-password'),
    AllowUsers: wordList(/\s+/).default([]),
    DenyUsers: wordList(/\s+/).default([]),
    AllowGroups: wordList(/\s+/).default([]),
    DenyGroups: wordList(/\s+/).default([]),
    MaxAuthTries: z.number().int().min(1).max(1024).default(6),
    LoginGraceTime: sshdTime.default(120),
    MaxStartups: maxStartups.default({ begin: 10, rate: 30, full: 100 }),
    /** Unauthenticated connections one source (IPv4 address, IPv6 /64) may hold at once; `none` for no limit. */
    PerSourceMaxStartups: z.union([z.literal('none'), z.number().int().positive()]).default('none'),
    /** sshd 9.8's penalties for sources that connect without logging in: yes, no, or `authfail:5s noauth:1s ...`. */
    PerSourcePenalties: z.union([z.boolean(), z.string()]).transform((v, ctx): PenaltyConfig => {
      const p = parsePenalties(typeof v === 'boolean' ? (v ? 'yes' : 'no') : v);
      if (typeof p === 'string') {
        ctx.addIssue({ code: 'custom', message: p });
        return z.NEVER;
      }
      return p;
    }).default({ ...DEFAULT_PENALTIES }),
    /** Addresses never penalised (sshd's address/prefix list, e.g. `10.0.0.0/8,192.0.2.7`). */
    PerSourcePenaltyExemptList: z.string().default(''),
    MaxSessions: z.number().int().min(0).max(1024).default(10),
    /** Environment variables a client may send (patterns). */
    AcceptEnv: wordList(/\s+/).default(['LANG', 'LC_*']),
    /** `environment=` in authorized_keys: no, yes, or a pattern list of names allowed. */
    PermitUserEnvironment: z.union([z.boolean(), z.string()]).transform((v) => (typeof v === 'boolean' ? v : v.trim().toLowerCase() === 'yes' ? true : v.trim().toLowerCase() === 'no' ? false : v.trim())).default(false),
    /** name → command line, as `Subsystem sftp /usr/lib/openssh/sftp-server`. */
    Subsystem: z.record(z.string().min(1), z.string().min(1)).default({ sftp: '/usr/lib/openssh/sftp-server' }),
    AllowTcpForwarding: tcpForwarding.default('all'),
    AllowAgentForwarding: yesNo.default(true),
    AllowStreamLocalForwarding: tcpForwarding.default('all'),
    /** Run ~/.ssh/rc before the user's programs (sshd's PermitUserRC). */
    PermitUserRC: yesNo.default(true),
    /** Octal mask for sockets made for streamlocal -R (sshd: 0177, so only the user can connect). */
    StreamLocalBindMask: z.union([z.number().int(), z.string().regex(/^0?[0-7]{1,3}$/, 'an octal mask such as 0177')]).transform((v) => (typeof v === 'number' ? Number.parseInt(String(v), 8) : Number.parseInt(v, 8))).pipe(z.number().int().min(0).max(0o777)).default(0o177),
    /** Remove an existing socket file before binding a streamlocal -R listener on its path. */
    StreamLocalBindUnlink: yesNo.default(false),
    /** host:port destinations allowed for -L; `any` (default) or `none`. */
    PermitOpen: wordList(/\s+/).default(['any']),
    /** host:port (or port) allowed for -R; `any` (default) or `none`. */
    PermitListen: wordList(/\s+/).default(['any']),
    GatewayPorts: z.union([z.boolean(), z.enum(['yes', 'no', 'clientspecified'])]).transform((v) => (v === true ? 'yes' : v === false ? 'no' : v)).default('no'),
    /** Seconds of silence from the client before a keepalive request; 0 disables keepalive. */
    ClientAliveInterval: sshdTime.default(60),
    /** Unanswered keepalives before the connection is closed; 0 never closes. */
    ClientAliveCountMax: z.number().int().min(0).max(100_000).default(60),
    Ciphers: wordList().optional(),
    KexAlgorithms: wordList().optional(),
    MACs: wordList().optional(),
    HostKeyAlgorithms: wordList().optional(),
    /** User signature algorithms accepted; sshd's list and its + - ^ forms. */
    PubkeyAcceptedAlgorithms: wordList().optional(),
    /** Worker processes kept started and waiting, so a login does not wait for Node.js to start. */
    PreforkWorkers: z.number().int().min(0).max(64).default(2),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // What sshd refuses to start with (AllowUsers alice@10.0.0.0/99, empty entries) is refused here too.
    for (const problem of validateUserAccessConfig({ allowUsers: cfg.AllowUsers, denyUsers: cfg.DenyUsers, allowGroups: cfg.AllowGroups, denyGroups: cfg.DenyGroups })) {
      const key = /^invalid (\w+) pattern/.exec(problem)?.[1] ?? 'AllowUsers';
      ctx.addIssue({ code: 'custom', path: [key], message: problem });
    }
    if (!cfg.UsePAM) {
      // Passwords and keyboard-interactive are PAM's here; without it there is nothing to check them.
      for (const key of ['PasswordAuthentication', 'KbdInteractiveAuthentication'] as const) {
        if (cfg[key]) ctx.addIssue({ code: 'custom', path: [key], message: `${key} needs UsePAM: yes` });
      }
    }
    const targets = listenTargets(cfg.ListenAddress, cfg.Port);
    if (!targets.ok) ctx.addIssue({ code: 'custom', path: ['ListenAddress'], message: targets.error });
    for (const kind of ['kex', 'cipher', 'hmac', 'serverHostKey', 'pubkey'] as const) {
      const option = ALGORITHM_OPTIONS[kind];
      const unknown = unknownAlgorithms(kind, cfg[option]);
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', path: [option], message: `unknown ${unknown.length > 1 ? 'names' : 'name'}: ${unknown.join(', ')} (ssh -Q lists the known ones)` });
    }
    // CA signatures use the same names as user signatures (ssh -Q key-sig).
    const unknownCa = unknownAlgorithms('pubkey', cfg.CASignatureAlgorithms);
    if (unknownCa.length > 0) ctx.addIssue({ code: 'custom', path: ['CASignatureAlgorithms'], message: `unknown ${unknownCa.length > 1 ? 'names' : 'name'}: ${unknownCa.join(', ')} (ssh -Q key-sig lists the known ones)` });
  });
export type SshConfig = z.infer<typeof sshSchema>;

/** sshd option names in their canonical spelling, keyed by lower case, for `-o Name=value`. */
export const SSH_OPTION_NAMES: ReadonlyMap<string, string> = new Map(Object.keys(sshSchema.shape).map((k) => [k.toLowerCase(), k]));
