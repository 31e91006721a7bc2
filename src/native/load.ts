/**
 * Loads the project's C++ addon (built by node-gyp from native/) once.
 * Each typed wrapper declares the slice of the addon it uses, so the addon's
 * surface is typed next to the code that relies on it.
 */
import path from 'node:path';

let cached: Record<string, unknown> | undefined;

/** Path of the built addon, relative to the compiled file (dist/src/native/). */
export const ADDON_PATH = path.resolve(__dirname, '../../../native/build/Release/mpssh_native.node');

/** Returns the addon's exports, typed as the caller's view `T`. */
export function addon<T>(): T {
  if (cached === undefined) {
    cached = require(ADDON_PATH) as Record<string, unknown>;
  }
  return cached as T;
}
