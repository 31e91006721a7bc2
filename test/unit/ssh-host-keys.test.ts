import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { GENERATED_KEY_NAME, loadHostKey, loadHostKeys } from '../../src/ssh/server/host-keys.js';
import { silentLogger } from '../../src/util/logger.js';

test('without OpenSSH host keys, one ed25519 key is generated once, mode 0600, and kept', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-hk-'));
  try {
    const data = path.join(dir, 'lib');
    const first = loadHostKeys([], data, silentLogger(), [path.join(dir, 'absent_key')]);
    assert.equal(first.length, 1);
    assert.equal(first[0]?.type, 'ssh-ed25519');
    const file = path.join(data, GENERATED_KEY_NAME);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(data).mode & 0o777, 0o700);
    // ssh-keygen agrees on the fingerprint of what we wrote.
    const fp = execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1];
    assert.equal(first[0]?.fingerprint, fp);
    const again = loadHostKeys([], data, silentLogger(), [path.join(dir, 'absent_key')]);
    assert.equal(again[0]?.fingerprint, first[0]?.fingerprint, 'the same key on the next start');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('OpenSSH host keys are used when present; bad ones are refused with the reason', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-hk-'));
  try {
    const ed = path.join(dir, 'ssh_host_ed25519_key');
    const rsa = path.join(dir, 'ssh_host_rsa_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', ed]);
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsa]);
    const keys = loadHostKeys([], path.join(dir, 'lib'), silentLogger(), [ed, path.join(dir, 'ssh_host_ecdsa_key'), rsa]);
    assert.deepEqual(keys.map((k) => k.type), ['ssh-ed25519', 'ssh-rsa']);
    assert.ok(!fs.existsSync(path.join(dir, 'lib')), 'nothing generated');
    fs.chmodSync(ed, 0o644);
    assert.throws(() => loadHostKey(ed), /permissions 644 are too open/);
    fs.chmodSync(`${rsa}.pub`, 0o600);
    assert.throws(() => loadHostKey(`${rsa}.pub`), /is a public key/);
    assert.throws(() => loadHostKeys([path.join(dir, 'nope')], dir, silentLogger()), /no usable host key/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
