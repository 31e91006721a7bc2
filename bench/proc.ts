/** What the benchmarks read of processes in /proc: process trees and memory. */
import fs from 'node:fs';

/** Direct children of `pid` (none once it is gone). */
export function children(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every descendant of `pid`, each before its own children. */
export function descendants(pid: number): number[] {
  return children(pid).flatMap((k) => [k, ...descendants(k)]);
}

/** RSS and PSS (KiB) from /proc/PID/smaps_rollup; throws when the process is gone. */
export function memoryKiB(pid: number): { rss: number; pss: number } {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rss: kb('Rss'), pss: kb('Pss') };
}

/** PSS (KiB) of `pid`, 0 when it went away meanwhile. */
export function pssKiBIfAlive(pid: number): number {
  try {
    return memoryKiB(pid).pss;
  } catch {
    return 0;
  }
}
