/**
 * The daemon's one pino logger. JSON lines on stdout for journald by default;
 * human-readable lines under -d. Modules get children binding `mod` and
 * whatever identifies the object they log about.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  debug?: boolean;
  level?: pino.LevelWithSilent;
  /** Destination for tests; defaults to stdout. */
  stream?: NodeJS.WritableStream;
}

/** Creates the root logger of a process. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? (opts.debug ? 'debug' : 'info');
  if (opts.debug && !opts.stream) {
    // Loaded only under -d: the daemon's normal footprint need not carry it.
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    return pino({ level }, pretty({ sync: true, colorize: process.stdout.isTTY, ignore: 'pid,hostname' }));
  }
  return pino({ level, base: { pid: process.pid } }, opts.stream ?? pino.destination({ fd: 1, sync: false }));
}

/** A logger that discards everything, for tests of modules that take one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
