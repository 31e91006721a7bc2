/**
 * The environment of a user program, built the way sshd builds it
 * (session.c do_setup_env): what the client sent and AcceptEnv allows
 * first, then the server's own variables, which the client cannot
 * override, then the key's `environment=` options, which the user chose,
 * then the SSH_* variables that describe the connection. Pure.
 */
import { matchPattern } from '../auth/match.js';
import type { ConnectionContext } from '../context.js';

/** Debian's sshd defaults (configure --with-default-path / --with-superuser-path). */
export const USER_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/games';
export const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Names a client may not set whatever AcceptEnv says: they would change how the login itself runs. */
const NEVER_FROM_CLIENT = new Set(['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT']);

export interface SessionEnvInput {
  /** Variables from `env` requests, in arrival order. */
  clientEnv: { name: string; value: string }[];
  /** pty-req terminal type, when there is a pty. */
  term?: string;
  /** What the client asked to run when a forced command replaced it. */
  originalCommand?: string;
  /** SSH_AUTH_SOCK and the like. */
  extra?: Record<string, string>;
}

/** True when AcceptEnv lets the client set `name`. */
export function acceptsEnv(patterns: readonly string[], name: string): boolean {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || NEVER_FROM_CLIENT.has(name)) return false;
  return patterns.some((p) => matchPattern(name, p));
}

/** The complete environment for a program of this connection. */
export function sessionEnvironment(ctx: Pick<ConnectionContext, 'account' | 'peer' | 'policy' | 'extraEnv'>, input: SessionEnvInput): Record<string, string> {
  const { account, peer } = ctx;
  const env: Record<string, string> = {};
  for (const { name, value } of input.clientEnv) if (acceptsEnv(ctx.policy.acceptEnv, name)) env[name] = value;
  Object.assign(env, {
    USER: account.name,
    LOGNAME: account.name,
    HOME: account.home,
    PATH: account.uid === 0 ? ROOT_PATH : USER_PATH,
    MAIL: `/var/mail/${account.name}`,
    SHELL: account.shell,
  });
  if (input.term !== undefined && input.term !== '') env.TERM = input.term;
  for (const { name, value } of ctx.policy.userEnvironment) env[name] = value;
  env.SSH_CLIENT = `${peer.remoteAddress} ${peer.remotePort} ${peer.localPort}`;
  env.SSH_CONNECTION = `${peer.remoteAddress} ${peer.remotePort} ${peer.localAddress} ${peer.localPort}`;
  if (input.originalCommand !== undefined) env.SSH_ORIGINAL_COMMAND = input.originalCommand;
  Object.assign(env, ctx.extraEnv, input.extra);
  return env;
}
