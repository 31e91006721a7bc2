/** What every scenario needs: options, the network and its programs, and settling. */
import { ipEndpoints } from '../../tools/topology.js';
import { waitFor } from '../../tools/netns.js';
import type { LabPeers } from '../peers.js';
import type { LabRun } from '../lab-run.js';
import type { LabTopology } from '../topology.js';

/** Command-line options a scenario may use. */
export interface LabOptions {
  paths: number;
  rate: string;
  seconds: number;
  gap: number;
  /** Time compression: kernel timers and ClientAlive divided by this (1: real time). */
  scale: number;
  walkFile: string;
  baselines: boolean;
}

/** What a scenario works with. */
export interface LabContext {
  topo: LabTopology;
  peers: LabPeers;
  run: LabRun;
  opts: LabOptions;
}

/** Waits until the client's path manager has an endpoint for exactly the addresses of the paths that are up. */
export async function waitEndpoints(topo: LabTopology, timeoutMs = 10_000): Promise<void> {
  const want = topo.paths.filter((p) => p.up && p.address).map((p) => p.address as string).sort();
  await waitFor(`client endpoints for ${want.join(', ') || 'no address'}`, () => {
    const have = ipEndpoints(topo.client).map((e) => e.address).sort();
    return have.length === want.length && have.every((a, i) => a === want[i]);
  }, timeoutMs, 50);
}

/** ClientAliveInterval of both mpsshd under time compression `scale` (60 s at scale 1). */
export function clientAliveInterval(scale: number): number {
  return Math.max(1, Math.round(60 / scale));
}

/** net.ipv4.tcp_rto_max_ms under time compression `scale`, or null at scale 1 (the kernel's 120 s). */
export function rtoMaxMs(scale: number): number | null {
  return scale === 1 ? null : Math.max(1000, Math.round(120_000 / scale));
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A remote command printing 1, 2, 3... every 100 ms, `count` lines or for ever. */
export function tickerCommand(count?: number): string {
  return count === undefined
    ? 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done'
    : `i=0; while [ $i -lt ${count} ]; do i=$((i+1)); echo $i; sleep 0.1; done`;
}

/** Round to one decimal. */
export function r1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Round to two decimals (ratios). */
export function r2(n: number): number {
  return Math.round(n * 100) / 100;
}
