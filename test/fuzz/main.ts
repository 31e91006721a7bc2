/**
 * `node dist/test/fuzz/main.js [--seconds N] [--seed S] [target...]`:
 * fuzzes each target (all by default) for N seconds (default 60), prints
 * one line per target, saves crashing inputs under test/fuzz/corpus/ in the
 * source tree and exits 1 if anything crashed.
 */
import { hexPreview, runTarget, saveCrash } from './run.js';
import { TARGETS, type Target } from './targets.js';

interface Args {
  seconds: number;
  seed: number;
  targets: Target[];
}

/** Parses the command line; throws a usage error. */
function parseArgs(argv: readonly string[]): Args {
  const args: Args = { seconds: 60, seed: Date.now() >>> 0, targets: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--seconds' || a === '--seed') {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a non-negative number`);
      if (a === '--seconds') args.seconds = v;
      else args.seed = v >>> 0;
    } else {
      const t = TARGETS.find((x) => x.name === a);
      if (!t) throw new Error(`unknown target "${a}"; targets: ${TARGETS.map((x) => x.name).join(', ')}`);
      args.targets.push(t);
    }
  }
  if (args.targets.length === 0) args.targets = [...TARGETS];
  return args;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`usage: main.js [--seconds N] [--seed S] [target...]\n${(err as Error).message}`);
    return 2;
  }
  console.log(`seed ${args.seed}`);
  let crashed = false;
  for (const target of args.targets) {
    const r = await runTarget(target, { seconds: args.seconds, seed: args.seed });
    console.log(`${target.name}: ${r.iterations} inputs, ${r.crashes.length} crashes`);
    for (const c of r.crashes) {
      crashed = true;
      console.log(`  saved ${saveCrash(target, c.input)}\n  input ${hexPreview(c.input)}\n  ${c.error.split('\n').join('\n  ')}`);
    }
  }
  return crashed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
