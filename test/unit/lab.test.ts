/** The lab's pure parts: rates, counters, gaps, targets, the plot's ticks, the walk timeline, transfer rates. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseRate, tbfBurstBytes } from '../../lab/rate.js';
import { parseCounterLines, ratesByInterface } from '../../lab/counters.js';
import { consecutiveFromOne, firstAfter, largestGap, largestGapAfter } from '../../lab/gaps.js';
import { atLeast, atMost, formatTargets, holds } from '../../lab/targets.js';
import { throughputSvg, tickStep } from '../../lab/svg-plot.js';
import { parseWalk } from '../../lab/walk-timeline.js';
import { rateSampleFromEvent, receivedBytes } from '../../lab/daemon-samples.js';
import { iperf3Mptcp, steadyRate } from '../../lab/scenarios/aggregate.js';
import { retries2Seconds, whatEnded, type EndFacts } from '../../lab/scenarios/blackout.js';
import { sequence } from '../../lab/stream-source.js';

test('rates in tc units', () => {
  for (const [text, bps] of [['100mbit', 100e6], ['20Mbit', 20e6], ['512kbit', 512e3], ['1gbit', 1e9], ['1.5mbit', 1.5e6], ['800', 800]] as const) {
    assert.equal(parseRate(text), bps, text);
  }
  for (const bad of ['', 'fast', '10mb', '-1mbit']) assert.throws(() => parseRate(bad), /not a rate/, bad);
  assert.equal(tbfBurstBytes(10e6), 65536);
  assert.equal(tbfBurstBytes(1e9), 500000);
});

test('counter samples and rates per interface', () => {
  const samples = parseCounterLines(['T 1000.000', 'eth0 0 0', 'lo 5 5', 'T 1000,500', 'eth0 625000 125000', 'T 1001.000', 'eth0 100 0']);
  assert.deepEqual(samples.map((s) => s.at), [1000000, 1000500, 1001000]);
  const r = ratesByInterface(samples);
  assert.deepEqual(r.eth0?.[0], { at: 1000500, rxMbit: 10, txMbit: 2 });
  // The interface came back with new counters: counted from zero, not negative.
  assert.equal(r.eth0?.[1]?.rxMbit, 0.0016);
  assert.equal(r.lo, undefined, 'lo was not in the second sample');
});

test('gaps, first output after an event, sequences', () => {
  assert.equal(largestGap([]), 0);
  assert.equal(largestGap([0, 100, 350, 400]), 250);
  assert.equal(largestGapAfter([0, 500, 600, 800], 550), 200);
  assert.equal(firstAfter([0, 100, 300], 150), 150);
  assert.equal(firstAfter([0, 100], 150), null);
  assert.equal(consecutiveFromOne(['1', '2', '3']), true);
  assert.equal(consecutiveFromOne(['1', '3']), false);
  assert.equal(consecutiveFromOne(['1', '2', '2']), false);
});

test('targets pass, miss, and miss when not measured', () => {
  const t = [atLeast('ratio', 1.95, 1.9, 'x'), atMost('gap', 300, 250, ' ms'), atMost('never', null, 150), holds('alive', true), holds('checksum', false)];
  assert.deepEqual(t.map((x) => x.pass), [true, false, false, true, false]);
  assert.equal(formatTargets(t.slice(0, 3)), 'PASS ratio: 1.95 (>= 1.9x)\nMISS gap: 300 (<= 250 ms)\nMISS never: n/a (<= 150)');
});

test('plot: round tick steps and a well-formed document', () => {
  for (const [span, step] of [[10, 2], [60, 10], [1, 0.2], [250, 50], [0, 1]] as const) assert.equal(tickStep(span), step, String(span));
  const svg = throughputSvg({ title: 'a <b>', yLabel: 'Mbit/s', series: [{ name: 'eth0', points: [{ t: 0, v: 1 }, { t: 2, v: 3 }] }], events: [{ t: 1, label: 'eth0 down & out' }] });
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /a &lt;b&gt;/);
  assert.match(svg, /eth0 down &amp; out/);
  assert.match(svg, /<path d="M[\d.]+ [\d.]+ L[\d.]+ [\d.]+"/);
  assert.match(svg, /<\/svg>\n$/);
});

test('walk timeline: the shipped file parses; mistakes are named', () => {
  const w = parseWalk(fs.readFileSync(path.resolve(__dirname, '../../../lab/walk.yaml'), 'utf8'));
  assert.ok(w.paths.length >= 2 && w.events.length > 0);
  const sorted = w.events.map((e) => e.at);
  assert.deepEqual(sorted, [...sorted].sort((a, b) => a - b));
  const good = 'paths: [{ name: a, rate: 10mbit }]\nend: 10\nevents:\n';
  for (const [events, why] of [
    ['  - { at: 1, path: b, do: up }', /no path named b/],
    ['  - { at: 11, path: a, do: up }', /after the end/],
    ['  - { at: 1, path: a, do: rate }', /a rate event needs rate/],
    ['  - { at: 1, path: a, do: rate, rate: fast }', /a rate such as/],
    ['  - { at: 1, path: a, do: jump }', /events\.0\.do/],
  ] as const) {
    assert.throws(() => parseWalk(good + events), why, events);
  }
  const order = parseWalk(good + '  - { at: 5, path: a, do: down }\n  - { at: 1, path: a, do: up }');
  assert.deepEqual(order.events.map((e) => e.do), ['up', 'down']);
});

test('steady transfer rate skips the first second; iperf3 over MPTCP is chosen by what is installed', () => {
  const chunks = [{ at: 0, bytes: 100 }, { at: 1000, bytes: 1000 }, { at: 3000, bytes: 251000 }];
  assert.equal(steadyRate(chunks), 1e6);
  assert.equal(steadyRate([{ at: 0, bytes: 1 }]), null);
  assert.deepEqual(iperf3Mptcp('  -m, --mptcp  use MPTCP', true)?.client, ['mptcpize', 'run', 'iperf3']);
  assert.deepEqual(iperf3Mptcp('  -m, --mptcp  use MPTCP', false)?.client, ['iperf3', '-m']);
  assert.equal(iperf3Mptcp('iperf3 3.12', false), null);
});

test('the walk byte sequence is the same however it is cut', () => {
  const a = sequence();
  const b = sequence();
  const whole = a(100_000);
  const parts = Buffer.concat([b(1), b(65_535), b(34_464)]);
  assert.ok(whole.equals(parts));
  assert.notDeepEqual(whole.subarray(0, 16), Buffer.alloc(16));
});

test('blackout: tcp_retries2 time as the kernel models it, and which timer ended a session', () => {
  assert.equal(retries2Seconds(15, 120_000), 924.6);
  assert.equal(retries2Seconds(15, 1000), 14.4);
  assert.equal(retries2Seconds(5, 120_000), 12.6);
  const gapsAt = [10_000, 200_000];
  const facts = { gapsAt, closeTimeoutS: 60, retries2S: 924.6, stderr: '' };
  const table: [Partial<EndFacts>, RegExp][] = [
    [{ endedAt: null }, /^not ended, but silent/],
    [{ endedAt: 3_000_000, stderr: 'Timeout, server not responding.' }, /^ServerAlive/],
    [{ endedAt: 3_000_000, stderr: 'Connection to 10.60.255.1 closed by remote host.' }, /^the server closed/],
    [{ endedAt: 261_000, stderr: 'client_loop: send disconnect: Broken pipe' }, /^close_timeout 60 s from the start of the gap/],
    [{ endedAt: 200_000 + 985_000 }, /^tcp_retries2 .* then close_timeout/],
    [{ endedAt: 5_000 }, /^ended before any gap/],
    [{ endedAt: 200_000 + 400_000 }, /^400 s into the gap/],
  ];
  for (const [f, want] of table) assert.match(whatEnded({ ...facts, endedAt: null, ...f }), want, JSON.stringify(f));
});

test("the client daemon's connection-rates events become the plot's samples; bytes integrate them", () => {
  const block = (event: string, data: unknown): string => `id: 7\nevent: ${event}\ndata: ${JSON.stringify(data)}`;
  const a = rateSampleFromEvent(block('connection-rates', { type: 'connection-rates', sampledAt: 1000, interfaces: { eth0: { sendBps: 0, recvBps: 8e6, subflows: 1 } }, connections: {} }));
  assert.deepEqual(a, { at: 1000, interfaces: { eth0: { sendBps: 0, recvBps: 8e6, subflows: 1 } } });
  assert.equal(rateSampleFromEvent(block('reconcile', { pass: 1 })), null);
  assert.equal(rateSampleFromEvent('event: connection-rates\ndata: {bad'), null);
  const b = { at: 1500, interfaces: { eth0: { sendBps: 0, recvBps: 16e6, subflows: 1 }, eth1: { sendBps: 0, recvBps: 8e6, subflows: 1 } } };
  assert.deepEqual(receivedBytes([a!, b]), { eth0: 1e6, eth1: 5e5 });
});
