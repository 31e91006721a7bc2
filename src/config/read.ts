/**
 * What the daemon holds on to of configuration reading: the error type, the
 * default path, and `readConfig`, which reads through the loader (YAML, zod
 * schemas) and unloads it again. The schemas and the parser take about
 * 5 MiB of heap that the daemon needs only while it reads its
 * configuration, at start and on reload; a path manager running for months
 * should not carry them (`npm run bench -- memory`).
 */
import type { Config } from './schema.js';
import { MpsshError } from '../util/errors.js';
import { withTransientModules } from '../util/transient-modules.js';

/** The file mpsshd reads when no `-f` is given. */
export const DEFAULT_CONFIG_PATH = '/etc/mpssh/mpsshd.yaml';

/** One problem found in the configuration. */
export interface ConfigProblem {
  /** Where: "FILE:LINE:COL", "FILE", or "-o KEY=VALUE". */
  where: string;
  /** Dotted key path ("pathManager.interfaces[1].mode"), or "" for the whole document. */
  key: string;
  message: string;
}

/** A configuration that cannot be used; `message` lists every problem, one per line. */
export class ConfigError extends MpsshError {
  constructor(readonly problems: ConfigProblem[]) {
    super('config-invalid', problems.map(formatProblem).join('\n'));
  }
}

function formatProblem(p: ConfigProblem): string {
  return p.key === '' ? `${p.where}: ${p.message}` : `${p.where}: ${p.key}: ${p.message}`;
}

/** Where the configuration came from, for logs and `mpsshd -t`. */
export interface LoadedConfig {
  config: Config;
  /** The file read, or null when none existed and defaults were used. */
  file: string | null;
  overrides: string[];
}

/** Options of `loadConfig`. */
export interface LoadOptions {
  /** File to read; defaults to DEFAULT_CONFIG_PATH. */
  file?: string;
  /** True when the user named the file (`-f`): then a missing file is an error. */
  explicit?: boolean;
  /** `-o Key=Value` options, in command-line order (later ones win). */
  overrides?: string[];
}

/** Loads and validates the configuration (loader.ts), then lets go of the loader; throws ConfigError. */
export function readConfig(opts: LoadOptions = {}): LoadedConfig {
  return withTransientModules(() => (require('./loader.js') as typeof import('./loader.js')).loadConfig(opts));
}
