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
  /**
   * What the last arming promised, by `${ifindex}/${family}`. Kept after a
   * disarm: the report of what it did may come after one (an overrun in the
   * same read is told first).
   */
  private armed = new Map<string, ReflexEntryPlan>();
  /** Sent and not yet seen in a dump; `n` numbers them in the order they were sent. */
  private fired: Array<AddressReflexFired & { entry: ReflexEntryPlan; n: number }> = [];
  private firedCount = 0;
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
      this.fired.push({ ...f, entry, n: ++this.firedCount });
      this.log.debug({ address: f.address, ifname: entry.ifname }, 'address reflex sent an endpoint request');
    } else {
      // The fast path tries the same request and reports what the kernel says.
      this.log.debug({ address: f.address, ifname: entry.ifname, errno: f.errno }, 'address reflex: the kernel refused the endpoint');
    }
  }

  /** Call before asking for the dump that is given to claim(). */
  mark(): number {
    return this.firedCount;
  }

  /**
   * Takes the endpoints the reflex added that `actual`, a dump asked for
   * after mark() returned `mark`, shows as the daemon's own; returns their
   * change records. An endpoint sent after the mark may be missing from the
   * dump and waits for the next one; one sent before it and missing was
   * refused or removed since, and the policy decides again on the next pass.
   * An endpoint matches on its address, link and flags: one that differs is
   * not the reflex's, whatever its address.
   */
  claim(actual: readonly KernelEndpoint[], mark: number): Change[] {
    const added: Array<{ id: number; address: string }> = [];
    const changes: Change[] = [];
    const later = this.fired.filter((f) => f.n > mark);
    const fired = this.fired.filter((f) => f.n <= mark);
    this.fired = later;
    for (const f of fired) {
      const want = [...f.entry.flags].sort().join(',');
      const ep = actual.find((e) => e.address === f.address && e.family === f.family && e.ifindex === f.ifindex && [...e.flags].sort().join(',') === want);
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
