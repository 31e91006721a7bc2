/** A throwing listener is logged and does not reach the emitter. */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { guardedOn } from '../../src/util/events.js';
import { createLogger } from '../../src/util/logger.js';

test('guardedOn: typed events; a listener that throws is logged with its event, the emit goes on', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'error', stream: { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream });
  const em = new EventEmitter<{ change: [kind: 'link' | 'address']; overrun: [] }>();
  const seen: string[] = [];
  const off = guardedOn(em, 'change', (kind) => {
    seen.push(kind);
    throw new Error('listener bug');
  }, log);
  em.on('change', (kind) => seen.push(`second:${kind}`));
  assert.doesNotThrow(() => em.emit('change', 'link'));
  assert.deepEqual(seen, ['link', 'second:link']);
  assert.equal(lines.length, 1);
  assert.match(lines[0] as string, /"event":"change"/);
  off();
  em.emit('change', 'address');
  assert.deepEqual(seen, ['link', 'second:link', 'second:address']);
});
