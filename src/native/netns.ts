/**
 * Running a synchronous piece of code inside another network namespace.
 * Sockets keep the namespace they were created in, so this is how tests and
 * the lab open netlink and MPTCP sockets in namespaces they created.
 */
import { addon } from './load.js';

interface NetnsAddon {
  openNetns(path: string): number;
  setNetns(fd: number): void;
  closeFd(fd: number): void;
}

/** Path of a namespace given by `ip netns` name or by path. */
export function netnsPath(nameOrPath: string): string {
  return nameOrPath.includes('/') ? nameOrPath : `/run/netns/${nameOrPath}`;
}

/**
 * Calls `fn` with the main thread inside namespace `nameOrPath` and returns
 * its result; the thread is back in its own namespace before this returns,
 * also when `fn` throws. `fn` must be synchronous.
 */
export function inNetns<T>(nameOrPath: string, fn: () => T): T {
  const native = addon<NetnsAddon>();
  const home = native.openNetns('/proc/thread-self/ns/net');
  try {
    const target = native.openNetns(netnsPath(nameOrPath));
    try {
      native.setNetns(target);
    } finally {
      native.closeFd(target);
    }
    try {
      return fn();
    } finally {
      native.setNetns(home);
    }
  } finally {
    native.closeFd(home);
  }
}
