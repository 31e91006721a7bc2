/**
 * No process of mpssh may ever open Node's inspector. An SSH worker runs as
 * the user it serves after the privilege drop, so the user can signal it:
 * Node answers SIGUSR1 by opening an unauthenticated debugger on
 * 127.0.0.1:9229, through which *any* local user could run code in that
 * process. Node 20 has no switch to turn this off (`--disable-sigusr1` came
 * in 22.14), so each entry point calls `lockInspector()` before anything else:
 *  - a SIGUSR1 listener replaces Node's own handler (libuv installs its
 *    handler over the one the inspector agent registered at start-up);
 *  - `--inspect*`/`--debug*` in the command line or NODE_OPTIONS is refused;
 *  - the `inspector` module and binding cannot be loaded.
 */
import Module from 'node:module';

/** Command-line options that open (or prepare to open) the inspector. */
const INSPECT_FLAG = /(^|\s)--(inspect|debug)(-brk|-port|-wait|-publish-uid)?(=|\s|$)/;
const INSPECTOR_MODULES = new Set(['inspector', 'node:inspector', 'inspector/promises', 'node:inspector/promises']);

/** Why the options this process was started with would open an inspector, or undefined. */
export function inspectorFlag(execArgv: readonly string[], nodeOptions: string | undefined): string | undefined {
  for (const a of execArgv) if (INSPECT_FLAG.test(a)) return `${a} on the command line`;
  if (nodeOptions !== undefined && INSPECT_FLAG.test(nodeOptions)) return `${nodeOptions.trim()} in NODE_OPTIONS`;
  return undefined;
}

let locked = false;

/**
 * Makes the inspector unreachable in this process; exits with a one-line
 * message when the process was started with an inspector option. Safe to
 * call twice.
 */
export function lockInspector(name: string): void {
  if (locked) return;
  locked = true;
  const flag = inspectorFlag(process.execArgv, process.env.NODE_OPTIONS);
  if (flag !== undefined) {
    process.stderr.write(`${name}: refusing to run with Node's inspector enabled (${flag})\n`);
    process.exit(1);
  }
  // Children started by this process must not inherit options that would open it either.
  delete process.env.NODE_OPTIONS;
  process.on('SIGUSR1', () => {
    // Deliberately nothing: the listener's presence is what disarms Node's handler.
  });
  const M = Module as unknown as { _load(request: string, ...rest: unknown[]): unknown };
  const load = M._load;
  M._load = function guardedLoad(request: string, ...rest: unknown[]): unknown {
    if (INSPECTOR_MODULES.has(request)) throw new Error(`${name}: the inspector module is disabled`);
    return load.call(this, request, ...rest);
  };
  const proc = process as unknown as { binding(name: string): unknown };
  const binding = proc.binding.bind(process);
  proc.binding = (what: string): unknown => {
    if (what === 'inspector') throw new Error(`${name}: the inspector binding is disabled`);
    return binding(what);
  };
}
