/**
 * The worker's reading of the user-side helper's frames: requests encoded
 * as the helper parses them, replies and events decoded, and everything a
 * helper never sends refused rather than guessed at.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRequest, MessageReader, UserSideError } from '../../src/ssh/user-side/protocol.js';

function frame(...fields: string[]): Buffer {
  const body = Buffer.from(fields.map((f) => `${f}\0`).join(''));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

test('requests: a length prefix, then NUL-terminated fields; NUL inside a field and oversized frames refused', () => {
  assert.deepEqual(encodeRequest(7, 'tcp-connect', ['localhost', '22']), frame('7', 'tcp-connect', 'localhost', '22'));
  assert.throws(() => encodeRequest(1, 'spawn', ['a\0b']), (e: UserSideError) => e.code === 'EINVAL');
  assert.throws(() => encodeRequest(1, 'spawn', ['x'.repeat(1024 * 1024)]), (e: UserSideError) => e.code === 'E2BIG');
});

test('replies and events, whole or split across reads', () => {
  const bytes = Buffer.concat([
    frame('3', 'ok', '1', '41234'),
    frame('4', 'error', 'ECONNREFUSED', '111', 'connect', 'Connection refused'),
    frame('0', 'exit', '1234', 'signal', '15'),
    frame('5', 'error', 'ENOTFOUND', '0', 'getaddrinfo', 'Name or service not known'),
  ]);
  const r = new MessageReader();
  const got = [...bytes].flatMap((b) => r.push(Buffer.from([b])));
  assert.deepEqual(got[0], { kind: 'ok', id: 3, fds: 1, values: ['41234'] });
  assert.equal(got[1]?.kind, 'error');
  const e = (got[1] as { error: UserSideError }).error;
  assert.deepEqual([e.code, e.errno, e.syscall, e.message], ['ECONNREFUSED', 111, 'connect', 'Connection refused']);
  assert.deepEqual(got[2], { kind: 'exit', pid: 1234, code: null, signal: 15 });
  assert.equal((got[3] as { error: UserSideError }).error.errno, undefined);
});

test('what no helper sends is refused', () => {
  const bad: Buffer[] = [
    Buffer.from([0, 0, 0, 0]),
    Buffer.from([0, 2, 0, 0]),
    Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('1\0x')]),
    frame('1', 'ok', '4'),
    frame('-1', 'ok', '0'),
    frame('01', 'ok', '0'),
    frame('1', 'exit', '5', 'code', '0'),
    frame('0', 'exit', '5', 'core', '0'),
    frame('0', 'exit', '5', 'code', '256'),
    frame('1', 'error', 'EPERM', '1', 'kill'),
    frame('1', 'maybe'),
  ];
  for (const b of bad) assert.throws(() => new MessageReader().push(b), (e: UserSideError) => e.code === 'EPROTO', JSON.stringify(b.toString('latin1')));
});
