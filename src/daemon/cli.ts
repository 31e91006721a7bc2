/**
 * mpsshd's command line, parsed by a pure function so that every flag and
 * every mistake is covered by a table test. The flags follow sshd's where
 * sshd has one: -f, -t, -d, -o.
 */
import { MpsshError } from '../util/errors.js';

/** What the command line asks for. */
export interface DaemonArgs {
  help: boolean;
  version: boolean;
  /** -t: check the configuration and exit. */
  check: boolean;
  /** -T: check, then print how SSH will be served (the server, sshd's command line). */
  extended: boolean;
  /** -d: debug level and human-readable logs. */
  debug: boolean;
  file?: string;
  overrides: string[];
}

/** The text of `mpsshd --help`. */
export const USAGE = `usage: mpsshd [-dtT] [-f config_file] [-o option=value]...

Multipath SSH daemon: keeps the kernel's MPTCP endpoints in step with the
host's interfaces, as the configuration asks.

  -f FILE          configuration file (default /etc/mpssh/mpsshd.yaml;
                   without it, built-in defaults are used)
  -t               check the configuration, print the result and exit
                   (exit status 0 when valid, 1 otherwise); with
                   ssh.Server: openssh, sshd -t checks sshd's too
  -T               as -t, then print who serves SSH and, for OpenSSH,
                   the command line each connection is given to
  -d               debug: log at debug level, in human-readable form
  -o KEY=VALUE     override one setting; KEY is a dotted config path
                   (pathManager.linkDownHoldMs=500) or an OpenSSH-style
                   name (LogLevel=DEBUG). Repeatable; wins over the file.
  -h, --help       show this help
  -V, --version    show the version

Signals: SIGHUP reloads the configuration (an invalid one is refused and
the running one kept); SIGTERM and SIGINT stop the daemon. Needs
CAP_NET_ADMIN (run as root or with that capability).
`;

/** Parses argv (without node and script); throws MpsshError usage (printed as "mpsshd: <message>"). */
export function parseDaemonArgs(argv: readonly string[]): DaemonArgs {
  const out: DaemonArgs = { help: false, version: false, check: false, extended: false, debug: false, overrides: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') out.help = true;
    else if (arg === '--version' || arg === '-V') out.version = true;
    else if (arg === '--') {
      if (i + 1 < argv.length) throw new MpsshError('usage', `unexpected argument "${argv[i + 1]}"`);
    } else if (/^-[a-zA-Z]/.test(arg)) {
      // Bundled flags as getopt allows: -dt, -f FILE, -fFILE, -oKey=Value.
      for (let j = 1; j < arg.length; j++) {
        const flag = arg[j] as string;
        if (flag === 'd') out.debug = true;
        else if (flag === 't') out.check = true;
        else if (flag === 'T') out.check = out.extended = true;
        else if (flag === 'h') out.help = true;
        else if (flag === 'V') out.version = true;
        else if (flag === 'f' || flag === 'o') {
          const rest = arg.slice(j + 1);
          const value = rest !== '' ? rest : argv[++i];
          if (value === undefined) throw new MpsshError('usage', `option -${flag} needs a value`);
          if (flag === 'f') out.file = value;
          else out.overrides.push(value);
          break;
        } else {
          throw new MpsshError('usage', `unknown option -${flag} (see mpsshd --help)`);
        }
      }
    } else if (arg.startsWith('--')) {
      throw new MpsshError('usage', `unknown option ${arg} (see mpsshd --help)`);
    } else {
      throw new MpsshError('usage', `unexpected argument "${arg}" (see mpsshd --help)`);
    }
  }
  return out;
}
