/**
 * Runs the path manager in-process against a test namespace: the netlink
 * sockets are opened inside the namespace, everything else is the daemon's
 * own code, so tests see the real kernel's reaction to real events.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/loader.js';
import type { Config } from '../../src/config/schema.js';
import { procMptcpSysctls } from '../../src/daemon/mptcp-sysctls.js';
import { OwnershipStore } from '../../src/daemon/ownership-store.js';
import { Reconciler, type PassResult } from '../../src/daemon/reconciler.js';
import { MptcpPmClient } from '../../src/netlink/mptcp-pm.js';
import { RtnlMonitor } from '../../src/netlink/rtnetlink.js';
import { createLogger, type Logger } from '../../src/util/logger.js';
import type { Netns } from '../../tools/netns.js';

/** A path manager running inside a namespace. */
export interface PathManagerUnderTest {
  reconciler: Reconciler;
  net: RtnlMonitor;
  pm: MptcpPmClient;
  stateDir: string;
  log: Logger;
  setConfig(yaml: string): void;
  /** Waits until no pass is running or pending, and returns the latest pass. */
  settle(): Promise<PassResult>;
  close(): void;
}

/** Logs go nowhere unless MPSSH_TEST_LOG names a file. */
function testLogger(): Logger {
  const file = process.env.MPSSH_TEST_LOG;
  return createLogger({ level: file ? 'debug' : 'silent', stream: file ? fs.createWriteStream(file, { flags: 'a' }) : process.stderr });
}

/** Starts the path manager in `ns` with config `yaml`; resolves after the first pass. */
export async function startPathManager(ns: Netns, yaml: string, opts: { rcvbuf?: number; stateDir?: string } = {}): Promise<PathManagerUnderTest> {
  const log = testLogger();
  const stateDir = opts.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-state-'));
  let config: Config = parseConfig(yaml, 'test.yaml').config;
  const net = new RtnlMonitor(log, { netns: ns.path, ...(opts.rcvbuf ? { rcvbuf: opts.rcvbuf } : {}) });
  const pm = new MptcpPmClient(log, { netns: ns.path });
  const store = new OwnershipStore(stateDir, log);
  store.load();
  await pm.start();
  await net.start();
  const reconciler = new Reconciler({
    net,
    pm,
    store,
    log,
    config: () => config.pathManager,
    sysctls: procMptcpSysctls({ netns: ns.path }),
    clientAlive: () => ({ interval: config.ssh.ClientAliveInterval, countMax: config.ssh.ClientAliveCountMax }),
  });
  await reconciler.start();
  return {
    reconciler,
    net,
    pm,
    stateDir,
    log,
    setConfig(next: string) {
      config = parseConfig(next, 'test.yaml').config;
      reconciler.schedule('reload');
    },
    async settle() {
      // Let notifications already sent by the kernel arrive before judging idleness. A fixed wait: no
      // answer tells that the kernel has nothing more queued for the monitor's socket; whenIdle then
      // waits for the passes they started.
      await new Promise((r) => setTimeout(r, 30));
      await reconciler.whenIdle();
      return reconciler.lastPass as PassResult;
    },
    close() {
      reconciler.close();
      net.close();
      pm.close();
      if (!opts.stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
