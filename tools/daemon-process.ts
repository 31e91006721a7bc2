/**
 * Runs the real mpsshd executable inside a test namespace, with its JSON log
 * lines collected so tests can wait for what the daemon says.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';
import { waitFor } from './netns.js';

/** Path of the mpsshd launcher in this checkout. */
export const MPSSHD = path.resolve(__dirname, '../../bin/mpsshd.js');

/** A running mpsshd. */
export interface DaemonProcess {
  proc: ChildProcess;
  configFile: string;
  stateDir: string;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stderr(): string;
  waitForLog(what: string, pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited(): Promise<number | null>;
  stop(): Promise<void>;
}

/** Writes `yaml` to a config file (mode 0600) in a fresh directory and starts mpsshd in `ns`. */
export function startDaemon(ns: Netns, yaml: string, opts: { stateDir?: string; args?: string[]; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): DaemonProcess {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-daemon-'));
  const stateDir = opts.stateDir ?? path.join(dir, 'state');
  const configFile = path.join(dir, 'mpsshd.yaml');
  fs.writeFileSync(configFile, `${yaml}\nstateDir: ${stateDir}\n`, { mode: 0o600 });
  const proc = ns.spawn(process.execPath, [...(opts.nodeArgs ?? []), MPSSHD, '-f', configFile, '-o', 'LogLevel=DEBUG', ...(opts.args ?? [])], opts.env ? { env: { ...process.env, ...opts.env } } : {});
  const logs: Record<string, unknown>[] = [];
  let err = '';
  let buf = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
  });
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    configFile,
    stateDir,
    logs,
    stderr: () => err,
    waitForLog: (what, pred, timeoutMs = 8000) =>
      waitFor(`mpsshd log: ${what} (stderr: ${err.slice(-300)})`, () => logs.find(pred), timeoutMs),
    exited: () => exit,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(t);
      }
      // The config (and the default state directory) live in `dir`; a state
      // directory handed in belongs to the caller.
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
