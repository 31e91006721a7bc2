/**
 * The daemon's own record of each connection it handed off, next to the
 * worker's session socket: written by the daemon in its root-only session
 * directory, so that a restarted daemon knows who logged in and from where
 * without taking a worker's word for it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { KnownSession } from './worker-trust.js';

const endpoint = z.object({ address: z.string().max(64), port: z.number().int().min(0).max(65535) });
const recordSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  pid: z.number().int().min(0),
  remote: endpoint,
  local: endpoint,
  acceptedAt: z.number(),
  user: z.string().max(256).optional(),
  authenticatedAt: z.number().optional(),
  hostKeys: z.array(z.string().max(16384)).max(16).optional(),
});

function file(dir: string, id: string): string {
  return path.join(dir, `${id}.json`);
}

/** Writes (or rewrites) the record; failures are the caller's to log. */
export function writeRecord(dir: string, known: KnownSession): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file(dir, known.id)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(known), { mode: 0o600 });
  fs.renameSync(tmp, file(dir, known.id));
}

/** The record of `id`, or undefined when missing or unreadable. */
export function readRecord(dir: string, id: string): KnownSession | undefined {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(fs.readFileSync(file(dir, id), 'utf8')));
    if (!parsed.success) return undefined;
    const { user, authenticatedAt, hostKeys, ...rest } = parsed.data;
    return { ...rest, ...(user !== undefined ? { user } : {}), ...(authenticatedAt !== undefined ? { authenticatedAt } : {}), ...(hostKeys !== undefined ? { hostKeys } : {}) };
  } catch {
    return undefined;
  }
}

export function removeRecord(dir: string, id: string): void {
  fs.rmSync(file(dir, id), { force: true });
}
