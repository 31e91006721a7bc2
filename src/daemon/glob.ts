/**
 * Shell-style globs for interface names, as users write them in the config
 * and as fnmatch(3) reads them: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`.
 */

/** True when `name` matches the glob `pattern` as a whole. */
export function globMatch(pattern: string, name: string): boolean {
  return matchFrom(pattern, 0, name, 0);
}

function matchFrom(p: string, pi: number, s: string, si: number): boolean {
  while (pi < p.length) {
    const c = p[pi];
    if (c === '*') {
      // Collapse runs of '*' and try every split point.
      while (p[pi] === '*') pi++;
      if (pi === p.length) return true;
      for (let k = si; k <= s.length; k++) if (matchFrom(p, pi, s, k)) return true;
      return false;
    }
    if (si >= s.length) return false;
    if (c === '?') {
      pi++;
      si++;
      continue;
    }
    if (c === '[') {
      const cls = readClass(p, pi);
      if (cls !== null) {
        if (cls.test(s[si] as string) === cls.negated) return false;
        pi = cls.end;
        si++;
        continue;
      }
    }
    if (c === '\\' && pi + 1 < p.length) pi++;
    if (p[pi] !== s[si]) return false;
    pi++;
    si++;
  }
  return si === s.length;
}

interface CharClass {
  negated: boolean;
  end: number;
  test(ch: string): boolean;
}

function readClass(p: string, start: number): CharClass | null {
  let i = start + 1;
  const negated = p[i] === '!' || p[i] === '^';
  if (negated) i++;
  const ranges: [string, string][] = [];
  let first = true;
  while (i < p.length && (p[i] !== ']' || first)) {
    first = false;
    const lo = p[i] as string;
    if (p[i + 1] === '-' && i + 2 < p.length && p[i + 2] !== ']') {
      ranges.push([lo, p[i + 2] as string]);
      i += 3;
    } else {
      ranges.push([lo, lo]);
      i++;
    }
  }
  if (i >= p.length) return null; // no closing ']': treat '[' literally
  return { negated, end: i + 1, test: (ch) => ranges.some(([a, b]) => ch >= a && ch <= b) };
}
