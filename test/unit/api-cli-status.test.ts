/** `mpssh status`: argument parsing, tables, and the command against a live API on loopback and on a Unix socket. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { buildApp } from '../../src/api/app.js';
import { chooseTarget, parseStatusArgs, runStatus } from '../../src/api/cli-status.js';
import { formatBytes, formatDuration, renderTable } from '../../src/api/table.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeSource } from '../../tools/api-fixture.js';
import { waitFor } from '../../tools/netns.js';

test('parseStatusArgs: flags and mistakes', () => {
  const ok: [string[], object][] = [
    [[], { help: false, json: false }],
    [['--json'], { help: false, json: true }],
    [['--socket', '/x.sock'], { help: false, json: false, socket: '/x.sock' }],
    [['--url=http://[::1]:8080'], { help: false, json: false, url: 'http://[::1]:8080' }],
    [['-h'], { help: true, json: false }],
    [['--watch'], { help: false, json: false, watch: 1 }],
    [['--watch', '2.5', '--all'], { help: false, json: false, watch: 2.5, all: true }],
    [['--watch=5', '--json'], { help: false, json: true, watch: 5 }],
    [['-w', '--json'], { help: false, json: true, watch: 1 }],
  ];
  for (const [argv, want] of ok) assert.deepEqual(parseStatusArgs(argv), want, argv.join(' '));
  const bad: [string[], RegExp][] = [
    [['--socket'], /needs a value/],
    [['--url', 'localhost'], /http:\/\//],
    [['--socket', '/a', '--url', 'http://b'], /not both/],
    [['-v'], /unknown argument/],
    [['--watch=soon'], /number of seconds/],
    [['--watch', '0'], /0\.2 to 3600/],
  ];
  for (const [argv, re] of bad) assert.throws(() => parseStatusArgs(argv), re, argv.join(' '));
  assert.deepEqual(chooseTarget({ help: false, json: false }, () => true), { socket: '/run/mpssh/api.sock' });
  assert.deepEqual(chooseTarget({ help: false, json: false }, () => false), { url: 'http://localhost/' });
});

test('renderTable and formats', () => {
  assert.equal(renderTable(['A', 'BB'], [['xyz', '1'], ['q', 'two\nlines']]), 'A    BB\nxyz  1\nq    two\n     lines\n');
  const cases: [number | undefined, string][] = [[undefined, '-'], [0, '0 B'], [1023, '1023 B'], [1536, '1.5 KiB'], [5 * 1024 ** 3, '5.0 GiB']];
  for (const [n, s] of cases) assert.equal(formatBytes(n), s);
  assert.equal(formatDuration(59), '59s');
  assert.equal(formatDuration(3725), '1h 2m');
  assert.equal(formatDuration(90000), '1d 1h');
});

function capture() {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d: Buffer) => (o += d));
  err.on('data', (d: Buffer) => (e += d));
  return { io: { out, err }, out: () => o, err: () => e };
}

test('runStatus: tables over HTTP, JSON over a Unix socket, clear errors', async (t) => {
  const source = new FakeSource();
  const app = buildApp({ source, log: silentLogger(), control: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const url = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;

  const c = capture();
  assert.equal(await runStatus(['--url', url], c.io), 0, c.err());
  const text = c.out();
  assert.match(text, /^mpsshd 0\.1\.0-test, up \d+d \d+h; MPTCP on; path manager in-kernel; limits: 2 subflows, 2 add_addr accepted/);
  assert.match(text, /last reconcile: pass 7 at 2025-01-02 03:04:08Z \(address\)/);
  assert.match(text, /\nWarnings\n {2}CODE +SINCE +MESSAGE\n {2}foreign-endpoints /);
  assert.match(text, /\n {2}wlan0 +up +subflow +192\.0\.2\.10\/24 endpoint 1 +1\n {4,}fe80::1\/64 unused: link-local\n/);
  assert.match(text, /\n {2}docker0 +no-carrier +ignored /);
  assert.match(text, /\n {2}9 +10\.9\.9\.9 +- +signal +foreign\n/);
  assert.match(text, /\n {2}172\.17\.0\.1 +docker0 +interface-ignored \(matches docker\*\)\n/);
  assert.match(text, /\nSSH sessions served here\n/);
  assert.match(text, /\n {2}s-1 +alice +198\.51\.100\.7:51514 +mptcp +2025-01-02 03:04:06Z +2\.9 KiB +700 B +wlan0: 1\n +wwan0: 1\n$/);
  // Not our uid's connection (the fixture's is uid 1000's): --all shows it.
  const mine = capture();
  assert.equal(await runStatus(['--url', url, '--all'], mine.io), 0, mine.err());
  assert.match(mine.out(), /\nMPTCP connections\n {2}TO +PROGRAM +SINCE +RATE +INTERFACE +SUBFLOW +STATE +RTT +SUBFLOW RATE\n {2}alice@server +ssh \(alice\) +03:04:06Z +4\.0 Mbit\/s +wlan0 +192\.0\.2\.10:40002 -> 198\.51\.100\.7:22 +established +24\.0 ms +3\.0 Mbit\/s\n +wwan0 +203\.0\.113\.5:40003 -> 198\.51\.100\.7:22 +established +36\.0 ms +1\.0 Mbit\/s\n/);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-status-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'api.sock');
  const unixApp = buildApp({ source, log: silentLogger(), control: true });
  await unixApp.listen({ path: sock });
  t.after(() => unixApp.close());
  const j = capture();
  assert.equal(await runStatus(['--json', '--socket', sock], j.io), 0, j.err());
  const report = JSON.parse(j.out());
  assert.deepEqual(Object.keys(report), ['status', 'interfaces', 'endpoints', 'sessions', 'connections']);
  assert.equal(report.connections.connections[0].process.destination, 'alice@server');

  // --watch redraws until stopped; JSON is one object per line.
  const w = capture();
  const ac = new AbortController();
  const watching = runStatus(['--watch', '0.2', '--json', '--socket', sock], { ...w.io, signal: ac.signal });
  await waitFor('two refreshes', () => w.out().split('\n').filter((l) => l !== '').length >= 2, 10_000);
  ac.abort();
  assert.equal(await watching, 0);
  const lines = w.out().split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 2, `${lines.length} refreshes`);
  for (const l of lines) assert.equal(JSON.parse(l).connections.periodMs, 1000);
  assert.equal(report.sessions[0].id, 's-1');

  const down = capture();
  assert.equal(await runStatus(['--socket', path.join(dir, 'none.sock')], down.io), 1);
  assert.match(down.err(), /^mpssh status: cannot get the status from mpsshd at .*none\.sock: ENOENT/);
  const notApi = capture();
  assert.equal(await runStatus(['--url', `${url}/dashboard/`], notApi.io), 1);
  assert.match(notApi.err(), /not JSON|HTTP 404/);
  const usage = capture();
  assert.equal(await runStatus(['--bogus'], usage.io), 2);
  assert.match(usage.err(), /unknown argument "--bogus"\nusage: mpssh status/);
});
