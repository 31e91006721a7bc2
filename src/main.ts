/**
 * mpsshd's entry point: command line, configuration, logger, start, signals.
 */
// Before anything loads ssh2: its load-time repairs (see ssh2-internals.ts).
import { missingRepairs } from './ssh/ssh2-internals.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULT_CONFIG_PATH, readConfig, type LoadedConfig, type LoadOptions } from './config/read.js';
import { hasNetAdmin } from './daemon/capabilities.js';
import { parseDaemonArgs, USAGE } from './daemon/cli.js';
import { isMpsshError } from './util/errors.js';
import { Daemon, statusActions } from './daemon/daemon.js';
import { statusText, systemdNotifier } from './daemon/sd-notify.js';
import { StatusPublisher } from './status/publisher.js';
import { MptcpPmClient } from './netlink/mptcp-pm.js';
import { RtnlMonitor } from './netlink/rtnetlink.js';
import { createLogger } from './util/logger.js';
import { closeInheritedFds } from './native/fds.js';
import { checkSshd, sshdArgv } from './ssh/openssh/sshd-command.js';
import { snapshotSshdConfig } from './ssh/openssh/sshd-config-snapshot.js';
import { VERSION } from './util/version.js';

/** Why each named host key cannot be used (empty: all usable). */
function hostKeyProblems(files: readonly string[]): string[] {
  // Loaded only to check keys: it brings ssh2, which a path-manager-only daemon does without.
  const { loadHostKey } = require('./ssh/server/host-keys.js') as typeof import('./ssh/server/host-keys.js');
  return files.flatMap((f) => {
    try {
      loadHostKey(f);
      return [];
    } catch (err) {
      return [(err as Error).message];
    }
  });
}

/** Checks sshd's configuration as a start would (a copy, sshd -t) and returns the command line a connection gets. */
async function checkOpenSsh(ssh: LoadedConfig['config']['ssh']): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpsshd-check-'));
  try {
    const snap = snapshotSshdConfig(ssh.OpenSSH.Config, dir);
    const effective = await checkSshd(ssh.OpenSSH, snap.main);
    // The command a running daemon uses names its own copy of the configuration, not this one.
    return sshdArgv(ssh.OpenSSH, `<copy of ${ssh.OpenSSH.Config}>`, effective, { interval: ssh.ClientAliveInterval, countMax: ssh.ClientAliveCountMax });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fail(message: string, status = 1): never {
  for (const line of message.split('\n')) process.stderr.write(`mpsshd: ${line}\n`);
  process.exit(status);
}

async function main(argv: string[]): Promise<void> {
  // Whatever the starter left open (an fd on /etc/shadow, say) must not reach
  // the workers and through them the users' programs.
  const inherited = closeInheritedFds();
  let args;
  try {
    args = parseDaemonArgs(argv);
  } catch (err) {
    if (isMpsshError(err, 'usage')) fail(err.message, 2);
    throw err;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.version) {
    process.stdout.write(`mpsshd ${VERSION}\n`);
    return;
  }
  const loadOptions: LoadOptions = { file: args.file ?? DEFAULT_CONFIG_PATH, explicit: args.file !== undefined, overrides: args.overrides };
  let loaded;
  try {
    loaded = readConfig(loadOptions);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const unrepaired = loaded.config.ssh.Enabled ? missingRepairs() : [];
  if (unrepaired.length > 0) fail(`the installed ssh2 is not the version mpsshd was built for:\n${unrepaired.join('\n')}`);
  if (args.check) {
    // sshd -t refuses host keys it cannot use; so does this, for the ones named.
    const ssh = loaded.config.ssh;
    const keyProblems = ssh.Enabled && ssh.Server === 'builtin' ? hostKeyProblems(ssh.HostKey) : [];
    if (keyProblems.length > 0) fail(keyProblems.map((p) => `HostKey ${p}`).join('\n'));
    let sshdCommand: string[] | undefined;
    if (ssh.Enabled && ssh.Server === 'openssh') {
      try {
        sshdCommand = await checkOpenSsh(ssh);
      } catch (err) {
        fail(`ssh.Server openssh: ${(err as Error).message}`);
      }
    }
    process.stdout.write(`configuration OK: ${loaded.file ?? 'no file, built-in defaults'}${loaded.overrides.length ? ` with ${loaded.overrides.length} -o override(s)` : ''}\n`);
    if (args.extended) {
      process.stdout.write(`ssh ${ssh.Enabled ? 'enabled' : 'disabled'}\nserver ${ssh.Server}\n`);
      if (sshdCommand !== undefined) process.stdout.write(`sshd-command ${sshdCommand.join(' ')}\n`);
    }
    return;
  }
  if (!hasNetAdmin()) {
    fail('managing MPTCP endpoints needs CAP_NET_ADMIN: run mpsshd as root (or give it that capability)');
  }
  const log = createLogger({ debug: args.debug, level: args.debug ? 'debug' : loaded.config.log.level });
  log.info({ version: VERSION, config: loaded.file ?? '(built-in defaults)', overrides: loaded.overrides }, 'mpsshd starting');
  if (inherited.length > 0) log.warn({ fds: inherited }, `closed ${inherited.length} descriptor(s) inherited from the starting process`);
  const notifier = systemdNotifier(log.child({ mod: 'sd-notify' }));
  let ready = false;
  const daemon = new Daemon({
    loaded,
    loadOptions,
    log,
    makeNetMonitor: (l) => new RtnlMonitor(l),
    makeMptcpPm: (l) => new MptcpPmClient(l),
    onSessionEvent: (e) => publisher.onSession(e),
  });
  const publisher = new StatusPublisher(log.child({ mod: 'status' }), statusActions(daemon));
  daemon.reconciler.on('pass', (r) => {
    publisher.onPass(r);
    if (ready) notifier.status(statusText(r, daemon.ssh?.status()));
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'unexpected error, exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unexpected error, exiting');
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'mpsshd stopping');
    notifier.stopping(`stopping (${signal})`);
    sampler?.close();
    void Promise.resolve(api?.close())
      .then(() => daemon.close())
      .then(() => {
        log.flush();
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading configuration');
    // Before READY=1, systemd has no reload to track; the start's READY=1 follows anyway.
    if (ready) notifier.reloading('reloading the configuration');
    const ok = daemon.reload();
    if (ready) {
      void daemon.whenReloaded().then(() => {
        if (stopping) return;
        const now = statusText(daemon.lastPass(), daemon.ssh?.status());
        notifier.ready(ok ? now : `reload refused (invalid configuration, see the log); ${now}`);
      });
    }
  });
  let api: { close(): Promise<void> } | undefined;
  let sampler: { close(): void } | undefined;
  await daemon.start();
  if (loaded.config.api.enabled) {
    // Loaded only when serving the API, so a daemon without it stays small.
    const { startApi } = require('./api/index.js') as typeof import('./api/index.js');
    api = await startApi({ source: publisher, config: loaded.config.api, log });
    const period = loaded.config.api.connectionSampleMs;
    if (period > 0) {
      // Every MPTCP connection of the host, for /connections and the dashboard; only its readers need it.
      const { ConnectionSampler } = require('./mptcp/sampler.js') as typeof import('./mptcp/sampler.js');
      const s = new ConnectionSampler(log.child({ mod: 'connections' }), period);
      s.on('sample', (sample) => publisher.onConnections(sample));
      s.on('error', (err) => publisher.onConnectionsError(err));
      publisher.connectionSampling(period);
      // Every pass follows a change of links, addresses or routes: the subflows' interfaces may have moved.
      daemon.reconciler.on('pass', () => s.routesChanged());
      s.start();
      sampler = s;
    }
  }
  // Logged before READY=1, so that whoever sees READY=1 finds the line in the log.
  log.info('mpsshd ready');
  if (!stopping) {
    ready = true;
    notifier.ready(statusText(daemon.lastPass(), daemon.ssh?.status()));
  }
}

main(process.argv.slice(2)).catch((err: unknown) => fail(`fatal: ${(err as Error).stack ?? String(err)}`));
