/**
 * Byte-level mutations for the fuzz harness: a seeded PRNG, so a run is
 * reproducible from its seed, and the classic blind mutations (bit flips,
 * interesting values, inserts, deletes, duplicates, splices, length-like
 * integers). There is no coverage feedback; the seeds carry the structure.
 */

/** A seeded pseudo-random source. */
export interface Rng {
  /** A uniform 32-bit unsigned integer. */
  u32(): number;
  /** A uniform integer in [0, n); 0 when n <= 0. */
  below(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T;
  /** n random bytes. */
  bytes(n: number): Buffer;
}

/** Creates a mulberry32 generator: tiny, fast and good enough to pick mutations. */
export function makeRng(seed: number): Rng {
  let state = seed >>> 0;
  const u32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const below = (n: number): number => (n <= 0 ? 0 : Math.floor((u32() / 0x1_0000_0000) * n));
  return {
    u32,
    below,
    chance: (p) => u32() / 0x1_0000_0000 < p,
    pick: <T>(list: readonly T[]): T => {
      if (list.length === 0) throw new Error('pick from an empty list');
      return list[below(list.length)] as T;
    },
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = u32() & 0xff;
      return b;
    },
  };
}

/** Longest input a mutation produces: parsers should refuse long input cheaply, and the harness must stay fast. */
export const MAX_INPUT = 64 * 1024;

/** Byte values that sit on signedness and range boundaries. */
const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80] as const;

type Mutation = (input: Buffer, rng: Rng, others: readonly Buffer[]) => Buffer;

/** A random [start, end) range of at most `max` bytes inside a buffer of `len` bytes (len > 0). */
function range(len: number, rng: Rng, max = len): [number, number] {
  const start = rng.below(len);
  const n = 1 + rng.below(Math.min(max, len - start));
  return [start, start + n];
}

function insertAt(input: Buffer, at: number, bytes: Buffer): Buffer {
  return Buffer.concat([input.subarray(0, at), bytes, input.subarray(at)]);
}

const flipBit: Mutation = (input, rng) => {
  const out = Buffer.from(input);
  const i = rng.below(out.length);
  out[i] = (out[i] as number) ^ (1 << rng.below(8));
  return out;
};

const interestingByte: Mutation = (input, rng) => {
  const out = Buffer.from(input);
  out[rng.below(out.length)] = rng.pick(INTERESTING_BYTES);
  return out;
};

const insertRandom: Mutation = (input, rng) => insertAt(input, rng.below(input.length + 1), rng.bytes(1 + rng.below(16)));

// Small ranges most of the time: deleting half a message mostly tests the first length check.
const deleteRange: Mutation = (input, rng) => {
  const [a, b] = range(input.length, rng, rng.chance(0.8) ? 16 : input.length);
  return Buffer.concat([input.subarray(0, a), input.subarray(b)]);
};

const duplicateRange: Mutation = (input, rng) => {
  const [a, b] = range(input.length, rng, rng.chance(0.8) ? 32 : input.length);
  return insertAt(input, rng.below(input.length + 1), input.subarray(a, b));
};

// Either our head with another seed's tail, or a piece of another seed dropped in.
const splice: Mutation = (input, rng, others) => {
  const other = others.length > 0 ? rng.pick(others) : input;
  if (other.length === 0) return input;
  if (rng.chance(0.5)) return Buffer.concat([input.subarray(0, rng.below(input.length + 1)), other.subarray(rng.below(other.length))]);
  const [a, b] = range(other.length, rng, 64);
  return insertAt(input, rng.below(input.length + 1), other.subarray(a, b));
};

// Length and count fields are where parsers go wrong, so write values a length could take.
const interestingInt: Mutation = (input, rng) => {
  const width = rng.chance(0.5) ? 2 : 4;
  if (input.length < width) return insertRandom(input, rng, []);
  const values = [0, 1, 0xffff, 0x7fffffff, 0xffffffff, input.length, input.length + 1];
  const mask = width === 2 ? 0xffff : 0xffffffff;
  const v = (rng.pick(values) & mask) >>> 0;
  const out = Buffer.from(input);
  const at = rng.below(input.length - width + 1);
  const be = rng.chance(0.5);
  if (width === 2) {
    if (be) out.writeUInt16BE(v, at);
    else out.writeUInt16LE(v, at);
  } else if (be) out.writeUInt32BE(v, at);
  else out.writeUInt32LE(v, at);
  return out;
};

const MUTATIONS: readonly Mutation[] = [flipBit, interestingByte, insertRandom, deleteRange, duplicateRange, splice, interestingInt];

/** Applies one random mutation to a copy of `input`; `others` are splice partners. Output is at most MAX_INPUT bytes. */
export function mutate(input: Buffer, rng: Rng, others: readonly Buffer[]): Buffer {
  // An empty input can only grow.
  const m = input.length === 0 ? rng.pick([insertRandom, splice]) : rng.pick(MUTATIONS);
  const out = m(input, rng, others);
  return out.length > MAX_INPUT ? out.subarray(0, MAX_INPUT) : out;
}
