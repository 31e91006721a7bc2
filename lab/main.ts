/**
 * `npm run lab -- SCENARIO [options]` (as root): builds the lab network in
 * throwaway namespaces, runs the scenario, prints PASS/MISS per target and
 * writes lab-results/<scenario>-<time>/. The namespaces are removed at the
 * end, on an error, and on Ctrl-C or SIGTERM.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { netnsUnavailableReason } from '../tools/require-netns.js';
import { abortRun, DEFAULT_PATHS, runLab, SCENARIOS, type Scenario } from './lab.js';

const USAGE = `usage: npm run lab -- ${SCENARIOS.join('|')} [options]
  --paths N        paths in the topology (aggregate 3, handover 2, blackout 1)
  --rate R         rate cap per path and direction, tc units (default 100mbit)
  --seconds S      length of each bulk transfer (default 6)
  --gap S          blackout: seconds without any path (default 120)
  --scale N        compress time N-fold: ClientAliveInterval 60/N s on both
                   mpsshd (so the close timeout they set shrinks with it) and
                   net.ipv4.tcp_rto_max_ms 120000/N (at least 1000) in the
                   client and server namespaces, which shortens tcp_retries2
                   (default 1: the real timers)
  --walk FILE      walk: the timeline (default lab/walk.yaml)
  --no-baselines   mpssh only: no OpenSSH sshd, mptcpize or iperf3 runs
  --out DIR        where results go (default lab-results)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      paths: { type: 'string' },
      rate: { type: 'string', default: '100mbit' },
      seconds: { type: 'string', default: '6' },
      gap: { type: 'string', default: '120' },
      scale: { type: 'string', default: '1' },
      walk: { type: 'string', default: path.resolve(__dirname, '../../lab/walk.yaml') },
      'no-baselines': { type: 'boolean', default: false },
      out: { type: 'string', default: 'lab-results' },
      subnet: { type: 'string', default: '60' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const scenario = positionals[0] as Scenario | undefined;
  if (values.help || !scenario || !SCENARIOS.includes(scenario)) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const unavailable = netnsUnavailableReason();
  if (unavailable) {
    process.stderr.write(`lab: ${unavailable}\n`);
    return 1;
  }
  const num = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}`);
    return n;
  };
  const opts = {
    paths: num('paths', values.paths ?? String(DEFAULT_PATHS[scenario] || 1), 1),
    rate: values.rate,
    seconds: num('seconds', values.seconds, 1),
    gap: num('gap', values.gap, 0),
    scale: num('scale', values.scale, 1),
    walkFile: values.walk,
    baselines: !values['no-baselines'],
  };
  const { report } = await runLab(scenario, opts, { subnet: num('subnet', values.subnet, 1), outRoot: values.out });
  process.stdout.write(`${report}\n`);
  return 0;
}

for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(sig, () => {
    process.stderr.write(`lab: ${sig}, removing the lab network\n`);
    void abortRun().finally(() => process.exit(code));
  });
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`lab: ${err instanceof Error ? err.message : String(err)}\n`);
    await abortRun();
    process.exit(1);
  },
);
