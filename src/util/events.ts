/**
 * Typed subscriptions that cannot take their emitter down: a listener that
 * throws is logged (what event, what error) instead of escaping into the
 * emitter's emit() call, which for a netlink socket is its receive loop.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from './logger.js';

type EventMap<T> = Record<keyof T, unknown[]>;

/** Subscribes `fn` to `event` of `em`; returns the unsubscribe. */
export function guardedOn<T extends EventMap<T>, K extends keyof T & string>(em: EventEmitter<T>, event: K, fn: (...args: T[K]) => void, log: Logger): () => void {
  const wrapped = (...args: T[K]): void => {
    try {
      fn(...args);
    } catch (err) {
      log.error({ err, event }, `a listener of "${event}" failed, ignoring`);
    }
  };
  (em as unknown as EventEmitter).on(event, wrapped as (...a: unknown[]) => void);
  return () => {
    (em as unknown as EventEmitter).off(event, wrapped as (...a: unknown[]) => void);
  };
}
