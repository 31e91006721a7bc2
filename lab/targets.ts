/** The lab's targets: reported as PASS or MISS, never asserted. */

/** One target and how a run did against it. */
export interface TargetResult {
  name: string;
  value: number | boolean | null;
  bound: string;
  pass: boolean;
}

/** `value` must be at least `min` (null: not measured, a MISS). */
export function atLeast(name: string, value: number | null, min: number, unit = ''): TargetResult {
  return { name, value, bound: `>= ${min}${unit}`, pass: value !== null && Number.isFinite(value) && value >= min };
}

/** `value` must be at most `max` (null: never happened, a MISS). */
export function atMost(name: string, value: number | null, max: number, unit = ''): TargetResult {
  return { name, value, bound: `<= ${max}${unit}`, pass: value !== null && Number.isFinite(value) && value <= max };
}

/** `value` must be true. */
export function holds(name: string, value: boolean | null): TargetResult {
  return { name, value, bound: 'true', pass: value === true };
}

/** One line per target: "PASS name: value (bound)". */
export function formatTargets(targets: TargetResult[]): string {
  return targets.map((t) => `${t.pass ? 'PASS' : 'MISS'} ${t.name}: ${t.value === null ? 'n/a' : String(t.value)} (${t.bound})`).join('\n');
}
