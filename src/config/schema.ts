/**
 * The configuration schema of mpsshd. zod is the only description of the
 * config: the TypeScript types come from it, and so do the built-in defaults,
 * so a missing config file and an empty one mean the same thing.
 */
import { z } from 'zod';
import { sshSchema } from './ssh-schema.js';
import { splitHostPort } from '../util/address.js';

import { MAX_CLOSE_TIMEOUT_SECONDS, MODES, type Mode } from './constants.js';

export { MAX_CLOSE_TIMEOUT_SECONDS, MODE_ORDER, MODES, type Mode } from './constants.js';

/**
 * A mode list: a YAML list, or one string of comma-separated flags as
 * mptcpd's `addr-flags` and `ip mptcp endpoint` write them ("subflow,backup").
 */
const modeList = z
  .union([z.array(z.string()), z.string()])
  .transform((v, ctx): Mode[] => {
    const words = (Array.isArray(v) ? v : v.split(/[\s,]+/)).map((w) => w.trim().toLowerCase()).filter((w) => w !== '');
    const out: Mode[] = [];
    for (const w of words) {
      if (!(MODES as readonly string[]).includes(w)) {
        ctx.addIssue({ code: 'custom', message: `unknown mode "${w}" (expected one of: ${MODES.join(', ')})` });
        return z.NEVER;
      }
      if (!out.includes(w as Mode)) out.push(w as Mode);
    }
    return out;
  })
  .superRefine((modes, ctx) => {
    if (modes.includes('signal') && modes.includes('fullmesh')) {
      // The kernel refuses this pair with EINVAL: a fullmesh endpoint creates
      // subflows to every announced address, which an announced (signal)
      // address cannot do.
      ctx.addIssue({ code: 'custom', message: 'modes "signal" and "fullmesh" cannot be combined (the kernel refuses it): use "subflow, fullmesh" or "signal"' });
    }
    if (modes.includes('fullmesh') && !modes.includes('subflow')) {
      ctx.addIssue({ code: 'custom', message: 'mode "fullmesh" needs "subflow" as well' });
    }
    if (!modes.includes('subflow') && !modes.includes('signal') && !modes.includes('backup')) {
      ctx.addIssue({ code: 'custom', message: 'a mode list needs at least one of "subflow", "signal" or "backup"' });
    }
  });

/** A shell-style glob (`*`, `?`, `[...]`) or a list of them, matched against interface names. */
const globList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));

const interfaceRule = z
  .object({
    match: globList,
    mode: modeList.optional(),
    ignore: z.boolean().default(false),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.ignore && r.mode !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['mode'], message: 'a rule with "ignore: true" takes no "mode"' });
    }
  });
export type InterfaceRule = z.infer<typeof interfaceRule>;

const addressesSchema = z
  .object({
    ipv4: z.boolean().default(true),
    ipv6: z.boolean().default(true),
    /** fe80::/10 and 169.254.0.0/16: usable only on the link, so rarely a useful path. */
    linkLocal: z.boolean().default(false),
    /** fc00::/7 (IPv6 ULA). */
    uniqueLocal: z.boolean().default(false),
    /** IPv6 privacy addresses (RFC 8981): short-lived, so off by default. */
    temporary: z.boolean().default(false),
  })
  .strict();

const limitsSchema = z.union([
  z.literal('auto'),
  z
    .object({
      subflows: z.number().int().min(0).max(8),
      addAddrAccepted: z.number().int().min(0).max(8),
    })
    .strict(),
]);


/** Interfaces left out unless a rule in `interfaces` says otherwise: virtual links that never lead off the host. */
export const DEFAULT_IGNORE = ['lo', 'docker*', 'veth*', 'virbr*', 'br-*'];

const pathManagerSchema = z
  .object({
    enabled: z.boolean().default(true),
    defaultMode: modeList.default(['subflow']),
    interfaces: z.array(interfaceRule).default([]),
    ignoreByDefault: z.array(z.string().min(1)).default(DEFAULT_IGNORE),
    addresses: addressesSchema.default(addressesSchema.parse({})),
    requireRoute: z.enum(['default', 'any', 'none']).default('default'),
    limits: limitsSchema.default('auto'),
    /** net.mptcp.close_timeout: `auto` (from ClientAlive) or seconds. */
    closeTimeout: z.union([z.literal('auto'), z.number().int().min(1).max(MAX_CLOSE_TIMEOUT_SECONDS)]).default('auto'),
    linkDownHoldMs: z.number().int().min(0).max(3_600_000).default(0),
    resyncIntervalMs: z.number().int().min(1000).max(86_400_000).default(30_000),
  })
  .strict();
export type PathManagerConfig = z.infer<typeof pathManagerSchema>;

const logSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

/** A TCP listen address for the status API: `host:port`, `[v6]:port`, or an absolute Unix socket path. */
const apiListen = z.string().min(1).refine((v) => v.startsWith('/') || splitHostPort(v)?.port !== undefined, {
  message: 'expected host:port, [v6-address]:port or an absolute Unix socket path',
});

const apiSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Read-only listeners. Loopback only by default, so `curl localhost/status` works as is. */
    listen: z.array(apiListen).default(['127.0.0.1:80', '[::1]:80']),
    /**
     * Host names (besides IP addresses, localhost and *.localhost) that the
     * read-only listeners answer to; any other Host header is refused (DNS rebinding).
     */
    allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'expected a host name')).default([]),
    /** Root-only Unix socket (mode 0600) that also accepts the changing routes (reload, backup flag, session kill). */
    controlSocket: z.string().startsWith('/').default('/run/mpssh/api.sock'),
    /**
     * How often every MPTCP connection of the host is sampled (GET
     * /connections, the dashboard's per-interface plots, /metrics), in ms;
     * 0 turns sampling off.
     */
    connectionSampleMs: z.number().int().refine((v) => v === 0 || (v >= 100 && v <= 60_000), { message: 'expected 0 (off) or 100 to 60000 ms' }).default(1000),
  })
  .strict();
export type ApiConfig = z.infer<typeof apiSchema>;

/** The whole configuration file. */
export const configSchema = z
  .object({
    pathManager: pathManagerSchema.default(pathManagerSchema.parse({})),
    ssh: sshSchema.default(sshSchema.parse({})),
    api: apiSchema.default(apiSchema.parse({})),
    log: logSchema.default(logSchema.parse({})),
    /** Runtime state (endpoint ownership); tmpfs, so a reboot starts clean. */
    stateDir: z.string().startsWith('/', 'must be an absolute path').default('/run/mpssh'),
    /** Persistent data: the generated host key when OpenSSH's are absent. */
    dataDir: z.string().startsWith('/', 'must be an absolute path').default('/var/lib/mpssh'),
  })
  .strict();
export type Config = z.infer<typeof configSchema>;

/** The configuration used when no file exists. */
export function defaultConfig(): Config {
  return configSchema.parse({});
}
