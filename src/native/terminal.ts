/**
 * Terminal ioctls on a master the user-side helper handed over: the worker
 * holds the master, so a window-change is applied here.
 */
import { addon } from './load.js';

interface TerminalAddon {
  setWindowSize(fd: number, cols: number, rows: number): void;
}

/** TIOCSWINSZ on `fd`; cols and rows 1..65535. Throws with errno/code/syscall. */
export function setWindowSize(fd: number, cols: number, rows: number): void {
  addon<TerminalAddon>().setWindowSize(fd, cols, rows);
}
