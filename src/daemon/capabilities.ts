/**
 * Whether this process may change MPTCP endpoints: the kernel requires
 * CAP_NET_ADMIN (GENL_ADMIN_PERM on the mptcp_pm operations), which root has
 * unless a container or systemd took it away.
 */
import fs from 'node:fs';

/** CAP_NET_ADMIN's bit number (include/uapi/linux/capability.h). */
const CAP_NET_ADMIN = 12n;

/** True when the effective capability set holds CAP_NET_ADMIN. */
export function hasNetAdmin(statusText = readStatus()): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(statusText);
  if (!m) return process.getuid?.() === 0;
  return ((BigInt(`0x${m[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

function readStatus(): string {
  try {
    return fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}
