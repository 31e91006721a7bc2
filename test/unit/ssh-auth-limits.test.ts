import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureDelayMs, FAILURE_FLOOR_MS, FAILURE_SPREAD_MS, userFloorMs } from '../../src/ssh/auth/failure-delay.js';
import {
  DEFAULT_MAX_STARTUPS,
  beginAuthRequest,
  finishAuthRequest,
  loginGraceExpired,
  newAuthTries,
  parseMaxStartups,
  parseSshdTime,
  shouldDropConnection,
  startupsForMemory,
  PREAUTH_WORKER_BYTES,
  type MaxStartups,
  type AuthOutcome,
  type AuthTries,
} from '../../src/ssh/auth/limits.js';

type Step = { method: string; outcome?: Partial<AuthOutcome>; user?: string; service?: string; want: string };

// Replays a conversation; `want` per step is "try|fail|disconnect-begin" then
// "/<failures>[!]" where ! marks a MaxAuthTries disconnect, and ":V" or ":I"
// the log level sshd would use.
function replay(steps: Step[], max = 6): string[] {
  let s: AuthTries = newAuthTries();
  const out: string[] = [];
  for (const st of steps) {
    const b = beginAuthRequest(s, st.user ?? 'alice', st.service ?? 'ssh-connection', max);
    if (b.action === 'disconnect') {
      out.push(`disconnect:${b.reason}`);
      break;
    }
    s = b.state;
    const o: AuthOutcome = { method: st.method, authenticated: false, validUser: true, ...st.outcome };
    const f = finishAuthRequest(s, o, max);
    s = f.state;
    out.push(`${b.action}/${s.failures}${f.disconnect ? '!' : ''}:${f.logLevel === 'info' ? 'I' : 'V'}`);
    if (f.disconnect) break;
  }
  return out;
}

test('MaxAuthTries: none is free once, probes of unknown keys count, PK_OK does not', () => {
  const pk = (outcome: Partial<AuthOutcome> = {}): Step => ({ method: 'publickey', outcome, want: '' });
  assert.deepEqual(replay([{ method: 'none', want: '' }, pk(), pk({ postponed: true }), pk({ authenticated: true })]), ['try/0:V', 'try/1:V', 'try/1:V', 'try/1:I']);
  // An agent offering seven keys the server does not know: out after six.
  assert.deepEqual(replay([{ method: 'none', want: '' }, ...Array.from({ length: 7 }, () => pk())]), [
    'try/0:V',
    'try/1:V',
    'try/2:V',
    'try/3:V',
    'try/4:I', // from half of MaxAuthTries on, failures are logged at INFO
    'try/5:I',
    'try/6!:I',
  ]);
  // A second "none" counts; partial success and server-side failures do not; password is always loud.
  assert.deepEqual(
    replay([
      { method: 'none', want: '' },
      { method: 'none', want: '' },
      pk({ partial: true }),
      { method: 'gssapi-with-mic', outcome: { serverCausedFailure: true }, want: '' },
      { method: 'password', want: '' },
    ]),
    ['try/0:V', 'try/1:V', 'try/1:V', 'try/1:V', 'try/2:I'],
  );
  // Invalid users are always logged at INFO.
  assert.deepEqual(replay([pk({ validUser: false })]), ['try/1:I']);
  assert.deepEqual(replay([pk(), pk()], 1), ['try/1!:I']);
});

test('MaxAuthTries: user or service may not change; a hard cap on requests', () => {
  assert.deepEqual(replay([{ method: 'none', want: '' }, { method: 'none', user: 'root', want: '' }]), [
    'try/0:V',
    'disconnect:Change of username or service not allowed: (alice,ssh-connection) -> (root,ssh-connection)',
  ]);
  const s: AuthTries = { attempts: 1024, failures: 0, user: 'a', service: 's' };
  assert.deepEqual(beginAuthRequest(s, 'a', 's'), { action: 'disconnect', state: s, reason: 'Too many authentication failures' });
  // Past the limit a request is failed without running its method.
  const full: AuthTries = { attempts: 6, failures: 6, user: 'a', service: 's' };
  assert.equal(beginAuthRequest(full, 'a', 's').action, 'fail');
  // State objects are not mutated.
  const s0 = newAuthTries();
  beginAuthRequest(s0, 'a', 's');
  assert.deepEqual(s0, { attempts: 0, failures: 0 });
});

test('sshd time values and LoginGraceTime', () => {
  const rows: [string, number | null][] = [
    ['120', 120],
    ['0', 0],
    ['90s', 90],
    ['2m', 120],
    ['1h30m', 5400],
    ['1H30M10S', 5410],
    ['1w', 604800],
    ['1d1d', 172800],
    ['1.5', 1],
    ['.5s', 0],
    ['1.5m', null], // fractions only for seconds
    ['5.', null],
    ['.', null],
    ['1s1s', null],
    ['10', 10],
    ['10x', null],
    ['-1', null],
    ['', null],
    ['1e3', null],
    ['99999999999', null],
  ];
  for (const [s, want] of rows) assert.equal(parseSshdTime(s), want, s);
  assert.equal(loginGraceExpired(120, 1000, 120_999), false);
  assert.equal(loginGraceExpired(120, 1000, 121_000), true);
  assert.equal(loginGraceExpired(0, 0, 1e12), false, '0 disables the limit');
});

test('MaxStartups parsing', () => {
  assert.deepEqual(parseMaxStartups('10:30:100'), DEFAULT_MAX_STARTUPS);
  assert.deepEqual(parseMaxStartups('5'), { begin: 5, rate: 30, full: 5 });
  for (const bad of ['10:30', '10:0:100', '10:101:100', '50:30:10', '0:30:10', '0', '-1', 'x', '']) {
    assert.equal(parseMaxStartups(bad), null, bad);
  }
});

test('MaxStartups random early drop uses sshd arithmetic', () => {
  const ms = DEFAULT_MAX_STARTUPS;
  // Smallest random value in [0,1) that is kept: r = floor(random*100) >= p.
  const keepsFrom = (n: number) => {
    for (let r = 0; r < 100; r++) if (shouldDropConnection(ms, n, r / 100).allowed) return r;
    return 100;
  };
  const rows: [number, number][] = [
    [0, 0],
    [9, 0],
    [10, 30], // p = 30% at start
    [11, 30], // (70*1)/90 = 0 in integer arithmetic
    [12, 31],
    [55, 65],
    [99, 99],
    [100, 100], // full: always dropped
    [500, 100],
  ];
  for (const [n, p] of rows) assert.equal(keepsFrom(n), p, `unauthenticated=${n}`);
  assert.equal(shouldDropConnection({ begin: 3, rate: 100, full: 10 }, 3, 0.999).allowed, false);
  assert.equal(shouldDropConnection({ begin: 3, rate: 100, full: 10 }, 2, 0).allowed, true);
  assert.equal(shouldDropConnection({ begin: 5, rate: 30, full: 5 }, 5, 0.999).allowed, false);
  assert.match(shouldDropConnection(ms, 55, 0.1).reason, /drop probability 65%/);
});

test('failure floors: stable per name and secret, within the spread; the wait doubles past slow work', () => {
  const secret = Buffer.alloc(32, 7);
  const a = userFloorMs('alice', secret);
  assert.equal(userFloorMs('alice', secret), a);
  assert.notEqual(userFloorMs('alice', Buffer.alloc(32, 8)), a, 'another process, another floor');
  for (const name of ['alice', 'bob', 'nosuchuser', 'root', '']) {
    const f = userFloorMs(name, secret);
    assert.ok(f >= FAILURE_FLOOR_MS && f < FAILURE_FLOOR_MS + FAILURE_SPREAD_MS, `${name}: ${f}`);
  }
  const rows: [number, number, number][] = [
    [32, 0.2, 31.8], // an unknown name: almost all of it is waiting
    [32, 15, 17], // a real user's authorized_keys lookup: the rest of the same floor
    [32, 32, 0],
    [32, 40, 24], // slower than the floor: the next doubling (64)
    [32, 100, 28], // 128
  ];
  for (const [floor, elapsed, wait] of rows) assert.ok(Math.abs(failureDelayMs(floor, elapsed) - wait) < 1e-9, `${floor}/${elapsed}`);
});

test('startupsForMemory: the pre-authentication workers MaxStartups allows fit in a quarter of the memory', () => {
  const GiB = 2 ** 30;
  const rows: [string, MaxStartups, number, MaxStartups][] = [
    ['sshd default, 8 GiB: unchanged', DEFAULT_MAX_STARTUPS, 8 * GiB, DEFAULT_MAX_STARTUPS],
    ['sshd default, 4 GiB', DEFAULT_MAX_STARTUPS, 4 * GiB, { begin: 10, rate: 30, full: 64 }],
    ['sshd default, 1 GiB', DEFAULT_MAX_STARTUPS, GiB, { begin: 10, rate: 30, full: 16 }],
    ['sshd default, 512 MiB: begin follows full', DEFAULT_MAX_STARTUPS, GiB / 2, { begin: 8, rate: 30, full: 8 }],
    ['tiny host: one at least', DEFAULT_MAX_STARTUPS, 16 * 2 ** 20, { begin: 1, rate: 30, full: 1 }],
    ['a lower setting that fits is kept', { begin: 3, rate: 50, full: 12 }, GiB, { begin: 3, rate: 50, full: 12 }],
  ];
  for (const [what, ms, mem, want] of rows) {
    assert.deepEqual(startupsForMemory(ms, mem), want, what);
    assert.ok(startupsForMemory(ms, mem).full * PREAUTH_WORKER_BYTES <= Math.max(mem / 4, PREAUTH_WORKER_BYTES), what);
  }
});
