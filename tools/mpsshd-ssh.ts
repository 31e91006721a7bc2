/**
 * mpsshd serving SSH in a test namespace: its own host key, a client key
 * authorised for root through a key file outside any home (StrictModes off
 * for that file only matters to root tests), and the ssh options that make
 * the OpenSSH client non-interactive. Every test connects from loopback, so
 * PerSourcePenalties is off unless a test turns it on: one source's refused
 * logins would otherwise lock out the tests that follow.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Netns } from './netns.js';
import { startDaemon, type DaemonProcess } from './daemon-process.js';

export interface MpsshdSsh {
  daemon: DaemonProcess;
  dir: string;
  port: number;
  /** Private key of the test client; its public half is in `authorizedKeys`. */
  clientKey: string;
  clientPub: string;
  authorizedKeys: string;
  /** The status API's control socket (root-only, every route). */
  apiSocket: string;
  clientOptions: string[];
  /** The YAML the daemon was started with, for restarting it the same way. */
  yaml: string;
  stateDir: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts mpsshd in `ns` with `ssh.Port: port` plus `sshYaml` lines (indented under `ssh:`) and `extraYaml` at top level. */
export async function startMpsshdSsh(ns: Netns, opts: { port?: number; sshYaml?: string[]; extraYaml?: string; args?: string[] } = {}): Promise<MpsshdSsh> {
  const port = opts.port ?? 22;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-srv-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test-client', '-f', path.join(dir, 'id')]);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.copyFileSync(path.join(dir, 'id.pub'), authorizedKeys);
  const stateDir = path.join(dir, 'run');
  // Later lines win: the caller's settings replace these defaults key by key.
  const sshLines = new Map<string, string>();
  for (const l of [`Port: ${port}`, `HostKey: [${path.join(dir, 'host_key')}]`, `AuthorizedKeysFile: "${authorizedKeys} .ssh/authorized_keys"`, 'StrictModes: no', 'PreforkWorkers: 1', 'PerSourcePenalties: no', ...(opts.sshYaml ?? [])]) {
    sshLines.set(l.slice(0, l.indexOf(':')), l);
  }
  const yaml = [
    'ssh:',
    ...[...sshLines.values()].map((l) => `  ${l}`),
    `dataDir: ${path.join(dir, 'data')}`,
    'api:',
    `  controlSocket: ${path.join(dir, 'api.sock')}`,
    opts.extraYaml ?? '',
  ].join('\n');
  const start = async (): Promise<DaemonProcess> => {
    const d = startDaemon(ns, yaml, { stateDir, ...(opts.args ? { args: opts.args } : {}) });
    await d.waitForLog('listening or failing', (l) => typeof l.msg === 'string' && (l.msg.startsWith('listening for SSH') || l.msg.startsWith('cannot listen for SSH') || l.msg.startsWith('SSH server not started')), 10_000);
    return d;
  };
  const handle: MpsshdSsh = {
    daemon: await start(),
    dir,
    port,
    clientKey: path.join(dir, 'id'),
    clientPub: fs.readFileSync(path.join(dir, 'id.pub'), 'utf8'),
    authorizedKeys,
    apiSocket: path.join(dir, 'api.sock'),
    clientOptions: ['-F', '/dev/null', '-i', path.join(dir, 'id'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-p', String(port)],
    yaml,
    stateDir,
    async restart() {
      await handle.daemon.stop();
      handle.daemon = await start();
    },
    async stop() {
      await handle.daemon.stop();
      // Sessions outlive the daemon by design; end this daemon's own (their sockets name them).
      let ids: string[] = [];
      try {
        ids = fs.readdirSync(path.join(stateDir, 'sessions')).map((n) => n.slice(0, 16));
      } catch {
        // no session ever started
      }
      for (const id of ids) {
        try {
          execFileSync('pkill', ['-KILL', '-f', `\\[session ${id}\\]`], { stdio: 'ignore' });
        } catch {
          // already gone
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/** Runs a command in `ns` and collects its output and status. */
export function run(ns: Netns, cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('ip', ['netns', 'exec', ns.name, cmd, ...args], { encoding: 'utf8', timeout: opts.timeoutMs ?? 20_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

/** GET (or another method) on the daemon's control socket; resolves with status and parsed JSON. */
export function api(srv: MpsshdSsh, method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> {
  const http = require('node:http') as typeof import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: srv.apiSocket, method, path: route, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: text === '' ? null : JSON.parse(text) });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
