/**
 * The daemon decides authentication for its workers: a signature counts
 * only over the session id the daemon itself signed, for the key an
 * authorized_keys file allows, so a worker taken over by its client cannot
 * log anyone in.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { sshSchema } from '../../src/config/ssh-schema.js';
import { Authenticator, MAX_ACCEPTED_KEY_QUERIES, signedUserauthData, type KeyFileReader, type UserauthRequest } from '../../src/ssh/server/authenticator.js';
import { silentLogger } from '../../src/util/logger.js';

/** An ed25519 key pair in ssh2's form, and its authorized_keys line. */
function clientKey(): { priv: ssh2.ParsedKey; blob: Buffer; line: string } {
  const pair = ssh2.utils.generateKeyPairSync('ed25519');
  const parsed = ssh2.utils.parseKey(pair.private);
  const priv = (Array.isArray(parsed) ? parsed[0] : parsed) as ssh2.ParsedKey;
  const blob = priv.getPublicSSH();
  return { priv, blob, line: `ssh-ed25519 ${blob.toString('base64')} test` };
}

/** authorized_keys served from memory, as if read with the user's credentials. */
const keysFile = (text: string): KeyFileReader => async () => ({ status: 'ok', text });

function signed(key: ReturnType<typeof clientKey>, sessionId: Buffer, user = 'root'): UserauthRequest {
  const req = { user, service: 'ssh-connection', method: 'publickey', key: { algo: 'ssh-ed25519', blob: key.blob } };
  return { ...req, signature: key.priv.sign(signedUserauthData(sessionId, req)) as Buffer };
}

// The failure floor (30-35 ms) is part of every refusal; these tests wait it out.
const cfg = sshSchema.parse({ MaxAuthTries: 6, PermitRootLogin: 'yes', StrictModes: false });
const auth = (text: string) => new Authenticator(cfg, { address: '192.0.2.7', port: 5000 }, silentLogger(), Date.now, keysFile(text));

test('a signature over the session id the daemon signed logs in; over any other it does not', async () => {
  const key = clientKey();
  const sid = crypto.randomBytes(32);
  const rows: [string, UserauthRequest, Buffer | undefined, string][] = [
    ['right session id', signed(key, sid), sid, 'success'],
    ['signature over another session id (a worker replaying or inventing one)', signed(key, crypto.randomBytes(32)), sid, 'failure'],
    ['no key exchange signed yet', signed(key, sid), undefined, 'failure'],
    ['signature bytes flipped', { ...signed(key, sid), signature: Buffer.from(signed(key, sid).signature!.map((b, i) => (i === 5 ? b ^ 1 : b))) }, sid, 'failure'],
    ['signed for another user name', { ...signed(key, sid, 'nobody'), user: 'root' }, sid, 'failure'],
    ['a query (no signature): the key would do', { ...signed(key, sid), signature: undefined } as unknown as UserauthRequest, sid, 'pk-ok'],
    ['the key is claimed as another algorithm', { ...signed(key, sid), key: { algo: 'ecdsa-sha2-nistp256', blob: key.blob } }, sid, 'failure'],
    ['method none', { user: 'root', service: 'ssh-connection', method: 'none' }, sid, 'failure'],
  ];
  for (const [name, req, sessionId, want] of rows) {
    const r = { ...req };
    if (r.signature === undefined) delete r.signature;
    const verdict = await auth(key.line).handle(r, sessionId);
    assert.equal(verdict.result, want, name);
  }
});

test('a key that is not in authorized_keys fails even with a valid signature', async () => {
  const key = clientKey();
  const other = clientKey();
  const sid = crypto.randomBytes(32);
  assert.equal((await auth(other.line).handle(signed(key, sid), sid)).result, 'failure');
});

test('after a login the connection cannot authenticate again, and MaxAuthTries ends in a disconnect', async () => {
  const key = clientKey();
  const sid = crypto.randomBytes(32);
  const a = auth(key.line);
  assert.equal((await a.handle(signed(key, sid), sid)).result, 'success');
  assert.equal((await a.handle(signed(key, sid), sid)).result, 'failure');
  const b = new Authenticator(sshSchema.parse({ MaxAuthTries: 2 }), { address: '192.0.2.7', port: 5000 }, silentLogger(), Date.now, keysFile(''));
  const bad = signed(key, sid);
  const results = [];
  for (let i = 0; i < 3; i++) results.push((await b.handle(bad, sid)).result);
  assert.deepEqual(results, ['failure', 'disconnect', 'disconnect']);
  assert.ok(b.failures >= 2, `failures counted: ${b.failures}`);
});

test('key queries the daemon answers PK_OK are limited per connection; past the budget they fail and count against MaxAuthTries', async () => {
  const key = clientKey();
  const sid = crypto.randomBytes(32);
  let reads = 0;
  const counting: KeyFileReader = async () => {
    reads++;
    return { status: 'ok', text: key.line };
  };
  const a = new Authenticator(cfg, { address: '192.0.2.7', port: 5000 }, silentLogger(), Date.now, counting);
  const query = { ...signed(key, sid), signature: undefined } as unknown as UserauthRequest;
  delete (query as { signature?: unknown }).signature;
  const results: string[] = [];
  for (let i = 0; i < MAX_ACCEPTED_KEY_QUERIES + 8; i++) results.push((await a.handle(query, sid)).result);
  assert.deepEqual(results.slice(0, MAX_ACCEPTED_KEY_QUERIES), Array(MAX_ACCEPTED_KEY_QUERIES).fill('pk-ok'));
  // Then failures, until MaxAuthTries (6) ends the connection.
  assert.deepEqual(results.slice(MAX_ACCEPTED_KEY_QUERIES, MAX_ACCEPTED_KEY_QUERIES + 6), ['failure', 'failure', 'failure', 'failure', 'failure', 'disconnect']);
  assert.equal(reads, MAX_ACCEPTED_KEY_QUERIES, 'past the budget the file is not read again');
});

test('AuthenticationMethods publickey,publickey: one key does not count twice, and the second key\'s options add to the first\'s', async () => {
  const twoKeys = sshSchema.parse({ MaxAuthTries: 6, PermitRootLogin: 'yes', StrictModes: false, AuthenticationMethods: 'publickey,publickey' });
  const a = clientKey();
  const b = clientKey();
  const c = clientKey();
  const sid = crypto.randomBytes(32);
  const file = [`restrict,command="/usr/bin/backup-only" ${a.line}`, b.line, `command="/bin/other" ${c.line}`].join('\n');
  const login = () => new Authenticator(twoKeys, { address: '192.0.2.7', port: 5000 }, silentLogger(), Date.now, keysFile(file));
  // The same key twice.
  const same = login();
  assert.equal((await same.handle(signed(a, sid), sid)).result, 'partial');
  assert.equal((await same.handle(signed(a, sid), sid)).result, 'failure', 'a key already used');
  assert.equal((await same.handle(signed(b, sid), sid)).result, 'success', 'another key completes the login');
  // Restricted key first, unrestricted second: the restrictions stay (they did not when the second replaced the first).
  for (const [first, second] of [[a, b], [b, a]] as const) {
    const l = login();
    assert.equal((await l.handle(signed(first, sid), sid)).result, 'partial');
    const done = await l.handle(signed(second, sid), sid);
    assert.equal(done.result, 'success');
    const options = (done as { success: { options: { command?: string; permitPty: boolean; permitPortForwarding: boolean } } }).success.options;
    assert.deepEqual([options.command, options.permitPty, options.permitPortForwarding], ['/usr/bin/backup-only', false, false]);
  }
  // Two different forced commands: no login.
  const clash = login();
  assert.equal((await clash.handle(signed(a, sid), sid)).result, 'partial');
  assert.equal((await clash.handle(signed(c, sid), sid)).result, 'failure');
});
