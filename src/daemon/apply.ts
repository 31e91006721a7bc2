/**
 * Carrying out a plan against the kernel: add first, then change, then
 * delete, so that a connection has its new path before it loses the old one.
 * Each step's failure is recorded and the rest goes on; the caller's next
 * dump says what the kernel really holds.
 */
import type { MptcpPm } from '../netlink/clients.js';
import type { EndpointSpec, KernelEndpoint } from '../netlink/types.js';
import type { Logger } from '../util/logger.js';
import type { Plan } from './diff.js';
import type { DesiredEndpoint } from './policy.js';
import type { Change } from '../status/path-manager.js';
export type { Change };

/** What applying a plan did to ownership. */
export interface ApplyResult {
  changes: Change[];
  /** Endpoints added: id and address, to be recorded as owned. */
  added: { id: number; address: string }[];
  /** Owned endpoints deleted (or found gone). */
  removed: { id: number; address: string }[];
}

function spec(d: DesiredEndpoint): EndpointSpec {
  return { family: d.family, address: d.address, ifindex: d.ifindex, flags: [...d.flags] };
}

function describe(flags: readonly string[]): string {
  return flags.length ? flags.join(',') : 'none';
}

function errText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.message ?? String(err);
}

function isCode(err: unknown, code: string): boolean {
  return (err as { code?: string }).code === code;
}

/**
 * Whether a refused delete means the endpoint is already gone. The kernel
 * answers EINVAL for several reasons; only its "address not found" extended
 * ack, for an id it does not know, says so (mptcp_pm_nl_del_addr_doit() in
 * net/mptcp/pm_kernel.c, as of torvalds/linux 1a9239bb4253). Any other EINVAL is a
 * failure, and the endpoint stays ours to retry.
 */
export function deleteMeansGone(err: unknown): boolean {
  if (isCode(err, 'ENOENT')) return true;
  const extack = (err as { extack?: unknown }).extack;
  return isCode(err, 'EINVAL') && typeof extack === 'string' && /\bnot found\b/i.test(extack);
}

/** Applies `plan` through `pm`; never throws for a failed step. */
export async function applyPlan(plan: Plan, pm: MptcpPm, log: Logger): Promise<ApplyResult> {
  const res: ApplyResult = { changes: [], added: [], removed: [] };
  const deferred: DesiredEndpoint[] = [];

  const add = async (d: DesiredEndpoint, op: 'add' | 'replace', from: string): Promise<void> => {
    try {
      const id = await pm.addEndpoint(spec(d));
      res.added.push({ id, address: d.address });
      res.changes.push({ op, address: d.address, ifname: d.ifname, id, from, to: describe(d.flags), ok: true });
      log.info({ address: d.address, ifname: d.ifname, endpointId: id }, `endpoint ${d.address} (${d.ifname}): ${from} -> ${describe(d.flags)}`);
    } catch (err) {
      // ERANGE: the kernel's endpoint table is full (MPTCP_PM_ADDR_MAX, checked in
      // mptcp_pm_nl_append_new_local_addr(), net/mptcp/pm_kernel.c) until this plan's deletions run.
      if (op === 'add' && isCode(err, 'ERANGE') && !deferred.includes(d)) {
        deferred.push(d);
        return;
      }
      res.changes.push({ op, address: d.address, ifname: d.ifname, from, to: describe(d.flags), ok: false, error: errText(err) });
      log.warn({ address: d.address, ifname: d.ifname, err: errText(err) }, `cannot add endpoint ${d.address} (${d.ifname}), ignoring until the next pass`);
    }
  };

  const remove = async (ep: KernelEndpoint, op: 'remove' | 'replace'): Promise<boolean> => {
    try {
      await pm.deleteEndpoint(ep);
    } catch (err) {
      // Already gone (someone else deleted it): the goal is reached.
      if (!deleteMeansGone(err)) {
        res.changes.push({ op, address: ep.address, id: ep.id, from: describe(ep.flags), ok: false, error: errText(err) });
        log.warn({ address: ep.address, endpointId: ep.id, err: errText(err) }, `cannot delete endpoint ${ep.address}, ignoring until the next pass`);
        return false;
      }
    }
    res.removed.push({ id: ep.id, address: ep.address });
    if (op === 'remove') {
      res.changes.push({ op, address: ep.address, id: ep.id, from: describe(ep.flags), to: 'absent', ok: true });
      log.info({ address: ep.address, endpointId: ep.id }, `endpoint ${ep.address}: ${describe(ep.flags)} -> absent`);
    }
    return true;
  };

  for (const d of plan.add) await add(d, 'add', 'absent');

  for (const { endpoint, to } of plan.change) {
    try {
      await pm.setEndpointFlags(endpoint, to.flags);
      res.changes.push({ op: 'change', address: endpoint.address, ifname: to.ifname, id: endpoint.id, from: describe(endpoint.flags), to: describe(to.flags), ok: true });
      log.info({ address: endpoint.address, endpointId: endpoint.id }, `endpoint ${endpoint.address} (${to.ifname}): ${describe(endpoint.flags)} -> ${describe(to.flags)}`);
    } catch (err) {
      res.changes.push({ op: 'change', address: endpoint.address, id: endpoint.id, ok: false, error: errText(err) });
      log.warn({ address: endpoint.address, err: errText(err) }, `cannot change endpoint ${endpoint.address}, ignoring until the next pass`);
    }
  }

  for (const { endpoint, to } of plan.replace) {
    if (await remove(endpoint, 'replace')) await add(to, 'replace', describe(endpoint.flags));
  }

  for (const ep of plan.remove) await remove(ep, 'remove');

  for (const d of deferred) await add(d, 'add', 'absent');
  return res;
}
