/**
 * Connecting to a name with several addresses in the manner of Happy
 * Eyeballs (RFC 8305): addresses ordered with the families interleaved,
 * attempts started one after another at a fixed delay without waiting for
 * the previous one to fail, the first connection to succeed wins and the
 * others are abandoned.
 */
import net from 'node:net';

/** RFC 8305 section 5: the recommended Connection Attempt Delay. */
export const ATTEMPT_DELAY_MS = 250;

/**
 * Orders addresses as RFC 8305 section 4 asks: keep the resolver's order
 * within each family, and alternate families starting with the family of the
 * resolver's first answer.
 */
export function interleaveFamilies(addresses: readonly string[]): string[] {
  const first = net.isIP(addresses[0] ?? '');
  const a = addresses.filter((x) => net.isIP(x) === first);
  const b = addresses.filter((x) => net.isIP(x) !== first && net.isIP(x) !== 0);
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i] as string);
    if (i < b.length) out.push(b[i] as string);
  }
  return out;
}

/** One connection attempt: resolves with the connection or rejects; must stop when `signal` aborts. */
export type Attempt<T> = (address: string, signal: AbortSignal) => Promise<T>;

/** Why every attempt failed: the errors in attempt order. */
export class AllAttemptsFailed extends Error {
  readonly code = 'ERR_ALL_ATTEMPTS_FAILED';
  constructor(readonly errors: { address: string; error: Error }[]) {
    super(errors.map((e) => `${e.address}: ${e.error.message}`).join('; ') || 'no address to connect to');
  }
}

/**
 * Races attempts over `addresses` (already ordered), starting the next one
 * after `delayMs` or as soon as the current one fails. Resolves with the
 * first success and aborts the rest; `dispose` releases the winners of a
 * race that finished late.
 */
export async function race<T>(addresses: readonly string[], attempt: Attempt<T>, dispose: (value: T) => void, delayMs = ATTEMPT_DELAY_MS): Promise<{ address: string; value: T }> {
  if (addresses.length === 0) throw new AllAttemptsFailed([]);
  return new Promise((resolve, reject) => {
    const controllers: AbortController[] = [];
    const errors: { address: string; error: Error; order: number }[] = [];
    let next = 0;
    let pending = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;

    const startNext = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (done || next >= addresses.length) return;
      const order = next++;
      const address = addresses[order] as string;
      const ctl = new AbortController();
      controllers.push(ctl);
      pending++;
      attempt(address, ctl.signal).then(
        (value) => {
          pending--;
          if (done) {
            dispose(value);
            return;
          }
          done = true;
          if (timer) clearTimeout(timer);
          for (const c of controllers) if (c !== ctl) c.abort();
          resolve({ address, value });
        },
        (error: Error) => {
          pending--;
          if (done) return;
          errors.push({ address, error, order });
          if (next < addresses.length) startNext();
          else if (pending === 0) {
            done = true;
            reject(new AllAttemptsFailed(errors.sort((x, y) => x.order - y.order).map(({ address: a, error: e }) => ({ address: a, error: e }))));
          }
        },
      );
      if (next < addresses.length) timer = setTimeout(startNext, delayMs);
    };
    startNext();
  });
}
