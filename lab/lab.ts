/**
 * Runs one scenario from start to end: network, programs, counters, the
 * scenario, results on disk, and the removal of everything it made, also
 * when the run is interrupted (see `abortRun`).
 */
import { killTracked } from './children.js';
import { LabRun, type ScenarioResult } from './lab-run.js';
import { startPeers } from './peers.js';
import { LabTopology } from './topology.js';
import { aggregate } from './scenarios/aggregate.js';
import { blackout } from './scenarios/blackout.js';
import { handover } from './scenarios/handover.js';
import { walk, walkTopology } from './scenarios/walk.js';
import { clientAliveInterval, rtoMaxMs, type LabContext, type LabOptions } from './scenarios/common.js';

export const SCENARIOS = ['aggregate', 'handover', 'blackout', 'walk'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Paths each scenario builds unless told otherwise (walk's come from its timeline). */
export const DEFAULT_PATHS: Record<Scenario, number> = { aggregate: 3, handover: 2, blackout: 1, walk: 0 };

const RUNNERS: Record<Scenario, (ctx: LabContext) => Promise<ScenarioResult>> = { aggregate, handover, blackout, walk };

let cleanup: (() => Promise<void>) | null = null;

/** Ends the running scenario's processes and removes its namespaces (for signal handlers). */
export async function abortRun(): Promise<void> {
  killTracked();
  await cleanup?.();
}

/** Runs `scenario`; resolves with its result and the directory of its files. */
export async function runLab(scenario: Scenario, opts: LabOptions, env: { subnet: number; outRoot: string }): Promise<{ result: ScenarioResult; dir: string; report: string }> {
  const topo = new LabTopology(env.subnet);
  let peers: Awaited<ReturnType<typeof startPeers>> | null = null;
  let run: LabRun | null = null;
  let cleaning: Promise<void> | null = null;
  // A signal may arrive while the run is already cleaning up: both wait for the same work.
  cleanup = () =>
    (cleaning ??= (async () => {
      run?.sampler.stop();
      run?.daemon?.stop();
      killTracked();
      await peers?.close().catch(() => undefined);
      topo.close();
    })());
  // Last resort when the process exits some other way: nothing asynchronous can run then.
  const onExit = (): void => {
    killTracked();
    topo.close();
  };
  process.once('exit', onExit);
  try {
    if (scenario === 'walk') walkTopology(topo, opts.walkFile);
    else for (let k = 0; k < opts.paths; k++) topo.addPath({ downRate: opts.rate });
    run = new LabRun(scenario, topo, { scenario, ...opts, subnet: env.subnet }, env.outRoot);
    const rto = rtoMaxMs(opts.scale);
    // Shorter retransmission backoff makes tcp_retries2 end a dead subflow sooner, in step with ClientAlive.
    if (rto !== null) for (const ns of [topo.client, topo.server]) ns.sysctl('net.ipv4.tcp_rto_max_ms', String(rto));
    peers = await startPeers(topo, { baselines: opts.baselines, aliveInterval: clientAliveInterval(opts.scale) });
    run.sampler.start();
    run.followDaemon(peers.clientApiSocket);
    run.mark(`${scenario} starts`);
    const result = await RUNNERS[scenario]({ topo, peers, run, opts });
    run.sampler.stop();
    run.daemon?.stop();
    const dir = run.write(result);
    return { result, dir, report: run.report(result) };
  } finally {
    await cleanup();
    cleanup = null;
    process.removeListener('exit', onExit);
  }
}
