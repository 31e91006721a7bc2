/**
 * Facts about a process that /proc gives and nobody can forge from user space.
 */
import fs from 'node:fs';

/**
 * The process's start time (clock ticks after boot, field 22 of
 * /proc/<pid>/stat), or undefined when it is gone. With the pid it names a
 * process for good: a reused pid has another start time.
 */
export function processStartTime(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const stat = fs.readFileSync(`${procRoot}/${pid}/stat`, 'latin1');
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
