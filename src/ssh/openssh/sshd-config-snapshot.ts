/**
 * A private copy of sshd's configuration, taken when mpsshd starts or
 * reloads and checked with `sshd -t` before use. sshd in inetd mode reads
 * its configuration for every connection; without a copy an administrator's
 * half-edited sshd_config would apply to the next login at once, where the
 * OpenSSH daemon keeps its configuration until `systemctl reload ssh` has
 * checked the new one. The copy keeps that contract.
 *
 * `Include` lines are followed (globs expanded in lexical order, relative
 * paths under /etc/ssh, at most 16 levels deep, as sshd does) and rewritten
 * to the copied files. Keys, authorized_keys and other files the
 * configuration names are read where they are, as sshd reads them.
 */
import fs from 'node:fs';
import path from 'node:path';

/** sshd's directory for relative Include paths (SSHDIR in OpenSSH's build for Debian). */
export const SSHDIR = '/etc/ssh';
/** READCONF_MAX_DEPTH in OpenSSH. */
const MAX_DEPTH = 16;
/** A configuration larger than this is not copied (sshd_config files are a few KiB). */
const MAX_FILE = 1024 * 1024;
const MAX_FILES = 256;

/** Splits sshd_config arguments: whitespace-separated, double quotes group. */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/** The arguments of an `Include` line, or null for any other line. */
export function includeArgs(line: string): string[] | null {
  const m = /^\s*include(?:\s*=\s*|\s+)(.*)$/i.exec(line);
  if (m === null) return null;
  const rest = (m[1] ?? '').replace(/\s+#.*$/, '');
  return splitArgs(rest);
}

/** A glob(7) pattern for one path component as a regular expression (`*`, `?`, `[...]`; no leading-dot matches). */
export function globComponent(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^(?!\\.)${re}$`);
}

const hasGlob = (s: string): boolean => /[*?[]/.test(s);

/** Expands an absolute glob to the existing files it names, sorted as glob(3) sorts them. */
export function expandGlob(pattern: string, fsx: Pick<typeof fs, 'readdirSync' | 'existsSync'> = fs): string[] {
  const parts = pattern.split('/').filter((p) => p !== '');
  let paths = ['/'];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of paths) {
      if (!hasGlob(part)) {
        next.push(path.join(dir, part));
        continue;
      }
      let names: string[];
      try {
        names = fsx.readdirSync(dir) as string[];
      } catch {
        continue;
      }
      const re = globComponent(part);
      for (const n of names.filter((n) => re.test(n)).sort()) next.push(path.join(dir, n));
    }
    paths = next;
  }
  return paths.filter((p) => fsx.existsSync(p));
}

export interface SnapshotResult {
  /** The copied main file, to pass as `sshd -f`. */
  main: string;
  /** Files copied, in the order they were read. */
  sources: string[];
}

/**
 * Copies `configFile` and everything it includes into `dir` (created 0700,
 * files 0600), rewriting `Include` lines to the copies. Throws an Error
 * that names the file when one cannot be read or nesting goes too deep.
 */
export function snapshotSshdConfig(configFile: string, dir: string): SnapshotResult {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const sources: string[] = [];
  const copy = (file: string, depth: number): string => {
    if (depth > MAX_DEPTH) throw new Error(`${file}: Include nested more than ${MAX_DEPTH} levels deep`);
    if (sources.length >= MAX_FILES) throw new Error(`${file}: more than ${MAX_FILES} included files`);
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error(`${file}: not a regular file`);
    if (st.size > MAX_FILE) throw new Error(`${file}: larger than ${MAX_FILE} bytes`);
    const text = fs.readFileSync(file, 'utf8');
    const target = path.join(dir, sources.length === 0 ? 'sshd_config' : `${sources.length}-${path.basename(file).replace(/[^\w.-]/g, '_')}`);
    sources.push(file);
    const lines = text.split('\n').map((line) => {
      const args = includeArgs(line);
      if (args === null) return line;
      const files = args.flatMap((a) => expandGlob(a.startsWith('/') ? a : path.join(SSHDIR, a)));
      const copies = files.map((f) => copy(f, depth + 1));
      // sshd accepts an Include that matches nothing; a line with no argument it would refuse.
      return copies.length === 0 ? `# ${line.trim()} (matched no file when copied)` : `Include ${copies.map((c) => `"${c}"`).join(' ')}`;
    });
    fs.writeFileSync(target, lines.join('\n'), { mode: 0o600 });
    return target;
  };
  return { main: copy(configFile, 0), sources };
}
