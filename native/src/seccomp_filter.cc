// See seccomp_filter.h.
#include "seccomp_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>

namespace mpssh {

namespace {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kArch = 0;
#endif

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the filter reads the low half of 64-bit arguments at offset 0");

constexpr uint32_t kNr = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOff = offsetof(seccomp_data, arch);
// The low 32 bits of an argument: pids, families and `who` are ints, and the
// kernel looks at nothing else of them.
constexpr uint32_t Arg(int i) { return offsetof(seccomp_data, args) + 8 * static_cast<uint32_t>(i); }

constexpr uint32_t Errno(int e) { return SECCOMP_RET_ERRNO | (static_cast<uint32_t>(e) & SECCOMP_RET_DATA); }

sock_filter Load(uint32_t off) { return BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off); }
sock_filter Ret(uint32_t v) { return BPF_STMT(BPF_RET | BPF_K, v); }
sock_filter JumpEq(uint32_t k, uint8_t jt, uint8_t jf) { return BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf); }

class Builder {
 public:
  std::vector<sock_filter> p;

  // nr == `nr` -> `ret`.
  void Refuse(long nr, uint32_t ret) {
    p.push_back(Load(kNr));
    p.push_back(JumpEq(static_cast<uint32_t>(nr), 0, 1));
    p.push_back(Ret(ret));
  }

  // nr == `nr` and argument `arg` none of `allowed` -> `ret`.
  void RefuseUnless(long nr, int arg, std::initializer_list<uint32_t> allowed, uint32_t ret) {
    uint8_t n = static_cast<uint8_t>(allowed.size());
    p.push_back(Load(kNr));
    p.push_back(JumpEq(static_cast<uint32_t>(nr), 0, static_cast<uint8_t>(n + 2)));
    p.push_back(Load(Arg(arg)));
    uint8_t left = n;
    for (uint32_t v : allowed) {
      left--;
      // A match jumps over the other comparisons and the return.
      p.push_back(JumpEq(v, static_cast<uint8_t>(left + 1), 0));
    }
    p.push_back(Ret(ret));
  }

  // nr == `nr` and argument `arg` == `value` -> `ret`.
  void RefuseWhen(long nr, int arg, uint32_t value, uint32_t ret) {
    p.push_back(Load(kNr));
    p.push_back(JumpEq(static_cast<uint32_t>(nr), 0, 3));
    p.push_back(Load(Arg(arg)));
    p.push_back(JumpEq(value, 0, 1));
    p.push_back(Ret(ret));
  }

  // fcntl(fd, F_SETOWN, owner) only for this process or its group.
  void FcntlOwner(uint32_t me, uint32_t group) {
    p.push_back(Load(kNr));
    p.push_back(JumpEq(static_cast<uint32_t>(__NR_fcntl), 0, 7));
    p.push_back(Load(Arg(1)));
    p.push_back(JumpEq(F_SETOWN, 0, 5));
    p.push_back(Load(Arg(2)));
    p.push_back(JumpEq(0, 3, 0));
    p.push_back(JumpEq(me, 2, 0));
    p.push_back(JumpEq(group, 1, 0));
    p.push_back(Ret(Errno(EPERM)));
  }
};

constexpr uint32_t kPrioProcess = 0;       // PRIO_PROCESS
constexpr uint32_t kIoprioWhoProcess = 1;  // IOPRIO_WHO_PROCESS

}  // namespace

std::vector<sock_filter> WorkerSeccompFilter(pid_t self) {
  if (kArch == 0) return {};
  const uint32_t me = static_cast<uint32_t>(self);
  const uint32_t group = static_cast<uint32_t>(-self);
  Builder b;
  b.p.push_back(Load(kArchOff));
  b.p.push_back(JumpEq(kArch, 1, 0));
  b.p.push_back(Ret(SECCOMP_RET_KILL_PROCESS));
#if defined(__x86_64__)
  // x32 system calls share the architecture value and set this bit.
  b.p.push_back(Load(kNr));
  b.p.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));
  b.p.push_back(Ret(SECCOMP_RET_KILL_PROCESS));
#endif

  // socket(AF_NETLINK, *, NETLINK_SOCK_DIAG or NETLINK_ROUTE) only: the
  // subflow report's sock_diag query, and getifaddrs() naming interfaces.
  // Neither lets an unprivileged process change anything or reach another
  // process.
  b.p.push_back(Load(kNr));
  b.p.push_back(JumpEq(static_cast<uint32_t>(__NR_socket), 0, 6));
  b.p.push_back(Load(Arg(0)));
  b.p.push_back(JumpEq(AF_NETLINK, 0, 3));
  b.p.push_back(Load(Arg(2)));
  b.p.push_back(JumpEq(NETLINK_SOCK_DIAG, 2, 0));
  b.p.push_back(JumpEq(NETLINK_ROUTE, 1, 0));
  b.p.push_back(Ret(Errno(EACCES)));

  b.Refuse(__NR_io_uring_setup, Errno(ENOSYS));
  b.Refuse(__NR_io_uring_enter, Errno(ENOSYS));
  b.Refuse(__NR_io_uring_register, Errno(ENOSYS));

  // Only this process (0 or its own pid).
  b.RefuseUnless(__NR_prlimit64, 0, {0, me}, Errno(EPERM));
  b.RefuseUnless(__NR_sched_setaffinity, 0, {0, me}, Errno(EPERM));
  b.RefuseUnless(__NR_sched_setscheduler, 0, {0, me}, Errno(EPERM));
  b.RefuseUnless(__NR_sched_setparam, 0, {0, me}, Errno(EPERM));
  b.RefuseUnless(__NR_sched_setattr, 0, {0, me}, Errno(EPERM));
  // setpriority(which, who, prio), ioprio_set(which, who, ioprio): one
  // process (PRIO_USER or IOPRIO_WHO_USER with who 0 would be every process
  // of this uid), and that one this process.
  b.RefuseUnless(__NR_setpriority, 0, {kPrioProcess}, Errno(EPERM));
  b.RefuseUnless(__NR_setpriority, 1, {0, me}, Errno(EPERM));
  b.RefuseUnless(__NR_ioprio_set, 0, {kIoprioWhoProcess}, Errno(EPERM));
  b.RefuseUnless(__NR_ioprio_set, 1, {0, me}, Errno(EPERM));

  // Signals to itself only (0 and -pid: its own process group, which it leads).
  b.RefuseUnless(__NR_kill, 0, {0, me, group}, Errno(EPERM));
  b.RefuseUnless(__NR_tgkill, 0, {me}, Errno(EPERM));
  b.RefuseUnless(__NR_rt_sigqueueinfo, 0, {me}, Errno(EPERM));
  b.RefuseUnless(__NR_rt_tgsigqueueinfo, 0, {me}, Errno(EPERM));
  b.RefuseUnless(__NR_pidfd_open, 0, {me}, Errno(EPERM));
  b.Refuse(__NR_tkill, Errno(EPERM));
  b.Refuse(__NR_pidfd_send_signal, Errno(EPERM));
  // A descriptor's owner gets SIGIO (or what F_SETSIG names, SIGKILL
  // included) when it becomes ready: an owner is a signal target too.
  b.FcntlOwner(me, group);
  // F_SETOWN_EX not at all (Node.js uses neither).
  b.RefuseWhen(__NR_fcntl, 1, F_SETOWN_EX, Errno(EPERM));
  b.RefuseWhen(__NR_ioctl, 1, FIOSETOWN, Errno(EPERM));
  b.RefuseWhen(__NR_ioctl, 1, SIOCSPGRP, Errno(EPERM));

  b.p.push_back(Ret(SECCOMP_RET_ALLOW));
  return b.p;
}

int InstallSeccompFilter(const std::vector<sock_filter>& filter) {
  if (filter.empty() || filter.size() > BPF_MAXINSNS) return EINVAL;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(filter.size());
  prog.filter = const_cast<sock_filter*>(filter.data());
  // TSYNC: every thread, or none (the call then returns the id of a thread that could not be synchronised).
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  if (rc == 0) return 0;
  return rc > 0 ? EAGAIN : errno;
}

}  // namespace mpssh
