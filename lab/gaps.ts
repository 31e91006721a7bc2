/** Figures from time-stamped output: gaps, sequence checks, time to the first output after an event. */

/** The largest interval between consecutive times (0 for fewer than two). */
export function largestGap(times: number[]): number {
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, (times[i] as number) - (times[i - 1] as number));
  return gap;
}

/** The largest interval between consecutive times that ends after `from` (the gap an event caused). */
export function largestGapAfter(times: number[], from: number): number {
  let gap = 0;
  for (let i = 1; i < times.length; i++) {
    if ((times[i] as number) > from) gap = Math.max(gap, (times[i] as number) - (times[i - 1] as number));
  }
  return gap;
}

/** Milliseconds from `at` to the first time after it, or null when nothing came. */
export function firstAfter(times: number[], at: number): number | null {
  const t = times.find((x) => x > at);
  return t === undefined ? null : t - at;
}

/** True when the lines are the numbers 1..n in order with none missing or doubled. */
export function consecutiveFromOne(lines: string[]): boolean {
  return lines.every((l, i) => l.trim() === String(i + 1));
}
