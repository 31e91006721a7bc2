/**
 * MptcpPmClient against the real kernel, inside throwaway namespaces, with
 * iproute2's view (`ip mptcp endpoint show`, `ip mptcp limits`) as the
 * reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Netns } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import { MptcpPmClient } from '../../src/netlink/mptcp-pm.js';
import type { KernelEndpoint } from '../../src/netlink/types.js';
import { silentLogger } from '../../src/util/logger.js';

/** `ip mptcp endpoint show` lines as endpoints (iproute2 6.1 knows no `laminar`). */
function ipEndpoints(ns: Netns): KernelEndpoint[] {
  const links = JSON.parse(ns.ipSync('-j', 'link', 'show')) as { ifname: string; ifindex: number }[];
  return ns
    .ipSync('mptcp', 'endpoint', 'show')
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const w = line.trim().split(/\s+/);
      const address = w.shift()!;
      const ep: KernelEndpoint = { id: -1, family: address.includes(':') ? 6 : 4, address, flags: [] };
      while (w.length) {
        const k = w.shift()!;
        if (k === 'id') ep.id = Number(w.shift());
        else if (k === 'port') ep.port = Number(w.shift());
        else if (k === 'dev') ep.ifindex = links.find((l) => l.ifname === w.shift())?.ifindex;
        else ep.flags.push(k as KernelEndpoint['flags'][number]);
      }
      return ep;
    })
    .sort((a, b) => a.id - b.id);
}

function hostEndpoints(): string {
  return execFileSync('ip', ['mptcp', 'endpoint', 'show'], { encoding: 'utf8' });
}

async function withPm(t: import('node:test').TestContext, tag: string, fn: (ns: Netns, pm: MptcpPmClient) => Promise<void>): Promise<void> {
  if (!requireNetns(t)) return;
  const before = hostEndpoints();
  const ns = Netns.create(tag);
  const pm = new MptcpPmClient(silentLogger(), { netns: ns.name });
  try {
    for (let i = 1; i <= 9; i++) ns.ipSync('addr', 'add', `10.1.0.${i}/32`, 'dev', 'lo');
    ns.ipSync('addr', 'add', '2001:db8::1/64', 'dev', 'lo', 'nodad');
    await pm.start();
    assert.equal(pm.available, true);
    await fn(ns, pm);
  } finally {
    pm.close();
    ns.close();
  }
  assert.equal(hostEndpoints(), before, "the host's endpoints must not change");
}

test('endpoints: add, dump, set flags, delete and flush agree with ip mptcp endpoint show', (t) =>
  withPm(t, 'pme', async (ns, pm) => {
    assert.deepEqual(await pm.dumpEndpoints(), []);
    assert.equal(await pm.addEndpoint({ family: 4, address: '10.1.0.1', flags: ['subflow'] }), 1);
    assert.equal(await pm.addEndpoint({ id: 20, family: 4, address: '10.1.0.2', ifindex: 1, flags: ['subflow', 'backup'] }), 20);
    const v6 = await pm.addEndpoint({ family: 6, address: '2001:0db8::0001', port: 2000, flags: ['signal'] });
    const fm = await pm.addEndpoint({ family: 4, address: '10.1.0.3', flags: ['subflow', 'fullmesh'] });
    const dump = await pm.dumpEndpoints();
    assert.deepEqual(dump, [
      { id: 1, family: 4, address: '10.1.0.1', flags: ['subflow'] },
      { id: 20, family: 4, address: '10.1.0.2', ifindex: 1, flags: ['subflow', 'backup'] },
      { id: v6, family: 6, address: '2001:db8::1', port: 2000, flags: ['signal'] },
      { id: fm, family: 4, address: '10.1.0.3', flags: ['subflow', 'fullmesh'] },
    ]);
    assert.deepEqual(ipEndpoints(ns), dump);

    await pm.setEndpointFlags({ id: 1, family: 4, address: '10.1.0.1' }, ['backup', 'fullmesh']);
    await pm.setEndpointFlags({ id: 20, family: 4, address: '10.1.0.2' }, ['subflow']);
    // id 0 means "by address", which the kernel still accepts.
    await pm.setEndpointFlags({ id: 0, family: 4, address: '10.1.0.3' }, ['backup']);
    const flags = Object.fromEntries(ipEndpoints(ns).map((e) => [e.id, e.flags]));
    assert.deepEqual(flags, { 1: ['subflow', 'backup', 'fullmesh'], 20: ['subflow'], [v6]: ['signal'], [fm]: ['subflow', 'backup'] });

    await pm.deleteEndpoint({ id: 20, family: 4, address: '10.1.0.2' });
    // id 0 stands for each connection's first address: accepted, and no endpoint goes.
    await pm.deleteEndpoint({ id: 0, family: 4, address: '10.1.0.1' });
    assert.deepEqual(ipEndpoints(ns).map((e) => e.id), [1, v6, fm]);
    await pm.flushEndpoints();
    assert.deepEqual(ipEndpoints(ns), []);
    assert.deepEqual(await pm.dumpEndpoints(), []);
  }));

test('the laminar flag of Linux 6.18 is sent and dumped', (t) =>
  withPm(t, 'pml', async (_ns, pm) => {
    const id = await pm.addEndpoint({ family: 4, address: '10.1.0.4', flags: ['laminar'] });
    assert.deepEqual(await pm.dumpEndpoints(), [{ id, family: 4, address: '10.1.0.4', flags: ['laminar'] }]);
  }));

test('limits: get and set agree with ip mptcp limits; above 8 is EINVAL with the kernel text', (t) =>
  withPm(t, 'pmm', async (ns, pm) => {
    const ipLimits = (): string => ns.ipSync('mptcp', 'limits').trim();
    assert.deepEqual(await pm.getLimits(), { subflows: 2, addAddrAccepted: 0 });
    assert.equal(ipLimits(), 'add_addr_accepted 0 subflows 2');
    await pm.setLimits({ subflows: 5, addAddrAccepted: 3 });
    assert.equal(ipLimits(), 'add_addr_accepted 3 subflows 5');
    assert.deepEqual(await pm.getLimits(), { subflows: 5, addAddrAccepted: 3 });
    await assert.rejects(pm.setLimits({ subflows: 9, addAddrAccepted: 0 }), (e: unknown) => {
      assert.ok(e instanceof NetlinkError, String(e));
      assert.equal(e.code, 'EINVAL');
      assert.equal(e.extack, 'limit greater than maximum (8)');
      assert.match(e.message, /^mptcp_pm SET_LIMITS failed: EINVAL/);
      return true;
    });
    assert.deepEqual(await pm.getLimits(), { subflows: 5, addAddrAccepted: 3 });
  }));

test('kernel refusals keep errno, code and extack: 9th endpoint, duplicates, unknown id, bad flags', (t) =>
  withPm(t, 'pmr', async (_ns, pm) => {
    const refused = async (p: Promise<unknown>, code: string, extack: RegExp): Promise<void> => {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof NetlinkError, String(e));
        assert.equal(e.code, code);
        assert.match(e.extack ?? '', extack);
        return true;
      });
    };
    await pm.addEndpoint({ id: 1, family: 4, address: '10.1.0.1', flags: ['subflow'] });
    await refused(pm.addEndpoint({ family: 4, address: '10.1.0.1', flags: ['subflow'] }), 'EEXIST', /^too many addresses or duplicate one: -17$/);
    await refused(pm.addEndpoint({ id: 1, family: 4, address: '10.1.0.2', flags: ['subflow'] }), 'EBUSY', /^too many addresses or duplicate one: -16$/);
    await refused(pm.deleteEndpoint({ id: 99, family: 4, address: '10.1.0.9' }), 'EINVAL', /^address not found$/);
    await refused(pm.setEndpointFlags({ id: 99, family: 4, address: '10.1.0.9' }, ['backup']), 'EINVAL', /^address not found$/);
    await refused(pm.addEndpoint({ family: 4, address: '10.1.0.2', flags: ['signal', 'fullmesh'] }), 'EINVAL', /signal and fullmesh/);
    await refused(pm.addEndpoint({ family: 4, address: '10.1.0.2', port: 9000, flags: ['subflow'] }), 'EINVAL', /when using port/);
    for (let i = 2; i <= 8; i++) await pm.addEndpoint({ family: 4, address: `10.1.0.${i}`, flags: ['subflow'] });
    assert.equal((await pm.dumpEndpoints()).length, 8);
    await refused(pm.addEndpoint({ family: 4, address: '10.1.0.9', flags: ['subflow'] }), 'ERANGE', /^too many addresses or duplicate one: -34$/);
    await assert.rejects(pm.addEndpoint({ family: 4, address: '10.1.0.9', flags: ['subflow'] }), /^NetlinkError: mptcp_pm ADD_ADDR failed: ERANGE \(Numerical result out of range\): too many addresses/);
  }));

test('two clients in two namespaces see only their own endpoints', async (t) => {
  if (!requireNetns(t)) return;
  const a = Netns.create('pmx');
  const b = Netns.create('pmy');
  const pa = new MptcpPmClient(silentLogger(), { netns: a.name });
  const pb = new MptcpPmClient(silentLogger(), { netns: b.name });
  try {
    await Promise.all([pa.start(), pb.start()]);
    await pa.addEndpoint({ family: 4, address: '10.9.0.1', flags: ['signal'] });
    assert.equal((await pa.dumpEndpoints()).length, 1);
    assert.deepEqual(await pb.dumpEndpoints(), []);
    assert.equal(b.ipSync('mptcp', 'endpoint', 'show').trim(), '');
  } finally {
    pa.close();
    pb.close();
    a.close();
    b.close();
  }
});

test('a delete waiting in the kernel (an RCU grace period inside sendto) does not hold the event loop', async (t) => {
  await withPm(t, 'pmnoblock', async (_ns, pm) => {
    for (let i = 0; i < 5; i++) {
      const id = await pm.addEndpoint({ family: 4, address: '10.1.0.1', flags: ['subflow'] });
      const t0 = performance.now();
      const done = pm.deleteEndpoint({ id, family: 4, address: '10.1.0.1' });
      const handedOff = performance.now() - t0;
      let loopRan = false;
      setImmediate(() => (loopRan = true));
      await done;
      const total = performance.now() - t0;
      assert.ok(loopRan, 'the event loop ran while the kernel deleted');
      // Off the loop's thread the call returns before the kernel is done; on it, only after.
      assert.ok(handedOff < total / 2, `the call took ${handedOff.toFixed(2)} ms of the delete's ${total.toFixed(2)} ms`);
    }
  });
});
