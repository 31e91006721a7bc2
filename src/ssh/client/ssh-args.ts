/**
 * Turning `mpssh [ssh arguments]` into the system ssh's command line. Pure,
 * so every shape of argument list is covered by a table test.
 *
 * ssh takes options, a destination, more options, then the remote command
 * (ssh.c re-runs getopt once after the destination). Only arguments in option
 * positions are read or changed here; the remote command is never touched.
 */

/** ssh's options that take a value (OpenSSH 9.x getopt string). */
const WITH_VALUE = new Set('BbcDEeFIiJLlmOoPpQRSWwz'.split(''));
/** ssh's options without a value. */
const FLAGS = new Set('146AaCfGgKkMNnqsTtVvXxYy'.split(''));

/** One option occurrence found in an ssh argument list. */
export interface SshOption {
  /** Option letter. */
  flag: string;
  value?: string;
  /** Index of the first argv element of the occurrence, and how many elements it spans. */
  index: number;
  span: number;
}

/** The structure of an ssh argument list. */
export interface ParsedSshArgs {
  options: SshOption[];
  /** Index of the destination in argv, or -1 when there is none (e.g. `ssh -V`). */
  destination: number;
  /** Index where the remote command starts, or argv.length. */
  command: number;
}

/** Finds options, destination and command in an ssh argument list as ssh's getopt would. */
export function parseSshArgs(argv: readonly string[]): ParsedSshArgs {
  const options: SshOption[] = [];
  let destination = -1;
  let i = 0;
  const readOptions = (): void => {
    while (i < argv.length) {
      const arg = argv[i] as string;
      if (arg === '--') {
        i++;
        return;
      }
      if (!arg.startsWith('-') || arg === '-') return;
      const start = i;
      let j = 1;
      for (; j < arg.length; j++) {
        const f = arg[j] as string;
        if (WITH_VALUE.has(f)) {
          const inline = arg.slice(j + 1);
          if (inline !== '') options.push({ flag: f, value: inline, index: start, span: 1 });
          else {
            const v = argv[i + 1];
            options.push({ flag: f, ...(v !== undefined ? { value: v } : {}), index: start, span: v !== undefined ? 2 : 1 });
            if (v !== undefined) i++;
          }
          break;
        }
        // Unknown letters are ssh's to reject; they take no value here.
        options.push({ flag: f, index: start, span: 1 });
        if (!FLAGS.has(f)) break;
      }
      i++;
    }
  };
  readOptions();
  if (i < argv.length) {
    destination = i++;
    readOptions();
  }
  return { options, destination, command: Math.min(i, argv.length) };
}

/** Splits an `-o` value ("Key=Value", "Key Value", "Key = Value") into a lower-case key and its value. */
export function splitOption(value: string): { key: string; value: string } {
  const m = /^\s*([A-Za-z0-9]+)\s*(?:=\s*|\s+)(.*)$/s.exec(value);
  return m ? { key: (m[1] as string).toLowerCase(), value: (m[2] as string).trim() } : { key: value.trim().toLowerCase(), value: '' };
}

/** What `mpssh` will do with a user's ssh arguments. */
export interface SshPlan {
  /** Arguments for the system ssh, with `UseMPTCP` removed and, when MPTCP is used, the proxy options in front. */
  argv: string[];
  /** The user's arguments with `UseMPTCP` removed: `argv` without the proxy options. */
  userArgs: string[];
  useMptcp: boolean;
  /** Why MPTCP is not used, when it is not. */
  reason?: string;
}

/** Options that mean the user routes the connection some other way; mpssh then stays out of it. */
const USER_PROXY_KEYS = new Set(['proxycommand', 'proxyjump']);

/**
 * Plans the ssh command line. `proxyCommand` is the ProxyCommand text to add;
 * `effectiveProxy` is what `ssh -G` reports for proxycommand/proxyjump from
 * the user's own configuration (null when not checked).
 */
export function planSsh(userArgv: readonly string[], proxyCommand: string, effectiveProxy: string | null = null): SshPlan {
  const parsed = parseSshArgs(userArgv);
  let useMptcp = true;
  let reason: string | undefined;
  const drop = new Set<number>();
  for (const o of parsed.options) {
    if (o.flag === 'J') {
      useMptcp = false;
      reason = 'the command line gives -J (ProxyJump)';
    }
    if (o.flag !== 'o' || o.value === undefined) continue;
    const { key, value } = splitOption(o.value);
    if (key === 'usemptcp') {
      for (let k = 0; k < o.span; k++) drop.add(o.index + k);
      // ssh's own rule: the first value given wins.
      if (!parsed.options.some((p) => p.index < o.index && p.flag === 'o' && p.value !== undefined && splitOption(p.value).key === 'usemptcp')) {
        if (/^(no|false|off)$/i.test(value)) {
          useMptcp = false;
          reason = 'UseMPTCP=no';
        }
      }
    } else if (USER_PROXY_KEYS.has(key) && !/^none$/i.test(value)) {
      useMptcp = false;
      reason ??= `the command line gives ${key === 'proxyjump' ? 'ProxyJump' : 'ProxyCommand'}`;
    }
  }
  if (useMptcp && effectiveProxy !== null) {
    useMptcp = false;
    reason = `the ssh configuration routes this host through ${effectiveProxy}`;
  }
  const rest = userArgv.filter((_, idx) => !drop.has(idx));
  if (!useMptcp) return { argv: rest, userArgs: rest, useMptcp, ...(reason ? { reason } : {}) };
  return { argv: ['-o', `ProxyCommand=${proxyCommand}`, '-o', 'ProxyUseFdpass=yes', ...rest], userArgs: rest, useMptcp };
}

/** Quotes a word for the shell ssh runs ProxyCommand with, and escapes ssh's `%` tokens. */
export function shellWord(word: string): string {
  const escaped = word.replace(/%/g, '%%');
  return /^[A-Za-z0-9_./:@=+%-]+$/.test(escaped) ? escaped : `'${escaped.replace(/'/g, `'\\''`)}'`;
}

/** The ProxyCommand that runs this installation's `mpssh proxy` with fd passing. */
export function proxyCommandFor(nodePath: string, scriptPath: string): string {
  return `${shellWord(nodePath)} ${shellWord(scriptPath)} proxy %h %p --fdpass`;
}

/** The ProxyCommand that fetches a connection mpssh already made from the Unix socket `sockPath`. */
export function offerCommandFor(nodePath: string, scriptPath: string, sockPath: string): string {
  return `${shellWord(nodePath)} ${shellWord(scriptPath)} proxy --from ${shellWord(sockPath)}`;
}

/** Host name and port ssh will connect to, from `ssh -G` output. */
export function targetFromConfig(sshG: string): { host: string; port: number } | null {
  const host = /^hostname (.+)$/m.exec(sshG)?.[1]?.trim();
  const port = Number(/^port (\d+)$/m.exec(sshG)?.[1]);
  return host && Number.isInteger(port) && port > 0 ? { host, port } : null;
}

/** Reads proxycommand/proxyjump from `ssh -G` output; null when neither is set. */
export function effectiveProxyFromConfig(sshG: string): string | null {
  for (const line of sshG.split('\n')) {
    const [key, ...rest] = line.trim().split(/\s+/);
    const value = rest.join(' ');
    if ((key === 'proxycommand' || key === 'proxyjump') && value !== '' && value.toLowerCase() !== 'none') return `${key === 'proxyjump' ? 'ProxyJump' : 'ProxyCommand'} ${value}`;
  }
  return null;
}

/**
 * ServerAlive options that end the client as the server's ClientAlive ends
 * the session (60 × 60 by default), when `ssh -G` says the user set none.
 * Over MPTCP a session waits through a gap with no path at all; once the
 * server has given up, the kernel refuses the client's new subflows without
 * telling the connection, so without this ssh would wait for the client's
 * own close timeout. A count the user chose stays (ssh's default is 3).
 */
export function serverAliveOptions(sshG: string): string[] {
  const interval = /^serveraliveinterval (\d+)$/m.exec(sshG)?.[1];
  if (interval !== '0') return [];
  // ssh's default count is 3; any other is the user's and stays.
  const count = /^serveralivecountmax (\d+)$/m.exec(sshG)?.[1];
  return ['-o', 'ServerAliveInterval=60', ...(count === '3' ? ['-o', 'ServerAliveCountMax=60'] : [])];
}
