/**
 * The multipath lab, short: a bulk download over one and then two paths
 * capped at 50 Mbit/s each, and one handover, through OpenSSH and mpssh to
 * mpsshd, with loose bounds (the full targets are for `npm run lab`).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { requireNetns } from '../../tools/require-netns.js';
import { runLab } from '../../lab/lab.js';
import type { LabOptions } from '../../lab/scenarios/common.js';

const base: Omit<LabOptions, 'paths'> = { rate: '50mbit', seconds: 5, gap: 0, scale: 1, walkFile: '', baselines: false };

test('lab: two paths carry about twice one path; a handover keeps the session', async (t) => {
  if (!requireNetns(t, { programs: ['ssh'] })) return;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-lab-'));
  try {
    const agg = await runLab('aggregate', { ...base, paths: 2 }, { subnet: 61, outRoot: out });
    const ratios = agg.result.figures.ratios as Record<string, { toOnePath: number | null }>;
    t.diagnostic(agg.report.split('\n').slice(0, 5).join(' | '));
    assert.ok((ratios['2']?.toOnePath ?? 0) >= 1.5, `two paths / one path: ${ratios['2']?.toOnePath}`);
    for (const f of ['result.json', 'counters.csv', 'throughput.svg']) assert.ok(fs.statSync(path.join(agg.dir, f)).size > 0, f);

    const ho = await runLab('handover', { ...base, paths: 2 }, { subnet: 62, outRoot: out });
    const mp = ho.result.figures.mpssh as { alive: boolean; largestGapMs: number | null };
    t.diagnostic(`handover: largest gap ${mp.largestGapMs} ms`);
    assert.equal(mp.alive, true, JSON.stringify(mp));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('lab blackout, time compressed tenfold: 70 s without a path (over twelve minutes at full scale, past the kernel default close timeout), then the same link and then a new interface; mpssh carries data within 1 s each time', async (t) => {
  if (!requireNetns(t, { programs: ['ssh'] })) return;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-lab-'));
  try {
    const b = await runLab('blackout', { ...base, paths: 1, gap: 70, scale: 10 }, { subnet: 63, outRoot: out });
    const mp = b.result.figures.mpssh as { alive: boolean; msToDataAfterLinkReturn: number | null; msToDataAfterNewAddress: number | null; endedBy: string | null };
    t.diagnostic(b.report.split('\n').slice(0, 3).join(' | '));
    assert.equal(mp.alive, true, JSON.stringify(mp));
    assert.ok(mp.msToDataAfterLinkReturn !== null && mp.msToDataAfterLinkReturn <= 1000, JSON.stringify(mp));
    assert.ok(mp.msToDataAfterNewAddress !== null && mp.msToDataAfterNewAddress <= 1000, JSON.stringify(mp));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
