/**
 * Request matching, dump assembly and bad-input handling of NetlinkSocket,
 * driven through a fake handle: the kernel never sends truncated or
 * garbled messages, so only a fake can test that they are survived.
 * The real socket is tested in test/netns/netlink-socket.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { NetlinkSocket, MAX_DUMP_ATTEMPTS, type NativeHandle, type NlMessage } from '../../src/netlink/socket.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import {
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSGERR_ATTR_MSG,
  encodeAttr,
  encodeMessage,
  parseDatagram,
} from '../../src/netlink/nlmsg.js';

class FakeHandle implements NativeHandle {
  portId = 1234;
  rcvbuf = 8192;
  foreignDropped = 0;
  sent: NlMessage[] = [];
  refs: boolean[] = [];
  closed = 0;
  onMessages!: (bufs: Buffer[], groups: number[]) => void;
  onOverrun!: () => void;
  onError!: (err: Error) => void;
  start(m: (bufs: Buffer[], groups: number[]) => void, o: () => void, e: (err: Error) => void): void {
    this.onMessages = m;
    this.onOverrun = o;
    this.onError = e;
  }
  send(buf: Buffer): void {
    this.sent.push(...parseDatagram(buf).messages);
  }
  sentOffThread = 0;
  /** errno the next sendAsync fails with, after the fact. */
  failAsync: number | undefined;
  sendAsync(buf: Buffer, done: (err: NodeJS.ErrnoException | null) => void): void {
    this.send(buf);
    this.sentOffThread++;
    const errno = this.failAsync;
    this.failAsync = undefined;
    setImmediate(() => done(errno === undefined ? null : Object.assign(new Error('sendto failed'), { errno, syscall: 'sendto' })));
  }
  addMembership(): void {}
  dropMembership(): void {}
  armReflex(): void {}
  ref(): void {
    this.refs.push(true);
  }
  unref(): void {
    this.refs.push(false);
  }
  close(): void {
    this.closed++;
  }
  /** Delivers messages as one unicast datagram (or multicast to `group`). */
  deliver(msgs: Array<Partial<NlMessage> & { type: number }>, group = 0): void {
    const buf = Buffer.concat(msgs.map((m) => encodeMessage({ flags: 0, seq: 0, portId: this.portId, payload: Buffer.alloc(0), ...m })));
    this.onMessages([buf], [group]);
  }
  ack(seq: number, errno = 0, extack?: string): void {
    const req = this.sent.find((m) => m.seq === seq)!;
    const err = Buffer.alloc(4);
    err.writeInt32LE(-errno);
    const echo = encodeMessage({ ...req, payload: Buffer.alloc(0) }).subarray(0, 16);
    const tlv = extack ? encodeAttr(NLMSGERR_ATTR_MSG, Buffer.from(`${extack}\0`)) : Buffer.alloc(0);
    this.deliver([{ type: NLMSG_ERROR, seq, flags: NLM_F_CAPPED | (extack ? NLM_F_ACK_TLVS : 0), payload: Buffer.concat([err, echo, tlv]) }]);
  }
  done(seq: number, flags = NLM_F_MULTI): void {
    this.deliver([{ type: NLMSG_DONE, seq, flags, payload: Buffer.alloc(4) }]);
  }
}

function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

function open(opts: Parameters<typeof NetlinkSocket.withHandle>[2] = {}): { sock: NetlinkSocket; fake: FakeHandle } {
  const fake = new FakeHandle();
  return { sock: NetlinkSocket.withHandle(fake, 0, opts), fake };
}

test('requests in flight are matched by sequence number; a bare ACK resolves with []', async () => {
  const { sock, fake } = open();
  const a = sock.request(20, 0, Buffer.alloc(8));
  const b = sock.request(18, 0, Buffer.alloc(16));
  const [ra, rb] = fake.sent;
  assert.equal(ra!.flags & 5, 5, 'NLM_F_REQUEST|NLM_F_ACK added');
  assert.notEqual(ra!.seq, rb!.seq);
  fake.deliver([{ type: 16, seq: rb!.seq, payload: Buffer.from('link') }]);
  fake.ack(rb!.seq);
  fake.ack(ra!.seq);
  assert.deepEqual(await a, []);
  const replies = await b;
  assert.equal(replies.length, 1);
  assert.equal(replies[0]!.payload.toString(), 'link');
  sock.close();
});

test('offThread: the request goes through sendAsync; a failed send ends it with its errno, a late success changes nothing', async () => {
  const { sock, fake } = open();
  const ok = sock.request(28, 0, Buffer.alloc(4), { offThread: true });
  assert.equal(fake.sentOffThread, 1);
  fake.ack(fake.sent[0]!.seq);
  assert.deepEqual(await ok, [], 'the ack may come before sendAsync reports back');
  fake.failAsync = 105;
  const failed = sock.request(28, 0, Buffer.alloc(4), { offThread: true });
  await assert.rejects(failed, (e: unknown) => e instanceof NetlinkError && e.code === 'ENOBUFS' && e.syscall === 'sendto');
  const plain = sock.request(28, 0, Buffer.alloc(4));
  assert.equal(fake.sentOffThread, 2, 'without the option the send stays on the loop');
  fake.ack(fake.sent[2]!.seq);
  await plain;
  sock.close();
});

test('a kernel refusal rejects with errno, code and extack text', async () => {
  const { sock, fake } = open({ typeName: (t) => (t === 21 ? 'RTM_DELADDR' : undefined) });
  const p = sock.request(21, 0, Buffer.alloc(8));
  fake.ack(fake.sent[0]!.seq, 99, 'ipv4: Address not found');
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof NetlinkError);
    assert.equal(e.code, 'EADDRNOTAVAIL');
    assert.equal(e.errno, 99);
    assert.equal(e.extack, 'ipv4: Address not found');
    assert.equal(e.message, 'RTM_DELADDR failed: EADDRNOTAVAIL (Cannot assign requested address): ipv4: Address not found');
    return true;
  });
  sock.close();
});

test('dumps are assembled until NLMSG_DONE, and a second dump waits for the first', async () => {
  const { sock, fake } = open();
  const d1 = sock.request(18, NLM_F_DUMP, Buffer.alloc(16));
  const d2 = sock.request(22, NLM_F_DUMP, Buffer.alloc(12));
  assert.equal(fake.sent.length, 1, 'the kernel allows one dump per socket at a time');
  const s1 = fake.sent[0]!.seq;
  fake.deliver([{ type: 16, seq: s1, flags: NLM_F_MULTI }, { type: 16, seq: s1, flags: NLM_F_MULTI }]);
  fake.deliver([{ type: 16, seq: s1, flags: NLM_F_MULTI }]);
  fake.done(s1);
  assert.equal((await d1).length, 3);
  assert.equal(fake.sent.length, 2);
  fake.done(fake.sent[1]!.seq);
  assert.deepEqual(await d2, []);
  sock.close();
});

test('a dump flagged NLM_F_DUMP_INTR is run again, and given up after a bound', async () => {
  const { sock, fake } = open();
  const d = sock.request(18, NLM_F_DUMP, Buffer.alloc(16));
  fake.deliver([{ type: 16, seq: fake.sent[0]!.seq, flags: NLM_F_MULTI | NLM_F_DUMP_INTR }]);
  fake.done(fake.sent[0]!.seq);
  assert.equal(fake.sent.length, 2, 'retried');
  // Late parts of the abandoned run are ignored.
  fake.deliver([{ type: 16, seq: fake.sent[0]!.seq, flags: NLM_F_MULTI }]);
  fake.deliver([{ type: 16, seq: fake.sent[1]!.seq, flags: NLM_F_MULTI }]);
  fake.done(fake.sent[1]!.seq);
  assert.equal((await d).length, 1);

  const bad = sock.request(18, NLM_F_DUMP, Buffer.alloc(16));
  for (let i = 0; i < MAX_DUMP_ATTEMPTS; i++) fake.done(fake.sent.at(-1)!.seq, NLM_F_MULTI | NLM_F_DUMP_INTR);
  await assert.rejects(bad, (e: unknown) => e instanceof NetlinkError && e.code === 'EINTR' && /interrupted/.test(e.message));
  sock.close();
});

test('seq 0, multicast and unmatched messages are notifications; multicast with our seq is not a reply', async () => {
  const { sock, fake } = open();
  const seen: number[] = [];
  sock.on('notification', (m) => seen.push(m.type));
  const p = sock.request(20, 0, Buffer.alloc(8));
  const seq = fake.sent[0]!.seq;
  fake.deliver([{ type: 20, seq }], 5);
  fake.deliver([{ type: 16, seq: 0 }]);
  fake.deliver([{ type: 17, seq: 987654 }]);
  fake.ack(seq);
  assert.deepEqual(await p, []);
  assert.deepEqual(seen, [20, 16, 17]);
  sock.close();
});

test('garbage datagrams are dropped and logged once per kind; good messages around them still count', async () => {
  const { log, lines } = capture();
  const { sock, fake } = open({ log });
  const seen: number[] = [];
  sock.on('notification', (m) => seen.push(m.type));
  const p = sock.request(20, 0, Buffer.alloc(8));
  const seq = fake.sent[0]!.seq;
  const long = encodeMessage({ type: 16, flags: 0, seq: 0, portId: 0, payload: Buffer.alloc(4) });
  long.writeUInt32LE(10000, 0);
  const garbage = [Buffer.from([1, 2, 3]), Buffer.alloc(0), long, Buffer.from(long), Buffer.concat([encodeMessage({ type: 24, flags: 0, seq: 0, portId: 0, payload: Buffer.alloc(0) }), Buffer.alloc(5, 0xff)])];
  assert.doesNotThrow(() => fake.onMessages(garbage, garbage.map(() => 0)));
  // An NLMSG_ERROR too short for its error code still answers (with EPROTO) rather than hanging.
  fake.deliver([{ type: NLMSG_ERROR, seq, payload: Buffer.alloc(2) }]);
  await assert.rejects(p, (e: unknown) => e instanceof NetlinkError && e.code === 'EPROTO');
  assert.deepEqual(seen, [24]);
  const warns = lines.filter((l) => l.level === 40).map((l) => l.kind);
  assert.deepEqual(warns.sort(), ['bad-length', 'short-header', 'short-payload']);
  sock.close();
});

test('a request with no reply times out; overrun is an event; close rejects the rest and is safe twice', async () => {
  const { sock, fake } = open();
  let overruns = 0;
  sock.on('overrun', () => overruns++);
  const p = sock.request(20, 0, Buffer.alloc(8), { timeoutMs: 30 });
  fake.onOverrun();
  assert.equal(overruns, 1);
  await assert.rejects(p, (e: unknown) => e instanceof NetlinkError && e.code === 'ETIMEDOUT' && /overran/.test(e.message));
  // The late ack of the timed-out request is neither a reply nor a notification.
  fake.ack(fake.sent[0]!.seq);
  const q = sock.request(18, NLM_F_DUMP, Buffer.alloc(16));
  const r = sock.request(22, NLM_F_DUMP, Buffer.alloc(16));
  assert.equal(fake.refs.at(-1), true, 'pending requests hold the loop');
  sock.close();
  sock.close();
  assert.equal(fake.closed, 1);
  await assert.rejects(q, (e: unknown) => e instanceof NetlinkError && e.code === 'ECANCELED');
  await assert.rejects(r, (e: unknown) => e instanceof NetlinkError && e.code === 'ECANCELED');
  await assert.rejects(sock.request(20, 0, Buffer.alloc(0)), (e: unknown) => e instanceof NetlinkError && e.code === 'EBADF');
});

test('socket errors go to the error event, or to the log when nobody listens', () => {
  const { log, lines } = capture();
  const { sock, fake } = open({ log });
  assert.doesNotThrow(() => fake.onError(Object.assign(new Error('recvmsg EIO'), { code: 'EIO' })));
  assert.equal(lines.filter((l) => l.level === 40).length, 1);
  const errs: Error[] = [];
  sock.on('error', (e) => errs.push(e));
  fake.onError(new Error('again'));
  assert.equal(errs.length, 1);
  sock.close();
});
