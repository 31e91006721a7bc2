/**
 * Network tests need root and a kernel with MPTCP enabled. Without them they
 * skip with a one-line reason, unless MPSSH_REQUIRE_NETNS=1 (set by CI), where
 * a skip would hide a broken test machine and so fails instead.
 */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

let reason: string | null | undefined;

/** Why network tests cannot run here, or null when they can. */
export function netnsUnavailableReason(): string | null {
  if (reason !== undefined) return reason;
  reason = null;
  if (process.getuid?.() !== 0) {
    reason = 'network tests need root (namespaces, veth, MPTCP endpoints)';
  } else if (!fs.existsSync('/proc/sys/net/mptcp/enabled')) {
    reason = 'kernel has no MPTCP (/proc/sys/net/mptcp/enabled missing)';
  } else if (fs.readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() !== '1') {
    reason = 'MPTCP is disabled (sysctl net.mptcp.enabled=0)';
  } else {
    try {
      execFileSync('ip', ['-V'], { stdio: 'ignore' });
    } catch {
      reason = 'iproute2 (`ip`) is not installed';
    }
  }
  return reason;
}

/** Debian packages of the peers the interop tests run. */
const DEBIAN_PACKAGE: Record<string, string> = {
  '/usr/sbin/sshd': 'openssh-server',
  ssh: 'openssh-client',
  scp: 'openssh-client',
  sftp: 'openssh-client',
  python3: 'python3',
  curl: 'curl',
  'ssh-keyscan': 'openssh-client',
  'dpkg-deb': 'dpkg',
  'dpkg-shlibdeps': 'dpkg-dev',
  lintian: 'lintian',
  'ssh-keygen': 'openssh-client',
  'ssh-agent': 'openssh-client',
  'ssh-add': 'openssh-client',
  tmux: 'tmux',
  '/usr/lib/openssh/sftp-server': 'openssh-sftp-server',
};

function programExists(p: string): boolean {
  if (p.includes('/')) return fs.existsSync(p);
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && fs.existsSync(`${d}/${p}`));
}

/**
 * Returns true when the test may go on; otherwise marks it skipped (and
 * returns false) or, under MPSSH_REQUIRE_NETNS=1, throws.
 */
export function requireNetns(t: TestContext, opts: { programs?: string[] } = {}): boolean {
  const missing = (opts.programs ?? []).find((p) => !programExists(p));
  const why = netnsUnavailableReason() ?? (missing ? `${missing} is not installed (Debian: ${DEBIAN_PACKAGE[missing] ?? missing})` : null);
  return why === null ? true : skipOrFail(t, why);
}

/** For tests that need no namespace but real programs: the name of the first one missing, with its Debian package, or null. */
export function missingProgram(programs: string[]): string | null {
  const missing = programs.find((p) => !programExists(p));
  return missing ? `${missing} is not installed (Debian: ${DEBIAN_PACKAGE[missing] ?? missing})` : null;
}

/** Returns true when every program is there; otherwise skips the test (or fails under MPSSH_REQUIRE_NETNS=1). */
export function requirePrograms(t: TestContext, programs: string[]): boolean {
  const why = missingProgram(programs);
  return why === null ? true : skipOrFail(t, why);
}

/** Skips the test with `why`, or throws under MPSSH_REQUIRE_NETNS=1; returns false. */
export function skipOrFail(t: TestContext, why: string): false {
  if (process.env.MPSSH_REQUIRE_NETNS === '1') {
    throw new Error(`MPSSH_REQUIRE_NETNS=1 but ${why}`);
  }
  t.skip(why);
  return false;
}

/**
 * For a test file whose tests all need namespaces and programs and declare
 * `{ skip }`: the reason to skip them, or false. Under MPSSH_REQUIRE_NETNS=1
 * a reason is an error that fails the whole file instead.
 */
export function fileSkip(opts: { programs?: string[] } = {}): string | false {
  const why = netnsUnavailableReason() ?? missingProgram(opts.programs ?? []);
  if (why === null) return false;
  if (process.env.MPSSH_REQUIRE_NETNS === '1') throw new Error(`MPSSH_REQUIRE_NETNS=1 but ${why}`);
  return why;
}
