/**
 * Throwaway network namespaces for tests, made and removed with iproute2.
 * Every namespace a test creates is removed by `close()`, and names carry the
 * test process's pid so that leftovers of a killed run are easy to spot
 * (`ip netns list | grep mpssh-`).
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
let counter = 0;

/** A network namespace owned by a test. */
export class Netns {
  private closed = false;

  private constructor(readonly name: string) {}

  /** Creates a namespace with `lo` up. */
  static create(tag = 'ns'): Netns {
    const name = `mpssh-${tag}-${process.pid}-${counter++}`;
    execFileSync('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    ns.ipSync('link', 'set', 'lo', 'up');
    return ns;
  }

  /** Path of the namespace file, for `inNetns()`. */
  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /** Runs `ip ARGS` inside the namespace and returns stdout; throws with stderr on failure. */
  ipSync(...args: string[]): string {
    return this.execSync('ip', args);
  }

  /** Runs a command inside the namespace synchronously and returns stdout. */
  execSync(cmd: string, args: string[] = []): string {
    try {
      return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${cmd} ${args.join(' ')} in ${this.name}: ${(e.stderr ?? '').trim() || e.message}`);
    }
  }

  /** Runs a command inside the namespace and resolves with stdout. */
  async exec(cmd: string, args: string[] = []): Promise<string> {
    try {
      const { stdout } = await execFileP('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8' });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${cmd} ${args.join(' ')} in ${this.name}: ${(e.stderr ?? '').trim() || e.message}`);
    }
  }

  /** Runs `ip ARGS` inside the namespace. */
  ip(...args: string[]): Promise<string> {
    return this.exec('ip', args);
  }

  /** Starts a long-running process inside the namespace. */
  spawn(cmd: string, args: string[] = [], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: 'pipe', ...opts });
  }

  /** Sets a sysctl inside the namespace, e.g. `sysctl('net.mptcp.enabled', '0')`. */
  sysctl(key: string, value: string): void {
    this.execSync('sysctl', ['-q', '-w', `${key}=${value}`]);
  }

  /** Kills every process still in the namespace (programs that outlive their starter by design, as sshd -i does). */
  killAll(): void {
    let pids: string[] = [];
    try {
      pids = execFileSync('ip', ['netns', 'pids', this.name], { encoding: 'utf8' }).split('\n').filter((p) => p !== '');
    } catch {
      return; // the namespace is gone
    }
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Removes the namespace (and with it every interface inside). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // Already gone: nothing to clean.
    }
  }
}

/**
 * Creates a veth pair with one end in each namespace (`b` may be the same as
 * `a`), both ends up. Addresses are for the caller to add.
 */
export function vethPair(a: Netns, ifA: string, b: Netns, ifB: string): void {
  const tmp = `v${process.pid % 100000}x${counter++}`;
  execFileSync('ip', ['link', 'add', tmp, 'netns', a.name, 'type', 'veth', 'peer', 'name', ifB, 'netns', b.name]);
  a.ipSync('link', 'set', tmp, 'name', ifA);
  a.ipSync('link', 'set', ifA, 'up');
  b.ipSync('link', 'set', ifB, 'up');
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes; then throws with `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 5000, stepMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
