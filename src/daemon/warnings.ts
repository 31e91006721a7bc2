/**
 * Conditions worth a sysadmin's attention that last over several passes
 * (another manager touching endpoints, addresses left out by the kernel's
 * endpoint cap, ...). Each is logged once when it starts and once when it
 * ends, instead of on every pass.
 */
import type { Logger } from '../util/logger.js';
import type { Warning } from '../status/path-manager.js';
export type { Warning };

/** The set of standing warnings, keyed by a stable code. */
export class Warnings {
  private readonly active = new Map<string, Warning>();

  constructor(private readonly log: Logger) {}

  /** Raises (or updates the text of) a warning; logs only when it is new or its text changed. */
  set(code: string, message: string): void {
    const cur = this.active.get(code);
    if (cur?.message === message) return;
    this.active.set(code, { code, message, since: cur?.since ?? Date.now() });
    this.log.warn({ warning: code }, message);
  }

  /** Ends a warning, logging that it ended. */
  clear(code: string): void {
    if (this.active.delete(code)) this.log.info({ warning: code }, `resolved: ${code}`);
  }

  /** Ends every warning whose code starts with `prefix` and is not in `keep`. */
  clearMissing(prefix: string, keep: ReadonlySet<string>): void {
    for (const code of [...this.active.keys()]) if (code.startsWith(prefix) && !keep.has(code)) this.clear(code);
  }

  list(): Warning[] {
    return [...this.active.values()];
  }
}
