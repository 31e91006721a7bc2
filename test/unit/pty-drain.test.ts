/**
 * A terminal's output after the program's exit: delivered even when the
 * worker's loop was held up past the wait for it (a busy machine), and cut
 * off after a silence when something keeps the terminal open.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { test } from 'node:test';
import { startChild } from '../../src/ssh/session/child.js';
import type { PtyOutput } from '../../src/ssh/session/child.js';
import type { ProgramExit, UserSide } from '../../src/ssh/user-side/client.js';

/** A connected pair of stream sockets: `master` stands for the terminal's master, `slave` for the program's side. */
async function socketPair(): Promise<{ master: net.Socket; slave: net.Socket; close(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-pty-'));
  const where = path.join(dir, 's');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(where, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const slave = net.connect(where);
  await new Promise<void>((r) => slave.once('connect', r));
  const master = await accepted;
  return {
    master,
    slave,
    close() {
      master.destroy();
      slave.destroy();
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function ptyChild() {
  const pair = await socketPair();
  let exit!: (e: ProgramExit) => void;
  const user = {
    spawn: async () => ({ kind: 'pty', pid: 1, tty: '/dev/pts/99', master: pair.master, masterFd: -1, exit: new Promise<ProgramExit>((r) => (exit = r)) }),
  } as unknown as UserSide;
  const child = await startChild(user, { program: { file: '/bin/true', argv0: 'true', args: [] }, env: {}, cwd: '/', pty: { term: 'xterm', cols: 80, rows: 24 } } as never);
  const got: Buffer[] = [];
  (child.stdout as PtyOutput).onData((d) => got.push(d));
  return { child, pair, got, exit: (e: ProgramExit) => exit(e) };
}

function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // The worker's loop held up: a garbage collection, or no CPU for it.
  }
}

test('pty output waiting in the terminal when a held-up loop comes back is delivered, not cut off', async () => {
  const { child, pair, got, exit } = await ptyChild();
  try {
    exit({ code: 0, signal: null });
    await new Promise((r) => setImmediate(r));
    // The output is in the kernel's buffer; the loop does not read it before the wait is over.
    pair.slave.write('24 80\n/dev/pts/99\n');
    busy(400);
    const done = await child.exited;
    assert.deepEqual(done, { code: 0, signal: null });
    assert.equal(Buffer.concat(got).toString(), '24 80\n/dev/pts/99\n');
  } finally {
    pair.close();
  }
});

test('a terminal held open after the exit is closed after a silence, with what came before', async () => {
  const { child, pair, got, exit } = await ptyChild();
  try {
    pair.slave.write('before ');
    exit({ code: 3, signal: null });
    await new Promise((r) => setTimeout(r, 50));
    pair.slave.write('after');
    const t0 = Date.now();
    const done = await child.exited;
    assert.ok(Date.now() - t0 >= 150, 'it waited for the silence');
    assert.deepEqual(done, { code: 3, signal: null });
    assert.equal(Buffer.concat(got).toString(), 'before after');
    assert.ok(pair.master.destroyed, 'the master is closed although the other side still holds it');
  } finally {
    pair.close();
  }
});
