/**
 * The decisions behind privilege separation: what the daemon signs for a
 * worker, what it believes of a worker's reports, how much a worker may
 * send, and which Node options would open an inspector.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { freshSigner, HOSTKEYS_PROVE, isHostKeyProof, serveSigner, signPermit, sshString, SIGN_BURST, SIGN_MAX_REFUSALS, SIGN_MIN_INTERVAL_MS, type SignerState, type SigningKey } from '../../src/ssh/server/host-key-signer.js';
import { encodeFrame, MAX_SIGN_FRAME, splitFrames } from '../../src/ssh/server/sign-protocol.js';
import { spend, trustedReport, WORKER_MESSAGE_BURST, type KnownSession } from '../../src/ssh/server/worker-trust.js';
import { SessionRegistry, type SessionEvent } from '../../src/ssh/server/sessions.js';
import type { SessionReport } from '../../src/ssh/server/control-protocol.js';
import { inspectorFlag } from '../../src/util/inspector-guard.js';
import { logRelay, RELAY_BACKLOG, relayedLine } from '../../src/ssh/server/log-relay.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../../tools/netns.js';
import { answers, pair } from '../helpers/monitor-pair.js';
import { workerEnv } from '../../src/ssh/server/pool.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const fresh: SignerState = freshSigner(0);
const spent: SignerState = { signed: SIGN_BURST, tokens: 0, at: 0 };

test('signPermit: only exchange hashes, with the key\'s own algorithm, at key-exchange pace', () => {
  const rows: [string, SignerState, { keyType: string | undefined; hash: 'sha256' | 'sha512' | null; dataLength: number }, number, boolean | RegExp][] = [
    ['ed25519, SHA-256 exchange hash', fresh, { keyType: 'ssh-ed25519', hash: null, dataLength: 32 }, 0, true],
    ['ecdsa, SHA-384 exchange hash', fresh, { keyType: 'ecdsa-sha2-nistp384', hash: null, dataLength: 48 }, 0, true],
    ['rsa-sha2-512, SHA-512 exchange hash', fresh, { keyType: 'ssh-rsa', hash: 'sha512', dataLength: 64 }, 0, true],
    ['no such key', fresh, { keyType: undefined, hash: null, dataLength: 32 }, 0, /no such host key/],
    ['a 20-byte (SHA-1) hash', fresh, { keyType: 'ssh-ed25519', hash: null, dataLength: 20 }, 0, /not the length/],
    ['arbitrary data', fresh, { keyType: 'ssh-ed25519', hash: null, dataLength: 100 }, 0, /not the length/],
    ['RSA with SHA-1 (ssh-rsa)', fresh, { keyType: 'ssh-rsa', hash: null, dataLength: 32 }, 0, /SHA-1/],
    ['ed25519 with a hash override', fresh, { keyType: 'ssh-ed25519', hash: 'sha512', dataLength: 32 }, 0, /own hash/],
    ['a rekey right after the first exchange', { signed: 1, tokens: SIGN_BURST - 1, at: 0 }, { keyType: 'ssh-ed25519', hash: null, dataLength: 32 }, 10, true],
    ['a rekey once the burst is spent, a while later', spent, { keyType: 'ssh-ed25519', hash: null, dataLength: 32 }, SIGN_MIN_INTERVAL_MS, true],
    ['another request at once after the burst', spent, { keyType: 'ssh-ed25519', hash: null, dataLength: 32 }, 10, /faster than key exchanges/],
    ['past the connection\'s limit', { signed: 10_000, tokens: SIGN_BURST, at: 0 }, { keyType: 'ssh-ed25519', hash: null, dataLength: 32 }, 1e9, /limit/],
  ];
  for (const [name, state, req, now, want] of rows) {
    const v = signPermit(state, req, now);
    if (want === true) {
      assert.ok(v.ok, name);
      assert.equal(v.state.signed, state.signed + 1, name);
      assert.equal(v.state.at, now, name);
    } else {
      assert.ok(!v.ok, name);
      assert.match(v.reason, want as RegExp, name);
      assert.deepEqual(v.state, state, `${name}: a refusal changes nothing`);
    }
  }
});

test('sign frames: split at any byte boundary, oversized frames refused', () => {
  const a = encodeFrame({ op: 'sign', n: 1 });
  const b = encodeFrame({ op: 'sign', n: 2 });
  const all = Buffer.concat([a, b]);
  for (let cut = 0; cut <= all.length; cut++) {
    const first = splitFrames(all.subarray(0, cut));
    assert.ok(!('error' in first));
    const second = splitFrames(Buffer.concat([first.rest, all.subarray(cut)]));
    assert.ok(!('error' in second));
    assert.deepEqual([...first.frames, ...second.frames].map((f) => JSON.parse(f.toString()).n), [1, 2]);
  }
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(MAX_SIGN_FRAME + 1);
  assert.ok('error' in splitFrames(huge));
});

test('serveSigner: signs an exchange hash with the right key; refuses and then closes on abuse', async () => {
  const gen = ssh2.utils.generateKeyPairSync('ed25519');
  const parsed = ssh2.utils.parseKey(gen.private);
  const key = (Array.isArray(parsed) ? parsed[0] : parsed) as unknown as SigningKey & { verify(d: Buffer, s: Buffer): boolean };
  const [daemonEnd, workerEnd] = pair();
  let clock = 0;
  serveSigner(daemonEnd, [key], silentLogger(), () => clock);
  const next = answers(workerEnd);
  const h = crypto.randomBytes(32);
  workerEnd.write(encodeFrame({ op: 'sign', key: 0, hash: null, data: h.toString('base64') }));
  const ok = await next();
  assert.ok(ok.sig, JSON.stringify(ok));
  assert.ok(key.verify(h, Buffer.from(ok.sig as string, 'base64')), 'the signature verifies with the public key');
  clock += 1;
  for (let i = 1; i < SIGN_BURST; i++) {
    workerEnd.write(encodeFrame({ op: 'sign', key: 0, hash: null, data: crypto.randomBytes(32).toString('base64') }));
    assert.ok((await next()).sig, 'the burst');
  }
  for (let i = 0; i < SIGN_MAX_REFUSALS; i++) {
    workerEnd.write(encodeFrame({ op: 'sign', key: 0, hash: null, data: crypto.randomBytes(32).toString('base64') }));
    assert.match((await next()).error as string, /faster than key exchanges/);
  }
  await new Promise((resolve) => workerEnd.once('close', resolve));
});

test('trustedReport: the daemon\'s own user, address, pid and times win over the worker\'s', () => {
  const known: KnownSession = { id: '0123456789abcdef', pid: 4242, remote: { address: '192.0.2.7', port: 50000 }, local: { address: '192.0.2.1', port: 22 }, acceptedAt: 1000, user: 'alice', authenticatedAt: 1100 };
  const forged: SessionReport = {
    id: 'ffffffffffffffff', pid: 1, user: 'root', remote: { address: '203.0.113.66', port: 1 }, local: { address: '0.0.0.0', port: 2 },
    startedAt: 0, authenticatedAt: 0, transport: 'mptcp', channels: { session: 1 }, subflows: [], sampledAt: 5000, bytesSent: 10,
  };
  const r = trustedReport(forged, known);
  assert.deepEqual({ id: r.id, pid: r.pid, user: r.user, remote: r.remote, local: r.local, startedAt: r.startedAt, authenticatedAt: r.authenticatedAt }, { id: known.id, pid: 4242, user: 'alice', remote: known.remote, local: known.local, startedAt: 1000, authenticatedAt: 1100 });
  assert.equal(r.bytesSent, 10, 'measurements are the worker\'s to report');
  const pre = trustedReport(forged, { ...known, user: undefined, authenticatedAt: undefined } as unknown as KnownSession);
  assert.equal(pre.user, '');
  assert.equal(pre.authenticatedAt, undefined);
});

test('spend: a burst, then the steady rate; an idle worker earns its burst back', () => {
  let b = { tokens: WORKER_MESSAGE_BURST, at: 0 };
  let sent = 0;
  for (let i = 0; i < 200; i++) {
    const r = spend(b, 0);
    b = r.budget;
    if (r.ok) sent++;
  }
  assert.equal(sent, WORKER_MESSAGE_BURST);
  assert.equal(spend(b, 49).ok, false, 'under 1/20 s later: still nothing');
  assert.equal(spend(b, 50).ok, true, '1/20 s later: one more');
  assert.equal(spend(b, 3_600_000).budget.tokens, WORKER_MESSAGE_BURST - 1, 'the bucket never holds more than a burst');
});

test('SessionRegistry: the user is the monitor\'s word; a worker\'s claims cannot change who logged in or from where', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-reg-'));
  const events: SessionEvent[] = [];
  const reg = new SessionRegistry(silentLogger(), dir, (e) => events.push(e), 60_000);
  const [daemonEnd, workerEnd] = pair();
  const id = '0123456789abcdef';
  reg.adopt(daemonEnd, { id, pid: 4242, remote: { address: '192.0.2.7', port: 50000 }, local: { address: '192.0.2.1', port: 22 }, acceptedAt: 1000 });
  const say = (m: unknown) => workerEnd.write(`${JSON.stringify(m)}\n`);
  const report = (user: string): SessionReport => ({ id, pid: 1, user, remote: { address: '203.0.113.66', port: 1 }, local: { address: '0.0.0.0', port: 2 }, startedAt: 0, transport: 'mptcp', channels: {}, subflows: [], sampledAt: 1 });
  // A worker claiming a login counts for nothing; the monitor's decision does.
  say({ op: 'authenticated', user: 'root' });
  // A fixed wait on purpose: it proves nothing is listed; the claim is read well within it.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(reg.list().length, 0);
  reg.authenticated(id, 'alice');
  say({ op: 'authenticated', user: 'root' });
  say({ op: 'status', seq: 1, session: report('root') });
  const deadline = Date.now() + 5000;
  while (reg.list().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const [s] = reg.list();
  assert.equal(s?.user, 'alice');
  assert.deepEqual(s?.remote, { address: '192.0.2.7', port: 50000 });
  assert.equal(s?.pid, 4242);
  const opened = events.find((e) => e.type === 'session-opened');
  assert.deepEqual(opened && 'user' in opened ? [opened.user, opened.remote] : [], ['alice', '192.0.2.7:50000']);
  // The daemon's own record, for a restarted daemon, says the same.
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, `${id}.json`), 'utf8')).user, 'alice');
  reg.stop();
  workerEnd.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('inspectorFlag: every way of asking Node for an inspector, and nothing else', () => {
  const rows: [string[], string | undefined, boolean][] = [
    [[], undefined, false],
    [['--max-semi-space-size=1'], undefined, false],
    [['--inspect'], undefined, true],
    [['--inspect=0.0.0.0:9229'], undefined, true],
    [['--inspect-brk'], undefined, true],
    [['--inspect-port=0'], undefined, true],
    [['--inspect-wait'], undefined, true],
    [['--debug-port=1'], undefined, true],
    [[], '--inspect', true],
    [[], '--max-old-space-size=64 --inspect=9230', true],
    [[], '--max-old-space-size=64', false],
    [[], '--require ./inspector-shim.js', false],
  ];
  for (const [argv, opts, want] of rows) assert.equal(inspectorFlag(argv, opts) !== undefined, want, `${argv.join(' ')} | ${opts ?? ''}`);
});

test('relayedLine: the daemon\'s bindings win; after the login the line says whose word it is', () => {
  const known = { session: '0123456789abcdef', workerPid: 77, afterLogin: false };
  const pre = relayedLine(JSON.stringify({ level: 30, time: 1, pid: 1, mod: 'x', session: 'ffff', event: 'auth-accepted', user: 'alice', msg: 'Accepted publickey for alice from 192.0.2.7 port 1 ssh2' }), known);
  assert.deepEqual(pre, { level: 30, msg: 'Accepted publickey for alice from 192.0.2.7 port 1 ssh2', fields: { event: 'auth-accepted', user: 'alice', session: known.session, workerPid: 77 } });
  const post = relayedLine(JSON.stringify({ level: 30, event: 'auth-failed', msg: 'Failed publickey for root from 203.0.113.9 port 22 ssh2' }), { ...known, afterLogin: true, user: 'alice' });
  assert.equal(post?.msg, 'session of alice: Failed publickey for root from 203.0.113.9 port 22 ssh2');
  assert.equal(post?.fields.afterLogin, true);
  assert.equal(relayedLine(JSON.stringify({ level: 99, msg: 'x' }), known)?.level, 30, 'unknown levels become info');
  for (const bad of ['not json', '[1,2]', '"text"', 'null']) assert.equal(relayedLine(bad, known), undefined, bad);
});

test('logRelay: lines kept while nobody listens, in order, at most a backlog', () => {
  const relay = logRelay();
  for (let i = 0; i < RELAY_BACKLOG + 5; i++) relay.stream.write(`{"n":${i}}\n`);
  const got: string[] = [];
  let listening = true;
  relay.connect((l) => (listening ? (got.push(l), true) : false));
  assert.equal(got.length, RELAY_BACKLOG);
  assert.equal(got[0], '{"n":5}', 'the oldest went first');
  listening = false;
  relay.stream.write('{"n":"later"}\n');
  listening = true;
  relay.flush();
  assert.equal(got.at(-1), '{"n":"later"}');
});

test('host-key proofs: only the exact statement for this session and that key is signed', async () => {
  const gen = ssh2.utils.generateKeyPairSync('ed25519');
  const parsed = ssh2.utils.parseKey(gen.private);
  const key = (Array.isArray(parsed) ? parsed[0] : parsed) as unknown as SigningKey;
  const blob = key.getPublicSSH();
  const sid = crypto.randomBytes(32);
  const statement = (s: Buffer, b: Buffer) => Buffer.concat([sshString(HOSTKEYS_PROVE), sshString(s), sshString(b)]);
  assert.equal(isHostKeyProof(statement(sid, blob), sid, blob), true);
  assert.equal(isHostKeyProof(statement(sid, blob), undefined, blob), false, 'no session yet');
  assert.equal(isHostKeyProof(statement(crypto.randomBytes(32), blob), sid, blob), false, 'another session');
  assert.equal(isHostKeyProof(Buffer.concat([statement(sid, blob), Buffer.from('x')]), sid, blob), false, 'trailing bytes');
  const [daemonEnd, workerEnd] = pair();
  serveSigner(daemonEnd, [key], silentLogger(), () => 0);
  const next = answers(workerEnd);
  const send = (op: string, data: Buffer) => workerEnd.write(encodeFrame({ op, key: 0, hash: null, data: data.toString('base64') }));
  send('prove', statement(sid, blob));
  assert.match((await next()).error as string, /not a host-key proof for this session/, 'before the key exchange, no session id');
  send('sign', sid); // the first exchange hash becomes the session id
  assert.ok((await next()).sig);
  send('prove', statement(sid, blob));
  assert.ok((await next()).sig, 'the exact statement is signed');
  send('prove', statement(sid, Buffer.from('another key')));
  assert.match((await next()).error as string, /not a host-key proof/);
  workerEnd.destroy();
});

test('SessionRegistry: start and discover twice (a reload) keep one timer and one control channel per session', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-reg2-'));
  const id = 'fedcba9876543210';
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path.join(dir, `${id}.sock`), resolve));
  const reg = new SessionRegistry(silentLogger(), dir, () => {}, 60_000);
  const intervals: unknown[] = [];
  const realSetInterval = global.setInterval;
  global.setInterval = ((fn: () => void, ms: number) => {
    const t = realSetInterval(fn, ms);
    intervals.push(t);
    return t;
  }) as typeof setInterval;
  try {
    reg.start();
    reg.start();
    assert.equal(await reg.discover(), 1);
    assert.equal(await reg.discover(), 0, 'a tracked session is not found again');
  } finally {
    global.setInterval = realSetInterval;
  }
  await waitFor('the control connection', () => connections >= 1);
  // A fixed wait on purpose: a second control connection, if discover made one, would arrive within it.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(intervals.length, 1, 'one polling timer');
  assert.equal(connections, 1, 'one control connection to the session');
  reg.stop();
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('workerEnv: nothing that steers Node.js or libuv reaches a worker, and io_uring stays off', () => {
  assert.deepEqual(workerEnv({ PATH: '/usr/bin', NODE_OPTIONS: '--inspect', NODE_DEBUG: 'net', UV_USE_IO_URING: '1', UV_THREADPOOL_SIZE: '64', LANG: 'C.UTF-8' }), { PATH: '/usr/bin', LANG: 'C.UTF-8', UV_USE_IO_URING: '0' });
});
