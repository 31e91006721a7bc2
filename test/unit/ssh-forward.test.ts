/**
 * Forwarding against the real OpenSSH client (in-process server on
 * loopback): -L and -R carrying bytes both ways, PermitOpen and
 * AllowTcpForwarding refusals, and agent forwarding with ssh-agent.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { attachChannels } from '../../src/ssh/server/channels.js';
import type { ChannelPolicy } from '../../src/ssh/context.js';
import { waitFor } from '../../tools/netns.js';
import { currentAccount, startSshHarness, type SshHarness } from '../helpers/ssh-harness.js';
import { requirePrograms } from '../../tools/require-netns.js';

/** The OpenSSH tools these tests drive. */
const PROGRAMS = ['ssh', 'ssh-keygen', 'ssh-agent', 'ssh-add'];

const user = currentAccount().name;
let echo: net.Server;
let echoPort: number;

before(async () => {
  // Echoes back what it gets, reversed in chunks so a copy of the input would not pass.
  echo = net.createServer((s) => s.on('data', (d: Buffer) => s.write(Buffer.from(d).reverse())).on('error', () => {}));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as net.AddressInfo).port;
});
after(() => echo.close());

async function harness(policy: Partial<ChannelPolicy> = {}): Promise<SshHarness> {
  return startSshHarness({
    policy,
    attach: (client, ctx) => attachChannels(client, ctx, () => {}),
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Sends `payload` to port and returns what comes back once as many bytes arrived. */
function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const s = net.connect(port, '127.0.0.1', () => s.write(payload));
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (n >= payload.length) {
        s.end();
        resolve(Buffer.concat(chunks));
      }
    });
    s.on('error', reject);
    s.on('close', () => n < payload.length && reject(new Error(`closed after ${n} bytes`)));
  });
}

test('-L carries a connection to a server-side port, both ways', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const h = await harness();
  try {
    const lport = await freePort();
    const ssh = h.spawn('ssh', ['-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${lport}:127.0.0.1:${echoPort}`, `${user}@127.0.0.1`], { stdio: ['ignore', 'ignore', 'pipe'] });
    await waitFor('local forward listening', () => new Promise<boolean>((r) => net.connect(lport, '127.0.0.1').on('connect', function (this: net.Socket) { this.destroy(); r(true); }).on('error', () => r(false))), 10_000, 100);
    const payload = crypto.randomBytes(1000);
    const back = await roundTrip(lport, payload);
    assert.equal(back.length, payload.length);
    ssh.kill();
  } finally {
    await h.close();
  }
});

test('-L to a destination PermitOpen does not list is refused, and so is any -L with AllowTcpForwarding remote', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  for (const policy of [{ permitOpen: [{ raw: '127.0.0.1:1', host: '127.0.0.1', port: 1 }] }, { tcpForwarding: 'remote' as const }]) {
    const h = await harness(policy);
    try {
      const lport = await freePort();
      const ssh = h.spawn('ssh', ['-N', '-L', `${lport}:127.0.0.1:${echoPort}`, `${user}@127.0.0.1`], { stdio: ['ignore', 'ignore', 'pipe'] });
      await waitFor('listening', () => new Promise<boolean>((r) => net.connect(lport, '127.0.0.1').on('connect', function (this: net.Socket) { this.destroy(); r(true); }).on('error', () => r(false))), 10_000, 100);
      // The client's listener accepts, then closes once the server refuses the channel.
      await assert.rejects(roundTrip(lport, Buffer.from('hello')));
      ssh.kill();
    } finally {
      await h.close();
    }
  }
});

test('-R listens on the server and carries connections back to the client side; port 0 lets the server choose', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const h = await harness();
  try {
    const rport = await freePort();
    const ssh = h.spawn('ssh', ['-o', 'ExitOnForwardFailure=yes', '-R', `${rport}:127.0.0.1:${echoPort}`, '-R', `0:127.0.0.1:${echoPort}`, `${user}@127.0.0.1`, 'echo ready; sleep 20'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => ssh.stdout!.once('data', r));
    const payload = crypto.randomBytes(200_000);
    assert.equal((await roundTrip(rport, payload)).length, payload.length);
    // GatewayPorts no: loopback only, whatever the client asked.
    const local = execFileSync('ss', ['-Htln', `sport = :${rport}`], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(/\s+/)[3]);
    assert.deepEqual(local.sort(), [`127.0.0.1:${rport}`, `[::1]:${rport}`]);
    // The server-chosen port: the harness runs in this process, so it is one of our listeners.
    const ours = execFileSync('ss', ['-Htlnp'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`pid=${process.pid},`));
    const ports = ours.map((l) => Number(/127\.0\.0\.1:(\d+)/.exec(l)?.[1])).filter((p) => p && p !== rport && p !== h.port && p !== echoPort);
    assert.equal(ports.length, 1, ours.join('\n'));
    assert.equal((await roundTrip(ports[0]!, payload)).length, payload.length);
    ssh.kill();
  } finally {
    await h.close();
  }
});

test('-R is refused with AllowTcpForwarding local', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const h = await harness({ tcpForwarding: 'local' });
  try {
    const r = await h.ssh(['-o', 'ExitOnForwardFailure=yes', '-R', `0:127.0.0.1:${echoPort}`, 'echo should-not-run']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /remote port forwarding failed/i);
  } finally {
    await h.close();
  }
});

test('agent forwarding: ssh-add -l on the server lists the client agent key; refused when not allowed', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const h = await harness();
  const h2 = await harness({ agentForwarding: false });
  const agentSock = path.join(h.dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
  try {
    await waitFor('agent socket', () => fs.existsSync(agentSock), 5000);
    const env = { ...process.env, SSH_AUTH_SOCK: agentSock };
    execFileSync('ssh-add', ['-q', path.join(h.dir, 'id')], { env, stdio: 'ignore' });
    const fp = execFileSync('ssh-keygen', ['-lf', path.join(h.dir, 'id.pub')], { encoding: 'utf8' }).split(' ')[1]!;
    const r = await h.ssh(['-A', 'ssh-add -l; stat -c %a "$(dirname "$SSH_AUTH_SOCK")"'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.toString().includes(fp), r.stdout.toString());
    assert.match(r.stdout.toString(), /^700$/m);
    const refused = await h2.ssh(['-A', 'ssh-add -l; echo "sock=$SSH_AUTH_SOCK"'], { env });
    assert.match(refused.stdout.toString(), /^sock=$/m);
  } finally {
    agent.kill();
    await h.close();
    await h2.close();
  }
});

test('streamlocal-forward requests for one path sent back to back: one listens, the others are refused (even with StreamLocalBindUnlink)', async () => {
  // With StreamLocalBindUnlink each listen would remove the socket of the one before.
  const h = await harness({ streamLocalBindUnlink: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-sl-'));
  const conn = await h.ssh2Client();
  try {
    const sock = path.join(dir, 'fwd.sock');
    const ask = () => new Promise<string>((resolve) => conn.openssh_forwardInStreamLocal(sock, (err) => resolve(err ? 'refused' : 'listening')));
    const results = await Promise.all([ask(), ask(), ask()]);
    assert.deepEqual(results.sort(), ['listening', 'refused', 'refused']);
  } finally {
    conn.end();
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
