/** The walk scenario's timeline file (lab/walk.yaml): its schema and loader. */
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { parseRate } from './rate.js';

const rate = z.string().refine((v) => {
  try {
    parseRate(v);
    return true;
  } catch {
    return false;
  }
}, 'a rate such as 20mbit');

const walkSchema = z
  .object({
    paths: z.array(z.object({ name: z.string().min(1), rate, upRate: rate.optional() }).strict()).min(1).max(8),
    events: z.array(
      z
        .object({ at: z.number().min(0), path: z.string(), do: z.enum(['up', 'down', 'rate']), rate: rate.optional(), upRate: rate.optional() })
        .strict()
        .refine((e) => e.do !== 'rate' || e.rate !== undefined, 'a rate event needs rate'),
    ),
    end: z.number().positive(),
  })
  .strict()
  .superRefine((w, ctx) => {
    const names = new Set(w.paths.map((p) => p.name));
    w.events.forEach((e, i) => {
      if (!names.has(e.path)) ctx.addIssue({ code: 'custom', path: ['events', i, 'path'], message: `no path named ${e.path}` });
      if (e.at > w.end) ctx.addIssue({ code: 'custom', path: ['events', i, 'at'], message: 'after the end' });
    });
  });

export type WalkTimeline = z.infer<typeof walkSchema>;

/** Parses a timeline; events come back sorted by time (stable for equal times). */
export function parseWalk(text: string, file = 'walk.yaml'): WalkTimeline {
  const r = walkSchema.safeParse(YAML.parse(text));
  if (!r.success) throw new Error(`${file}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const events = r.data.events.map((e, i) => ({ e, i })).sort((a, b) => a.e.at - b.e.at || a.i - b.i).map((x) => x.e);
  return { ...r.data, events };
}

/** Reads and parses a timeline file. */
export function loadWalk(file: string): WalkTimeline {
  return parseWalk(fs.readFileSync(file, 'utf8'), file);
}
