/**
 * Entry point of an SSH worker process. Everything is loaded first, then the
 * process leaves root for the privilege separation user and locks itself
 * down (worker-sandbox.ts), then blocks until the daemon hands it a
 * connection, so that the connection is served at once. One worker, one
 * connection.
 */
import { lockInspector } from '../../util/inspector-guard.js';
// Before anything loads ssh2: its load-time repairs.
import '../ssh2-internals.js';
import fs from 'node:fs';
import net from 'node:net';
import type { SshConfig } from '../../config/ssh-schema.js';
import { adoptSocket, receiveFd } from '../../mptcp/fdpass.js';
import { hasCode } from '../../mptcp/errors.js';
import { createLogger } from '../../util/logger.js';
import { attachChannels } from './channels.js';
import type { HandoffMessage } from './control-protocol.js';
import { HANDOFF_FD } from './pool.js';
import { SIGNER_FD } from './monitor-frames.js';
import { closeInheritedFds, silenceStdio } from '../../native/fds.js';
import { logRelay } from './log-relay.js';
import { readExactly } from '../../util/blocking-io.js';
import { runConnection } from './worker.js';
import { normaliseClientAddress } from '../auth/match.js';
import { enterSandbox } from './worker-sandbox.js';
import type { LockDownResult } from '../../native/sandbox.js';

function main(): void {
  lockInspector('mpsshd worker');
  // The two socket pairs are ours; anything else inherited must not outlive us into a user's program.
  closeInheritedFds([HANDOFF_FD, SIGNER_FD]);
  // argv: the privilege separation user's uid and gid, given by a root daemon.
  const [uid, gid] = process.argv.slice(2, 4).map((a) => Number.parseInt(a, 10));
  let sandbox: LockDownResult;
  // Opened now: once confined, the worker can open nothing.
  const devNull = fs.openSync('/dev/null', 'w');
  try {
    sandbox = enterSandbox(uid ?? -1, gid ?? -1, process.argv.length >= 4);
  } catch (err) {
    process.stderr.write(`mpsshd worker: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let connFd: number;
  let sessionFd: number;
  try {
    connFd = receiveFd(HANDOFF_FD, { timeoutMs: -1 });
    // The socket a restarted daemon finds this session on: made by the daemon, whose directory we cannot write.
    sessionFd = receiveFd(HANDOFF_FD, { timeoutMs: 5000 });
  } catch (err) {
    // EPIPE: the daemon closed our socket pair (stopping, or the pool shrank).
    process.exit(hasCode(err, 'EPIPE', 'ECONNRESET') ? 0 : 1);
  }
  const len = parseInt(readExactly(HANDOFF_FD, 9, 'the daemon').toString('latin1').trim(), 16);
  if (!Number.isInteger(len) || len <= 0 || len > 1024 * 1024) process.exit(1);
  // Written by the daemon (root), which built it from its own checked configuration.
  const handoff = JSON.parse(readExactly(HANDOFF_FD, len, 'the daemon').toString('utf8')) as HandoffMessage;
  if (handoff.op !== 'connection' || typeof handoff.id !== 'string') {
    // One line: this goes to the daemon's log stream.
    process.stderr.write('mpsshd worker: bad handoff message\n');
    process.exit(1);
  }
  // From here on nothing is written to the daemon's output directly: logs go over the control channel.
  const relay = logRelay();
  silenceStdio(devNull);
  const log = createLogger({ level: handoff.logLevel as 'info', stream: relay.stream }).child({ mod: 'ssh', session: handoff.id });
  if (sandbox.landlock === 0) log.warn({ reason: sandbox.landlockError }, 'no Landlock in this kernel: the worker is unprivileged but can still read what its user may read');
  // As sshd titles its unprivileged child before the login ("[net]"); the session id lets tools find it.
  process.title = `mpsshd: ${normaliseClientAddress(handoff.remote.address)} [net] [session ${handoff.id}]`;
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'unexpected error in the SSH worker, ending the connection');
    // A moment for the line to reach the daemon over the control channel.
    setTimeout(() => process.exit(1), 200);
  });
  const socket = adoptSocket(connFd);
  // What the daemon read to check the identification line goes back in front.
  if (handoff.early !== '') socket.unshift(Buffer.from(handoff.early, 'base64'));
  const daemon = new net.Socket({ fd: HANDOFF_FD, readable: true, writable: true });
  // The daemon's death must not take the session with it.
  process.on('SIGPIPE', () => {});
  process.on('SIGHUP', () => {});
  runConnection({
    log,
    handoff,
    ssh: handoff.ssh as SshConfig,
    socket,
    daemon,
    sessionListener: sessionFd,
    attach: attachChannels,
    relay,
    onDone: () => {
      log.flush();
      process.exit(0);
    },
  });
}

main();
