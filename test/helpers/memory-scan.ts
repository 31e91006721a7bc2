/**
 * Looking for secrets in another process's memory, as an attacker with
 * ptrace rights would: every readable mapping of /proc/PID/mem searched for
 * given byte strings. Only root (or the process's owner while it is
 * dumpable) can do this; the tests run it as root to prove a negative.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

/** The byte strings that give a private key away: its JWK secret fields, raw. */
export function keySecrets(pemOrOpenssh: string): Buffer[] {
  const key = crypto.createPrivateKey(opensshToPem(pemOrOpenssh));
  const jwk = key.export({ format: 'jwk' }) as Record<string, string | undefined>;
  return ['d', 'p', 'q'].flatMap((f) => (jwk[f] ? [Buffer.from(jwk[f] as string, 'base64url')] : []));
}

function opensshToPem(text: string): string {
  if (!text.includes('OPENSSH PRIVATE KEY')) return text;
  const ssh2 = require('ssh2') as typeof import('ssh2');
  const parsed = ssh2.utils.parseKey(text);
  const k = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!k || k instanceof Error) throw new Error('cannot parse the key');
  return k.getPrivatePEM();
}

/** Which of `needles` occur in the readable memory of `pid` (indexes into needles). */
export function findInMemory(pid: number, needles: readonly Buffer[]): number[] {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  const found = new Set<number>();
  const overlap = Math.max(...needles.map((n) => n.length));
  try {
    for (const line of maps) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) r/.exec(line);
      if (!m || line.includes('[vvar]') || line.includes('[vsyscall]')) continue;
      const start = Number.parseInt(m[1] as string, 16);
      const end = Number.parseInt(m[2] as string, 16);
      const chunk = 4 * 1024 * 1024;
      for (let at = start; at < end; at += chunk) {
        const len = Math.min(chunk + overlap, end - at);
        const buf = Buffer.alloc(len);
        let got = 0;
        try {
          got = fs.readSync(fd, buf, 0, len, at);
        } catch {
          break; // an unbacked or vanished mapping
        }
        const view = buf.subarray(0, got);
        needles.forEach((n, i) => {
          if (view.indexOf(n) >= 0) found.add(i);
        });
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return [...found].sort();
}
