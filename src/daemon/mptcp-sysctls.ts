/**
 * The per-namespace MPTCP sysctls the path manager owns besides the limits.
 * Today one: net.mptcp.close_timeout, how long a connection whose last
 * subflow is gone waits for a new one (Documentation/networking/
 * mptcp-sysctl.rst). Linux 6.18 offers no per-socket equivalent: an MPTCP
 * socket refuses TCP_USER_TIMEOUT with ENOPROTOOPT and nothing else changes
 * the close timeout, so the namespace-wide value is the only lever.
 */
import fs from 'node:fs';
import { inNetns } from '../native/netns.js';

/** Reads and writes the sysctls of one network namespace. */
export interface MptcpSysctls {
  /** net.mptcp.close_timeout in seconds; null when the kernel has none (before Linux 6.5). */
  readCloseTimeout(): number | null;
  /** Sets net.mptcp.close_timeout; throws with the errno code (EINVAL above the kernel's range, EACCES without CAP_NET_ADMIN). */
  writeCloseTimeout(seconds: number): void;
}

const CLOSE_TIMEOUT = '/proc/sys/net/mptcp/close_timeout';

/**
 * The sysctls of the caller's namespace, or of `netns` (a path or `ip netns`
 * name): /proc/sys/net shows the namespace of the thread that opens it, so
 * each access briefly enters it.
 */
export function procMptcpSysctls(opts: { netns?: string } = {}): MptcpSysctls {
  const within = <T>(fn: () => T): T => (opts.netns === undefined ? fn() : inNetns(opts.netns, fn));
  return {
    readCloseTimeout() {
      try {
        const n = Number(within(() => fs.readFileSync(CLOSE_TIMEOUT, 'utf8')).trim());
        return Number.isInteger(n) ? n : null;
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') return null;
        throw err;
      }
    },
    writeCloseTimeout(seconds: number) {
      within(() => fs.writeFileSync(CLOSE_TIMEOUT, `${seconds}\n`));
    },
  };
}
