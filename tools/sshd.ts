/**
 * A real OpenSSH sshd for interop tests, run inside a test namespace on
 * loopback with its own host key, an authorized key for the current user and
 * no PAM, plus a client key and the ssh options that make the client
 * non-interactive.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Netns } from './netns.js';
import { waitFor } from './netns.js';

/** A running sshd and the client-side material to log in to it. */
export interface TestSshd {
  proc: ChildProcess;
  dir: string;
  /** Options for the ssh client: key, no host key checks, batch mode, no user config. */
  clientOptions: string[];
  user: string;
  stop(): void;
}

/** Path of OpenSSH's server binary, or null when openssh-server is not installed. */
export function sshdPath(): string | null {
  return fs.existsSync('/usr/sbin/sshd') ? '/usr/sbin/sshd' : null;
}

/**
 * Starts sshd in `ns` listening on 127.0.0.1:`port` (or `listenAddress`);
 * `launcher` runs it through a wrapper such as `mptcpize run`; the key in
 * `dir/id` is authorised through `dir/authorized_keys` unless
 * `authorizedKeysFile` names another file (sshd's AuthorizedKeysFile).
 */
export async function startSshd(ns: Netns, port: number, opts: { listenAddress?: string; launcher?: string[]; authorizedKeysFile?: string } = {}): Promise<TestSshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-sshd-'));
  // sshd's privilege separation directory; the service normally creates it.
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')]);
  fs.copyFileSync(path.join(dir, 'id.pub'), path.join(dir, 'authorized_keys'));
  const config = [
    `Port ${port}`,
    `ListenAddress ${opts.listenAddress ?? '127.0.0.1'}`,
    `HostKey ${dir}/host_key`,
    `AuthorizedKeysFile ${opts.authorizedKeysFile ?? `${dir}/authorized_keys`}`,
    'PermitRootLogin prohibit-password',
    'StrictModes no',
    'UsePAM no',
    'PidFile none',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
  ];
  fs.writeFileSync(path.join(dir, 'sshd_config'), config.join('\n') + '\n');
  const sshdArgs = [sshdPath() ?? '/usr/sbin/sshd', '-D', '-e', '-f', path.join(dir, 'sshd_config')];
  const argv = [...(opts.launcher ?? []), ...sshdArgs];
  const proc = ns.spawn(argv[0] as string, argv.slice(1));
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  await waitFor(`sshd listening (${err})`, () => ns.execSync('ss', ['-Hltn', `sport = :${port}`]).includes(`:${port}`), 5000);
  return {
    proc,
    dir,
    user: os.userInfo().username,
    clientOptions: ['-F', '/dev/null', '-i', path.join(dir, 'id'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR'],
    stop() {
      proc.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
