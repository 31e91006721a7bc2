/**
 * Descriptor hygiene: what the daemon inherited from whoever started it, and
 * what a library opened without close-on-exec, must never reach a user's
 * program. Node.js and libuv open every descriptor close-on-exec, so one
 * without the flag is foreign by construction.
 */
import { addon } from './load.js';

interface FdsAddon {
  closeInheritedFds(minFd: number, keep?: number[]): number[];
  cloexecFrom(minFd: number): number;
  devNullStdio(fd?: number): void;
  replaceFd(from: number, to: number): void;
}

/**
 * Closes every descriptor from 3 up that is not close-on-exec (inherited),
 * except `keep`, which are made close-on-exec. Returns the closed numbers.
 * Call first thing in a process's life.
 */
export function closeInheritedFds(keep: readonly number[] = []): number[] {
  return addon<FdsAddon>().closeInheritedFds(3, [...keep]);
}

/** Marks every descriptor from 3 up close-on-exec; call right before starting a program. */
export function cloexecAll(): number {
  return addon<FdsAddon>().cloexecFrom(3);
}

/**
 * Points standard output and error at /dev/null: a worker that its user
 * took over must not write into the daemon's log stream (its lines go
 * through the daemon instead). `devNullFd`: /dev/null opened before the
 * process was confined; it is consumed.
 */
export function silenceStdio(devNullFd?: number): void {
  if (devNullFd === undefined) addon<FdsAddon>().devNullStdio();
  else addon<FdsAddon>().devNullStdio(devNullFd);
}

/** Puts descriptor `from` in place of `to` (close-on-exec) and closes `from`. */
export function replaceFd(from: number, to: number): void {
  addon<FdsAddon>().replaceFd(from, to);
}
