/**
 * The dashboard in headless Chromium: the page loads with nothing from
 * outside, the tables fill from the REST routes, and a session's chart grows
 * from `session-sample` events while a Wi-Fi to 4G handover plays (the Wi-Fi
 * line falls, the 4G line rises). Leaves a screenshot in
 * test-artifacts/dashboard.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import { skipOrFail } from '../../tools/require-netns.js';
import { buildApp } from '../../src/api/app.js';
import { packageRoot } from '../../src/api/dashboard.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeSource } from '../../tools/api-fixture.js';

// The functions passed to page.evaluate run in the page; tsc compiles them without the DOM library.
declare const window: {
  mpssh: { points(id: string): number; charts: Map<string, { names: string[]; data: (number | null)[][] }>; connPoints(id: string): number; connSeries(id: string): string[]; connMarks(id: string): string[] };
};
declare const document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): { length: number } };

const CHROMIUM = process.env.MPSSH_CHROMIUM ?? '/usr/bin/chromium';

/** The dashboard served from a fake daemon on loopback, and Chromium; null when Chromium is missing (the test is skipped). */
async function served(t: TestContext): Promise<{ source: FakeSource; base: string; browser: Browser } | null> {
  if (!fs.existsSync(CHROMIUM)) {
    skipOrFail(t, `${CHROMIUM} not found (Debian: apt-get install chromium)`);
    return null;
  }
  const { chromium } = await import('playwright-core');
  const source = new FakeSource();
  const app = buildApp({ source, log: silentLogger(), control: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  return { source, base, browser };
}

test('dashboard: live per-interface throughput chart from session samples', { timeout: 60_000 }, async (t) => {
  const s = await served(t);
  if (s === null) return;
  const { source, base, browser } = s;

  // 8 Mbit/s on Wi-Fi handing over to 4G within about three seconds, from
  // when the page listens (Chromium may take many seconds to start on a busy machine).
  let t0 = 0;
  const bytes = { wlan0: 0, wwan0: 0 };
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  const feed = () => {
    const now = Date.now();
    const share = Math.min(1, (now - t0) / 3000);
    const dt = (now - last) / 1000;
    last = now;
    bytes.wlan0 += Math.round(1e6 * (1 - share) * dt);
    bytes.wwan0 += Math.round(1e6 * share * dt);
    source.emit({
      type: 'session-sample',
      session: 's-1',
      at: now,
      sampledAt: now,
      subflows: [
        { ifname: 'wlan0', local: '192.0.2.10', bytesSent: bytes.wlan0, bytesReceived: 0 },
        { ifname: 'wwan0', local: '203.0.113.5', bytesSent: bytes.wwan0, bytesReceived: 0 },
      ],
    });
  };
  t.after(() => clearInterval(timer));

  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  const foreign: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('request', (r) => !r.url().startsWith(base) && foreign.push(r.url()));
  await page.goto(base, { waitUntil: 'load' });
  await page.waitForFunction(() => document.querySelector('#stream')?.textContent === 'events: live', undefined, { timeout: 10_000 });
  t0 = last = Date.now();
  timer = setInterval(feed, 200);
  await page.waitForFunction(() => window.mpssh.points('s-1') >= 3, undefined, { timeout: 10_000 });
  const points = () => page.evaluate(() => window.mpssh.points('s-1'));
  const n1 = await points();
  await page.waitForTimeout(2500);
  const n2 = await points();
  assert.ok(n2 >= n1 + 5, `chart grew from ${n1} to ${n2} points`);

  const chart = await page.evaluate(() => {
    const c = window.mpssh.charts.get('s-1')!;
    return { names: c.names, data: c.data, canvases: document.querySelectorAll('[data-session="s-1"] canvas').length };
  });
  assert.deepEqual(chart.names, ['wlan0', 'wwan0']);
  assert.ok(chart.canvases >= 1, 'uPlot drew a canvas');
  const series = (i: number) => (chart.data[i + 1] as (number | null)[]).filter((v): v is number => v !== null);
  const wlan = series(0);
  const wwan = series(1);
  assert.ok(wlan[0]! > wlan.at(-1)!, `Wi-Fi falls: ${wlan[0]} -> ${wlan.at(-1)}`);
  assert.ok(wwan[0]! < wwan.at(-1)!, `4G rises: ${wwan[0]} -> ${wwan.at(-1)}`);
  assert.ok(wwan.at(-1)! > 6e6 && wwan.at(-1)! < 10e6, `4G ends near 8 Mbit/s: ${wwan.at(-1)}`);

  const text = await page.textContent('body');
  assert.match(text ?? '', /alice@198\.51\.100\.7/);
  assert.match(text ?? '', /endpoint 1 \(subflow\)/);
  assert.match(text ?? '', /interface-ignored \(matches docker\*\)/);
  assert.deepEqual(foreign, []);
  assert.deepEqual(errors, []);

  const out = path.join(packageRoot(), 'test-artifacts', 'dashboard.png');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  assert.ok(fs.statSync(out).size > 10_000);
});

test('dashboard: every MPTCP connection with its per-interface plot, subflow marks and table, at desktop and phone width', { timeout: 90_000 }, async (t) => {
  const s = await served(t);
  if (s === null) return;
  const { source, base, browser } = s;

  for (const viewport of [{ width: 1400, height: 900, name: 'desktop' }, { width: 390, height: 844, name: 'phone' }]) {
    const page = await browser.newPage({ viewport: { width: viewport.width, height: viewport.height } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(base, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('#stream')?.textContent === 'events: live', undefined, { timeout: 10_000 });
    // A laptop walking out of Wi-Fi: 20 Mbit/s on wlan0 moving to wwan0, wlan0's subflow leaving halfway.
    const start = Date.now();
    for (let i = 0; i <= 24; i++) {
      const share = Math.min(1, i / 12);
      const at = start - (24 - i) * 250;
      if (i === 12) source.emit({ type: 'connection-subflow-removed', connection: '4242', local: '192.0.2.10:40002', remote: '198.51.100.7:22', ifname: 'wlan0', at });
      const per: Record<string, { sendBps: number; recvBps: number }> = { wwan0: { sendBps: 0, recvBps: 20e6 * share } };
      if (i < 12) per.wlan0 = { sendBps: 0, recvBps: 20e6 * (1 - share) };
      source.emit({ type: 'connection-rates', sampledAt: at, at, interfaces: {}, connections: { '4242': per } });
      await page.waitForTimeout(40);
    }
    await page.waitForFunction(() => window.mpssh.connPoints('4242') >= 25, undefined, { timeout: 10_000 });
    const state = await page.evaluate(() => ({ series: window.mpssh.connSeries('4242'), marks: window.mpssh.connMarks('4242'), canvases: document.querySelectorAll('[data-connection="4242"] canvas').length }));
    assert.deepEqual(state.series.sort(), ['wlan0', 'wwan0']);
    assert.deepEqual(state.marks, ['removed wlan0']);
    assert.ok(state.canvases >= 1, 'uPlot drew the connection chart');
    const text = await page.textContent('[data-connection="4242"]');
    assert.match(text ?? '', /ssh \(alice\) → alice@server/);
    assert.match(text ?? '', /203\.0\.113\.5:40003/);
    assert.deepEqual(errors, []);
    const out = path.join(packageRoot(), 'test-artifacts', `dashboard-connections-${viewport.name}.png`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    await page.screenshot({ path: out, fullPage: viewport.name === 'phone' });
    assert.ok(fs.statSync(out).size > 10_000);
    await page.close();
  }
});
