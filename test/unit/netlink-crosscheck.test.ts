/**
 * mpssh's own netlink encoders read back by an independent implementation,
 * the npm `netlink` package (a development dependency only: its socket
 * aborts the process on ENOBUFS, which is why the daemon has its own).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeQuery } from '../../src/netlink/route-lookup.js';

interface NetlinkPackage {
  rt: { parseRouteMessage(b: Buffer): { data: { family: number; dstLen: number; srcLen: number }; attrs: Record<string, Buffer | undefined> } };
}

test('a route lookup for a subflow, as the netlink package reads it', async () => {
  const { rt } = require('netlink') as NetlinkPackage;
  const cases: [Parameters<typeof routeQuery>[0], string, string][] = [
    [{ family: 4, src: '10.0.1.1', dst: '198.51.100.7', sport: 40000, dport: 22 }, 'c6336407', '0a000101'],
    [{ family: 6, src: 'fd00::1', dst: '2001:db8::7', sport: 22, dport: 50022 }, '20010db8000000000000000000000007', 'fd000000000000000000000000000001'],
  ];
  for (const [flow, dst, src] of cases) {
    const m = rt.parseRouteMessage(routeQuery(flow));
    const bits = flow.family === 4 ? 32 : 128;
    assert.deepEqual([m.data.family, m.data.dstLen, m.data.srcLen], [flow.family === 4 ? 2 : 10, bits, bits]);
    assert.equal(m.attrs.dst?.toString('hex'), dst);
    assert.equal(m.attrs.src?.toString('hex'), src);
    assert.equal(m.attrs.ipProto?.readUInt8(0), 6);
    assert.equal(m.attrs.sport?.readUInt16BE(0), flow.sport);
    assert.equal(m.attrs.dport?.readUInt16BE(0), flow.dport);
  }
});
