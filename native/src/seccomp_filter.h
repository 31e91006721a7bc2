// A seccomp filter for the network-facing worker, applied to every thread
// of the process (SECCOMP_FILTER_FLAG_TSYNC). It covers what Landlock does
// not, and the threads Landlock does not reach (Node.js starts its platform
// threads before the worker can lock down, and Landlock before ABI 8 binds
// only the calling thread and the threads it starts later):
//  - socket(): only AF_NETLINK for sock_diag and rtnetlink (the subflow
//    report and its interface names);
//    every other family is EACCES, so no UDP, no Unix socket connected by
//    path (the system bus, journald), no raw or packet socket. The worker
//    gets all the sockets it serves by descriptor passing;
//  - io_uring: ENOSYS, since its operations (socket, connect, open) would
//    bypass the system-call checks; libuv then uses its thread pool;
//  - other processes of the same uid (every worker runs as the privilege
//    separation user): prlimit64, setpriority, ioprio_set and the
//    sched_set* calls only on the calling process or thread (pid or who 0),
//    signals (kill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open,
//    and a descriptor's owner through fcntl F_SETOWN, which F_SETSIG can make
//    any signal) only to itself; tkill, pidfd_send_signal, F_SETOWN_EX and
//    the FIOSETOWN/SIOCSPGRP ioctls not at all: EPERM. Landlock's signal scope
//    (Linux 6.12) covers signals too, but not the others, and not older
//    kernels;
//  - a system call from another ABI (x32, or i386 through int 0x80) kills
//    the process: nothing in Node.js makes one.
// Everything else is allowed: this is a list of what must not happen, on
// top of the uid drop and Landlock, not an allow-list of what Node.js needs.
#pragma once
#include <linux/filter.h>
#include <sys/types.h>

#include <vector>

namespace mpssh {

// The filter for a process whose pid is `self`; empty when this
// architecture is not one the filter is written for (x86_64, aarch64).
std::vector<sock_filter> WorkerSeccompFilter(pid_t self);

// Installs `filter` on every thread of the process; needs no_new_privs.
// Returns 0 or an errno.
int InstallSeccompFilter(const std::vector<sock_filter>& filter);

}  // namespace mpssh
