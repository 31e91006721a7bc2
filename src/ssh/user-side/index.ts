/**
 * Privilege separation, the user's side: a small per-connection helper that
 * runs as the logged-in user does everything on the user's behalf (programs,
 * sockets) and hands descriptors to the worker, which is not the user.
 */
export { connectUserSide, type PipedProgram, type ProgramExit, type ProgramSpec, type PtyProgram, type StartedProgram, type UserSide } from './client.js';
export { UserSideError } from './protocol.js';
export { spawnUserHelper, type HelperAccount, type SpawnedHelper } from './spawn.js';
export { startLoginProcess, type LoginProcess, type PamOutcome, type PamStep, type SessionSettings } from './login-process.js';
