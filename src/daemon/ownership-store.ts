/**
 * Which kernel endpoints this daemon created, kept on disk (under /run by
 * default, so a reboot starts clean) so that after a crash or restart the
 * daemon sweeps its own stale endpoints and still leaves everyone else's.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/logger.js';
import { withTransientModules } from '../util/transient-modules.js';
import { ownershipKey } from './diff.js';

/** One endpoint this daemon added. */
export interface OwnedEndpoint {
  id: number;
  address: string;
}

/**
 * Checks the file's content. zod is loaded for this one read at start and let
 * go again (see util/transient-modules.ts): a path manager alone needs it for
 * nothing else. Throws on a damaged file.
 */
function parseFile(text: string): { version: 1; endpoints: OwnedEndpoint[] } {
  return withTransientModules(() => {
    const { z } = require('zod') as typeof import('zod');
    const entry = z.object({ id: z.number().int().min(0).max(255), address: z.string().min(1) }).strict();
    return z.object({ version: z.literal(1), endpoints: z.array(entry) }).strict().parse(JSON.parse(text));
  });
}

/** The set of owned endpoints, persisted after every change. */
export class OwnershipStore {
  private entries = new Map<string, OwnedEndpoint>();
  readonly file: string;

  constructor(
    stateDir: string,
    private readonly log: Logger,
  ) {
    this.file = path.join(stateDir, 'endpoints.json');
  }

  /** Reads the file; a missing file means nothing owned, a damaged one is set aside with a warning. */
  load(): void {
    this.entries.clear();
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, file: this.file }, 'cannot read endpoint ownership file, starting with none owned');
      return;
    }
    let parsed: { endpoints: OwnedEndpoint[] };
    try {
      parsed = parseFile(text);
    } catch (err) {
      const aside = `${this.file}.damaged`;
      this.log.warn({ file: this.file, movedTo: aside, err: String(err) }, 'endpoint ownership file is damaged: set aside; endpoints it listed are now treated as foreign');
      try {
        fs.renameSync(this.file, aside);
      } catch {
        // Nothing more to do: the next save() replaces it.
      }
      return;
    }
    for (const e of parsed.endpoints) this.entries.set(ownershipKey(e), e);
  }

  /** Keys (`id|address`) of owned endpoints, for diff(). */
  keys(): Set<string> {
    return new Set(this.entries.keys());
  }

  has(ep: OwnedEndpoint): boolean {
    return this.entries.has(ownershipKey(ep));
  }

  /** Replaces the whole set and writes it if it changed. */
  replace(owned: OwnedEndpoint[]): void {
    const next = new Map(owned.map((e) => [ownershipKey(e), { id: e.id, address: e.address }]));
    const same = next.size === this.entries.size && [...next.keys()].every((k) => this.entries.has(k));
    this.entries = next;
    if (!same) this.save();
  }

  /** Records endpoints added and removed outside a full pass (the fast path); writes if anything changed. */
  update(added: readonly OwnedEndpoint[], removed: readonly OwnedEndpoint[]): void {
    let changed = false;
    for (const e of removed) changed = this.entries.delete(ownershipKey(e)) || changed;
    for (const e of added) {
      if (this.entries.has(ownershipKey(e))) continue;
      this.entries.set(ownershipKey(e), { id: e.id, address: e.address });
      changed = true;
    }
    if (changed) this.save();
  }

  /** Writes the file atomically (temporary file, then rename). Failures are logged, not thrown. */
  save(): void {
    const body = JSON.stringify({ version: 1, endpoints: [...this.entries.values()].sort((a, b) => a.id - b.id) }, null, 2) + '\n';
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o755 });
      fs.writeFileSync(tmp, body, { mode: 0o644 });
      fs.renameSync(tmp, this.file);
    } catch (err) {
      this.log.error({ err, file: this.file }, 'cannot save endpoint ownership, ignoring: after a restart these endpoints would look foreign');
    }
  }
}
