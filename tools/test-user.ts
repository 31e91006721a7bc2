/**
 * A throwaway local account for login tests: created with useradd (home
 * under /home, bash), removed with its home and processes afterwards.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** Installs `publicKey` as ~/.ssh/authorized_keys with sshd's expected modes; returns the file. */
  authorize(publicKey: string, opts?: { options?: string; fileMode?: number }): string;
  remove(): void;
}

export function createTestUser(): TestUser {
  const name = `mpt${crypto.randomBytes(3).toString('hex')}`;
  // useradd leaves the password "!" (locked), which sshd without PAM, and mpsshd, refuse even
  // for keys; "*" is a key-only account: no password, not locked.
  execFileSync('useradd', ['-m', '-s', '/bin/bash', '-K', 'UMASK=022', '-p', '*', name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const home = `/home/${name}`;
  return {
    name,
    uid,
    gid,
    home,
    authorize(publicKey, opts = {}) {
      const dir = path.join(home, '.ssh');
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.chownSync(dir, uid, gid);
      const file = path.join(dir, 'authorized_keys');
      fs.writeFileSync(file, `${opts.options ? `${opts.options} ` : ''}${publicKey.trim()}\n`);
      fs.chmodSync(file, opts.fileMode ?? 0o600);
      fs.chownSync(file, uid, gid);
      return file;
    },
    remove() {
      try {
        execFileSync('pkill', ['-KILL', '-u', name], { stdio: 'ignore' });
      } catch {
        // no processes left
      }
      try {
        execFileSync('userdel', ['-r', '-f', name], { stdio: 'ignore' });
      } catch {
        fs.rmSync(home, { recursive: true, force: true });
      }
    },
  };
}
