/**
 * The reconciler's side of the address reflex: arms it from the state the
 * daemon has caught up with (reflex.ts decides what), and takes the endpoints
 * it added as the daemon's own, with the change records and log lines any
 * other add gets. An endpoint the reflex added is owned from the first dump
 * that shows it, by the fast path or by a pass, whichever runs first.
 */
import os from 'node:os';
import type { AddressReflexArm, AddressReflexFired, MptcpPm, NetMonitor } from '../netlink/clients.js';
import type { KernelEndpoint } from '../netlink/types.js';
import type { Logger } from '../util/logger.js';
import type { Change } from './apply.js';
import type { FastInput } from './fast-path.js';
import type { OwnershipStore } from './ownership-store.js';
import { reflexPlan, type ReflexEntryPlan } from './reflex.js';

const { EINPROGRESS } = os.constants.errno;

export class ReflexKeeper {
  /** What the current arming promised, by `${ifindex}/${family}`. */
  private armed = new Map<string, ReflexEntryPlan>();
  /** Sent and not yet seen in a dump. */
  private fired: Array<AddressReflexFired & { entry: ReflexEntryPlan }> = [];
  private isArmed = false;
  private failedOnce = false;

  constructor(
    private readonly net: NetMonitor,
    private readonly pm: MptcpPm,
    private readonly store: OwnershipStore,
    private readonly log: Logger,
  ) {}

  /** Whether the monitor and the client can carry a reflex at all. */
  get supported(): boolean {
    return this.net.armAddressReflex !== undefined && this.pm.prepareAdd !== undefined;
  }

  /** Whether the reflex is armed now. */
  get armedNow(): boolean {
    return this.isArmed;
  }

  /** Whether endpoints the reflex added wait for a dump to be claimed. */
  get pending(): boolean {
    return this.fired.length > 0;
  }

  /** Arms for the state in `input`: the daemon has taken in every notification so far. */
  arm(input: Omit<FastInput, 'changes'>, overridden: Iterable<string>): void {
    if (!this.supported) return;
    try {
      const plan = reflexPlan(input, overridden);
      const entries: AddressReflexArm['entries'] = [];
      const armed = new Map<string, ReflexEntryPlan>();
      for (const e of plan.entries) {
        const prepared = this.pm.prepareAdd?.({ family: e.family, address: plan.probes[e.family], ifindex: e.ifindex, flags: [...e.flags] });
        if (!prepared) continue;
        entries.push({ ...prepared, ifindex: e.ifindex, family: e.family, refuseFlags: e.refuseFlags });
        armed.set(`${e.ifindex}/${e.family}`, e);
      }
      this.armed = armed;
      this.isArmed = entries.length > 0;
      this.net.armAddressReflex?.(entries.length > 0 ? { entries, refuse: plan.refuse, known: plan.known } : null);
    } catch (err) {
      this.disarm();
      // The fast path does the same work a little later: say it once, not per notification.
      if (!this.failedOnce) this.log.warn({ err: (err as Error).message }, 'address reflex cannot be armed; the fast path adds endpoints instead');
      this.failedOnce = true;
    }
  }

  disarm(): void {
    this.armed = new Map();
    if (!this.isArmed) return;
    this.isArmed = false;
    this.net.armAddressReflex?.(null);
  }

  /** The reflex sent a request (it disarmed itself doing so). */
  onFired(f: AddressReflexFired): void {
    this.isArmed = false;
    const entry = this.armed.get(`${f.ifindex}/${f.family}`);
    if (entry === undefined) return;
    if (f.errno === 0 || f.errno === EINPROGRESS) {
      this.fired.push({ ...f, entry });
      this.log.debug({ address: f.address, ifname: entry.ifname }, 'address reflex sent an endpoint request');
    } else {
      // The fast path tries the same request and reports what the kernel says.
      this.log.debug({ address: f.address, ifname: entry.ifname, errno: f.errno }, 'address reflex: the kernel refused the endpoint');
    }
  }

  /**
   * Takes the endpoints the reflex added that `actual` (a fresh dump) shows
   * as the daemon's own; returns their change records. One that is not there
   * is dropped: the policy, run on the next pass, decides again.
   */
  claim(actual: readonly KernelEndpoint[]): Change[] {
    const fired = this.fired.splice(0);
    const added: Array<{ id: number; address: string }> = [];
    const changes: Change[] = [];
    for (const f of fired) {
      const ep = actual.find((e) => e.address === f.address && e.family === f.family);
      if (ep === undefined) continue;
      const to = f.entry.flags.length ? f.entry.flags.join(',') : 'none';
      added.push({ id: ep.id, address: ep.address });
      changes.push({ op: 'add', address: ep.address, ifname: f.entry.ifname, id: ep.id, from: 'absent', to, ok: true });
      this.log.info({ address: ep.address, ifname: f.entry.ifname, endpointId: ep.id, reflex: true }, `endpoint ${ep.address} (${f.entry.ifname}): absent -> ${to}`);
    }
    if (added.length > 0) this.store.update(added, []);
    return changes;
  }
}
