/**
 * Where the user-side helper executable is: built by node-gyp next to the
 * addon (native/build/Release/), and shipped there by the Debian package
 * (/usr/lib/mpssh/native/build/Release/), so the same relative path from
 * the compiled file (dist/src/native/) finds it in both layouts.
 */
import path from 'node:path';

/** Path of mpsshd-user-helper, relative to the compiled file. */
export const USER_HELPER_PATH = path.resolve(__dirname, '../../../native/build/Release/mpsshd-user-helper');
