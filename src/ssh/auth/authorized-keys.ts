/**
 * authorized_keys files (sshd(8), AUTHORIZED_KEYS FILE FORMAT): one key per
 * line as `[options] keytype base64-key [comment]`; blank lines and lines
 * starting with '#' are ignored. A line sshd would skip is reported with its
 * number and the reason and left out; nothing here throws on file content.
 */
import { KeyBlobError, decodeBase64Strict, isKeyTypeName, parseKeyBlob, printable, type PublicKey } from './key-blob.js';
import { defaultKeyOptions, parseKeyOptions, type KeyOptions } from './key-options.js';

export { parseKeyOptions, parseExpiryTime, defaultKeyOptions, type KeyOptions, type PermitSpec } from './key-options.js';
export { fingerprintSha256, parseKeyBlob, type PublicKey } from './key-blob.js';

/** One usable line. */
export interface AuthorizedKeyEntry {
  /** 1-based line number in the file. */
  line: number;
  options: KeyOptions;
  /** Options field as written, '' when none. */
  optionsText: string;
  /** Key type as written on the line (may be a signature name such as rsa-sha2-256). */
  keyType: string;
  key: PublicKey;
  comment: string;
}

/** Stable codes of line problems. */
export type LineProblemCode =
  | 'bad-options'
  | 'missing-key'
  | 'unknown-key-type'
  | 'unsupported-key-type'
  | 'certificate-unsupported'
  | 'bad-base64'
  | 'key-type-mismatch'
  | 'truncated-blob'
  | 'bad-key-blob'
  | 'line-too-long'
  | 'nul-byte';

/** A line that was skipped, and why. */
export interface LineProblem {
  line: number;
  code: LineProblemCode;
  reason: string;
}

export interface AuthorizedKeys {
  entries: AuthorizedKeyEntry[];
  problems: LineProblem[];
}

/**
 * Longest line read, in characters. sshd has no limit; this one is far above
 * any real key line (a 16384-bit RSA key is ~2.8 kB) and keeps a hostile
 * file cheap.
 */
export const MAX_LINE_LENGTH = 64 * 1024;

/**
 * Parses the text of an authorized_keys file. With `only` (the key blob a
 * client presented), lines for other keys are passed over once their key
 * data is seen to differ, before the costly parse of key and options: a
 * file of 100 000 keys is then read about as fast as sshd reads it.
 */
export function parseAuthorizedKeys(text: string, only?: Buffer): AuthorizedKeys {
  const needle = only === undefined ? '' : searchPrefix(only);
  if (needle !== '') return parseLinesHolding(text, needle, only as Buffer);
  const out: AuthorizedKeys = { entries: [], problems: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) keep(out, parseAuthorizedKeysLine(lines[i] as string, i + 1, only));
  return out;
}

/**
 * What every line holding `key` contains: a key field that decodes to it
 * spells its base64 exactly up to the last group of four characters (which
 * may lack padding or carry stray low bits). '' when that is too short to
 * search for (no real key is).
 */
function searchPrefix(key: Buffer): string {
  const b64 = key.toString('base64');
  const needle = b64.slice(0, b64.length - 4);
  return needle.length < 16 ? '' : needle;
}

/**
 * parseAuthorizedKeys for one key: only the lines holding `needle` (its
 * searchPrefix) are parsed, found by a plain search; no other line can
 * match. The daemon does this for every key a client offers: for a 64 MiB
 * file, parsing every line took 0.9 s of its event loop, the search 17 ms.
 * Problems are reported for the lines parsed.
 */
function parseLinesHolding(text: string, needle: string, only: Buffer): AuthorizedKeys {
  const out: AuthorizedKeys = { entries: [], problems: [] };
  // Every character is looked at a bounded number of times, whatever the
  // file holds (a line repeating the key a million times included): the
  // search resumes after the line it found, and newlines are counted once.
  let line = 1;
  let counted = 0;
  for (let at = text.indexOf(needle); at !== -1; ) {
    let start = counted;
    for (let nl = text.indexOf('\n', counted); nl !== -1 && nl < at; nl = text.indexOf('\n', nl + 1)) {
      line++;
      start = nl + 1;
    }
    const nl = text.indexOf('\n', at);
    keep(out, parseAuthorizedKeysLine(text.slice(start, nl === -1 ? text.length : nl), line, only));
    if (nl === -1) break;
    counted = nl + 1;
    line++;
    at = text.indexOf(needle, counted);
  }
  return out;
}

function keep(out: AuthorizedKeys, r: AuthorizedKeyEntry | LineProblem | null): void {
  if (r === null) return;
  if ('code' in r) out.problems.push(r);
  else out.entries.push(r);
}

/** Parses one line; null for blank and comment lines, and for another key than `only` when given. */
export function parseAuthorizedKeysLine(raw: string, line: number, only?: Buffer): AuthorizedKeyEntry | LineProblem | null {
  const problem = (code: LineProblemCode, reason: string): LineProblem => ({ line, code, reason });
  if (raw.length > MAX_LINE_LENGTH) return problem('line-too-long', `line longer than ${MAX_LINE_LENGTH} characters`);
  const text = raw.replace(/^[ \t]+/, '');
  if (text.trim() === '' || text.startsWith('#')) return null;
  // sshd reads lines as C strings, so a NUL would silently cut the line;
  // refusing it is clearer than guessing what the author meant.
  if (text.includes('\0')) return problem('nul-byte', 'NUL byte in line');

  let optionsText = '';
  let rest = text;
  if (!isKeyTypeName(firstToken(text))) {
    const end = endOfOptions(text);
    if (end === -1) return problem('bad-options', 'invalid key option string: unterminated quote');
    optionsText = text.slice(0, end);
    rest = text.slice(end).replace(/^[ \t]+/, '');
    if (rest.trim() === '') return problem('missing-key', 'no key after options');
    const t = firstToken(rest);
    if (!isKeyTypeName(t)) {
      if (!/^AAAA[A-Za-z0-9+/=]{8,}$/.test(t)) return problem('unknown-key-type', `unknown key type "${printable(t)}"`);
      // "word AAAA...": an unknown key type unless the word is valid options.
      return parseKeyOptions(optionsText).ok
        ? problem('missing-key', 'key type missing before key data')
        : problem('unknown-key-type', `unknown key type "${printable(optionsText)}"`);
    }
  }

  const keyType = firstToken(rest);
  const afterType = rest.slice(keyType.length);
  if (!/^[ \t]/.test(afterType)) return problem('missing-key', `no key data after ${keyType}`);
  const blobAndComment = afterType.replace(/^[ \t]+/, '');
  const blobText = firstToken(blobAndComment);
  if (blobText.trim() === '') return problem('missing-key', `no key data after ${keyType}`);

  // OpenSSH's decoder skips whitespace inside the key data. Refused here
  // (but the \r of a CRLF line): finding a key by its text, as
  // parseLinesHolding does, and parsing every line must agree.
  if (/[\r\v\f]/.test(blobText.replace(/\r$/, ''))) return problem('bad-base64', 'whitespace inside the key data');
  // Lenient decoding is enough to tell another key; a match is then decoded strictly.
  if (only !== undefined && !Buffer.from(blobText, 'base64').equals(only)) return null;
  const blob = decodeBase64Strict(blobText);
  if (blob === null) return problem('bad-base64', 'key data is not valid base64');
  let key: PublicKey;
  try {
    key = parseKeyBlob(blob, keyType);
  } catch (e) {
    if (e instanceof KeyBlobError) return problem(e.code, e.message);
    throw e;
  }

  const parsed = optionsText === '' ? { ok: true as const, options: defaultKeyOptions() } : parseKeyOptions(optionsText);
  if (!parsed.ok) return problem('bad-options', `bad key options: ${parsed.reason}`);
  const comment = blobAndComment.slice(blobText.length).replace(/^[ \t]+/, '').replace(/\s+$/, '');
  return { line, options: parsed.options, optionsText, keyType, key, comment };
}

function firstToken(s: string): string {
  const m = /^[^ \t]*/.exec(s) as RegExpExecArray;
  return m[0];
}

/** sshkey_advance_past_options(): end of the options field, -1 on an open quote. */
function endOfOptions(s: string): number {
  let quoted = false;
  let i = 0;
  for (; i < s.length && (quoted || (s[i] !== ' ' && s[i] !== '\t')); i++) {
    if (s[i] === '\\' && s[i + 1] === '"') i++;
    else if (s[i] === '"') quoted = !quoted;
  }
  return quoted ? -1 : i;
}
