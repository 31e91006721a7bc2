/**
 * Signal names between SSH and the kernel. RFC 4254 §6.9/§6.10 name signals
 * without the SIG prefix and list a fixed set; those are the only ones the
 * client may send and the only ones an exit-signal may carry. Pure.
 */
import os from 'node:os';

const RFC_SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

/** The kernel signal for a `signal` request, or undefined for a name outside the RFC list. */
export function signalFromSsh(name: string): NodeJS.Signals | undefined {
  const n = name.toUpperCase().replace(/^SIG/, '');
  return RFC_SIGNALS.has(n) ? (`SIG${n}` as NodeJS.Signals) : undefined;
}

/**
 * How a child's end is reported: exit-signal for a signal in the RFC list,
 * else exit-status (a signal outside the list becomes 128+n, as shells
 * report it).
 */
export function exitReport(code: number | null, signal: NodeJS.Signals | number | null): { status: number } | { signal: string } {
  if (signal !== null && signal !== 0) {
    const name = typeof signal === 'number' ? signalName(signal) : signal;
    const short = name?.replace(/^SIG/, '');
    if (short !== undefined && RFC_SIGNALS.has(short)) return { signal: short };
    const num = typeof signal === 'number' ? signal : (os.constants.signals[signal] ?? 0);
    return { status: 128 + num };
  }
  return { status: code ?? 255 };
}

function signalName(n: number): string | undefined {
  return Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0];
}
