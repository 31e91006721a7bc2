import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetlinkError, NetlinkParseError } from '../../src/netlink/errors.js';
import {
  CTRL_ATTR,
  CTRL_CMD,
  GENL_ID_CTRL,
  applyCtrlNotification,
  compareFamily,
  encodeGenl,
  encodeGetFamily,
  nlaString,
  nlaU16,
  nlaU32,
  parseCtrlNotification,
  parseFamilyAttrs,
  parseGenl,
  resolveFamily,
  type CtrlNotification,
  type GenlFamily,
  type GenlRequester,
} from '../../src/netlink/genl.js';
import { encodeAttr } from '../../src/netlink/nlmsg.js';
import { FIXTURE, withCmd } from './mptcp-pm-fixture.js';

const PM: GenlFamily = { id: 28, name: 'mptcp_pm', version: 1, hdrSize: 0, maxAttr: 0, groups: { mptcp_pm_cmds: 8, mptcp_pm_events: 9 } };

/** An nlctrl group notification as the kernel builds it: family name and id, and the one group. */
function groupNotification(cmd: number, family: string, id: number, group: string, groupId: number): Buffer {
  const grp = encodeAttr(1, Buffer.concat([nlaU32(2, groupId), nlaString(1, group)]), true);
  return encodeGenl(cmd, 2, [nlaString(CTRL_ATTR.FAMILY_NAME, family), nlaU16(CTRL_ATTR.FAMILY_ID, id), encodeAttr(CTRL_ATTR.MCAST_GROUPS, grp, true)]);
}

test('GETFAMILY replies of a 6.18 kernel decode to family id, version and groups', () => {
  assert.deepEqual(parseFamilyAttrs(parseGenl(Buffer.from(FIXTURE.replies.getFamilyMptcpPm, 'hex')).attrs), PM);
  assert.deepEqual(FIXTURE.family, PM);
  const ctrl = parseFamilyAttrs(parseGenl(Buffer.from(FIXTURE.replies.getFamilyNlctrl, 'hex')).attrs);
  assert.equal(ctrl.id, GENL_ID_CTRL);
  assert.deepEqual(ctrl.groups, { notify: GENL_ID_CTRL });
  assert.equal(encodeGetFamily('mptcp_pm').toString('hex'), '030200000d0002006d707463705f706d00000000');
});

test('nlctrl notifications decode; other commands are ignored', () => {
  const reply = FIXTURE.replies.getFamilyMptcpPm;
  assert.deepEqual(parseCtrlNotification(withCmd(reply, CTRL_CMD.NEWFAMILY)), { kind: 'newFamily', family: PM });
  assert.deepEqual(parseCtrlNotification(withCmd(reply, CTRL_CMD.DELFAMILY)), { kind: 'delFamily', family: PM });
  assert.deepEqual(parseCtrlNotification(groupNotification(CTRL_CMD.NEWMCAST_GRP, 'mptcp_pm', 28, 'mptcp_pm_events', 9)), {
    kind: 'newGroup',
    family: { id: 28, name: 'mptcp_pm', version: 0, hdrSize: 0, maxAttr: 0, groups: { mptcp_pm_events: 9 } },
  });
  assert.equal(parseCtrlNotification(withCmd(reply, 4 /* NEWOPS */)), null);
});

test('applyCtrlNotification follows the family through unload and reload', () => {
  const fam = (id: number, groups: Record<string, number>): GenlFamily => ({ ...PM, id, groups });
  const n = (kind: CtrlNotification['kind'], family: GenlFamily): CtrlNotification => ({ kind, family });
  const other = { ...PM, name: 'ethtool', id: 20 };
  const reloaded = fam(35, { mptcp_pm_cmds: 12, mptcp_pm_events: 13 });
  const cases: [string, GenlFamily | null, CtrlNotification, GenlFamily | null, string | null][] = [
    ['appears', null, n('newFamily', PM), PM, 'up'],
    ['another family appears', null, n('newFamily', other), null, null],
    ['another family goes', PM, n('delFamily', other), PM, null],
    ['same family announced again', PM, n('newFamily', PM), PM, null],
    ['goes away', PM, n('delFamily', PM), null, 'down'],
    ['an old id goes away', reloaded, n('delFamily', PM), reloaded, null],
    ['goes while unknown', null, n('delFamily', PM), null, null],
    ['comes back with new ids, deletion missed', PM, n('newFamily', reloaded), reloaded, 'replaced'],
    ['gains a group', fam(28, { mptcp_pm_cmds: 8 }), n('newGroup', fam(28, { mptcp_pm_events: 9 })), PM, 'groups'],
    ['loses a group', PM, n('delGroup', fam(28, { mptcp_pm_events: 9 })), fam(28, { mptcp_pm_cmds: 8 }), 'groups'],
    ['group of an unknown id', PM, n('newGroup', fam(40, { x: 1 })), PM, null],
    ['group news already known', PM, n('newGroup', fam(28, { mptcp_pm_events: 9 })), PM, null],
  ];
  for (const [what, current, note, next, change] of cases) {
    assert.deepEqual(applyCtrlNotification(current, 'mptcp_pm', note), { next, change }, what);
  }
});

test('compareFamily tells what a fresh resolution changed', () => {
  const reloaded = { ...PM, id: 35 };
  const cases: [GenlFamily | null, GenlFamily | null, string | null][] = [
    [null, null, null],
    [null, PM, 'up'],
    [PM, null, 'down'],
    [PM, PM, null],
    [PM, reloaded, 'replaced'],
    [PM, { ...PM, groups: { mptcp_pm_events: 10 } }, 'groups'],
  ];
  for (const [a, b, want] of cases) assert.equal(compareFamily(a, b), want, `${a?.id} -> ${b?.id}`);
});

test('resolveFamily: absent family is null, other errors propagate, bad replies are clear errors', async () => {
  const replying = (fn: GenlRequester['request']): GenlRequester => ({ request: fn });
  const enoent = new NetlinkError({ errno: 2, requestType: GENL_ID_CTRL });
  assert.equal(await resolveFamily(replying(async () => Promise.reject(enoent)), 'mptcp_pm'), null);
  const eperm = new NetlinkError({ errno: 1, requestType: GENL_ID_CTRL });
  await assert.rejects(resolveFamily(replying(async () => Promise.reject(eperm)), 'mptcp_pm'), (e: unknown) => e === eperm);
  const msg = (hex: string) => [{ type: GENL_ID_CTRL, flags: 0, seq: 1, portId: 0, payload: Buffer.from(hex, 'hex') }];
  const ok = await resolveFamily(replying(async (type, _f, payload) => {
    assert.equal(type, GENL_ID_CTRL);
    assert.deepEqual(payload, encodeGetFamily('mptcp_pm'));
    return msg(FIXTURE.replies.getFamilyMptcpPm);
  }), 'mptcp_pm');
  assert.deepEqual(ok, PM);
  await assert.rejects(resolveFamily(replying(async () => msg(FIXTURE.replies.getFamilyNlctrl)), 'mptcp_pm'), /asked for mptcp_pm, got nlctrl/);
  await assert.rejects(resolveFamily(replying(async () => []), 'mptcp_pm'), NetlinkParseError);
  await assert.rejects(resolveFamily(replying(async () => msg('0102')), 'mptcp_pm'), NetlinkParseError);
});

test('garbled nlctrl messages give NetlinkParseError', () => {
  const full = Buffer.from(FIXTURE.replies.getFamilyMptcpPm, 'hex');
  for (let len = 0; len < full.length; len++) {
    try {
      parseCtrlNotification(full.subarray(0, len));
    } catch (e) {
      assert.ok(e instanceof NetlinkParseError, `prefix ${len}: ${String(e)}`);
    }
  }
  assert.throws(() => parseFamilyAttrs(nlaString(CTRL_ATTR.FAMILY_NAME, 'mptcp_pm')), /without CTRL_ATTR_FAMILY_ID/);
  assert.throws(() => parseFamilyAttrs(encodeAttr(CTRL_ATTR.FAMILY_ID, Buffer.from([1]))), /attribute 1 has 1 bytes, needs 2/);
});
