/**
 * Keeps the kernel's MPTCP endpoints equal to what the config asks for.
 * Netlink notifications only say "something changed": each pass re-reads the
 * whole state (links, addresses, routes, endpoints), so a lost notification
 * (receive-buffer overrun) or an event out of order can never leave a stale
 * endpoint behind. One pass runs at a time; triggers during a pass cause
 * exactly one more.
 *
 * Alongside, a fast path acts at once on the objects the notifications
 * carried (fast-path.ts): an address that became usable gets its endpoint
 * with one request, without waiting for the re-read. The full pass follows
 * and has the last word. Both change endpoints only under one lock, each
 * against what the other left: a pass dumps the endpoints under it, and the
 * fast path starts from the endpoints the last holder knew.
 */
import { EventEmitter } from 'node:events';
import type { PathManagerConfig } from '../config/schema.js';
import type { MptcpPm, NetChange, NetMonitor } from '../netlink/clients.js';
import type { KernelEndpoint, Limits, NetSnapshot } from '../netlink/types.js';
import type { Logger } from '../util/logger.js';
import { applyPlan, type Change } from './apply.js';
import { diff, ownershipKey, planIsEmpty, slotsForOwn, type Plan } from './diff.js';
import { fastPlan, predictSnapshot, warmUp, type FastInput } from './fast-path.js';
import type { OwnershipStore } from './ownership-store.js';
import { ReflexKeeper } from './reflex-keeper.js';
import type { MptcpSysctls } from './mptcp-sysctls.js';
import { desiredCloseTimeout, desiredLimits, fitToSlots, KERNEL_MAX_ENDPOINTS, linkUsable, policy, type ClientAlive, type DesiredEndpoint, type Exclusion } from './policy.js';
import { Warnings, type Warning } from './warnings.js';
import type { CloseTimeoutState, EndpointView, PassResult, Trigger } from '../status/path-manager.js';
import { guardedOn } from '../util/events.js';
import { MpsshError } from '../util/errors.js';
import { Lock } from '../util/lock.js';
export type { CloseTimeoutState, EndpointView, PassResult, Trigger };

/** What the reconciler needs from the rest of the daemon. */
export interface ReconcilerDeps {
  net: NetMonitor;
  pm: MptcpPm;
  store: OwnershipStore;
  log: Logger;
  config(): PathManagerConfig;
  /** The namespace's MPTCP sysctls; without it they are neither read nor set. */
  sysctls?: MptcpSysctls;
  /** The SSH server's ClientAlive settings, which `closeTimeout: auto` follows. */
  clientAlive?(): ClientAlive;
  /** Last say over the policy's wish (runtime overrides such as the API's backup flag). */
  adjust?(desired: DesiredEndpoint[]): DesiredEndpoint[];
  /** Addresses `adjust` may treat apart: the address reflex leaves them to the fast path. */
  overridden?(): Iterable<string>;
  now?(): number;
}

/** How long the pass that checks the fast path's work may wait. */
const CHECK_DELAY_MS = 100;
/** Decisions made at start so V8 optimises them: a few tens of milliseconds, once. */
const WARM_UP_ROUNDS = 2000;
const WARM_UP_SLICE = 50;

/** Converges kernel endpoints and limits to the policy's wish. */
export class Reconciler extends EventEmitter<{ pass: [result: PassResult]; passStart: [seq: number]; closed: [] }> {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly downSince = new Map<number, number>();
  private readonly linkUp = new Map<number, boolean>();
  private readonly warnings: Warnings;
  private pending = new Set<Trigger>();
  private running: Promise<void> | null = null;
  private kick: NodeJS.Immediate | null = null;
  private holdTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private lastForeign: string | null = null;
  private seq = 0;
  private closed = false;
  private last: PassResult | null = null;
  private readonly subscriptions: (() => void)[] = [];
  /** Notifications the fast path has not taken yet. */
  private changes: NetChange[] = [];
  /** Notifications since the running pass began its re-read, laid over that re-read. */
  private sinceDump: NetChange[] = [];
  /**
   * The network and endpoints as the last holder of `writes` left them: a
   * pass's re-read plus every notification since. Null until the first
   * pass, and again after a notification that was lost or did not decode:
   * only a re-read can tell what it said.
   */
  private seen: { snap: NetSnapshot; actual: KernelEndpoint[] } | null = null;
  /** Counts losses of notifications, so a pass that began before one does not vouch for what it missed. */
  private blindEpoch = 0;
  /** Held while endpoints are dumped and changed. */
  private readonly writes = new Lock();
  private fastKick = false;
  private checkTimer: NodeJS.Timeout | null = null;
  private readonly checkTriggers = new Set<Trigger>();
  private fastRunning: Promise<void> | null = null;
  /** What the fast path did since the last pass ended, for the next pass to report. */
  private fastChanges: Change[] = [];
  /** Adds endpoints for new addresses before the notification reaches JS (reflex.ts). */
  private readonly reflex: ReflexKeeper;
  /** A pass is between its start and its end: the reflex stays disarmed. */
  private passing = false;

  constructor(private readonly deps: ReconcilerDeps) {
    super();
    this.log = deps.log.child({ mod: 'reconciler' });
    this.now = deps.now ?? Date.now;
    this.warnings = new Warnings(this.log);
    this.reflex = new ReflexKeeper(deps.net, deps.pm, deps.store, this.log);
  }

  /** Subscribes to change signals and runs the first pass; resolves when that pass is done. */
  async start(): Promise<void> {
    const { net, pm } = this.deps;
    this.subscriptions.push(
      guardedOn(net, 'change', (kind, detail) => {
        if (detail && this.seen !== null) {
          this.changes.push(detail);
          this.sinceDump.push(detail);
          this.kickFast();
          this.scheduleCheck(kind);
          return;
        }
        if (detail) this.sinceDump.push(detail);
        else this.goBlind();
        this.schedule(kind);
      }, this.log),
      guardedOn(net, 'reflex', (fired) => this.reflex.onFired(fired), this.log),
      guardedOn(net, 'overrun', () => {
        this.log.warn('rtnetlink receive buffer overrun: notifications lost, re-reading everything');
        this.goBlind();
        this.schedule('overrun');
      }, this.log),
      guardedOn(pm, 'familyUp', () => this.schedule('family'), this.log),
      guardedOn(pm, 'familyDown', () => {
        this.reflex.disarm();
        this.log.warn('mptcp_pm generic netlink family went away: endpoints cannot be managed until it returns');
      }, this.log),
    );
    this.armResync();
    this.schedule('start');
    await this.whenIdle();
    void this.warmUp();
  }

  /**
   * Compiles the fast path's decision before it is needed (fast-path.ts
   * warmUp), in slices between which the loop turns, so a notification that
   * comes meanwhile waits for one slice at most.
   */
  private async warmUp(): Promise<void> {
    const t0 = process.hrtime.bigint();
    for (let done = 0; done < WARM_UP_ROUNDS && !this.closed; done += WARM_UP_SLICE) {
      const seen = this.seen;
      if (seen === null) return;
      warmUp(this.fastInput(this.deps.config(), seen), WARM_UP_SLICE);
      await new Promise((r) => setImmediate(r));
    }
    this.log.debug({ ms: Number(process.hrtime.bigint() - t0) / 1e6, rounds: WARM_UP_ROUNDS }, 'fast path warmed up');
  }

  /** Asks for a pass soon; coalesces with any pass already asked for or running. */
  schedule(trigger: Trigger): void {
    if (this.closed) return;
    // Whatever asks for a pass (a reload, a notification that did not decode)
    // may have made the reflex's arming out of date.
    this.reflex.disarm();
    this.pending.add(trigger);
    this.kickOff();
  }

  /**
   * Asks for a pass within CHECK_DELAY_MS: for notifications the fast path
   * acts on, the pass only checks its work, so it lets the fast path answer
   * what comes next first and takes a burst in one re-read. The delay runs
   * from the first such request, so a storm cannot put the pass off.
   */
  private scheduleCheck(trigger: Trigger): void {
    if (this.closed) return;
    this.checkTriggers.add(trigger);
    this.checkTimer ??= setTimeout(() => {
      this.checkTimer = null;
      for (const t of this.checkTriggers) this.pending.add(t);
      this.checkTriggers.clear();
      this.kickOff();
    }, CHECK_DELAY_MS);
  }

  private kickOff(): void {
    if (this.running || this.kick || this.pending.size === 0) return;
    this.kick = setImmediate(() => {
      this.kick = null;
      this.running = this.loop().finally(() => {
        this.running = null;
        // A pass asked for after the loop last looked at `pending` (a 'pass'
        // listener that asks again at once) would otherwise wait for the next signal.
        if (!this.closed) this.kickOff();
      });
    });
  }

  /**
   * Asks for a pass and resolves with the first pass that *starts* after
   * this call: one already running was computed without what the caller
   * just changed. Rejects (code `unavailable`) once the reconciler is closed.
   */
  requestPass(trigger: Trigger): Promise<PassResult> {
    const stopped = () => new MpsshError('unavailable', 'the path manager is stopped');
    if (this.closed) return Promise.reject(stopped());
    return new Promise((resolve, reject) => {
      let first: number | undefined;
      const onStart = (seq: number): void => {
        first ??= seq;
      };
      const onPass = (r: PassResult): void => {
        if (first === undefined || r.seq < first) return;
        done();
        resolve(r);
      };
      const onClosed = (): void => {
        done();
        reject(stopped());
      };
      const done = (): void => {
        this.off('passStart', onStart);
        this.off('pass', onPass);
        this.off('closed', onClosed);
      };
      this.on('passStart', onStart);
      this.on('pass', onPass);
      this.on('closed', onClosed);
      this.schedule(trigger);
    });
  }

  /** Whether the address reflex is armed: a new ordinary address gets its endpoint before JS runs. */
  get reflexArmed(): boolean {
    return this.reflex.armedNow;
  }

  /** Resolves when no pass or fast path is running or asked for. */
  async whenIdle(): Promise<void> {
    while (this.kick || this.running || this.fastKick || this.fastRunning || this.checkTimer) {
      if (this.running) await this.running;
      else if (this.fastRunning) await this.fastRunning;
      else await new Promise((r) => (this.checkTimer && !this.kick && !this.fastKick ? setTimeout(r, 1) : setImmediate(r)));
    }
  }

  /** The latest pass, or null before the first one ends. */
  get lastPass(): PassResult | null {
    return this.last;
  }

  /** Stops timers and listeners; an unfinished pass completes. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of [this.holdTimer, this.resyncTimer, this.retryTimer, this.checkTimer]) if (t) clearTimeout(t);
    this.checkTimer = null;
    if (this.kick) clearImmediate(this.kick);
    this.kick = null;
    for (const off of this.subscriptions) off();
    this.reflex.disarm();
    this.emit('closed');
  }

  private armResync(): void {
    // The slow safety net: catches what has no notification at all, like
    // limits or endpoints changed by someone else.
    this.resyncTimer = setTimeout(() => {
      this.schedule('timer');
      if (!this.closed) this.armResync();
    }, this.deps.config().resyncIntervalMs);
    this.resyncTimer.unref();
  }

  private async loop(): Promise<void> {
    while (this.pending.size > 0 && !this.closed) {
      const triggers = [...this.pending];
      this.pending.clear();
      const result = await this.pass(triggers);
      this.last = result;
      this.emit('pass', result);
    }
  }

  /** Notifications whose object the fast path cannot know: forget the guesses until the next re-read. */
  private goBlind(): void {
    this.blindEpoch++;
    this.seen = null;
    this.changes = [];
    this.reflex.disarm();
  }

  /** What the fast path decides from, but the notifications: the last known state and the daemon's own. */
  private fastInput(cfg: PathManagerConfig, seen: { snap: NetSnapshot; actual: KernelEndpoint[] }): Omit<FastInput, 'changes'> {
    return { cfg, snap: seen.snap, actual: seen.actual, owned: this.deps.store.keys(), now: this.now(), downSince: this.downSince, ...(this.deps.adjust ? { adjust: this.deps.adjust } : {}) };
  }

  private kickFast(): void {
    if (this.closed || this.fastKick || this.fastRunning) return;
    // A microtask, not a later turn of the loop: it runs once the socket has
    // handed over every notification of this read, and before anything else.
    this.fastKick = true;
    queueMicrotask(() => {
      this.fastKick = false;
      this.fastRunning = (async () => {
        while (this.changes.length > 0 && !this.closed) await this.writes.run(() => this.fastPath());
      })().finally(() => {
        this.fastRunning = null;
        if (this.changes.length > 0) this.kickFast();
      });
    });
  }

  /**
   * Applies at once the adds and removes the queued notifications decide
   * (fast-path.ts); runs under `writes`. Removes only after a fresh dump:
   * the kernel reuses ids, and an id remembered may now be somebody else's.
   */
  private async fastPath(): Promise<void> {
    const changes = this.changes;
    this.changes = [];
    const { pm, store } = this.deps;
    const cfg = this.deps.config();
    const seen = this.seen;
    if (seen === null || changes.length === 0) return;
    const snap = predictSnapshot(seen.snap, changes);
    this.seen = { snap, actual: seen.actual };
    if (!pm.available || !cfg.enabled) return;
    // Notifications lost while this waits for the kernel make what it knows
    // incomplete: it then leaves `seen` as goBlind() left it, empty.
    const epoch = this.blindEpoch;
    const settle = (actual: KernelEndpoint[]): void => {
      if (this.blindEpoch === epoch) this.seen = { snap, actual };
    };
    try {
      let actual = seen.actual;
      const fresh = this.reflex.pending;
      if (fresh) {
        const mark = this.reflex.mark();
        actual = await pm.dumpEndpoints();
        const claimed = this.reflex.claim(actual, mark);
        this.fastChanges.push(...claimed);
        if (claimed.length > 0) this.scheduleCheck('fast-path');
      }
      const input = { ...this.fastInput(cfg, { snap: seen.snap, actual }), changes, predicted: snap };
      let fast = fastPlan(input);
      if (fast.remove.length > 0 && !fresh) {
        actual = await pm.dumpEndpoints();
        fast = fastPlan({ ...input, actual });
      }
      if (fast.add.length === 0 && fast.remove.length === 0) {
        settle(actual);
        this.rearm();
        return;
      }
      const plan: Plan = { add: fast.add, change: [], replace: [], remove: fast.remove, keep: [], foreign: [], blocked: [] };
      const applied = await applyPlan(plan, pm, this.log);
      store.update(applied.added, applied.removed);
      const gone = new Set(applied.removed.map(ownershipKey));
      const added = applied.added.flatMap(({ id, address }) => {
        const d = fast.add.find((x) => x.address === address);
        return d ? [{ id, family: d.family, address, ifindex: d.ifindex, flags: [...d.flags] }] : [];
      });
      settle([...actual.filter((a) => !gone.has(ownershipKey(a))), ...added]);
      this.fastChanges.push(...applied.changes);
      // The pass these notifications asked for may have begun before them: one more checks the guess.
      this.scheduleCheck('fast-path');
      this.log.debug({ changes: applied.changes.length }, 'fast path applied; the full pass verifies');
      this.rearm();
    } catch (err) {
      // The endpoints are unknown now; the full pass that follows does the work the slow way.
      this.seen = null;
      this.log.warn({ err: (err as Error).message }, 'fast path failed, ignoring: the full pass follows');
    }
  }

  private async pass(triggers: Trigger[]): Promise<PassResult> {
    const startedAt = this.now();
    const t0 = process.hrtime.bigint();
    const cfg = this.deps.config();
    const result: PassResult = {
      seq: ++this.seq,
      startedAt,
      durationMs: 0,
      triggers,
      changes: [],
      errors: [],
      desired: [],
      excluded: [],
      endpoints: [],
      limits: null,
      warnings: [],
      mptcpAvailable: this.deps.pm.available,
    };
    this.emit('passStart', result.seq);
    try {
      await this.converge(cfg, result);
    } catch (err) {
      this.seen = null;
      const msg = (err as Error).message ?? String(err);
      result.errors.push(msg);
      this.log.error({ err: msg }, 'reconcile pass failed, retrying in 1 s');
      this.retryTimer = setTimeout(() => this.schedule('retry'), 1000);
      this.retryTimer.unref();
    }
    const early = this.fastChanges.splice(0);
    if (early.length > 0) {
      result.changes = [...early, ...result.changes];
      for (const c of early) if (!c.ok && c.error) result.errors.unshift(`${c.op} ${c.address}: ${c.error}`);
    }
    result.warnings = this.warnings.list();
    result.durationMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const changed = result.changes.length > 0 || result.limitsChange !== undefined || result.closeTimeoutChange !== undefined;
    this.log[changed ? 'info' : 'debug'](
      { pass: result.seq, triggers, ms: Math.round(result.durationMs * 100) / 100, changes: result.changes.length, endpoints: result.endpoints.length },
      changed ? 'reconciled' : 'in step',
    );
    return result;
  }

  private async converge(cfg: PathManagerConfig, result: PassResult): Promise<void> {
    const epoch = this.blindEpoch;
    // The pass may change what the reflex was armed for, and a fast path that
    // runs during its re-read must not arm it again: the pass rearms when done.
    this.reflex.disarm();
    this.passing = true;
    try {
      this.sinceDump = [];
      const dumped = await this.deps.net.snapshot();
      await this.writes.run(async () => {
        // Notifications that came during the re-read may be newer than what it
        // returned; laid over it in order, each leaves its object as it is now.
        const blind = this.blindEpoch !== epoch;
        const snap = blind ? dumped : predictSnapshot(dumped, this.sinceDump);
        this.sinceDump = [];
        await this.convergeEndpoints(cfg, result, snap);
        if (blind) this.seen = null;
        this.passing = false;
        this.rearm();
      });
    } finally {
      this.passing = false;
    }
  }

  /** The pass's work against the kernel, under `writes`. */
  private async convergeEndpoints(cfg: PathManagerConfig, result: PassResult, snap: NetSnapshot): Promise<void> {
    const { pm, store } = this.deps;
    const now = this.now();
    this.trackLinkState(snap, now);
    result.net = snap;
    const pol = cfg.enabled ? policy(cfg, snap, { now, downSince: this.downSince }) : { desired: [], excluded: [] };
    if (this.deps.adjust) pol.desired = this.deps.adjust(pol.desired);
    this.armHoldTimer(cfg, now);
    if (!pm.available) {
      this.seen = null;
      result.excluded = pol.excluded;
      this.warnings.set('mptcp-unavailable', 'the kernel has no mptcp_pm generic netlink family: MPTCP is missing or disabled');
      return;
    }
    this.warnings.clear('mptcp-unavailable');

    const mark = this.reflex.mark();
    let actual = await pm.dumpEndpoints();
    this.fastChanges.push(...this.reflex.claim(actual, mark));
    const owned = this.pruneOwned(actual);
    this.noticeForeign(actual, owned);
    const { kept, leftOut } = fitToSlots(pol.desired, slotsForOwn(actual, owned, KERNEL_MAX_ENDPOINTS));
    if (leftOut.length > 0) this.warnings.set('endpoint-limit', `${leftOut.length} usable address(es) left out: the kernel holds at most ${KERNEL_MAX_ENDPOINTS} endpoints`);
    else this.warnings.clear('endpoint-limit');

    const plan = diff(kept, actual, owned);
    for (const b of plan.blocked) {
      this.warnings.set(`blocked:${b.desired.address}`, `address ${b.desired.address} (${b.desired.ifname}) is already endpoint ${b.by.id} of another manager; leaving it alone`);
    }
    this.warnings.clearMissing('blocked:', new Set(plan.blocked.map((b) => `blocked:${b.desired.address}`)));

    if (!planIsEmpty(plan)) {
      const applied = await applyPlan(plan, pm, this.log);
      result.changes = applied.changes;
      for (const r of applied.removed) owned.delete(ownershipKey(r));
      for (const a of applied.added) owned.add(ownershipKey(a));
      actual = await pm.dumpEndpoints();
      for (const c of applied.changes) if (!c.ok && c.error) result.errors.push(`${c.op} ${c.address}: ${c.error}`);
    }
    store.replace(actual.filter((a) => owned.has(ownershipKey(a))).map((a) => ({ id: a.id, address: a.address })));
    this.lastForeign = foreignSignature(actual, owned);

    const ownCount = actual.filter((a) => owned.has(ownershipKey(a))).length;
    result.limits = await this.convergeLimits(cfg, ownCount, result);
    const closeTimeout = this.convergeCloseTimeout(cfg, result);
    if (closeTimeout) result.closeTimeout = closeTimeout;
    const blocked = new Set(plan.blocked.map((b) => b.desired.address));
    result.desired = kept.filter((d) => !blocked.has(d.address));
    result.excluded = [
      ...pol.excluded,
      ...leftOut,
      ...plan.blocked.map(({ desired: d, by }) => ({
        family: d.family,
        address: d.address,
        ifindex: d.ifindex,
        ifname: d.ifname,
        reason: 'foreign-endpoint' as const,
        detail: `already endpoint ${by.id} (${by.flags.join(',') || 'no flags'}) of another manager`,
      })),
    ];
    result.endpoints = viewOf(actual, owned, snap);
    this.seen = { snap, actual };
  }

  /**
   * Arms the address reflex for what the daemon knows now, or disarms it when
   * that is not everything: notifications not taken in yet, or lost ones.
   */
  private rearm(): void {
    const seen = this.seen;
    const cfg = this.deps.config();
    if (this.closed || this.passing || seen === null || this.changes.length > 0 || !this.deps.pm.available || !cfg.enabled) {
      this.reflex.disarm();
      return;
    }
    this.reflex.arm(this.fastInput(cfg, seen), this.deps.overridden?.() ?? []);
  }

  /** Forgets owned entries the kernel no longer has (deleted by someone, or a flush). */
  private pruneOwned(actual: KernelEndpoint[]): Set<string> {
    const present = new Set(actual.map(ownershipKey));
    const owned = this.deps.store.keys();
    for (const k of owned) {
      if (!present.has(k)) {
        owned.delete(k);
        if (this.lastForeign !== null) this.warnings.set('own-endpoint-vanished', `endpoint ${k.replace('|', ' ')} created by mpsshd was removed by someone else`);
      }
    }
    return owned;
  }

  /** Warns when endpoints of others changed since the last pass: two managers fighting is worth knowing about. */
  private noticeForeign(actual: KernelEndpoint[], owned: Set<string>): void {
    const sig = foreignSignature(actual, owned);
    if (this.lastForeign === null) {
      const n = actual.filter((a) => !owned.has(ownershipKey(a)) && !a.flags.includes('implicit')).length;
      if (n > 0) this.log.info({ count: n }, 'leaving endpoints not created by mpsshd alone');
    } else if (sig !== this.lastForeign) {
      this.warnings.set('foreign-activity', `another manager (ip mptcp, NetworkManager, mptcpd?) changed MPTCP endpoints: now [${sig}]`);
    }
  }

  private async convergeLimits(cfg: PathManagerConfig, ownCount: number, result: PassResult): Promise<Limits> {
    const have = await this.deps.pm.getLimits();
    // A disabled path manager leaves the kernel's limits as they are, like its endpoints.
    if (!cfg.enabled) return have;
    const want = desiredLimits(cfg, ownCount);
    if (have.subflows === want.subflows && have.addAddrAccepted === want.addAddrAccepted) return have;
    try {
      await this.deps.pm.setLimits(want);
      result.limitsChange = { from: have, to: want };
      this.log.info({ from: have, to: want }, `limits: subflows ${have.subflows} -> ${want.subflows}, add_addr_accepted ${have.addAddrAccepted} -> ${want.addAddrAccepted}`);
      return want;
    } catch (err) {
      result.errors.push(`set limits: ${(err as Error).message}`);
      this.log.warn({ err: (err as Error).message }, 'cannot set limits, ignoring until the next pass');
      return have;
    }
  }

  /** Keeps net.mptcp.close_timeout at the config's wish; reports what the kernel has. */
  private convergeCloseTimeout(cfg: PathManagerConfig, result: PassResult): CloseTimeoutState | null {
    const { sysctls } = this.deps;
    if (!sysctls) return null;
    let have: number | null;
    try {
      have = sysctls.readCloseTimeout();
    } catch (err) {
      result.errors.push(`read close_timeout: ${(err as Error).message}`);
      return null;
    }
    if (have === null) return null;
    // A disabled path manager leaves it alone, like the limits and the endpoints.
    const want = desiredCloseTimeout(cfg, this.deps.clientAlive?.() ?? { interval: 0, countMax: 0 });
    if (want === null || want === have) return { seconds: have, managed: want !== null };
    try {
      sysctls.writeCloseTimeout(want);
      result.closeTimeoutChange = { from: have, to: want };
      this.log.info({ from: have, to: want }, `net.mptcp.close_timeout: ${have} -> ${want} s`);
      return { seconds: want, managed: true };
    } catch (err) {
      result.errors.push(`set close_timeout: ${(err as Error).message}`);
      this.log.warn({ err: (err as Error).message }, 'cannot set net.mptcp.close_timeout, ignoring until the next pass');
      return { seconds: have, managed: true };
    }
  }

  private trackLinkState(snap: NetSnapshot, now: number): void {
    const seen = new Set<number>();
    for (const link of snap.links) {
      seen.add(link.index);
      const usable = linkUsable(link).usable;
      if (!usable && !this.downSince.has(link.index)) this.downSince.set(link.index, now);
      if (usable) this.downSince.delete(link.index);
      const before = this.linkUp.get(link.index);
      if (before !== undefined && before !== usable) this.log.info({ ifname: link.name }, `link ${link.name}: ${usable ? 'down -> up' : 'up -> down'}`);
      this.linkUp.set(link.index, usable);
    }
    for (const idx of [...this.downSince.keys()]) if (!seen.has(idx)) this.downSince.delete(idx);
    for (const idx of [...this.linkUp.keys()]) if (!seen.has(idx)) this.linkUp.delete(idx);
  }

  /** Schedules a pass for when the earliest held link's grace time runs out. */
  private armHoldTimer(cfg: PathManagerConfig, now: number): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    if (cfg.linkDownHoldMs === 0) return;
    let next = Infinity;
    for (const since of this.downSince.values()) {
      const expiry = since + cfg.linkDownHoldMs;
      if (expiry > now) next = Math.min(next, expiry);
    }
    if (next === Infinity) return;
    this.holdTimer = setTimeout(() => this.schedule('hold-expired'), next - now + 1);
    this.holdTimer.unref();
  }
}

function foreignSignature(actual: KernelEndpoint[], owned: Set<string>): string {
  return actual
    .filter((a) => !owned.has(ownershipKey(a)) && !a.flags.includes('implicit'))
    .map((a) => `${a.id} ${a.address} ${[...a.flags].sort().join(',')}`)
    .sort()
    .join('; ');
}

function viewOf(actual: KernelEndpoint[], owned: Set<string>, snap: NetSnapshot): EndpointView[] {
  const names = new Map(snap.links.map((l) => [l.index, l.name]));
  return actual.map((a) => {
    const owner = owned.has(ownershipKey(a)) ? 'mpsshd' : a.flags.includes('implicit') ? 'implicit' : 'foreign';
    const ifname = a.ifindex ? names.get(a.ifindex) : undefined;
    return { ...a, owner, ...(ifname ? { ifname } : {}) };
  });
}
