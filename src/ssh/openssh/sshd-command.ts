/**
 * The command line mpsshd gives OpenSSH's sshd for one connection, and the
 * check that runs before any connection is served with a configuration.
 */
import { execFile } from 'node:child_process';

/** The `ssh.OpenSSH` settings, as the schema gives them. */
export interface OpenSshSettings {
  /** sshd's binary. */
  Path: string;
  /** sshd's configuration file (copied, see sshd-config-snapshot.ts). */
  Config: string;
  /** Extra `-o Keyword=value` options. */
  Options: string[];
}

/** What `sshd -T` says of the settings mpsshd may supply. */
export interface SshdEffective {
  clientAliveInterval: number;
  clientAliveCountMax: number;
}

/**
 * The argv for `sshd -i`: the checked copy of the configuration, the
 * administrator's options, and mpsshd's ClientAlive settings when neither
 * sshd's configuration nor those options turn keepalives on (a session that
 * must outlive a gap without network needs them; sshd's default is off).
 */
export function sshdArgv(s: OpenSshSettings, configCopy: string, effective: SshdEffective | undefined, alive: { interval: number; countMax: number }): string[] {
  const argv = [s.Path, '-i', '-f', configCopy];
  for (const o of s.Options) argv.push('-o', o);
  const optionSets = (name: string): boolean => s.Options.some((o) => o.toLowerCase().startsWith(`${name.toLowerCase()}=`) || o.toLowerCase().startsWith(`${name.toLowerCase()} `));
  const sshdSetsAlive = (effective?.clientAliveInterval ?? 0) > 0 || optionSets('ClientAliveInterval');
  if (!sshdSetsAlive && alive.interval > 0) {
    argv.push('-o', `ClientAliveInterval=${alive.interval}`);
    if (!optionSets('ClientAliveCountMax')) argv.push('-o', `ClientAliveCountMax=${alive.countMax}`);
  }
  return argv;
}

/** Reads `sshd -T` output (lower-case keyword, space, value per line). */
export function parseSshdT(out: string): SshdEffective {
  const get = (k: string): number => {
    const m = new RegExp(`^${k} (\\d+)$`, 'm').exec(out);
    return m === null ? 0 : Number(m[1]);
  };
  return { clientAliveInterval: get('clientaliveinterval'), clientAliveCountMax: get('clientalivecountmax') };
}

/** The first lines of sshd's complaint, on one line, for a log message. */
export function sshdComplaint(stderr: string, code: number | string | null): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const text = lines.slice(0, 3).join('; ').slice(0, 500);
  return text !== '' ? text : `exited with ${String(code)}`;
}

/** Runs sshd with `args` (it needs root for the checks to mean anything); resolves with its output or rejects with its words. */
export function runSshd(path: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path, args, { timeout: timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else {
        const code = (err as NodeJS.ErrnoException).code ?? (err as { signal?: string }).signal ?? null;
        reject(new Error(`${path} ${args.join(' ')}: ${code === 'ENOENT' ? 'not found (is openssh-server installed?)' : sshdComplaint(stderr, code)}`));
      }
    });
  });
}

/** `sshd -t` then `sshd -T` on the copy, with the administrator's options; rejects with sshd's own words. */
export async function checkSshd(s: OpenSshSettings, configCopy: string): Promise<SshdEffective> {
  const opts = s.Options.flatMap((o) => ['-o', o]);
  await runSshd(s.Path, ['-t', '-f', configCopy, ...opts]);
  return parseSshdT(await runSshd(s.Path, ['-T', '-f', configCopy, ...opts]));
}
