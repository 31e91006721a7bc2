/**
 * Every process the lab starts in its namespaces, so that an interrupted run
 * ends them: a process outlives `ip netns del`, and an ssh client whose
 * network vanished would wait for ever.
 */
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
