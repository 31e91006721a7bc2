/**
 * Reading the configuration: built-in defaults, then the YAML file, then the
 * command line's `-o Key=Value` overrides, in that order of precedence. Every
 * error names where it comes from: the file, line and column and the key, or
 * the `-o` option that carried the bad value.
 */
import fs from 'node:fs';
import { LineCounter, parseDocument, isMap, isScalar, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { SSH_OPTION_NAMES } from './ssh-schema.js';
import { ConfigError, DEFAULT_CONFIG_PATH, type ConfigProblem, type LoadedConfig, type LoadOptions } from './read.js';

export { ConfigError, DEFAULT_CONFIG_PATH, type ConfigProblem, type LoadedConfig, type LoadOptions } from './read.js';

/** Loads and validates the configuration; throws ConfigError. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const file = opts.file ?? DEFAULT_CONFIG_PATH;
  const overrides = opts.overrides ?? [];
  const text = readConfigText(file, opts.explicit ?? false);
  return parseConfig(text, text === null ? null : file, overrides);
}

/** Validates configuration text (null: no file) with overrides applied; throws ConfigError. */
export function parseConfig(text: string | null, file: string | null, overrides: string[] = []): LoadedConfig {
  const where = file ?? '(built-in defaults)';
  const lineCounter = new LineCounter();
  const doc = parseDocument(text ?? '', { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        where: `${where}:${lineCounter.linePos(e.pos[0]).line}:${lineCounter.linePos(e.pos[0]).col}`,
        key: '',
        message: `invalid YAML: ${firstLine(e.message)}`,
      })),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (err) {
    // The yaml library refuses documents whose aliases expand beyond reason (an "alias bomb").
    throw new ConfigError([{ where: `${where}:1:1`, key: '', message: `invalid YAML: ${firstLine((err as Error).message)}` }]);
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ where: `${where}:1:1`, key: '', message: 'the file must be a YAML mapping (key: value lines)' }]);
  }
  const fromOverride = new Map<string, string>();
  for (const o of overrides) {
    const { path, value } = parseOverride(o);
    setPath(raw as Record<string, unknown>, path, value);
    fromOverride.set(keyOf(path), o);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((i) => problemsOf(i, doc, lineCounter, where, fromOverride)));
  }
  return { config: result.data, file, overrides };
}

/**
 * Reads the file, refusing one that others may write: whoever can write the
 * config of a root daemon can decide which endpoints exist.
 */
function readConfigText(file: string, explicit: boolean): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return null;
    throw new ConfigError([{ where: file, key: '', message: `cannot read: ${code === 'ENOENT' ? 'no such file' : String(code)}` }]);
  }
  if (!st.isFile()) throw new ConfigError([{ where: file, key: '', message: 'not a regular file' }]);
  if (process.geteuid?.() === 0 && st.uid !== 0) {
    // Its owner can make it writable at will.
    throw new ConfigError([{ where: file, key: '', message: `refusing a config file owned by uid ${st.uid}, not root; run: chown root: ${file}` }]);
  }
  const groupWritable = (st.mode & 0o020) !== 0 && st.gid !== 0;
  if ((st.mode & 0o002) !== 0 || groupWritable) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw new ConfigError([{ where: file, key: '', message: `refusing a config file writable by others (mode ${mode}); run: chmod go-w ${file}` }]);
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ where: file, key: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
}

/**
 * OpenSSH-style option names accepted by `-o`, mapped to config paths. Every
 * `ssh` option by its sshd name (`-o UseMPTCP=no`, `-o Port=2222`). Any
 * dotted config path (`pathManager.linkDownHoldMs=500`) is accepted as well.
 */
const OPTION_ALIASES: Record<string, string[]> = {
  loglevel: ['log', 'level'],
  statedir: ['stateDir'],
  datadir: ['dataDir'],
};

/** Splits "Key=Value" (or "Key Value", as ssh allows) into a config path and a YAML-parsed value. */
export function parseOverride(option: string): { path: string[]; value: unknown } {
  const m = /^\s*([A-Za-z][\w.[\]-]*)\s*(?:=|\s)\s*(.*)$/s.exec(option);
  if (!m) throw new ConfigError([{ where: `-o ${option}`, key: '', message: 'expected Key=Value' }]);
  const [, key = '', valueText = ''] = m;
  const sshName = SSH_OPTION_NAMES.get(key.toLowerCase());
  const alias = OPTION_ALIASES[key.toLowerCase()] ?? (sshName !== undefined ? ['ssh', sshName] : undefined);
  const path = alias ?? key.split('.').filter((p) => p !== '');
  const parsed = parseDocument(valueText);
  if (parsed.errors.length > 0) {
    throw new ConfigError([{ where: `-o ${option}`, key: path.join('.'), message: `invalid value: ${firstLine(parsed.errors[0]?.message ?? '')}` }]);
  }
  let value: unknown = parsed.toJS();
  // LogLevel takes sshd's upper-case words (LogLevel=DEBUG).
  if (alias && key.toLowerCase() === 'loglevel' && typeof value === 'string') value = value.toLowerCase();
  return { path, value };
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const [i, part] of path.entries()) {
    if (i === path.length - 1) {
      cur[part] = value;
      return;
    }
    const next = cur[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
}

function keyOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

function problemsOf(issue: z.core.$ZodIssue, doc: Document, lc: LineCounter, where: string, fromOverride: Map<string, string>): ConfigProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => locate([...path, k], doc, lc, where, fromOverride, `unknown key "${k}"${suggestion(k, doc, path)}`, true));
  }
  return [locate(path, doc, lc, where, fromOverride, issue.message, false)];
}

function locate(path: (string | number)[], doc: Document, lc: LineCounter, where: string, fromOverride: Map<string, string>, message: string, atKey: boolean): ConfigProblem {
  const key = keyOf(path);
  for (let n = path.length; n > 0; n--) {
    const o = fromOverride.get(keyOf(path.slice(0, n)));
    if (o !== undefined) return { where: `-o ${o}`, key, message };
  }
  // Walk up until a node of the file is found: a missing key is reported at its parent.
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    const offset = nodeOffset(doc, sub, atKey && n === path.length);
    if (offset !== undefined) {
      const pos = lc.linePos(offset);
      const missing = n < path.length && !atKey ? ` (missing "${String(path[n])}")` : '';
      return { where: `${where}:${pos.line}:${pos.col}`, key, message: message + missing };
    }
  }
  return { where, key, message };
}

function nodeOffset(doc: Document, path: (string | number)[], wantKey: boolean): number | undefined {
  if (path.length === 0) return doc.contents?.range?.[0];
  if (wantKey) {
    const parent = doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
      const k = pair?.key as Node | undefined;
      if (k?.range) return k.range[0];
    }
    return undefined;
  }
  const node = doc.getIn(path, true) as Node | undefined;
  return node?.range?.[0];
}

/** " (did you mean X?)" when a known key of the same mapping is one or two edits away. */
function suggestion(key: string, doc: Document, parentPath: (string | number)[]): string {
  void doc;
  const known = knownKeys(parentPath);
  const best = known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
  return best ? ` (did you mean "${best}"?)` : '';
}

function knownKeys(path: (string | number)[]): string[] {
  let schema: unknown = configSchema;
  for (const p of path) {
    schema = unwrap(schema);
    const shape = (schema as { shape?: Record<string, unknown> }).shape;
    const element = (schema as { element?: unknown }).element;
    if (typeof p === 'number' && element) schema = element;
    else if (shape && typeof p === 'string' && shape[p]) schema = shape[p];
    else return [];
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(s: unknown): unknown {
  let cur = s as { def?: { innerType?: unknown; in?: unknown; schema?: unknown; options?: unknown[] } } | undefined;
  for (let i = 0; i < 8 && cur?.def; i++) {
    const next = cur.def.innerType ?? cur.def.in ?? cur.def.schema ?? cur.def.options?.find((o) => (o as { shape?: unknown }).shape);
    if (!next) break;
    cur = next as typeof cur;
  }
  return cur;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
