/** Small statistics helpers for benchmarks. */

/** The q-quantile (0..1) of `values` by nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx] as number;
}

/** p50, p99 and max, rounded to 0.01. */
export function summary(values: readonly number[]): { n: number; p50: number; p99: number; max: number } {
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: values.length, p50: r(quantile(values, 0.5)), p99: r(quantile(values, 0.99)), max: r(Math.max(...values)) };
}
