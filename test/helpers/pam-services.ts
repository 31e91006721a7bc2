/**
 * Throwaway PAM services for login tests: files under /etc/pam.d named for
 * this test run, written with the stacks a test needs and removed after it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface PamServices {
  /** The service name of `kind` (what PAMServiceName takes). */
  name(kind: string): string;
  /** Writes the stack of `kind`, one PAM line per element. */
  write(kind: string, lines: string[]): void;
  /** Removes every service written. */
  removeAll(): void;
}

export function pamServices(): PamServices {
  const tag = crypto.randomBytes(3).toString('hex');
  const written = new Set<string>();
  const name = (kind: string) => `mpsshd-test-${tag}-${kind}`;
  return {
    name,
    write(kind, lines) {
      fs.writeFileSync(path.join('/etc/pam.d', name(kind)), `# mpsshd test service, removed by the test\n${lines.join('\n')}\n`);
      written.add(kind);
    },
    removeAll() {
      for (const kind of written) fs.rmSync(path.join('/etc/pam.d', name(kind)), { force: true });
      written.clear();
    },
  };
}
