/**
 * Which process holds a socket: sock_diag gives the socket's inode; the
 * process is found by scanning /proc/<pid>/fd for `socket:[inode]`, as
 * `ss -p` does. The scan is bounded (processes and descriptors looked at)
 * and only runs for inodes not seen before, so a host with many processes
 * pays for it once per new connection, not once per sample.
 */
import fs from 'node:fs';
import path from 'node:path';
import { processStartTime } from '../util/proc.js';

/** A socket's owning process, as far as /proc tells. */
export interface SocketOwner {
  pid: number;
  /** The process's name (comm). */
  command: string;
  uid: number;
  /** For ssh and mpssh: the destination as the user typed it. */
  destination?: string;
}

/** Bounds of one scan. */
export const MAX_PROCESSES = 8192;
export const MAX_FDS_PER_PROCESS = 4096;

/** OpenSSH client options that take an argument (ssh(1), OpenSSH 9.x). */
const SSH_OPTS_WITH_ARG = new Set('BbcDEeFIiJLlmOoPpQRSWw'.split(''));

/**
 * The destination of an `ssh` command line (`[user@]host` or `ssh://…`), or
 * of `mpssh` (which takes ssh's options), or the host of `mpssh proxy HOST PORT`.
 */
export function sshDestination(argv: readonly string[]): string | undefined {
  let args = argv;
  const prog = path.basename(args[0] ?? '');
  if (prog === 'node' || prog === 'nodejs' || /^node\d*$/.test(prog)) args = args.slice(1);
  const name = path.basename(args[0] ?? '').replace(/\.js$/, '');
  if (name !== 'ssh' && name !== 'mpssh') return undefined;
  args = args.slice(1);
  if (name === 'mpssh' && args[0] === 'proxy') return args[1];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return args[i + 1];
    if (a.startsWith('-') && a.length > 1) {
      // Bundled flags: the first one that takes an argument takes the rest of the word, or the next word.
      for (let j = 1; j < a.length; j++) {
        if (SSH_OPTS_WITH_ARG.has(a[j] as string)) {
          if (j === a.length - 1) i++;
          break;
        }
      }
      continue;
    }
    return a;
  }
  return undefined;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

/** Owner facts of one process, or undefined when it went away. */
function describe(pid: number, procRoot: string): SocketOwner | undefined {
  const status = readText(`${procRoot}/${pid}/status`);
  if (status === undefined) return undefined;
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
  const command = (readText(`${procRoot}/${pid}/comm`) ?? '').trim();
  const argv = (readText(`${procRoot}/${pid}/cmdline`) ?? '').split('\0').filter((a) => a !== '');
  const destination = sshDestination(argv);
  return { pid, command, uid, ...(destination !== undefined ? { destination } : {}) };
}

/** Start time of a process (clock ticks after boot), 0 when unknown. */
function startTime(pid: number, procRoot: string): number {
  return Number(processStartTime(pid, procRoot) ?? 0);
}

/**
 * Finds the processes holding the sockets with these inodes, within the
 * bounds. A socket held by several processes (a parent that passed it on,
 * as mpssh does to ssh) is attributed to the youngest: the program that
 * uses it, not the launcher that made it.
 */
export function findSocketOwners(inodes: ReadonlySet<number>, procRoot = '/proc'): Map<number, SocketOwner> {
  const found = new Map<number, SocketOwner>();
  const started = new Map<number, number>();
  if (inodes.size === 0) return found;
  let pids: string[];
  try {
    pids = fs.readdirSync(procRoot).filter((n) => /^\d+$/.test(n));
  } catch {
    return found;
  }
  for (const p of pids.slice(0, MAX_PROCESSES)) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`${procRoot}/${p}/fd`);
    } catch {
      continue;
    }
    let owner: SocketOwner | undefined;
    for (const fd of fds.slice(0, MAX_FDS_PER_PROCESS)) {
      let target: string;
      try {
        target = fs.readlinkSync(`${procRoot}/${p}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m === null) continue;
      const inode = Number(m[1]);
      if (!inodes.has(inode)) continue;
      owner ??= describe(Number(p), procRoot);
      if (owner === undefined) continue;
      const t = startTime(owner.pid, procRoot);
      if (found.has(inode) && (started.get(inode) ?? 0) > t) continue;
      found.set(inode, owner);
      started.set(inode, t);
    }
  }
  return found;
}
