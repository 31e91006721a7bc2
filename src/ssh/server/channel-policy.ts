/**
 * What one connection may do: sshd_config narrowed by the options of the
 * authorized_keys line that was used. Pure, so every combination is a row
 * in a table test.
 */
import type { SshConfig } from '../../config/ssh-schema.js';
import { filterUserEnvironment } from '../auth/access.js';
import { mergeCertOptions } from '../auth/cert-policy.js';
import { parsePermitSpec, type KeyOptions, type PermitSpec } from '../auth/key-options.js';
import type { ChannelPolicy } from '../context.js';

type PermitList = ChannelPolicy['permitOpen'];

/** PermitOpen / PermitListen words: `any`, `none`, or host:port specs (invalid words are dropped by config validation first). */
export function configPermits(words: readonly string[], listen: boolean): PermitList {
  if (words.length === 0 || words.some((w) => w.toLowerCase() === 'any')) return 'any';
  if (words.some((w) => w.toLowerCase() === 'none')) return 'none';
  const out: PermitSpec[] = [];
  for (const w of words) {
    const p = parsePermitSpec(w, listen);
    if (typeof p !== 'string') out.push(p);
  }
  return out;
}

function covers(outer: PermitSpec, inner: PermitSpec): boolean {
  const hostOk = outer.host === '*' || outer.host.toLowerCase() === inner.host.toLowerCase();
  const portOk = outer.port === '*' || outer.port === inner.port;
  return hostOk && portOk;
}

/**
 * sshd checks a forward against both the config's list and the key's; one
 * list that allows exactly what both allow: the key's entries the config
 * covers (a key wildcard survives only under a config wildcard).
 */
export function intersectPermits(config: PermitList, key: readonly PermitSpec[]): PermitList {
  if (key.length === 0) return config;
  if (config === 'none') return 'none';
  if (config === 'any') return key.slice();
  const kept = key.filter((k) => config.some((c) => covers(c, k)));
  return kept.length === 0 ? 'none' : kept;
}

/**
 * The options of two publickey steps of one login (AuthenticationMethods
 * publickey,publickey), as sshd's sshauthopt_merge() combines them: what
 * either forbids stays forbidden, whichever came first. Permissions are
 * and-ed (verify-required or-ed), the earliest expiry wins, permitopen and
 * permitlisten lists are intersected (an empty intersection forbids port
 * forwarding), and two different forced commands or tunnel devices refuse
 * the login.
 */
export function mergeKeySteps(earlier: KeyOptions, later: KeyOptions): { ok: true; options: KeyOptions } | { ok: false; reason: string } {
  // The permissions and the forced command merge as a certificate's with its authorized_keys line.
  const flags = mergeCertOptions(earlier, later);
  if (!flags.ok) return flags;
  if (earlier.tunnel !== undefined && later.tunnel !== undefined && earlier.tunnel !== later.tunnel) return { ok: false, reason: 'tunnel device options do not match' };
  const both = (a: readonly PermitSpec[], b: readonly PermitSpec[]): PermitList => intersectPermits(a.length === 0 ? 'any' : a.slice(), b);
  const open = both(earlier.permitOpen, later.permitOpen);
  const listen = both(earlier.permitListen, later.permitListen);
  const names = new Set(earlier.environment.map((e) => e.name));
  const merged: KeyOptions = {
    ...flags.options,
    restrict: earlier.restrict || later.restrict,
    permitPortForwarding: flags.options.permitPortForwarding && open !== 'none' && listen !== 'none',
    environment: [...earlier.environment, ...later.environment.filter((e) => !names.has(e.name))],
    permitOpen: open === 'any' || open === 'none' ? [] : open,
    permitListen: listen === 'any' || listen === 'none' ? [] : listen,
  };
  const expiry = Math.min(earlier.expiresAt ?? Infinity, later.expiresAt ?? Infinity);
  if (expiry !== Infinity) merged.expiresAt = expiry;
  const tunnel = earlier.tunnel ?? later.tunnel;
  if (tunnel !== undefined) merged.tunnel = tunnel;
  return { ok: true, options: merged };
}

function narrowForwarding(setting: SshConfig['AllowTcpForwarding'], keyAllows: boolean): ChannelPolicy['tcpForwarding'] {
  return keyAllows ? setting : 'no';
}

/** The effective policy of a connection authenticated with a key carrying `key` options. */
export function channelPolicy(cfg: SshConfig, key: KeyOptions): ChannelPolicy {
  const policy: ChannelPolicy = {
    pty: key.permitPty,
    userEnvironment: filterUserEnvironment(key.environment, cfg.PermitUserEnvironment),
    acceptEnv: cfg.AcceptEnv.slice(),
    subsystems: { ...cfg.Subsystem },
    maxSessions: cfg.MaxSessions,
    tcpForwarding: narrowForwarding(cfg.AllowTcpForwarding, key.permitPortForwarding),
    agentForwarding: cfg.AllowAgentForwarding && key.permitAgentForwarding,
    userRc: cfg.PermitUserRC && key.permitUserRc,
    // sshd: no-port-forwarding (and restrict) covers Unix-socket forwarding too.
    streamLocalForwarding: narrowForwarding(cfg.AllowStreamLocalForwarding, key.permitPortForwarding),
    streamLocalBindMask: cfg.StreamLocalBindMask,
    streamLocalBindUnlink: cfg.StreamLocalBindUnlink,
    permitOpen: intersectPermits(configPermits(cfg.PermitOpen, false), key.permitOpen),
    permitListen: intersectPermits(configPermits(cfg.PermitListen, true), key.permitListen),
    gatewayPorts: cfg.GatewayPorts,
  };
  if (key.command !== undefined) policy.forcedCommand = key.command;
  return policy;
}
