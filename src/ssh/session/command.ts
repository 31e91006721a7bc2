/**
 * What a session channel runs: sshd always goes through the user's shell
 * (`shell -c command`), a shell request without a command is a login shell,
 * a subsystem is its configured command line, and a key's `command="..."`
 * replaces whatever was asked, keeping the request in SSH_ORIGINAL_COMMAND.
 * Pure.
 */
import path from 'node:path';
import type { ChannelPolicy, UserAccount } from '../context.js';

export type SessionRequest = { kind: 'shell' } | { kind: 'exec'; command: string } | { kind: 'subsystem'; name: string };

export interface Program {
  file: string;
  args: string[];
  /** argv[0]: `-bash` marks a login shell, as sshd does. */
  argv0: string;
  /** Set when a forced command replaced the request. */
  originalCommand?: string;
  /** A forced command or subsystem: the client may not signal it (as in sshd). */
  restricted: boolean;
}

/** OpenSSH's in-process sftp server is spelled `internal-sftp`; ours runs the external one in its place. */
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

/** The program for a request, or a reason to refuse it. */
export function sessionProgram(account: UserAccount, policy: Pick<ChannelPolicy, 'forcedCommand' | 'subsystems'>, req: SessionRequest): Program | { refused: string } {
  const shell = account.shell || '/bin/sh';
  const base = path.basename(shell);
  let command: string | undefined;
  let subsystem = false;
  if (req.kind === 'exec') command = req.command;
  else if (req.kind === 'subsystem') {
    // Own names only: "__proto__" or "constructor" must not find Object's.
    const line = Object.hasOwn(policy.subsystems, req.name) ? policy.subsystems[req.name] : undefined;
    if (line === undefined) return { refused: `subsystem request for ${req.name} failed, subsystem not found` };
    command = line.trim() === 'internal-sftp' || line.trim().startsWith('internal-sftp ') ? SFTP_SERVER + line.trim().slice('internal-sftp'.length) : line;
    subsystem = true;
  }
  if (policy.forcedCommand !== undefined) {
    return { file: shell, args: ['-c', policy.forcedCommand], argv0: base, ...(command !== undefined ? { originalCommand: command } : {}), restricted: true };
  }
  if (command === undefined) return { file: shell, args: [], argv0: `-${base}`, restricted: false };
  return { file: shell, args: ['-c', command], argv0: base, restricted: subsystem };
}
