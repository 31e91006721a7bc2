import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExpiryTime, parseKeyOptions, type KeyOptions } from '../../src/ssh/auth/key-options.js';

const ok = (text: string): KeyOptions => {
  const r = parseKeyOptions(text);
  assert.ok(r.ok, `${text}: ${r.ok ? '' : r.reason}`);
  return r.options;
};

const flags = (o: KeyOptions) => ({
  pty: o.permitPty,
  port: o.permitPortForwarding,
  agent: o.permitAgentForwarding,
  x11: o.permitX11Forwarding,
  rc: o.permitUserRc,
});
const ALL = { pty: true, port: true, agent: true, x11: true, rc: true };
const NONE = { pty: false, port: false, agent: false, x11: false, rc: false };

test('flags, restrict and its re-enabling counterparts', () => {
  const rows: [string, typeof ALL, boolean?][] = [
    ['no-pty', { ...ALL, pty: false }],
    ['no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc', { ...NONE, pty: true }],
    ['restrict', NONE, true],
    ['restrict,pty', { ...NONE, pty: true }, true],
    ['restrict,port-forwarding,agent-forwarding,X11-forwarding,user-rc', { ...ALL, pty: false }, true],
    // Options apply in order: a later restrict wins over an earlier re-enable.
    ['pty,restrict', NONE, true],
    ['NO-PTY,Restrict,PTY', { ...NONE, pty: true }, true],
    ['x11-forwarding,no-x11-forwarding', { ...ALL, x11: false }],
  ];
  for (const [text, want, restrict] of rows) {
    const o = ok(text);
    assert.deepEqual(flags(o), want, text);
    assert.equal(o.restrict, restrict ?? false, text);
  }
  const sk = ok('no-touch-required,verify-required');
  assert.equal(sk.noTouchRequired, true);
  assert.equal(sk.verifyRequired, true);
  assert.equal(ok('cert-authority,principals="a,b"').principals, 'a,b');
});

test('valued options and quoting', () => {
  const o = ok('command="echo \\"quoted\\" \\\\n done",from="10.0.0.0/8,!10.1.2.3,*.example.org",environment="A=1",environment="B=x=y",environment="A=2"');
  assert.equal(o.command, 'echo "quoted" \\\\n done');
  assert.equal(o.from, '10.0.0.0/8,!10.1.2.3,*.example.org');
  // First of a name wins; the value may hold '='.
  assert.deepEqual(o.environment, [{ name: 'A', value: '1' }, { name: 'B', value: 'x=y' }]);
  assert.equal(ok('command=""').command, '');
  assert.equal(ok('COMMAND="x"').command, 'x');
  assert.equal(ok('command="a b,c"').command, 'a b,c');

  const p = ok('permitopen="host:22",permitopen="[2001:db8::1]:443",permitopen="*:*",permitopen="10.0.0.1:*",permitopen="host/80"');
  assert.deepEqual(
    p.permitOpen.map((x) => [x.host, x.port]),
    [['host', 22], ['2001:db8::1', 443], ['*', '*'], ['10.0.0.1', '*'], ['host', 80]],
  );
  const l = ok('permitlisten="8080",permitlisten="localhost:9000",permitlisten="[::1]:7000"');
  assert.deepEqual(l.permitListen.map((x) => [x.raw, x.host, x.port]), [['*:8080', '*', 8080], ['localhost:9000', 'localhost', 9000], ['[::1]:7000', '::1', 7000]]);

  assert.equal(ok('tunnel="0"').tunnel, 0);
  assert.equal(ok('tunnel="ANY"').tunnel, 'any');
  const e = ok('expiry-time="20300101",expiry-time="20290101Z"');
  assert.equal(e.expiresAt, Date.UTC(2029, 0, 1) / 1000, 'earliest expiry wins');
});

test('refused options say why', () => {
  const rows: [string, RegExp][] = [
    ['bogus', /unknown key option "bogus"/],
    ['ptyx', /unknown key option "ptyx"/],
    ['pty=1', /unknown key option/],
    ['no-restrict', /unknown key option "no-restrict"/],
    ['no-cert-authority', /unknown key option/],
    ['restrict,', /unexpected end-of-options/],
    ['restrict,,pty', /unknown key option/],
    ['command=x', /command: missing start quote/],
    ['command="x', /command: missing end quote/],
    ['command="x"y', /unexpected text after command/],
    ['command="a",command="b"', /multiple "command" clauses/],
    ['from="a",from="b"', /multiple "from" clauses/],
    ['principals="a",principals="b"', /multiple "principals" clauses/],
    ['environment="NOEQUALS"', /invalid environment string/],
    ['environment="=x"', /invalid environment string/],
    ['environment="BAD-NAME=x"', /invalid environment string/],
    ['environment="\u00c9=x"', /invalid environment string/],
    ['permitopen="host"', /invalid permission port/],
    ['permitopen="host:0"', /invalid permission port/],
    ['permitopen="host:65536"', /invalid permission port/],
    ['permitopen="host:ssh"', /invalid permission port/],
    ['permitopen="[::1"', /invalid permission hostname/],
    ['permitopen="[::1]x:22"', /invalid permission hostname/],
    ['permitopen="::1:22"', /invalid permission port/],
    [`permitopen="${'h'.repeat(1025)}:22"`, /invalid permission hostname/],
    ['expiry-time="2025"', /invalid expires time/],
    ['expiry-time="20251301"', /invalid expires time/],
    ['tunnel="-1"', /invalid tun device/],
    ['tunnel="2147483646"', /invalid tun device/],
  ];
  for (const [text, re] of rows) {
    const r = parseKeyOptions(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.reason, re, text);
  }
  // The limits are sshd's, with its off-by-one: 4097 permitopen entries pass, 4098 do not.
  const many = (n: number) => Array.from({ length: n }, (_, i) => `permitopen="h:${(i % 65535) + 1}"`).join(',');
  assert.equal(parseKeyOptions(many(4097)).ok, true);
  assert.equal(parseKeyOptions(many(4098)).ok, false);
});

test('expiry-time: formats, UTC suffixes, rollover, local standard time', () => {
  const utc = (...a: [number, number, number, number?, number?, number?]) => Date.UTC(a[0], a[1] - 1, a[2], a[3] ?? 0, a[4] ?? 0, a[5] ?? 0) / 1000;
  const rows: [string, number | null][] = [
    ['20250101Z', utc(2025, 1, 1)],
    ['202501011230Z', utc(2025, 1, 1, 12, 30)],
    ['20250101123045z', utc(2025, 1, 1, 12, 30, 45)],
    ['20250101UTC', utc(2025, 1, 1)],
    ['20250101utc', utc(2025, 1, 1)],
    ['20250230Z', utc(2025, 3, 2)], // mktime rolls Feb 30 over
    ['20250101235960Z', utc(2025, 1, 2)], // second 60 allowed
    ['19700101000001Z', 1],
    ['19700101Z', null], // the epoch itself is "invalid" to sshd
    ['19690101Z', null],
    ['2025010Z', null],
    ['202501011Z', null],
    ['20250001Z', null],
    ['20250132Z', null],
    ['20250101240000Z', null],
    ['20250101236000Z', null],
    ['2025-01-01', null],
    ['Z', null],
    ['', null],
    [' 20250101', null],
  ];
  for (const [s, want] of rows) assert.equal(parseExpiryTime(s), want, s);

  const saved = process.env.TZ;
  try {
    process.env.TZ = 'Europe/Berlin';
    // Winter: CET (UTC+1).
    assert.equal(parseExpiryTime('202501011200'), utc(2025, 1, 1, 11));
    // Summer: still read as CET, as glibc mktime() with tm_isdst = 0 does,
    // so 12:00 is 11:00 UTC although the wall clock (CEST) says 10:00 UTC.
    assert.equal(parseExpiryTime('202507011200'), utc(2025, 7, 1, 11));
    process.env.TZ = 'America/New_York';
    assert.equal(parseExpiryTime('20250701'), utc(2025, 7, 1, 5));
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});
