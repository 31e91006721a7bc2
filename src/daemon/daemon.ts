/**
 * The daemon's lifecycle: what starts in which order, what a reload swaps,
 * and what stops in which order. The kernel-facing parts are handed in as
 * factories so that the same lifecycle runs in a test namespace.
 */
import { readConfig, ConfigError, type LoadOptions, type LoadedConfig } from '../config/read.js';
import type { Config } from '../config/schema.js';
import type { MptcpPm, NetMonitor } from '../netlink/clients.js';
import type { Logger } from '../util/logger.js';
import { MpsshError } from '../util/errors.js';
import { procMptcpSysctls, type MptcpSysctls } from './mptcp-sysctls.js';
import { OwnershipStore } from './ownership-store.js';
import { Reconciler, type EndpointView, type PassResult } from './reconciler.js';
import { canonicalModes, type DesiredEndpoint } from './policy.js';
import type { StatusActions } from '../status/publisher.js';
import type { SshServer } from '../ssh/server/index.js';
import type { SessionEvent } from '../ssh/server/sessions.js';

/** What a Daemon is built from. */
export interface DaemonOptions {
  loaded: LoadedConfig;
  /** How to read the configuration again on reload. */
  loadOptions: LoadOptions;
  log: Logger;
  makeNetMonitor(log: Logger): NetMonitor;
  makeMptcpPm(log: Logger): MptcpPm;
  /** The namespace's MPTCP sysctls (default: /proc/sys of the daemon's own namespace). */
  makeSysctls?(): MptcpSysctls;
  /** Where SSH session events go (the status publisher). */
  onSessionEvent?(e: SessionEvent): void;
}

/** mpsshd: the path manager and the SSH server. */
export class Daemon {
  private config: Config;
  private readonly log: Logger;
  private readonly net: NetMonitor;
  private readonly pm: MptcpPm;
  private readonly store: OwnershipStore;
  readonly reconciler: Reconciler;
  ssh: SshServer | undefined;
  /** Backup flags set at runtime through the API, by address; they last until the next restart. */
  private readonly backupOverrides = new Map<string, boolean>();
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private sshReload: Promise<void> = Promise.resolve();

  constructor(private readonly opts: DaemonOptions) {
    this.config = opts.loaded.config;
    this.log = opts.log;
    // The monitor and the mptcp_pm client name their own module in the log.
    this.net = opts.makeNetMonitor(this.log);
    this.pm = opts.makeMptcpPm(this.log);
    this.store = new OwnershipStore(this.config.stateDir, this.log.child({ mod: 'ownership' }));
    this.reconciler = new Reconciler({
      net: this.net,
      pm: this.pm,
      store: this.store,
      log: this.log,
      config: () => this.config.pathManager,
      sysctls: opts.makeSysctls?.() ?? procMptcpSysctls(),
      clientAlive: () => ({ interval: this.config.ssh.ClientAliveInterval, countMax: this.config.ssh.ClientAliveCountMax }),
      adjust: (desired) => applyBackupOverrides(desired, this.backupOverrides),
      overridden: () => this.backupOverrides.keys(),
    });
  }

  /** Starts everything; resolves once the first reconcile pass is done. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.setState('starting');
    this.store.load();
    await this.pm.start();
    await this.net.start();
    await this.reconciler.start();
    await this.startSsh();
    this.setState('running');
  }

  /** Re-reads the configuration; an invalid one is refused and the running one kept. */
  reload(): boolean {
    let next: LoadedConfig;
    try {
      next = readConfig(this.opts.loadOptions);
    } catch (err) {
      const msg = err instanceof ConfigError ? err.message : String(err);
      this.log.error({ problems: msg.split('\n') }, 'reload refused: the new configuration is invalid; keeping the running one');
      return false;
    }
    if (next.config.stateDir !== this.config.stateDir) {
      this.log.warn({ stateDir: this.config.stateDir }, 'stateDir changes take effect at the next start, ignoring for now');
      next.config.stateDir = this.config.stateDir;
    }
    this.config = next.config;
    this.log.level = next.config.log.level;
    this.log.info({ file: next.file ?? '(built-in defaults)' }, 'configuration reloaded');
    this.reconciler.schedule('reload');
    this.sshReload = this.reloadSsh();
    return true;
  }

  /** Resolves once the reconcile pass and the SSH changes of the last reload are done. */
  async whenReloaded(): Promise<void> {
    await this.reconciler.whenIdle();
    await this.sshReload;
  }

  private async startSsh(): Promise<void> {
    if (!this.config.ssh.Enabled || this.ssh !== undefined) return;
    // Loaded only when serving SSH, so a path-manager-only daemon stays small.
    const { SshServer } = require('../ssh/server/index.js') as typeof import('../ssh/server/index.js');
    this.ssh = new SshServer({
      log: this.log,
      config: this.config.ssh,
      dataDir: this.config.dataDir,
      runDir: this.config.stateDir,
      logLevel: this.config.log.level,
      onEvent: (e) => this.opts.onSessionEvent?.(e),
    });
    await this.ssh.start();
  }

  private async reloadSsh(): Promise<void> {
    try {
      if (this.ssh === undefined) await this.startSsh();
      else await this.ssh.reload(this.config.ssh);
    } catch (err) {
      this.log.error({ err }, 'applying the SSH settings failed, ignoring');
    }
  }

  /**
   * Sets or clears an endpoint's backup flag at runtime (the API's PATCH).
   * Only mpsshd's own endpoints; the override holds until the next restart.
   */
  async setEndpointBackup(id: number, backup: boolean): Promise<EndpointView> {
    const ep = this.reconciler.lastPass?.endpoints.find((e) => e.id === id);
    if (!ep) throw new MpsshError('not-found', `no endpoint ${id}`);
    if (ep.owner !== 'mpsshd') throw new MpsshError('conflict', `endpoint ${id} (${ep.address}) belongs to another path manager; mpsshd does not change it`);
    this.backupOverrides.set(ep.address, backup);
    const pass = await this.reconciler.requestPass('api');
    const now = pass.endpoints.find((e) => e.address === ep.address);
    if (!now || now.flags.includes('backup') !== backup) {
      throw new MpsshError('kernel', `the kernel did not take the change: ${pass.errors.join('; ') || 'endpoint missing'}`);
    }
    this.log.info({ address: ep.address, backup }, `endpoint ${ep.address}: backup ${backup ? 'on' : 'off'} (set through the API)`);
    return now;
  }

  /** pathManager.enabled of the running configuration. */
  pathManagerEnabled(): boolean {
    return this.config.pathManager.enabled;
  }

  /** The latest reconcile pass, for status. */
  lastPass(): PassResult | null {
    return this.reconciler.lastPass;
  }

  /**
   * Stops in the reverse order of start. Endpoints stay in the kernel: open
   * connections keep their paths while the daemon restarts, and the next
   * start sweeps whatever became stale. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.setState('stopping');
    await this.ssh?.close();
    this.reconciler.close();
    await this.reconciler.whenIdle();
    this.net.close();
    this.pm.close();
    this.setState('stopped');
  }

  private setState(next: Daemon['state']): void {
    this.log.debug(`daemon: ${this.state} -> ${next}`);
    this.state = next;
  }
}

/** The policy's endpoints with the runtime backup overrides applied. Pure. */
export function applyBackupOverrides(desired: DesiredEndpoint[], overrides: ReadonlyMap<string, boolean>): DesiredEndpoint[] {
  if (overrides.size === 0) return desired;
  return desired.map((d) => {
    const want = overrides.get(d.address);
    if (want === undefined || d.flags.includes('backup') === want) return d;
    let flags = want ? [...d.flags, 'backup' as const] : d.flags.filter((f) => f !== 'backup');
    if (!flags.includes('subflow') && !flags.includes('signal') && !flags.includes('backup')) flags = ['subflow'];
    return { ...d, flags: canonicalModes(flags) };
  });
}

/** The daemon's side of the status API's changing routes and live data. */
export function statusActions(daemon: Daemon): StatusActions {
  return {
    reload: async () => {
      if (!daemon.reload()) throw new MpsshError('config-invalid', 'the configuration is invalid; the running one is kept (see the log)');
      return { changed: true };
    },
    setEndpointBackup: (id, backup) => daemon.setEndpointBackup(id, backup),
    closeSession: async (id) => daemon.ssh?.closeSession(id, 'closed through the API') ?? false,
    ssh: () => daemon.ssh?.status() ?? { state: 'disabled', listeners: [] },
    sessions: () => daemon.ssh?.list() ?? [],
    pathManagerEnabled: () => daemon.pathManagerEnabled(),
  };
}
