/**
 * The fuzz loop: every seed once as is, then seeds with 1-4 stacked
 * mutations until the iteration or time budget is spent; and the replay of
 * inputs that once crashed a target (test/fuzz/corpus/<target>/).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeRng, mutate } from './mutate.js';
import { REPO_ROOT, type Target } from './targets.js';

/** An input that made a target throw. */
export interface Crash {
  input: Buffer;
  /** The error's stack (or text). */
  error: string;
}

export interface FuzzResult {
  /** Inputs run, seeds included. */
  iterations: number;
  /** Distinct crashes (one input per error kind and place). */
  crashes: Crash[];
}

export interface FuzzOptions {
  /** Stop after this many inputs. */
  iterations?: number;
  /** Stop after this many seconds. */
  seconds?: number;
  seed: number;
  /** Stop after this many distinct crashes (default 10): one bug tends to be hit again and again. */
  maxCrashes?: number;
}

/** Directory of a target's saved crashing inputs. */
export function corpusDir(target: Target): string {
  return path.join(REPO_ROOT, 'test/fuzz/corpus', target.name);
}

/** Describes an error for a report. */
function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : `non-Error thrown: ${String(err)}`;
}

/**
 * What makes two crashes the same bug: the error line and the innermost
 * frame. Messages often quote input bytes, so only their first 80 characters count.
 */
function signature(error: string): string {
  const [head = '', ...rest] = error.split('\n');
  const frame = rest.find((l) => l.trim().startsWith('at ')) ?? '';
  return `${head.slice(0, 80)}|${frame.trim()}`;
}

/** Runs one input; the error text if it crashed the target. */
async function runOne(target: Target, input: Buffer): Promise<string | undefined> {
  try {
    const r = target.run(input);
    // Sync targets stay sync: an await per input would cost a microtask turn each.
    if (r instanceof Promise) await r;
    return undefined;
  } catch (err) {
    return describe(err);
  }
}

/** Collects crashes, one per signature. */
class CrashLog {
  readonly crashes: Crash[] = [];
  private readonly seen = new Set<string>();
  add(input: Buffer, error: string): void {
    const sig = signature(error);
    if (this.seen.has(sig)) return;
    this.seen.add(sig);
    this.crashes.push({ input: Buffer.from(input), error });
  }
}

/** Fuzzes a target within the given budget (1000 inputs when neither bound is given). */
export async function runTarget(target: Target, opts: FuzzOptions): Promise<FuzzResult> {
  const rng = makeRng(opts.seed);
  const seeds = target.seeds();
  const log = new CrashLog();
  const maxCrashes = opts.maxCrashes ?? 10;
  const maxIterations = opts.iterations ?? (opts.seconds === undefined ? 1000 : Infinity);
  const deadline = opts.seconds === undefined ? Infinity : performance.now() + opts.seconds * 1000;
  const mutator = target.mutate?.bind(target) ?? mutate;
  let iterations = 0;
  const more = () => iterations < maxIterations && performance.now() < deadline && log.crashes.length < maxCrashes;

  for (const seed of seeds) {
    if (!more()) break;
    iterations++;
    const error = await runOne(target, seed);
    if (error !== undefined) log.add(seed, error);
  }
  if (seeds.length === 0) return { iterations, crashes: log.crashes };
  while (more()) {
    let input = rng.pick(seeds);
    for (let n = 1 + rng.below(4); n > 0; n--) input = mutator(input, rng, seeds);
    iterations++;
    const error = await runOne(target, input);
    if (error !== undefined) log.add(input, error);
  }
  return { iterations, crashes: log.crashes };
}

/** Runs every saved input of the target's corpus directory (none when it does not exist). */
export async function replayCorpus(target: Target): Promise<FuzzResult> {
  const dir = corpusDir(target);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { iterations: 0, crashes: [] };
    throw err;
  }
  const crashes: Crash[] = [];
  for (const name of names) {
    const input = fs.readFileSync(path.join(dir, name));
    const error = await runOne(target, input);
    if (error !== undefined) crashes.push({ input, error: `${name}: ${error}` });
  }
  return { iterations: names.length, crashes };
}

/** Saves a crashing input as corpus/<target>/<sha1>.bin; returns its path. */
export function saveCrash(target: Target, input: Buffer): string {
  const dir = corpusDir(target);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${createHash('sha1').update(input).digest('hex')}.bin`);
  fs.writeFileSync(file, input);
  return file;
}

/** An input as hex for a report, cut to `max` bytes. */
export function hexPreview(input: Buffer, max = 200): string {
  const hex = input.subarray(0, max).toString('hex');
  return input.length > max ? `${hex}… (${input.length} bytes)` : hex;
}
