/**
 * The lock-down an SSH worker enters before it reads the network, tried
 * against the real kernel in a throwaway process: once locked, no file opens,
 * no TCP connect or bind, no signal to a process outside, no new privileges;
 * a module loaded before still loads again (the worker's lazy requires);
 * and the seccomp filter on every thread: no UDP or Unix socket, nothing
 * done to another process of the same uid.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileSkip, missingProgram } from '../../tools/require-netns.js';

const skip = fileSkip();
const SANDBOX = path.resolve(__dirname, '../../src/native/sandbox.js');

test('a locked-down process opens no file, makes no TCP connection, signals nobody outside and keeps what it loaded', { skip }, async () => {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const script = `
    const fs = require('node:fs');
    const net = require('node:net');
    const { lockDown } = require(${JSON.stringify(SANDBOX)});
    require('node:os');
    const out = { lock: lockDown() };
    const tryIt = (name, f) => { try { f(); out[name] = 'allowed'; } catch (e) { out[name] = e.code || e.message; } };
    tryIt('read', () => fs.readFileSync('/etc/hostname'));
    tryIt('write', () => fs.writeFileSync('/tmp/mpssh-sandbox-probe', 'x'));
    tryIt('list', () => fs.readdirSync('/'));
    tryIt('signal', () => process.kill(${process.pid}, 0));
    tryIt('reload', () => require(${JSON.stringify(SANDBOX)}));
    const s = net.connect(${port}, '127.0.0.1');
    s.on('connect', () => { out.connect = 'allowed'; done(); });
    s.on('error', (e) => { out.connect = e.code; done(); });
    function done() {
      const srv = net.createServer();
      srv.on('error', (e) => { out.bind = e.code; console.log(JSON.stringify(out)); process.exit(0); });
      srv.listen(0, '127.0.0.1', () => { out.bind = 'allowed'; console.log(JSON.stringify(out)); process.exit(0); });
    }
  `;
  try {
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 })) as Record<string, unknown>;
    const lock = out.lock as { landlock: number; net?: boolean; scoped?: boolean };
    assert.ok(lock.landlock >= 6, `Landlock ABI ${lock.landlock}; this kernel should have 6 or later`);
    assert.deepEqual(
      { read: out.read, write: out.write, list: out.list, signal: out.signal, connect: out.connect, bind: out.bind, reload: out.reload },
      { read: 'EACCES', write: 'EACCES', list: 'EACCES', signal: 'EPERM', connect: 'EACCES', bind: 'EACCES', reload: 'allowed' },
    );
  } finally {
    server.close();
  }
});

test('the seccomp filter: no UDP or Unix socket, no priority or signal for another process; its own stay', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-seccomp-'));
  const unixPath = path.join(dir, 'bus.sock');
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(unixPath, () => r()));
  fs.chmodSync(unixPath, 0o666);
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  const script = `
    const dgram = require('node:dgram');
    const net = require('node:net');
    const os = require('node:os');
    const { lockDown } = require(${JSON.stringify(SANDBOX)});
    const out = { lock: lockDown() };
    const tryIt = (name, f) => { try { f(); out[name] = 'allowed'; } catch (e) { out[name] = (e.info && e.info.code) || e.code || e.message; } };
    tryIt('otherPriority', () => os.setPriority(${other.pid}, 5));
    tryIt('ownPriority', () => os.setPriority(0, os.getPriority(0)));
    tryIt('signalOther', () => process.kill(${other.pid}, 0));
    tryIt('signalSelf', () => process.kill(process.pid, 0));
    const u = dgram.createSocket('udp4');
    u.on('error', (e) => { out.udp = e.code; next(); });
    u.bind(0, '127.0.0.1', () => { out.udp = 'allowed'; next(); });
    function next() {
      const s = net.connect(${JSON.stringify(unixPath)});
      s.on('connect', () => { out.unix = 'allowed'; finish(); });
      s.on('error', (e) => { out.unix = e.code; finish(); });
    }
    function finish() { console.log(JSON.stringify(out)); process.exit(0); }
  `;
  try {
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 })) as Record<string, unknown>;
    assert.equal((out.lock as { seccomp: boolean }).seccomp, true);
    assert.deepEqual(
      { udp: out.udp, unix: out.unix, otherPriority: out.otherPriority, signalOther: out.signalOther, ownPriority: out.ownPriority, signalSelf: out.signalSelf },
      { udp: 'EACCES', unix: 'EACCES', otherPriority: 'EPERM', signalOther: 'EPERM', ownPriority: 'allowed', signalSelf: 'allowed' },
    );
  } finally {
    other.kill();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the seccomp filter itself, system call by system call, in a C process against another process', { skip: skip || missingProgram(['g++']) || false }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-seccomp-probe-'));
  try {
    const src = path.resolve(__dirname, '../../../native/src');
    const probe = path.join(dir, 'probe');
    execFileSync('g++', ['-std=c++17', `-I${src}`, '-o', probe, path.resolve(__dirname, '../../../test/fixtures/seccomp-probe.cc'), path.join(src, 'seccomp_filter.cc')]);
    const got = Object.fromEntries(execFileSync(probe, { encoding: 'utf8', timeout: 10_000 }).trim().split('\n').map((l) => l.split(' ') as [string, string]));
    assert.deepEqual(got, {
      'prlimit-other': 'EPERM',
      'prlimit-self': 'ok',
      'setpriority-user': 'EPERM',
      'setpriority-other': 'EPERM',
      'setpriority-self': 'ok',
      'ioprio-user': 'EPERM',
      'kill-other': 'EPERM',
      'kill-self': 'ok',
      'pidfd-send-signal': 'EPERM',
      'setown-other': 'EPERM',
      'setown-self': 'ok',
      'setown-ex': 'EPERM',
      fiosetown: 'EPERM',
      getfl: 'ok',
      udp: 'EACCES',
      unix: 'EACCES',
      rtnetlink: 'ok',
      'sock-diag': 'ok',
      'io-uring': 'ENOSYS',
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
