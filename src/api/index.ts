/**
 * The status API: read-only listeners (loopback by default) and the
 * root-only control socket. A listener that cannot open is logged once and
 * reported as degraded; the daemon carries on without it.
 */
import type { ApiConfig } from '../config/schema.js';
import type { StatusSource } from '../status/snapshot.js';
import type { Logger } from '../util/logger.js';
import { buildApp } from './app.js';
import { describeListen, openListener, parseListen, type ListenSpec, type OpenListener } from './listen.js';
import type { ApiListenersState } from './views.js';

export { buildApp, type BuildAppOptions } from './app.js';
export type { ApiListenersState } from './views.js';

/** A running API. */
export interface ApiHandle {
  /** Closes every listener and ends event streams; safe to call twice. */
  close(): Promise<void>;
  /** Which listeners are open, and why the others are not. */
  state(): ApiListenersState;
}

/** Starts the API on `config.listen` and `config.controlSocket`; never rejects because a socket cannot open. */
export async function startApi(opts: { source: StatusSource; config: ApiConfig; log: Logger }): Promise<ApiHandle> {
  const log = opts.log.child({ mod: 'api' });
  const listeners: ApiListenersState['listeners'] = [];
  const open: OpenListener[] = [];
  const state = (): ApiListenersState => ({ listeners: listeners.map((l) => ({ ...l })) });
  if (!opts.config.enabled) {
    log.info('status API disabled by config');
    return { close: async () => undefined, state };
  }
  const readApp = buildApp({ source: opts.source, log: opts.log, control: false, apiState: state, allowedHosts: opts.config.allowedHosts });
  const controlApp = buildApp({ source: opts.source, log: opts.log, control: true, apiState: state });
  await Promise.all([readApp.ready(), controlApp.ready()]);

  const specs: { text: string; spec: ListenSpec | Error; control: boolean }[] = [
    ...opts.config.listen.map((text) => ({ text, spec: tryParse(text), control: false })),
    { text: opts.config.controlSocket, spec: tryParse(opts.config.controlSocket), control: true },
  ];
  for (const { text, spec, control } of specs) {
    if (spec instanceof Error) {
      listeners.push({ address: text, ok: false, error: spec.message });
      log.error({ listen: text }, spec.message);
      continue;
    }
    try {
      const l = await openListener(control ? controlApp : readApp, spec, control ? 0o600 : 0o666);
      open.push(l);
      listeners.push({ address: l.address, ok: true });
      log.info({ listen: l.address, control }, control ? 'status API control socket open' : 'status API listening');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const error = e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message;
      listeners.push({ address: describeListen(spec), ok: false, error });
      log.error({ listen: describeListen(spec), code: e.code }, `status API cannot listen on ${describeListen(spec)}: ${error}; the daemon carries on without it`);
    }
  }
  let closing: Promise<void> | undefined;
  return {
    state,
    close() {
      closing ??= (async () => {
        await Promise.all([readApp.close(), controlApp.close()]);
        await Promise.all(open.map((l) => l.close()));
      })();
      return closing;
    },
  };
}

function tryParse(text: string): ListenSpec | Error {
  try {
    return parseListen(text);
  } catch (err) {
    return err as Error;
  }
}
