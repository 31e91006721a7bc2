/**
 * `npm run bench`: runs every bench/*.bench.js module (or those named on the
 * command line), one after the other so they do not compete for the CPU, and
 * writes their figures to bench-results/<time>.json and bench-results/latest.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VERSION } from '../src/util/version.js';

interface BenchModule {
  bench(): Promise<Record<string, unknown>>;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const dir = __dirname;
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.bench.js'))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort();
  const results: Record<string, unknown> = {};
  for (const f of files) {
    const name = f.replace(/\.bench\.js$/, '');
    process.stderr.write(`bench ${name}...\n`);
    const t0 = Date.now();
    try {
      const mod = (await import(path.join(dir, f))) as BenchModule;
      results[name] = { ...(await mod.bench()), seconds: Math.round((Date.now() - t0) / 100) / 10 };
    } catch (err) {
      results[name] = { error: (err as Error).stack ?? String(err) };
    }
    process.stderr.write(`${JSON.stringify(results[name], null, 2)}\n`);
  }
  const out = {
    version: VERSION,
    date: new Date().toISOString(),
    kernel: os.release(),
    node: process.version,
    cpus: os.cpus().length,
    results,
  };
  const outDir = path.resolve(dir, '../../bench-results');
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = out.date.replace(/[:.]/g, '-');
  const body = JSON.stringify(out, null, 2) + '\n';
  fs.writeFileSync(path.join(outDir, `${stamp}.json`), body);
  fs.writeFileSync(path.join(outDir, 'latest.json'), body);
  process.stderr.write(`written: bench-results/${stamp}.json\n`);
}

void main();
