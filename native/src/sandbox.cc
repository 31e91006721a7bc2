// Confinement of the process that parses network input, and two things
// root does for it without ever running its code as anyone else:
//  - lockDown(): no_new_privs, not dumpable (no ptrace or /proc/<pid>/mem
//    even for processes of the same uid), and a Landlock domain that handles
//    every filesystem right with no rule (nothing can be opened, listed,
//    created or executed; paths can still be resolved, which is what lets
//    Node.js require() a module it already loaded), TCP bind and connect
//    (neither is allowed), and, where the kernel has scopes (Linux 6.12,
//    Landlock ABI 6), signals and abstract Unix sockets to anything outside
//    the domain; before all that, a seccomp filter on every thread
//    (seccomp_filter.h) for what Landlock does not cover;
//  - unixListen(path, mode): a listening Unix socket whose file root owns,
//    for a worker that can no longer create one;
//  - readFileAs(uid, gids, path, max): reads a file with a user's
//    credentials on one thread only, as sshd's temporarily_use_uid() does in
//    its single-threaded monitor. glibc's setresuid() changes every thread
//    of the process; the raw system calls change only the calling thread (a
//    libuv pool thread here), so the daemon's other work never runs as the
//    user, not even for a moment.
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <climits>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "modules.h"
#include "seccomp_filter.h"

namespace mpssh {

namespace {

#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_RESTRICT_SELF_TSYNC
#define LANDLOCK_RESTRICT_SELF_TSYNC (1U << 3)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif

// The ruleset attribute as the kernel's ABI 6 defines it; older kernels
// are given a shorter size so they ignore the fields they do not know.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

// Filesystem rights by the ABI that introduced them (Documentation/userspace-api/landlock.rst).
uint64_t FsRights(int abi) {
  uint64_t r = (1ULL << 13) - 1;  // ABI 1: execute .. make_sym
  if (abi >= 2) r |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) r |= LANDLOCK_ACCESS_FS_TRUNCATE;
  // IOCTL_DEV (ABI 5) is left out on purpose: it is decided when a file is
  // opened, and the terminal masters this process uses are opened by others.
  return r;
}

Napi::Value LockDown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    ErrnoError(env, errno, "prctl(PR_SET_NO_NEW_PRIVS)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    ErrnoError(env, errno, "prctl(PR_SET_DUMPABLE)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // Every thread, before Landlock: see seccomp_filter.h.
  std::vector<sock_filter> filter = WorkerSeccompFilter(getpid());
  if (filter.empty()) {
    ErrnoError(env, ENOSYS, "seccomp filter for this architecture").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (int err = InstallSeccompFilter(filter); err != 0) {
    ErrnoError(env, err, "seccomp(SECCOMP_SET_MODE_FILTER)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("seccomp", Napi::Boolean::New(env, true));
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) {
    // ENOSYS (no Landlock in this kernel) or EOPNOTSUPP (disabled at boot): the caller says so.
    out.Set("landlock", Napi::Number::New(env, 0));
    out.Set("landlockError", Napi::String::New(env, ErrnoName(errno)));
    return out;
  }
  RulesetAttr attr{};
  attr.handled_access_fs = FsRights(static_cast<int>(abi));
  size_t size = sizeof(uint64_t);
  if (abi >= 4) {
    attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
    size = 2 * sizeof(uint64_t);
  }
  if (abi >= 6) {
    attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
    size = sizeof(RulesetAttr);
  }
  int fd = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0));
  if (fd < 0) {
    ErrnoError(env, errno, "landlock_create_ruleset").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // ABI 8 binds every thread; before it only this one and those it starts
  // later, not the platform threads Node.js started before us.
  long rc = syscall(SYS_landlock_restrict_self, fd, abi >= 8 ? LANDLOCK_RESTRICT_SELF_TSYNC : 0);
  int err = errno;
  close(fd);
  if (rc != 0) {
    ErrnoError(env, err, "landlock_restrict_self").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  out.Set("landlock", Napi::Number::New(env, static_cast<double>(abi)));
  out.Set("net", Napi::Boolean::New(env, abi >= 4));
  out.Set("scoped", Napi::Boolean::New(env, abi >= 6));
  out.Set("allThreads", Napi::Boolean::New(env, abi >= 8));
  return out;
}

Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "unixListen(path: string, mode: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  mode_t mode = static_cast<mode_t>(info[1].As<Napi::Number>().Uint32Value() & 0777);
  sockaddr_un sa{};
  if (path.size() >= sizeof(sa.sun_path)) {
    ErrnoError(env, ENAMETOOLONG, "bind").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ErrnoError(env, errno, "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  unlink(path.c_str());
  // The file is made with no permission at all, then given `mode`: nobody
  // can connect in between.
  mode_t old = umask(0777);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  int err = errno;
  umask(old);
  const char* call = "bind";
  if (rc == 0) {
    call = "chmod";
    rc = chmod(path.c_str(), mode);
    err = errno;
  }
  if (rc == 0) {
    call = "listen";
    rc = listen(fd, 16);
    err = errno;
  }
  if (rc != 0) {
    close(fd);
    if (std::strcmp(call, "bind") != 0) unlink(path.c_str());
    ErrnoError(env, err, call).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// Restores root on this thread; a thread that cannot be root again must not
// go on serving the daemon's other work.
void BackToRoot(const std::vector<gid_t>& groups) {
  if (syscall(SYS_setresuid, -1, 0, -1) != 0 || syscall(SYS_setresgid, -1, 0, -1) != 0 ||
      syscall(SYS_setgroups, groups.size(), groups.data()) != 0) {
    std::abort();
  }
}

class ReadAs : public Napi::AsyncWorker {
 public:
  ReadAs(Napi::Env env, uid_t uid, std::vector<gid_t> gids, std::string path, size_t max)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), uid_(uid), gids_(std::move(gids)),
        path_(std::move(path)), max_(max) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    std::vector<gid_t> saved(NGROUPS_MAX);
    long n = syscall(SYS_getgroups, saved.size(), saved.data());
    if (n < 0) return Fail(errno, "getgroups");
    saved.resize(static_cast<size_t>(n));
    // Groups, then gid, then uid: each step still has the privilege the next needs.
    if (syscall(SYS_setgroups, gids_.size(), gids_.data()) != 0) return Fail(errno, "setgroups");
    if (syscall(SYS_setresgid, -1, gids_.empty() ? 0 : gids_[0], -1) != 0) {
      int e = errno;
      BackToRoot(saved);
      return Fail(e, "setresgid");
    }
    if (syscall(SYS_setresuid, -1, uid_, -1) != 0) {
      int e = errno;
      BackToRoot(saved);
      return Fail(e, "setresuid");
    }
    ReadFile();
    BackToRoot(saved);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      Napi::Error e = ErrnoError(env, err_, syscall_);
      e.Set("path", Napi::String::New(env, path_));
      deferred_.Reject(e.Value());
      return;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("data", Napi::Buffer<char>::Copy(env, data_.data(), data_.size()));
    out.Set("uid", Napi::Number::New(env, st_.st_uid));
    out.Set("mode", Napi::Number::New(env, st_.st_mode));
    out.Set("size", Napi::Number::New(env, static_cast<double>(st_.st_size)));
    deferred_.Resolve(out);
  }

 private:
  void Fail(int err, const char* call) {
    err_ = err;
    syscall_ = call;
  }

  // open without waiting on a FIFO, fstat, and read only a regular file, from the same descriptor.
  void ReadFile() {
    int fd = open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return Fail(errno, "open");
    if (fstat(fd, &st_) != 0) {
      Fail(errno, "fstat");
      close(fd);
      return;
    }
    if (!S_ISREG(st_.st_mode) || static_cast<size_t>(st_.st_size) > max_) {
      // The caller judges the type and size from the stat; nothing is read.
      close(fd);
      return;
    }
    char buf[65536];
    for (;;) {
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        Fail(errno, "read");
        break;
      }
      if (r == 0) break;
      if (data_.size() + static_cast<size_t>(r) > max_) {
        Fail(EFBIG, "read");
        break;
      }
      data_.insert(data_.end(), buf, buf + r);
    }
    close(fd);
  }

  Napi::Promise::Deferred deferred_;
  uid_t uid_;
  std::vector<gid_t> gids_;
  std::string path_;
  size_t max_;
  std::vector<char> data_;
  struct stat st_ {};
  int err_ = 0;
  const char* syscall_ = "";
};

Napi::Value ReadFileAs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsArray() || !info[2].IsString() || !info[3].IsNumber()) {
    Napi::TypeError::New(env, "readFileAs(uid: number, gids: number[], path: string, maxBytes: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array a = info[1].As<Napi::Array>();
  std::vector<gid_t> gids;
  for (uint32_t i = 0; i < a.Length() && i < NGROUPS_MAX; i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber()) {
      Napi::TypeError::New(env, "readFileAs: gids must be numbers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    gids.push_back(static_cast<gid_t>(v.As<Napi::Number>().Uint32Value()));
  }
  auto* w = new ReadAs(env, info[0].As<Napi::Number>().Uint32Value(), std::move(gids), info[2].As<Napi::String>().Utf8Value(),
                       static_cast<size_t>(info[3].As<Napi::Number>().Int64Value()));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitSandbox(Napi::Env env, Napi::Object exports) {
  exports.Set("lockDown", Napi::Function::New(env, LockDown));
  exports.Set("unixListen", Napi::Function::New(env, UnixListen));
  exports.Set("readFileAs", Napi::Function::New(env, ReadFileAs));
}

}  // namespace mpssh
