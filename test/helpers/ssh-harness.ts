/**
 * An in-process ssh2 server on loopback for testing channel handlers against
 * the real OpenSSH client: one throwaway host key and client key, publickey
 * authentication for the test user only, and the caller's handlers attached
 * to each authenticated connection. No worker process and no privilege drop:
 * those are the server's business and are tested end to end elsewhere.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { Connection } from 'ssh2';
import type { ChannelPolicy, ConnectionContext, UserAccount } from '../../src/ssh/context.js';
import { SERVER_SOFTWARE } from '../../src/ssh/server/ident.js';
import { silentLogger } from '../../src/util/logger.js';
import { connectUserSide, spawnUserHelper } from '../../src/ssh/user-side/index.js';

/** The permissive policy sshd has with an empty sshd_config and an option-less key. */
export function defaultPolicy(): ChannelPolicy {
  return {
    pty: true,
    userEnvironment: [],
    acceptEnv: ['LANG', 'LC_*'],
    subsystems: { sftp: '/usr/lib/openssh/sftp-server' },
    maxSessions: 10,
    tcpForwarding: 'all',
    agentForwarding: true,
    userRc: true,
    streamLocalForwarding: 'all',
    streamLocalBindMask: 0o177,
    streamLocalBindUnlink: false,
    permitOpen: 'any',
    permitListen: 'any',
    gatewayPorts: 'no',
  };
}

/** The account the tests log in to: whoever runs them (root in CI). */
export function currentAccount(): UserAccount {
  const u = os.userInfo();
  return { name: u.username, uid: u.uid, gid: u.gid, home: u.homedir, shell: u.shell ?? '/bin/sh' };
}

export interface HarnessOptions {
  /**
   * Called once per authenticated connection, before the client sends
   * channel requests. What it returns is closed when the connection ends,
   * as the worker closes its channel services.
   */
  attach(client: Connection, ctx: ConnectionContext): { close(): unknown } | void;
  policy?: Partial<ChannelPolicy>;
  account?: UserAccount;
  extraEnv?: Record<string, string>;
}

export interface SshHarness {
  port: number;
  dir: string;
  /** ssh options: key, no host key checks, batch mode, no user config. Add `-p port 127.0.0.1` yourself or use ssh(). */
  clientOptions: string[];
  /** Runs `ssh [opts] -p PORT user@127.0.0.1 [command]` and resolves with its output and status. */
  ssh(args: string[], opts?: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>;
  /** Spawns ssh (or scp/sftp with `program`) with the harness options; the caller drives it. */
  spawn(program: 'ssh' | 'scp' | 'sftp', args: string[], opts?: SpawnOptions): ChildProcess;
  /** An ssh2 client logged in with the harness key: it sends requests OpenSSH has no command for. */
  ssh2Client(): Promise<ssh2.Client>;
  /** Contexts handed to `attach`, in order, for assertions. */
  contexts: ConnectionContext[];
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 with an ephemeral port. */
export async function startSshHarness(opts: HarnessOptions): Promise<SshHarness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-harness-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')]);
  const allowed = ssh2.utils.parseKey(fs.readFileSync(path.join(dir, 'id.pub')));
  if (allowed instanceof Error) throw allowed;
  const account = opts.account ?? currentAccount();
  const contexts: ConnectionContext[] = [];
  const clients = new Set<Connection>();

  // The daemon's identification, so the OpenSSH client uses its extensions (eow@openssh.com) as it will with mpsshd.
  const server = new ssh2.Server({ hostKeys: [fs.readFileSync(path.join(dir, 'host_key'))], ident: SERVER_SOFTWARE }, (client, info) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || ctx.username !== account.name) return ctx.reject(['publickey']);
      const same = ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH());
      if (!same) return ctx.reject(['publickey']);
      if (ctx.signature && ctx.blob && !allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.reject(['publickey']);
      ctx.accept();
    });
    client.on('ready', () => {
      const sock = (client as unknown as { _sock: import('node:net').Socket })._sock;
      // The account's own user-side helper, as the worker has; it ends with the connection.
      const helper = spawnUserHelper(account, silentLogger());
      const user = connectUserSide(helper.controlFd, helper.fdChannelFd, silentLogger());
      const ctx: ConnectionContext = {
        log: silentLogger(),
        user,
        account,
        peer: { remoteAddress: info.ip, remotePort: info.port, localAddress: sock.localAddress ?? '127.0.0.1', localPort: sock.localPort ?? 0 },
        policy: { ...defaultPolicy(), ...opts.policy },
        extraEnv: { ...opts.extraEnv },
      };
      contexts.push(ctx);
      const services = opts.attach(client, ctx);
      client.on('close', () => void Promise.resolve(services?.close()).finally(() => user.close()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const clientOptions = [
    '-F', '/dev/null', '-i', path.join(dir, 'id'),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
  ];
  const children = new Set<ChildProcess>();

  return {
    port,
    dir,
    clientOptions,
    contexts,
    ssh(args, o = {}) {
      return new Promise((resolve) => {
        const child = execFile('ssh', [...clientOptions, '-p', String(port), `${account.name}@127.0.0.1`, ...args], {
          encoding: 'buffer',
          timeout: o.timeoutMs ?? 20_000,
          maxBuffer: 256 * 1024 * 1024,
          env: o.env ?? process.env,
        }, (err, stdout, stderr) => {
          children.delete(child);
          const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr: stderr.toString() });
        });
        children.add(child);
        if (o.input !== undefined) child.stdin?.end(o.input);
        else child.stdin?.end();
      });
    },
    async ssh2Client() {
      const conn = new ssh2.Client();
      await new Promise<void>((resolve, reject) => {
        conn.on('ready', () => resolve()).on('error', reject).connect({ host: '127.0.0.1', port, username: account.name, privateKey: fs.readFileSync(path.join(dir, 'id')), strictVendor: false });
      });
      return conn;
    },
    spawn(program, args, o = {}) {
      const portFlag = program === 'ssh' ? ['-p', String(port)] : ['-P', String(port)];
      const child = spawn(program, [...clientOptions, ...portFlag, ...args], o);
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    },
    async close() {
      for (const c of children) c.kill('SIGKILL');
      for (const c of clients) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
