/**
 * One lab run: its clock, its event log, the client's byte counters and the
 * files it leaves in lab-results/<scenario>-<time>/ (result.json,
 * counters.csv, throughput.svg).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CounterSampler, ratesByInterface } from './counters.js';
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
  readonly dir: string;

  constructor(readonly scenario: string, readonly topo: LabTopology, readonly config: Record<string, unknown>, outRoot: string) {
    this.sampler = new CounterSampler(topo.client, 200);
    const stamp = new Date(this.t0).toISOString().replace(/[:.]/g, '-');
    this.dir = path.resolve(outRoot, `${scenario}-${stamp}`);
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
    fs.writeFileSync(path.join(this.dir, 'result.json'), JSON.stringify(body, null, 2) + '\n');
    fs.writeFileSync(path.join(this.dir, 'counters.csv'), this.sampler.csv(this.t0));
    const rates = ratesByInterface(this.sampler.samples);
    const ifaces = this.topo.paths.map((p) => p.ifname).filter((n) => rates[n]);
    const series = ifaces.map((n) => ({
      name: `${n} received`,
      points: (rates[n] ?? []).map((r) => ({ t: (r.at - this.t0) / 1000, v: r.rxMbit })),
    }));
    fs.writeFileSync(
      path.join(this.dir, 'throughput.svg'),
      throughputSvg({ title: `mpssh lab: ${this.scenario} — client receive rate per interface`, yLabel: 'Mbit/s', series, events: this.events }),
    );
    return this.dir;
  }

  /** The report printed at the end of a run. */
  report(result: ScenarioResult): string {
    return [...result.summary, formatTargets(result.targets), `results: ${path.relative(process.cwd(), this.dir) || this.dir}`].join('\n');
  }
}
