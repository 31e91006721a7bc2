/**
 * Failed authentication answers take as long for an existing user as for an
 * unknown one. Looking up a real user's authorized_keys (as the user, under
 * StrictModes) costs milliseconds that an unknown name does not, and that
 * difference tells an attacker which names exist. As sshd does
 * (auth2.c user_specific_delay(), ensure_minimum_time_since()), every
 * failure is padded to a floor that depends only on the name and a secret of
 * this process, doubled while the real work took longer; unlike sshd, the
 * floor sits above what the lookup costs here.
 */
import crypto from 'node:crypto';

/** The floor's fixed part and its name-dependent spread. */
export const FAILURE_FLOOR_MS = 30;
export const FAILURE_SPREAD_MS = 5;

/** The per-name floor: FAILURE_FLOOR_MS plus up to FAILURE_SPREAD_MS, stable for a name and secret. */
export function userFloorMs(user: string, secret: Buffer): number {
  const h = crypto.createHash('sha512').update(secret).update(user).digest();
  return FAILURE_FLOOR_MS + (h.readUInt32BE(0) / 2 ** 32) * FAILURE_SPREAD_MS;
}

/** How long to wait before answering a failure whose work took `elapsedMs`. */
export function failureDelayMs(floorMs: number, elapsedMs: number): number {
  let target = floorMs;
  while (target < elapsedMs) target *= 2;
  return target - elapsedMs;
}
