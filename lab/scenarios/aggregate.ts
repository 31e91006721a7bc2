/**
 * aggregate: a bulk download (`head -c N /dev/zero` on the server) over 1, 2,
 * ... equal paths, by every client the lab has, and iperf3 over MPTCP on the
 * same paths as the transport's ceiling.
 */
import { spawnSync } from 'node:child_process';
import { atLeast, type TargetResult } from '../targets.js';
import { haveProgram, startStream, type Stream } from '../peers.js';
import { mbit, parseRate } from '../rate.js';
import { track } from '../children.js';
import type { ScenarioResult } from '../lab-run.js';
import { r2, sleep, waitEndpoints, type LabContext } from './common.js';

/** Bits per second of a transfer after its first `skipMs` (slow start and joins), from its output chunks. */
export function steadyRate(chunks: { at: number; bytes: number }[], skipMs = 1000): number | null {
  const first = chunks[0];
  const last = chunks[chunks.length - 1];
  if (!first || !last || last.at <= first.at) return null;
  const from = last.at - first.at > 2 * skipMs ? (chunks.find((c) => c.at >= first.at + skipMs) ?? first) : first;
  return last.at > from.at ? ((last.bytes - from.bytes) * 8 * 1000) / (last.at - from.at) : null;
}

/** How to run iperf3 over MPTCP here: its own `-m` (3.16+), through mptcpize, or not at all. */
export function iperf3Mptcp(help: string, mptcpize: boolean): { server: string[]; client: string[] } | null {
  if (mptcpize) return { server: ['mptcpize', 'run', 'iperf3'], client: ['mptcpize', 'run', 'iperf3'] };
  if (/--mptcp/.test(help)) return { server: ['iperf3', '-m'], client: ['iperf3', '-m'] };
  return null;
}

function iperfHelp(): string {
  if (!haveProgram('iperf3')) return '';
  const r = spawnSync('iperf3', ['--help'], { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

async function transfer(ctx: LabContext, argv: string[], bytes: number): Promise<{ mbit: number | null; ok: boolean; error?: string }> {
  const s: Stream = startStream(ctx.topo.client, argv);
  const timer = setTimeout(() => s.stop(), Math.max(60_000, ctx.opts.seconds * 10_000));
  const done = await s.done;
  clearTimeout(timer);
  const rate = steadyRate(s.chunks);
  const ok = done.code === 0 && s.bytes === bytes;
  return { mbit: rate === null ? null : mbit(rate), ok, ...(ok ? {} : { error: `exit ${done.code ?? done.signal}, ${s.bytes}/${bytes} bytes: ${done.stderr.slice(0, 300)}` }) };
}

async function iperf(ctx: LabContext, client: string[]): Promise<number | null> {
  const s = startStream(ctx.topo.client, [...client, '-c', ctx.topo.serviceAddress, '-p', '5201', '-R', '-t', String(ctx.opts.seconds), '-O', '1', '-J']);
  const chunks: Buffer[] = [];
  s.child.stdout?.on('data', (b: Buffer) => chunks.push(b));
  const done = await s.done;
  try {
    const j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
    const bps = j.end?.sum_received?.bits_per_second;
    if (bps === undefined) process.stderr.write(`iperf3: ${j.error ?? done.stderr}\n`);
    return bps === undefined ? null : mbit(bps);
  } catch {
    process.stderr.write(`iperf3: exit ${done.code}: ${done.stderr.slice(0, 200)}\n`);
    return null;
  }
}

/** Runs the scenario on a topology of `opts.paths` paths, all at `opts.rate`. */
export async function aggregate(ctx: LabContext): Promise<ScenarioResult> {
  const { topo, run, opts } = ctx;
  const ip = opts.baselines ? iperf3Mptcp(iperfHelp(), haveProgram('mptcpize')) : null;
  const iperfServer = ip ? track(topo.server.spawn(ip.server[0] as string, [...ip.server.slice(1), '-s', '-p', '5201'], { stdio: 'ignore' })) : null;
  const rows: Record<string, unknown>[] = [];
  const byClient: Record<string, (number | null)[]> = {};
  const ceiling: (number | null)[] = [];
  try {
    for (let k = 1; k <= opts.paths; k++) {
      for (const p of topo.paths) {
        if (p.index < k && !p.up) topo.pathUp(p.index);
        if (p.index >= k && p.up) topo.pathDown(p.index);
      }
      await waitEndpoints(topo);
      await sleep(300);
      const bytes = Math.round(((k * parseRate(opts.rate)) / 8) * opts.seconds);
      for (const c of ctx.peers.clients) {
        run.mark(`${k} path${k > 1 ? 's' : ''}: ${c.name}`);
        const r = await transfer(ctx, c.argv(`head -c ${bytes} /dev/zero`), bytes);
        (byClient[c.name] ??= [])[k - 1] = r.ok ? r.mbit : null;
        rows.push({ paths: k, client: c.name, bytes, mbit: r.mbit, ok: r.ok, ...(r.error ? { error: r.error } : {}) });
        process.stderr.write(`  ${c.name}: ${r.mbit ?? '-'} Mbit/s${r.ok ? '' : ` (${r.error})`}\n`);
        await sleep(300);
      }
      if (ip) {
        run.mark(`${k} path${k > 1 ? 's' : ''}: iperf3 MPTCP`);
        const v = await iperf(ctx, ip.client);
        ceiling[k - 1] = v;
        rows.push({ paths: k, client: 'iperf3-mptcp', mbit: v, ok: v !== null });
        process.stderr.write(`  iperf3 MPTCP: ${v ?? '-'} Mbit/s\n`);
        await sleep(300);
      }
    }
  } finally {
    iperfServer?.kill('SIGKILL');
  }
  const mp = byClient.mpssh ?? [];
  const one = mp[0] ?? null;
  const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a && b ? r2(a / b) : null);
  const figures: Record<string, unknown> = { rateCap: opts.rate, seconds: opts.seconds, transfers: rows, ratios: {} as Record<string, unknown> };
  const ratios = figures.ratios as Record<string, unknown>;
  const summary: string[] = ['paths  ' + ['mpssh', ...Object.keys(byClient).filter((n) => n !== 'mpssh'), ...(ip ? ['iperf3-mptcp'] : [])].map((n) => n.padStart(14)).join('') + '   Mbit/s'];
  const targets: TargetResult[] = [];
  for (let k = 1; k <= opts.paths; k++) {
    const cells = [mp[k - 1], ...Object.entries(byClient).filter(([n]) => n !== 'mpssh').map(([, v]) => v[k - 1]), ...(ip ? [ceiling[k - 1]] : [])];
    summary.push(`${String(k).padStart(5)}  ${cells.map((v) => String(v ?? '-').padStart(14)).join('')}`);
    const kr: Record<string, number | null> = { toOnePath: ratio(mp[k - 1], one), toIperf3Mptcp: ratio(mp[k - 1], ceiling[k - 1]) };
    for (const [n, v] of Object.entries(byClient)) if (n !== 'mpssh') kr[`to_${n}`] = ratio(mp[k - 1], v[k - 1]);
    ratios[`${k}`] = kr;
    summary.push(`       mpssh ratios: ${Object.entries(kr).map(([n, v]) => `${n} ${v ?? '-'}`).join(', ')}`);
    if (k === 2) targets.push(atLeast('aggregate 2 paths / 1 path', kr.toOnePath ?? null, 1.9, 'x'));
    if (k === 3) targets.push(atLeast('aggregate 3 paths / 1 path', kr.toOnePath ?? null, 2.8, 'x'));
    if (ip) targets.push(atLeast(`aggregate ${k} path${k > 1 ? 's' : ''}: mpssh / iperf3 MPTCP`, kr.toIperf3Mptcp ?? null, 0.97, 'x'));
  }
  return { figures, targets, summary };
}
