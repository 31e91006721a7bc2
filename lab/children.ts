/**
 * Every process the lab starts in its namespaces, so that an interrupted run
 * ends them: a process outlives `ip netns del`, and an ssh client whose
 * network vanished would wait for ever.
 */
import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

/** Remembers `child` until it exits; returns it. */
export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Kills every tracked process that is still running. */
export function killTracked(): void {
  for (const c of live) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  live.clear();
}

/** Pids of every descendant of `pid`, read from /proc (children before their parents are reparented). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // The command name is in parentheses and may contain spaces: the ppid follows the last ")".
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [c, pp] of parent) if (pp === p) (out.push(c), walk(c));
  };
  walk(pid);
  return out;
}

/**
 * Kills the processes below `pid`: sshd's per-connection processes outlive
 * the listener, and one whose client vanished with its network would keep
 * its session's commands running.
 */
export function killDescendants(pid: number | undefined): void {
  if (!pid) return;
  for (const p of descendants(pid)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
