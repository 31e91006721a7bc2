import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetlinkParseError } from '../../src/netlink/errors.js';
import { isMpsshError } from '../../src/util/errors.js';
import {
  addressBytes,
  bitsToFlags,
  canonicalAddress,
  decodeEndpoint,
  decodeEvent,
  decodeLimits,
  encodeAddEndpoint,
  encodeDelEndpoint,
  encodeDumpEndpoints,
  encodeFlushEndpoints,
  encodeGetLimits,
  encodeSetFlags,
  encodeSetLimits,
  flagsToBits,
  formatAddress,
} from '../../src/netlink/mptcp-pm-codec.js';
import { encodeGenl, nlaU8 } from '../../src/netlink/genl.js';
import { encodeAttr } from '../../src/netlink/nlmsg.js';
import type { MptcpPmEvent } from '../../src/netlink/clients.js';
import { FIXTURE, sentBy } from './mptcp-pm-fixture.js';

test('requests are byte for byte what iproute2 sends', () => {
  const cases: [string, Buffer][] = [
    ['endpoint add 10.1.0.1 id 5 dev lo subflow backup', encodeAddEndpoint({ id: 5, family: 4, address: '10.1.0.1', ifindex: 1, flags: ['subflow', 'backup'] })],
    ['endpoint add 10.1.0.2 signal', encodeAddEndpoint({ family: 4, address: '10.1.0.2', flags: ['signal'] })],
    ['endpoint add 2001:db8::1 port 2000 signal', encodeAddEndpoint({ family: 6, address: '2001:db8::1', port: 2000, flags: ['signal'] })],
    ['endpoint add 10.1.0.3 subflow fullmesh', encodeAddEndpoint({ family: 4, address: '10.1.0.3', flags: ['subflow', 'fullmesh'] })],
    ['endpoint show', encodeDumpEndpoints()],
    ['endpoint change id 5 nobackup', encodeSetFlags({ id: 5, family: 4, address: '10.1.0.1' }, [])],
    ['endpoint change id 8 backup fullmesh', encodeSetFlags({ id: 8, family: 4, address: '10.1.0.3' }, ['backup', 'fullmesh'])],
    ['endpoint delete id 8', encodeDelEndpoint({ id: 8, family: 4, address: '10.1.0.3' })],
    ['endpoint delete id 0 10.1.0.2', encodeDelEndpoint({ id: 0, family: 4, address: '10.1.0.2' })],
    ['limits set subflows 3 add_addr_accepted 4', encodeSetLimits({ subflows: 3, addAddrAccepted: 4 })],
    ['limits show', encodeGetLimits()],
  ];
  for (const [args, ours] of cases) assert.equal(ours.toString('hex'), sentBy(args).toString('hex'), `ip mptcp ${args}`);
  assert.equal(encodeFlushEndpoints().toString('hex'), '04010000');
});

test('set flags sends only backup and fullmesh, and goes by address for id 0', () => {
  const byId = encodeSetFlags({ id: 5, family: 4, address: '10.1.0.1' }, ['subflow', 'backup', 'signal']);
  assert.deepEqual(byId, encodeSetFlags({ id: 5, family: 4, address: '10.1.0.1' }, ['backup']));
  const byAddr = encodeSetFlags({ id: 0, family: 6, address: '2001:db8::1' }, ['backup']);
  // flags, family AF_INET6, addr6; no id
  assert.equal(byAddr.toString('hex'), '0701000028000180080006000400000006000100' + '0a000000' + '1400040020010db8000000000000000000000001');
});

test('dump replies of a 6.18 kernel decode to what `ip mptcp endpoint show` printed', () => {
  const eps = FIXTURE.replies.dumpEndpoints.map((h) => decodeEndpoint(Buffer.from(h, 'hex')));
  assert.deepEqual(eps.map((e) => e.endpoint), [
    { id: 5, family: 4, address: '10.1.0.1', ifindex: 1, flags: ['subflow'] },
    { id: 6, family: 4, address: '10.1.0.2', flags: ['signal'] },
    { id: 7, family: 6, address: '2001:db8::1', port: 2000, flags: ['signal'] },
  ]);
  assert.deepEqual(FIXTURE.replies.dumpShownByIp.map((l) => l.trim()), ['10.1.0.1 id 5 subflow dev lo', '10.1.0.2 id 6 signal', '2001:db8::1 port 2000 id 7 signal']);
  assert.ok(eps.every((e) => e.unknownAttrs.length === 0 && e.unknownFlags === 0));
});

test('limits reply decodes', () => {
  assert.deepEqual(decodeLimits(Buffer.from(FIXTURE.replies.getLimits, 'hex')), { limits: { subflows: 3, addAddrAccepted: 4 }, unknownAttrs: [] });
});

function decodedEvents(ns: 'a' | 'b'): MptcpPmEvent[] {
  return FIXTURE.events.filter((e) => e.ns === ns).map((e) => {
    const d = decodeEvent(Buffer.from(e.payload, 'hex'));
    assert.deepEqual(d.unknownAttrs, [], `unknown attributes in ${e.payload}`);
    assert.ok(d.event, `event type ${d.type} unknown`);
    return d.event;
  });
}

test('events of real IPv4 and IPv6 connections decode with their addresses, ports and ids', () => {
  const a = decodedEvents('a');
  const b = decodedEvents('b');
  const one = (evs: MptcpPmEvent[], type: string, pred: (e: MptcpPmEvent) => boolean = () => true): MptcpPmEvent => {
    const found = evs.filter((e) => e.type === type && pred(e));
    assert.equal(found.length, 1, `${type}: ${JSON.stringify(found)}`);
    return found[0]!;
  };
  const v4 = (e: MptcpPmEvent): boolean => e.family === 4;
  const created = one(a, 'created', v4);
  assert.deepEqual({ ...created, token: 0, sport: 0 }, { type: 'created', token: 0, family: 4, saddr: '10.0.1.1', daddr: '10.0.1.2', sport: 0, dport: 7000, locId: 0, remId: 0 });
  const clientPort = created.sport!;
  assert.ok(clientPort > 1024);
  const token = created.token!;
  assert.deepEqual(one(a, 'established', v4), { ...created, type: 'established' });
  assert.deepEqual(one(a, 'announced'), { type: 'announced', token, remId: 4, daddr: '10.0.2.2', dport: 7001 });
  // The subflow from the `dev eth1` endpoint carries the device; the one to the announced address does too (routing).
  const sub = one(a, 'sub_established', (e) => e.daddr === '10.0.1.2');
  assert.deepEqual({ ...sub, sport: 0 }, { type: 'sub_established', token, family: 4, saddr: '10.0.2.1', daddr: '10.0.1.2', sport: 0, dport: 7000, locId: 3, remId: 0, backup: false, ifindex: 3 });
  assert.equal(one(a, 'sub_closed', (e) => e.daddr === '10.0.1.2').sport, sub.sport);
  assert.deepEqual(one(a, 'closed', (e) => e.token === token), { type: 'closed', token });

  const server = one(b, 'created', v4);
  assert.deepEqual({ ...server, token: 0 }, { type: 'created', token: 0, serverSide: true, flags: 2, family: 4, saddr: '10.0.1.2', daddr: '10.0.1.1', sport: 7000, dport: clientPort, locId: 0, remId: 0 });
  const prio = one(b, 'sub_priority');
  assert.deepEqual({ ...prio, token: 0, dport: 0 }, { type: 'sub_priority', token: 0, family: 4, saddr: '10.0.2.2', daddr: '10.0.2.1', sport: 7001, dport: 0, locId: 4, remId: 3, backup: true });
  assert.deepEqual(one(b, 'removed'), { type: 'removed', token: server.token, remId: 3 });
  assert.deepEqual(one(b, 'listener_created', (e) => e.sport === 7001), { type: 'listener_created', family: 4, sport: 7001, saddr: '10.0.2.2' });
  assert.deepEqual(one(b, 'listener_closed', (e) => e.sport === 7001), { type: 'listener_closed', family: 4, sport: 7001, saddr: '10.0.2.2' });

  const c6 = one(a, 'created', (e) => e.family === 6);
  assert.equal(c6.saddr, 'fd00:1::1');
  assert.equal(c6.daddr, 'fd00:1::2');
  assert.equal(c6.dport, 7002);
  assert.deepEqual(one(b, 'listener_created', (e) => e.family === 6), { type: 'listener_created', family: 6, sport: 7002, saddr: '::' });
});

test('reset reason and flags, error and unknown attributes', () => {
  const u32 = (type: number, v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return encodeAttr(type, b);
  };
  const payload = encodeGenl(11, 1, [u32(1, 0xdeadbeef), nlaU8(12, 111), u32(16, 3), u32(17, 1), encodeAttr(99, Buffer.from('future'))]);
  const d = decodeEvent(payload);
  assert.deepEqual(d.event, { type: 'sub_closed', token: 0xdeadbeef, error: 111, reset: { reason: 3, flags: 1 } });
  assert.deepEqual(d.unknownAttrs, [99]);
  assert.deepEqual(decodeEvent(encodeGenl(42, 1, [u32(1, 7)])), { type: 42, event: null, unknownAttrs: [] });
});

test('IPv6 text is RFC 5952 and round-trips; bad addresses are refused before the kernel', () => {
  const cases: [string, string][] = [
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ['64:ff9b::10.1.2.3', '64:ff9b::a01:203'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
  ];
  for (const [input, want] of cases) {
    assert.equal(canonicalAddress(6, input), want, input);
    assert.equal(formatAddress(addressBytes(6, want)), want);
  }
  assert.equal(canonicalAddress(4, '192.0.2.1'), '192.0.2.1');
  for (const [fam, bad] of [[4, '10.1.2'], [4, '::1'], [6, '10.1.2.3'], [6, 'fe80::1%eth0'], [6, '1::2::3'], [4, '']] as const) {
    assert.throws(() => addressBytes(fam, bad), (e: unknown) => isMpsshError(e, 'bad-request'), `${fam} ${bad}`);
  }
});

test('flag names and bits', () => {
  assert.equal(flagsToBits(['signal', 'subflow', 'backup', 'fullmesh', 'implicit', 'laminar']), 0x3f);
  assert.deepEqual(bitsToFlags(0x22), { flags: ['subflow', 'laminar'], unknownBits: 0 });
  assert.deepEqual(bitsToFlags(0x105), { flags: ['signal', 'backup'], unknownBits: 0x100 });
  assert.throws(() => flagsToBits(['nope' as 'signal']), /unknown endpoint flag/);
});

test('invalid requests are refused with bad-request', () => {
  const bad = (fn: () => unknown): void => assert.throws(fn, (e: unknown) => isMpsshError(e, 'bad-request'));
  bad(() => encodeAddEndpoint({ id: 0, family: 4, address: '10.0.0.1', flags: [] }));
  bad(() => encodeAddEndpoint({ id: 256, family: 4, address: '10.0.0.1', flags: [] }));
  bad(() => encodeAddEndpoint({ family: 4, address: '10.0.0.1', port: 70000, flags: ['signal'] }));
  bad(() => encodeAddEndpoint({ family: 4, address: '10.0.0.1', ifindex: -1, flags: [] }));
  bad(() => encodeAddEndpoint({ family: 6, address: '10.0.0.1', flags: [] }));
  bad(() => encodeSetLimits({ subflows: 1.5, addAddrAccepted: 0 }));
});

test('truncated and garbled replies give NetlinkParseError, never another exception', () => {
  const isParse = (e: unknown): boolean => e instanceof NetlinkParseError;
  // An ADDR4 of 3 bytes, an ID of 0 bytes, a missing family.
  const nest = (...attrs: Buffer[]): Buffer => encodeGenl(3, 1, [encodeAttr(1, Buffer.concat(attrs), true)]);
  const fam4 = encodeAttr(1, Buffer.from([2, 0]));
  assert.throws(() => decodeEndpoint(nest(fam4, nlaU8(2, 1), encodeAttr(3, Buffer.from([10, 0, 0])))), /attribute 3 has 3 bytes, needs 4/);
  assert.throws(() => decodeEndpoint(nest(fam4, encodeAttr(2, Buffer.alloc(0)))), isParse);
  assert.throws(() => decodeEndpoint(nest(nlaU8(2, 1), encodeAttr(3, Buffer.from([10, 0, 0, 1])))), /no family or no id/);
  assert.throws(() => decodeEndpoint(nest(encodeAttr(1, Buffer.from([7, 0])), nlaU8(2, 1))), /neither AF_INET nor AF_INET6/);
  assert.throws(() => decodeEndpoint(nest(fam4, nlaU8(2, 1))), /without its address/);
  assert.throws(() => decodeEndpoint(Buffer.from([3, 1])), isParse);
  assert.throws(() => decodeLimits(encodeGenl(6, 1)), isParse);
  assert.throws(() => decodeEvent(encodeGenl(1, 1, [encodeAttr(9, Buffer.from([1]))])), /attribute 9 has 1 bytes, needs 2/);

  // Every prefix and many byte flips of every captured payload: decoded or a NetlinkParseError.
  const samples: [(b: Buffer) => unknown, string][] = [
    ...FIXTURE.replies.dumpEndpoints.map((h) => [decodeEndpoint, h] as [(b: Buffer) => unknown, string]),
    [decodeLimits, FIXTURE.replies.getLimits],
    ...FIXTURE.events.map((e) => [decodeEvent, e.payload] as [(b: Buffer) => unknown, string]),
  ];
  let seed = 12345;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
  for (const [decode, h] of samples) {
    const full = Buffer.from(h, 'hex');
    for (let len = 0; len < full.length; len++) {
      try {
        decode(full.subarray(0, len));
      } catch (e) {
        assert.ok(isParse(e), `prefix ${len} of ${h}: ${String(e)}`);
      }
    }
    for (let i = 0; i < 50; i++) {
      const b = Buffer.from(full);
      b[rand(b.length)] = rand(256);
      try {
        decode(b);
      } catch (e) {
        assert.ok(isParse(e), `flipped ${b.toString('hex')}: ${String(e)}`);
      }
    }
  }
});
