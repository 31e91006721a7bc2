/**
 * The daemon's record of each connection it gave to sshd, in its root-only
 * session directory, so that a restarted daemon finds the sshd processes
 * that still serve sessions (they are not its children any more) and knows
 * them by more than a pid that could have been reused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const endpoint = z.object({ address: z.string().max(64), port: z.number().int().min(0).max(65535) });
const recordSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  pid: z.number().int().positive(),
  /** Start time of the process (clock ticks after boot, /proc/<pid>/stat field 22). */
  pidStart: z.string().regex(/^\d+$/),
  remote: endpoint,
  local: endpoint,
  acceptedAt: z.number(),
  transport: z.enum(['mptcp', 'tcp-fallback']),
  /** The MPTCP connection's local token; absent for TCP. */
  token: z.number().int().min(0).max(0xffffffff).optional(),
  user: z.string().max(256).optional(),
  authenticatedAt: z.number().optional(),
});
export type SshdRecord = z.infer<typeof recordSchema>;

const SUFFIX = '.sshd.json';

function file(dir: string, id: string): string {
  return path.join(dir, `${id}${SUFFIX}`);
}

/** Writes (or rewrites) a record; failures are the caller's to log. */
export function writeSshdRecord(dir: string, r: SshdRecord): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file(dir, r.id)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(r), { mode: 0o600 });
  fs.renameSync(tmp, file(dir, r.id));
}

/** Every readable record in `dir`; unreadable ones are removed. */
export function readSshdRecords(dir: string): SshdRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: SshdRecord[] = [];
  for (const n of names) {
    if (!n.endsWith(SUFFIX)) continue;
    try {
      const parsed = recordSchema.safeParse(JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')));
      if (parsed.success) {
        out.push(parsed.data);
        continue;
      }
    } catch {
      // unreadable: removed below
    }
    fs.rmSync(path.join(dir, n), { force: true });
  }
  return out;
}

export function removeSshdRecord(dir: string, id: string): void {
  fs.rmSync(file(dir, id), { force: true });
}


/** A process's title (cmdline), or undefined when it is gone. */
export function processTitle(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return undefined;
  }
}

/** Real uids of a process's children (from the children lists of its threads in /proc); [] when it has none or is gone. */
export function childUids(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const uids: number[] = [];
  for (const task of tasks) {
    let children: string[];
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1').split(' ').filter((c) => c !== '');
    } catch {
      continue;
    }
    for (const c of children) {
      try {
        const m = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${c}/status`, 'latin1'));
        if (m !== null) uids.push(Number(m[1]));
      } catch {
        // the child just ended
      }
    }
  }
  return uids;
}
