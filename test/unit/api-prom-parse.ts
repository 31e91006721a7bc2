/**
 * A strict parser for the Prometheus text exposition format (version 0.0.4),
 * for tests: it rejects anything a Prometheus server would, and checks the
 * histogram invariants.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(s: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value "${s}"`);
  return Number(s);
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    const name = s.slice(i, eq);
    if (eq < 0 || !LABEL.test(name)) throw new Error(`bad label name in {${s}}`);
    if (s[eq + 1] !== '"') throw new Error(`label value not quoted in {${s}}`);
    let j = eq + 2;
    let v = '';
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === '\\') {
        const n = s[++j];
        if (n === 'n') v += '\n';
        else if (n === '\\' || n === '"') v += n;
        else throw new Error(`bad escape in {${s}}`);
      } else v += s[j];
    }
    if (s[j] !== '"') throw new Error(`unterminated label value in {${s}}`);
    if (name in out) throw new Error(`duplicate label ${name}`);
    out[name] = v;
    i = j + 1;
    if (s[i] === ',') i++;
    else if (i < s.length) throw new Error(`expected , in {${s}}`);
  }
  return out;
}

function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  for (const suffix of ['', '_bucket', '_sum', '_count', '_total']) {
    if (suffix && !sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, sample.length - suffix.length));
    if (f) return f;
  }
  return undefined;
}

/** Parses exposition text; throws on the first violation. */
export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const [n, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const where = `line ${n + 1}: `;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}bad metric name ${name}`);
      const f = families.get(name) ?? { name, type: 'untyped', samples: [] };
      if (kind === 'TYPE') {
        if (f.samples.length > 0) throw new Error(`${where}TYPE after samples of ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`${where}bad type ${rest}`);
        f.type = rest as Family['type'];
      } else f.help = rest;
      families.set(name, f);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`${where}bad sample line "${line}"`);
    const f = familyOf(m[1] as string, families);
    if (!f) throw new Error(`${where}sample ${m[1]} without HELP/TYPE`);
    f.samples.push({ name: m[1] as string, labels: parseLabels(m[2] ?? ''), value: parseValue(m[3] as string) });
  }
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (f.type === 'counter' && !(s.value >= 0)) throw new Error(`counter ${s.name} is ${s.value}`);
      if (f.type === 'histogram' && s.name.endsWith('_bucket') && s.labels.le === undefined) throw new Error(`bucket without le in ${f.name}`);
    }
    if (f.type === 'histogram') {
      const buckets = f.samples.filter((s) => s.name.endsWith('_bucket'));
      for (let i = 1; i < buckets.length; i++) if ((buckets[i] as Sample).value < (buckets[i - 1] as Sample).value) throw new Error(`${f.name} buckets not cumulative`);
      const inf = buckets.find((b) => b.labels.le === '+Inf');
      const count = f.samples.find((s) => s.name === `${f.name}_count`);
      if (!inf || !count || inf.value !== count.value) throw new Error(`${f.name}: +Inf bucket must equal _count`);
    }
  }
  return families;
}
