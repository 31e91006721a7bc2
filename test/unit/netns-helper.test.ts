import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, vethPair } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { inNetns } from '../../src/native/netns.js';
import fs from 'node:fs';

test('namespaces are created, joined by veth, entered in-process and removed', (t) => {
  if (!requireNetns(t)) return;
  const a = Netns.create('a');
  const b = Netns.create('b');
  try {
    vethPair(a, 'eth0', b, 'eth0');
    a.ipSync('addr', 'add', '10.99.0.1/24', 'dev', 'eth0');
    const links = inNetns(a.path, () => fs.readdirSync('/proc/self/net/dev_snmp6').sort());
    assert.deepEqual(links, ['eth0', 'lo']);
  } finally {
    a.close();
    b.close();
  }
  assert.equal(fs.existsSync(a.path), false);
});
