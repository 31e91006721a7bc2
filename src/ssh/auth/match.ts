/**
 * OpenSSH pattern matching (ssh_config(5) PATTERNS; match.c, addrmatch.c):
 * `*` and `?` wildcards, comma-separated lists whose entries may be negated
 * with `!`, and address lists mixing wildcards with CIDR networks, as used
 * by `from=`, `Match Address`, and `user@host` in AllowUsers/DenyUsers.
 *
 * Matching is on bytes, as in C: a non-ASCII name is compared as its UTF-8
 * bytes, `?` stands for one byte, and only A-Z fold to lowercase.
 */
import { isIPv6 } from 'node:net';

/** Outcome of a pattern list: a positive entry matched, a negated entry matched, or neither. */
export type ListMatch = 'match' | 'negated' | 'none';
/** Address lists can also be malformed (an empty entry, a bad CIDR). */
export type AddrListMatch = ListMatch | 'invalid';

/** match.c: longest single entry of a pattern list; a longer one fails the list. */
const MAX_SUBPATTERN = 1023;

/** True when `s` matches `pattern` (`*` any run, `?` any one byte) as a whole. */
export function matchPattern(s: string, pattern: string): boolean {
  return globBytes(bytes(s), bytes(pattern));
}

// Two-pointer wildcard match: on a mismatch, retry from the last '*' with
// one more byte swallowed. Linear in practice, O(n*m) at worst.
function globBytes(s: string, p: string): boolean {
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === s[si]))) {
      si++;
      pi++;
    } else if (pi < p.length && p[pi] === '*') {
      starP = pi++;
      starS = si;
    } else if (starP !== -1) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/**
 * Matches `s` against a comma-separated pattern list. A matching negated
 * entry wins over any positive one. `foldCase` lowercases the patterns
 * (the caller lowercases `s`), as for host names.
 */
export function matchPatternList(s: string, list: string, foldCase = false): ListMatch {
  const subject = bytes(s);
  const pats = bytes(list);
  let positive = false;
  let i = 0;
  while (i < pats.length) {
    const negated = pats[i] === '!';
    if (negated) i++;
    let end = pats.indexOf(',', i);
    if (end === -1) end = pats.length;
    let sub = pats.slice(i, end);
    if (sub.length >= MAX_SUBPATTERN) return 'none';
    i = end < pats.length ? end + 1 : end;
    if (foldCase) sub = asciiLower(sub);
    if (globBytes(subject, sub)) {
      if (negated) return 'negated';
      positive = true;
    }
  }
  return positive ? 'match' : 'none';
}

/** Matches a host name against a pattern list, ignoring ASCII case. */
export function matchHostname(host: string, list: string): ListMatch {
  return matchPatternList(asciiLower(host), list, true);
}

/** A parsed IP address. */
export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
  /** IPv6 zone (`%eth0`), compared as text. */
  zone?: string;
}

/**
 * Parses a numeric address as glibc's getaddrinfo(AI_NUMERICHOST) does, so
 * the inet_aton forms sshd accepts in patterns work here too: `10.1` is
 * 10.0.0.1, `010.0.0.1` is octal 8.0.0.1, `0x0a.0.0.1` is hex.
 */
export function parseIp(text: string): IpAddress | null {
  return parseIpv4(text) ?? parseIpv6(text);
}

function parseIpv4(text: string): IpAddress | null {
  const parts = text.split('.');
  if (parts.length > 4) return null;
  const vals: number[] = [];
  for (const p of parts) {
    let v: number;
    if (/^0[xX][0-9a-fA-F]+$/.test(p)) v = parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) v = p.length > 1 ? parseInt(p, 8) : 0;
    else if (/^[1-9][0-9]*$/.test(p)) v = Number(p);
    else return null;
    vals.push(v);
  }
  const last = vals.length - 1;
  if (vals.slice(0, last).some((v) => v > 255) || (vals[last] as number) >= 2 ** (8 * (4 - last))) return null;
  let n = vals[last] as number;
  for (let k = 0; k < last; k++) n += (vals[k] as number) * 2 ** (8 * (3 - k));
  return { family: 4, bytes: new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]) };
}

function parseIpv6(text: string): IpAddress | null {
  if (!isIPv6(text)) return null;
  const pct = text.indexOf('%');
  const addr = pct === -1 ? text : text.slice(0, pct);
  const zone = pct === -1 ? undefined : text.slice(pct + 1);
  const out = new Uint8Array(16);
  let tail = addr;
  let v4: Uint8Array | null = null;
  const dot = addr.lastIndexOf(':');
  if (addr.includes('.')) {
    v4 = (parseIpv4Strict(addr.slice(dot + 1)) as IpAddress).bytes;
    tail = addr.slice(0, dot + 1) + '0:0';
  }
  const [head, rest] = tail.includes('::') ? tail.split('::') : [tail, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const r = groups(rest);
  const all = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  all.forEach((g, k) => {
    out[2 * k] = g >> 8;
    out[2 * k + 1] = g & 255;
  });
  if (v4) out.set(v4, 12);
  return zone === undefined ? { family: 6, bytes: out } : { family: 6, bytes: out, zone };
}

function parseIpv4Strict(text: string): IpAddress | null {
  return /^\d+\.\d+\.\d+\.\d+$/.test(text) ? parseIpv4(text) : null;
}

/**
 * The address sshd logs and matches for a peer: IPv4-mapped IPv6
 * (`::ffff:10.0.0.5`, what a dual-stack socket reports) becomes plain IPv4.
 */
export function normaliseClientAddress(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m && parseIpv4Strict(m[1] as string) ? (m[1] as string) : ip;
}

/** A network from a pattern entry: `10.0.0.0/8`, `2001:db8::/32`, or a single address. */
export interface Cidr {
  addr: IpAddress;
  bits: number;
}

/**
 * addr_pton_cidr(): null when the entry is not an address at all (it is then
 * a wildcard pattern), 'invalid' when it is one with a bad prefix length or
 * with bits set beyond the prefix (`10.1.2.3/8`).
 */
export function parseCidr(entry: string): Cidr | null | 'invalid' {
  if (entry.length >= 64) return null;
  const slash = entry.indexOf('/');
  const addrText = slash === -1 ? entry : entry.slice(0, slash);
  let bits: number | undefined;
  if (slash !== -1) {
    const m = entry.slice(slash + 1);
    if (!/^[0-9]+$/.test(m) || Number(m) > 0x7fffffff) return null;
    bits = Number(m);
  }
  const addr = parseIp(addrText);
  if (!addr) return null;
  const max = addr.family === 4 ? 32 : 128;
  const len = bits ?? max;
  if (len > max) return 'invalid';
  if (!hostBitsZero(addr.bytes, len)) return 'invalid';
  return { addr, bits: len };
}

function hostBitsZero(b: Uint8Array, len: number): boolean {
  for (let k = 0; k < b.length; k++) {
    const keep = Math.max(0, Math.min(8, len - 8 * k));
    const hostMask = 0xff >> keep;
    if (((b[k] as number) & hostMask) !== 0) return false;
  }
  return true;
}

/** True when `ip` lies in `net` (same family and zone). */
export function cidrContains(net: Cidr, ip: IpAddress): boolean {
  if (net.addr.family !== ip.family || net.addr.zone !== ip.zone) return false;
  for (let k = 0; k < ip.bytes.length; k++) {
    const keep = Math.max(0, Math.min(8, net.bits - 8 * k));
    const mask = (0xff00 >> keep) & 0xff;
    if ((((ip.bytes[k] as number) ^ (net.addr.bytes[k] as number)) & mask) !== 0) return false;
  }
  return true;
}

/**
 * addr_match_list(): matches an address against a list of CIDR networks and
 * wildcard patterns (`10.0.0.0/8,!10.1.2.3,192.168.*`). A negated hit wins;
 * an empty entry or a malformed network makes the list 'invalid'. A null
 * `ip` only checks the list.
 */
export function addrMatchList(ip: string | null, list: string): AddrListMatch {
  let tryAddr: IpAddress | null = null;
  if (ip !== null) {
    tryAddr = parseIp(ip);
    if (!tryAddr) return 'none';
  }
  let ret: AddrListMatch = 'none';
  for (let entry of list.split(',')) {
    const neg = entry.startsWith('!');
    if (neg) entry = entry.slice(1);
    if (entry === '') return 'invalid';
    const net = parseCidr(entry);
    if (net === 'invalid') return 'invalid';
    const hit = ip !== null && (net === null ? matchPattern(ip, entry) : cidrContains(net, tryAddr as IpAddress));
    if (hit) {
      if (neg) return 'negated';
      ret = 'match';
    }
  }
  return ret;
}

/** The client as sshd knows it: its address, and its verified reverse-DNS name if any. */
export interface ClientHost {
  ip: string;
  /** Verified host name (UseDNS yes). Absent means sshd's UseDNS no: the address stands in for the name. */
  name?: string;
}

/**
 * match_host_and_ip(): the `from=` and `user@host` test. The list is tried
 * against the address (CIDR and wildcards) and against the host name
 * (wildcards, case-insensitive); any negated hit, or no hit at all, fails.
 * Without a name the address text is matched as the name, as sshd does
 * with UseDNS no, so `192.168.1.*` works but `*.example.org` never does.
 */
export function matchHostAndIp(client: ClientHost, list: string): AddrListMatch {
  const mip = addrMatchList(client.ip, list);
  if (mip === 'invalid') return 'invalid';
  if (mip === 'negated') return 'negated';
  const mhost = matchHostname(client.name ?? client.ip, list);
  if (mhost === 'negated') return 'negated';
  return mip === 'match' || mhost === 'match' ? 'match' : 'none';
}

/**
 * match_user(): one AllowUsers/DenyUsers entry, `user` or `user@hostlist`
 * (split at the last '@'). The user part is a single pattern, not a list.
 * Returns 'invalid' when the host list is malformed.
 */
export function matchUser(user: string, client: ClientHost, pattern: string): 'match' | 'none' | 'invalid' {
  const at = pattern.lastIndexOf('@');
  if (at === -1) return matchPattern(user, pattern) ? 'match' : 'none';
  if (!matchPattern(user, pattern.slice(0, at))) return 'none';
  const r = matchHostAndIp(client, pattern.slice(at + 1));
  return r === 'invalid' ? 'invalid' : r === 'match' ? 'match' : 'none';
}

/** True when an AllowUsers/DenyUsers entry is well formed (sshd refuses to start otherwise). */
export function isValidUserPattern(pattern: string): boolean {
  const at = pattern.lastIndexOf('@');
  return at === -1 || addrMatchList(null, pattern.slice(at + 1)) !== 'invalid';
}

function bytes(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}
