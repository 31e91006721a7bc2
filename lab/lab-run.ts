/**
 * One lab run: its clock, its event log, the client's byte counters and the
 * files it leaves in lab-results/<scenario>-<time>/ (result.json,
 * counters.csv, throughput.svg).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CounterSampler, ratesByInterface } from './counters.js';
import { DaemonSamples, receivedBytes } from './daemon-samples.js';
import { throughputSvg, type PlotEvent } from './svg-plot.js';
import { formatTargets, type TargetResult } from './targets.js';
import type { LabTopology } from './topology.js';
import { versions } from './peers.js';

/** What a scenario hands back. */
export interface ScenarioResult {
  figures: Record<string, unknown>;
  targets: TargetResult[];
  /** Lines printed after the targets: ratios and other headlines. */
  summary: string[];
}

export class LabRun {
  readonly t0 = Date.now();
  readonly events: PlotEvent[] = [];
  readonly sampler: CounterSampler;
  /** The client mpsshd's own samples, once followed. */
  daemon: DaemonSamples | undefined;
  readonly dir: string;

  constructor(readonly scenario: string, readonly topo: LabTopology, readonly config: Record<string, unknown>, outRoot: string) {
    this.sampler = new CounterSampler(topo.client, 200);
    const stamp = new Date(this.t0).toISOString().replace(/[:.]/g, '-');
    this.dir = path.resolve(outRoot, `${scenario}-${stamp}`);
  }

  /** Follows the client daemon's connection samples (its status API on `socketPath`). */
  followDaemon(socketPath: string): void {
    this.daemon = new DaemonSamples(socketPath);
    this.daemon.start();
  }

  /** Seconds since the run started. */
  now(): number {
    return (Date.now() - this.t0) / 1000;
  }

  /** Notes an event for the plot and the log. */
  mark(label: string): void {
    this.events.push({ t: this.now(), label });
    process.stderr.write(`[${this.now().toFixed(1)}s] ${label}\n`);
  }

  /** Writes result.json, counters.csv and the plot; returns the directory. */
  write(result: ScenarioResult): string {
    fs.mkdirSync(this.dir, { recursive: true });
    const body = {
      scenario: this.scenario,
      date: new Date(this.t0).toISOString(),
      versions: versions(),
      config: this.config,
      figures: result.figures,
      targets: result.targets,
      events: this.events,
    };
    fs.writeFileSync(path.join(this.dir, 'counters.csv'), this.sampler.csv(this.t0));
    // The daemon's samples against the counters, per path: MPTCP payload vs everything on the wire.
    const fromDaemon = receivedBytes(this.daemon?.samples ?? []);
    const first = this.sampler.samples[0];
    const last = this.sampler.samples.at(-1);
    const check: Record<string, { daemonMB: number; countersMB: number; ratio: number | null }> = {};
    for (const p of this.topo.paths) {
      const counters = first && last ? Math.max(0, (last.ifaces[p.ifname]?.rx ?? 0) - (first.ifaces[p.ifname]?.rx ?? 0)) : 0;
      const d = fromDaemon[p.ifname] ?? 0;
      check[p.name] = { daemonMB: Math.round(d / 1e4) / 100, countersMB: Math.round(counters / 1e4) / 100, ratio: counters > 0 ? Math.round((d / counters) * 1000) / 1000 : null };
    }
    (body as Record<string, unknown>).daemonVsCounters = check;
    fs.writeFileSync(path.join(this.dir, 'result.json'), JSON.stringify(body, null, 2) + '\n');
    const name = (ifname: string): string => this.topo.paths.find((p) => p.ifname === ifname)?.name ?? ifname;
    const daemonSamples = this.daemon?.samples ?? [];
    let series;
    let source: string;
    if (daemonSamples.length > 1) {
      // What the dashboard shows: the client daemon's per-interface MPTCP rates.
      source = "the client mpsshd's connection samples (GET /events, connection-rates)";
      const ifaces = this.topo.paths.map((p) => p.ifname).filter((n) => daemonSamples.some((s) => s.interfaces[n] !== undefined));
      series = ifaces.map((n) => ({
        name: `${name(n)} received`,
        points: daemonSamples.map((s) => ({ t: (s.at - this.t0) / 1000, v: (s.interfaces[n]?.recvBps ?? 0) / 1e6 })),
      }));
    } else {
      source = 'interface byte counters (the daemon gave no samples)';
      const rates = ratesByInterface(this.sampler.samples);
      const ifaces = this.topo.paths.map((p) => p.ifname).filter((n) => rates[n]);
      series = ifaces.map((n) => ({ name: `${name(n)} received`, points: (rates[n] ?? []).map((r) => ({ t: (r.at - this.t0) / 1000, v: r.rxMbit })) }));
    }
    fs.writeFileSync(
      path.join(this.dir, 'throughput.svg'),
      throughputSvg({ title: `mpssh lab: ${this.scenario} — client receive rate per path`, yLabel: 'Mbit/s', series, events: this.events }),
    );
    process.stderr.write(`plot from ${source}\n`);
    return this.dir;
  }

  /** The report printed at the end of a run. */
  report(result: ScenarioResult): string {
    return [...result.summary, formatTargets(result.targets), `results: ${path.relative(process.cwd(), this.dir) || this.dir}`].join('\n');
  }
}
