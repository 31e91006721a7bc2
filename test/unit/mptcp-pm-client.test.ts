/**
 * MptcpPmClient over fake sockets, for what a test machine cannot make the
 * kernel do: the family going away and coming back (module unload/reload;
 * MPTCP is built in here), lost notifications, garbage events. Every
 * message fed in is a captured kernel message or built like one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { NetlinkError } from '../../src/netlink/errors.js';
import { CTRL_CMD, GENL_ID_CTRL, encodeGenl, parseGenl } from '../../src/netlink/genl.js';
import { MptcpPmClient, type GenlSocket } from '../../src/netlink/mptcp-pm.js';
import { isMpsshError } from '../../src/util/errors.js';
import type { MptcpPmEvent } from '../../src/netlink/clients.js';
import type { NlMessage } from '../../src/netlink/nlmsg.js';
import { silentLogger } from '../../src/util/logger.js';
import { FIXTURE, withCmd } from './mptcp-pm-fixture.js';

type Handler = (type: number, flags: number, payload: Buffer) => NlMessage[] | Promise<NlMessage[]>;

class FakeSocket extends EventEmitter<{ notification: [msg: NlMessage]; overrun: []; error: [err: Error] }> implements GenlSocket {
  groups = new Set<number>();
  closed = 0;
  sent: { type: number; flags: number; payload: Buffer }[] = [];
  constructor(private readonly kernel: FakeKernel) {
    super();
  }
  async request(type: number, flags: number, payload: Buffer): Promise<NlMessage[]> {
    this.sent.push({ type, flags, payload });
    return this.kernel.handle(type, flags, payload);
  }
  addMembership(g: number): void {
    this.groups.add(g);
  }
  dropMembership(g: number): void {
    this.groups.delete(g);
  }
  close(): void {
    this.closed++;
  }
  notify(type: number, payload: Buffer): void {
    this.emit('notification', { type, flags: 0, seq: 0, portId: 0, payload });
  }
}

const msg = (type: number, payload: Buffer): NlMessage => ({ type, flags: 0, seq: 1, portId: 1, payload });
const hex = (h: string): Buffer => Buffer.from(h, 'hex');
const PM_REPLY = FIXTURE.replies.getFamilyMptcpPm;

/** Answers nlctrl as a 6.18 kernel does, with mptcp_pm present or not; mptcp_pm commands via `onPm`. */
class FakeKernel {
  pmPresent = true;
  onPm: Handler = () => [];
  readonly sockets: FakeSocket[] = [];
  handle(type: number, flags: number, payload: Buffer): NlMessage[] | Promise<NlMessage[]> {
    if (type !== GENL_ID_CTRL) return this.onPm(type, flags, payload);
    const name = payload.subarray(8).toString('utf8').replace(/\0.*$/s, '');
    if (name === 'nlctrl') return [msg(GENL_ID_CTRL, hex(FIXTURE.replies.getFamilyNlctrl))];
    if (name === 'mptcp_pm' && this.pmPresent) return [msg(GENL_ID_CTRL, hex(PM_REPLY))];
    throw new NetlinkError({ errno: 2, requestType: type });
  }
  open = (): FakeSocket => {
    const s = new FakeSocket(this);
    this.sockets.push(s);
    return s;
  };
  get cmd(): FakeSocket {
    return this.sockets[0]!;
  }
  get ev(): FakeSocket {
    return this.sockets[1]!;
  }
}

function client(kernel: FakeKernel): { pm: MptcpPmClient; seen: string[]; events: MptcpPmEvent[]; errors: Error[] } {
  const pm = new MptcpPmClient(silentLogger(), { openSocket: kernel.open });
  const seen: string[] = [];
  const events: MptcpPmEvent[] = [];
  const errors: Error[] = [];
  pm.on('familyUp', () => seen.push('up'));
  pm.on('familyDown', () => seen.push('down'));
  pm.on('overrun', () => seen.push('overrun'));
  pm.on('pmEvent', (e) => events.push(e));
  pm.on('error', (e) => errors.push(e));
  return { pm, seen, events, errors };
}

test('present at start: familyUp, events group joined with nlctrl notify, requests use the family id', async () => {
  const k = new FakeKernel();
  k.onPm = (type, flags, payload) => {
    assert.equal(type, 28);
    assert.equal(parseGenl(payload).cmd, 6);
    assert.equal(flags, 0);
    return [msg(28, hex(FIXTURE.replies.getLimits))];
  };
  const { pm, seen } = client(k);
  await pm.start();
  await pm.start();
  assert.equal(k.sockets.length, 2);
  assert.deepEqual(seen, ['up']);
  assert.equal(pm.available, true);
  assert.deepEqual([...k.ev.groups].sort((x, y) => x - y), [9, GENL_ID_CTRL]);
  assert.deepEqual(k.cmd.groups.size, 0);
  assert.deepEqual(await pm.getLimits(), { subflows: 3, addAddrAccepted: 4 });
  pm.close();
  pm.close();
  assert.equal(pm.available, false);
  assert.deepEqual(k.sockets.map((s) => s.closed), [1, 1]);
  await assert.rejects(pm.getLimits(), (e: unknown) => isMpsshError(e, 'closed'));
});

test('absent at start: requests fail with unavailable until NEWFAMILY, then work', async () => {
  const k = new FakeKernel();
  k.pmPresent = false;
  const { pm, seen } = client(k);
  await assert.rejects(pm.dumpEndpoints(), (e: unknown) => isMpsshError(e, 'unavailable') && /not started/.test(e.message));
  await pm.start();
  assert.equal(pm.available, false);
  assert.deepEqual(seen, []);
  await assert.rejects(pm.flushEndpoints(), (e: unknown) => isMpsshError(e, 'unavailable') && /no generic netlink family mptcp_pm/.test(e.message));
  assert.deepEqual([...k.ev.groups], [GENL_ID_CTRL]);

  k.pmPresent = true;
  k.ev.notify(GENL_ID_CTRL, withCmd(PM_REPLY, CTRL_CMD.NEWFAMILY));
  assert.deepEqual(seen, ['up']);
  assert.equal(pm.available, true);
  assert.ok(k.ev.groups.has(9));
  k.onPm = (type) => (assert.equal(type, 28), []);
  await pm.flushEndpoints();
  pm.close();
});

test('unload and reload with new ids: familyDown, familyUp, the new events group, events of the new id only', async () => {
  const k = new FakeKernel();
  const { pm, seen, events } = client(k);
  await pm.start();
  const created = FIXTURE.events.find((e) => e.payload.startsWith('01'))!.payload;

  k.ev.notify(28, hex(created));
  assert.equal(events.length, 1);
  k.ev.notify(GENL_ID_CTRL, withCmd(PM_REPLY, CTRL_CMD.DELFAMILY));
  assert.deepEqual(seen, ['up', 'down']);
  assert.equal(pm.available, false);
  await assert.rejects(pm.getLimits(), (e: unknown) => isMpsshError(e, 'unavailable'));

  // Reloaded module: family id 35, groups 12/13 (ids patched into the captured reply).
  const reloaded = hex(PM_REPLY);
  reloaded.writeUInt16LE(35, reloaded.indexOf(hex('060001001c00')) + 4);
  const evGroupAt = reloaded.lastIndexOf(hex('0800020009000000'));
  reloaded.writeUInt32LE(13, evGroupAt + 4);
  k.ev.groups.delete(9); // the kernel dropped the members of the old group
  k.ev.notify(GENL_ID_CTRL, withCmd(reloaded.toString('hex'), CTRL_CMD.NEWFAMILY));
  assert.deepEqual(seen, ['up', 'down', 'up']);
  assert.equal(pm.familyInfo?.id, 35);
  assert.ok(k.ev.groups.has(13));
  k.ev.notify(28, hex(created)); // the old id: ignored
  assert.equal(events.length, 1);
  k.ev.notify(35, hex(created));
  assert.equal(events.length, 2);
  k.onPm = (type) => (assert.equal(type, 35), []);
  await pm.setLimits({ subflows: 2, addAddrAccepted: 2 });
  pm.close();
});

test('overrun: emitted, and the family is resolved again in case its notifications were lost', async () => {
  const k = new FakeKernel();
  const { pm, seen } = client(k);
  await pm.start();
  k.pmPresent = false;
  k.ev.emit('overrun');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, ['up', 'overrun', 'down']);
  k.pmPresent = true;
  k.ev.emit('overrun');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, ['up', 'overrun', 'down', 'overrun', 'up']);
  pm.close();
});

test('garbage on the event socket is reported, never thrown; unknown event types are skipped', async () => {
  const k = new FakeKernel();
  const { pm, events, errors } = client(k);
  await pm.start();
  k.ev.notify(28, hex('0a01')); // cut genl header
  k.ev.notify(28, encodeGenl(10, 1, [hex('05000500ff000000')])); // 1-byte SADDR4
  k.ev.notify(GENL_ID_CTRL, hex('01020000ffff')); // cut attribute
  k.ev.notify(28, encodeGenl(77, 1)); // a newer kernel's event type
  k.ev.notify(4242, hex('00')); // not ours
  assert.equal(events.length, 0);
  assert.equal(errors.length, 3);
  assert.match(errors[1]!.message, /sub_established: attribute 5 has 1 bytes, needs 4/);
  // Without an 'error' listener nothing throws either.
  pm.removeAllListeners('error');
  k.ev.notify(28, hex('0a01'));
  k.ev.emit('error', new Error('socket trouble'));
  pm.close();
});

test('kernel refusals keep errno, code and extack; addEndpoint finds the id the kernel picked', async () => {
  const k = new FakeKernel();
  const { pm } = client(k);
  await pm.start();
  const dump = FIXTURE.replies.dumpEndpoints.map((h) => msg(28, hex(h)));
  const sent: number[] = [];
  k.onPm = (_type, flags, payload) => {
    const cmd = parseGenl(payload).cmd;
    sent.push(cmd);
    if (cmd === 3) return (assert.equal(flags & 0x300, 0x300), dump);
    if (cmd === 1 && payload.includes(hex('0a010009'))) {
      throw new NetlinkError({ errno: 34, requestType: 28, requestName: 'mptcp_pm ADD_ADDR', extack: 'too many addresses or duplicate one: -34' });
    }
    return [];
  };
  assert.equal(await pm.addEndpoint({ family: 6, address: '2001:DB8:0::1', port: 2000, flags: ['signal'] }), 7);
  assert.equal(await pm.addEndpoint({ family: 4, address: '10.1.0.2', flags: ['signal'] }), 6);
  assert.equal(await pm.addEndpoint({ id: 9, family: 4, address: '10.1.0.3', flags: ['subflow'] }), 9);
  assert.deepEqual(sent, [1, 3, 1, 3, 1]);
  await assert.rejects(pm.addEndpoint({ family: 4, address: '10.1.0.4', flags: ['subflow'] }), (e: unknown) => isMpsshError(e, 'kernel'));
  await assert.rejects(pm.addEndpoint({ family: 4, address: '10.1.0.9', flags: ['subflow'] }), (e: unknown) => {
    assert.ok(e instanceof NetlinkError);
    assert.equal(e.errno, 34);
    assert.equal(e.code, 'ERANGE');
    assert.equal(e.extack, 'too many addresses or duplicate one: -34');
    return true;
  });
  await assert.rejects(pm.addEndpoint({ family: 4, address: 'nonsense', flags: [] }), (e: unknown) => isMpsshError(e, 'bad-request'));
  pm.close();
});

test('a start that fails closes its sockets and may be retried', async () => {
  const k = new FakeKernel();
  let fail = true;
  const orig = k.handle.bind(k);
  k.handle = (type, flags, payload) => {
    if (fail) throw new NetlinkError({ errno: 1, requestType: type });
    return orig(type, flags, payload);
  };
  const { pm, seen } = client(k);
  await assert.rejects(pm.start(), (e: unknown) => e instanceof NetlinkError && e.code === 'EPERM');
  assert.deepEqual(k.sockets.map((s) => s.closed), [1, 1]);
  fail = false;
  await pm.start();
  assert.deepEqual(seen, ['up']);
  pm.close();
});

test('close() during start() ends it quietly; start() after close() is refused', async () => {
  const k = new FakeKernel();
  const orig = k.handle.bind(k);
  let release: () => void = () => undefined;
  k.handle = async (type, flags, payload) => {
    await new Promise<void>((r) => (release = r));
    if (k.sockets.some((s) => s.closed)) throw new NetlinkError({ errno: 125, requestType: type, detail: 'socket closed' });
    return orig(type, flags, payload);
  };
  const { pm, seen } = client(k);
  const starting = pm.start();
  await new Promise((r) => setImmediate(r));
  pm.close();
  release();
  await starting;
  assert.deepEqual(seen, []);
  assert.equal(pm.available, false);
  assert.deepEqual(k.sockets.map((s) => s.closed > 0), [true, true]);
  await assert.rejects(pm.start(), (e: unknown) => isMpsshError(e, 'closed'));
});
