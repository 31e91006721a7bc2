/**
 * `mpssh`: the system's OpenSSH client over MPTCP. `mpssh [ssh arguments]`
 * runs ssh with a ProxyCommand that connects over MPTCP and passes the socket
 * to ssh (ProxyUseFdpass), so every ssh feature stays as it is.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { VERSION } from '../../util/version.js';
import { offerConnection } from './connection-offer.js';
import { connectHost, parseProxyArgs, ProxyError, runProxy } from './proxy.js';
import { effectiveProxyFromConfig, offerCommandFor, parseSshArgs, planSsh, serverAliveOptions, targetFromConfig } from './ssh-args.js';

const USAGE = `usage: mpssh [ssh options] destination [command [argument ...]]
       mpssh proxy HOST PORT [--fdpass] [-v]
       mpssh status [--watch [N]] [--all] [--json] [--socket PATH | --url URL]

Runs the system ssh over Multipath TCP: the connection to the server is an
MPTCP socket (plain TCP when the kernel or the server has no MPTCP), handed to
ssh with ProxyUseFdpass, so every ssh option and feature works as usual.

  -o UseMPTCP=no   plain ssh, as if mpssh were not there
  -h, --help       this help;  -V, --version: versions of mpssh and ssh

mpssh stays out of the way when ssh would use a proxy anyway: -J, or
ProxyCommand/ProxyJump from the command line or the ssh configuration.
Exit status: ssh's own (255 when the connection fails).

'mpssh status' shows the local mpsshd: your MPTCP connections with the
interfaces they ride and their rates, interfaces, endpoints and the SSH
sessions it serves (--watch to follow, --json for scripts).

'mpssh proxy' is the ProxyCommand itself; for plain ssh, ~/.ssh/config:
  Host *
      ProxyCommand mpssh proxy %h %p --fdpass
      ProxyUseFdpass yes
`;

function fail(message: string): never {
  process.stderr.write(`mpssh: ${message}\n`);
  process.exit(255);
}

/** This installation's mpssh script, for the ProxyCommand. */
function selfScript(): string {
  return process.argv[1] ? fs.realpathSync(process.argv[1]) : 'mpssh';
}

/** `ssh -G` for these arguments: ssh's own view of host, port and proxies; null when ssh refuses them. */
function sshConfig(ssh: string, argv: readonly string[]): string | null {
  const parsed = parseSshArgs(argv);
  if (parsed.destination < 0) return null;
  const res = spawnSync(ssh, ['-G', ...argv.slice(0, parsed.command)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return res.status === 0 ? res.stdout : null;
}

/** Runs ssh in the foreground and leaves with its exit status. */
function runSsh(ssh: string, argv: string[], cleanup: () => void = () => {}): void {
  const child = spawn(ssh, argv, { stdio: 'inherit' });
  // Keyboard signals reach ssh through the terminal's process group; ssh
  // decides what they mean, so this process must outlive them.
  for (const sig of ['SIGINT', 'SIGQUIT'] as const) process.on(sig, () => {});
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => fail(`cannot run ${ssh}: ${err.message}`));
  child.on('exit', (code, signal) => {
    cleanup();
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 255);
  });
}

async function main(argv: string[]): Promise<void> {
  const ssh = process.env.MPSSH_SSH ?? 'ssh';
  const first = argv[0];
  if (first === '--help' || first === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`mpssh ${VERSION}\n`);
    spawnSync(ssh, ['-V'], { stdio: 'inherit' });
    return;
  }
  if (first === 'status') {
    const { runStatus } = require('../../api/cli-status.js') as typeof import('../../api/cli-status.js');
    process.exit(await runStatus(argv.slice(1)));
  }
  if (first === 'proxy') {
    await runProxy(parseProxyArgs(argv.slice(1)));
    // Standard input may still be open (ssh keeps its end): leave now.
    process.exit(0);
  }
  if (argv.length === 0) {
    process.stderr.write(USAGE);
    process.exit(255);
  }
  const initial = planSsh(argv, '', null);
  const config = initial.useMptcp ? sshConfig(ssh, initial.userArgs) : null;
  const target = config === null ? null : targetFromConfig(config);
  const plan = config === null ? initial : planSsh(argv, '', effectiveProxyFromConfig(config));
  if (!plan.useMptcp || target === null) {
    // Plain ssh: asked for, a proxy configured, or arguments ssh itself will refuse.
    if (process.env.MPSSH_DEBUG) process.stderr.write(`mpssh: plain ssh: ${plan.reason ?? 'ssh -G refused the arguments'}\n`);
    runSsh(ssh, plan.userArgs);
    return;
  }
  // Connect first: a failure is one line and ssh's own exit status, 255.
  const conn = await connectHost(target, true);
  const offer = await offerConnection(conn.socket);
  offer.done.catch((err: Error) => process.stderr.write(`mpssh: passing the connection to ssh: ${err.message}\n`));
  runSsh(ssh, [...serverAliveOptions(config ?? ''), ...planSsh(argv, offerCommandFor(process.execPath, selfScript(), offer.path), null).argv], offer.close);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ProxyError) fail(err.message);
  fail(`unexpected error: ${(err as Error).message ?? String(err)}`);
});
