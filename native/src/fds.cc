// Descriptor hygiene for a process that runs other people's programs.
// Node.js and libuv open everything close-on-exec; descriptors without the
// flag were either inherited from whoever started us or opened by a library
// that forgot it (node-pty's terminal masters). Neither may reach a user's
// program: an inherited fd 200 on /etc/shadow, or one session's terminal
// master in another session's shell, would be readable or writable there.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>
#include <vector>

#include "errors.h"
#include "modules.h"

namespace mpssh {

namespace {

// Open descriptors >= minFd, from /proc/self/fd (closed after listing).
bool ListFds(int minFd, std::vector<int>* out, int* err) {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) {
    *err = errno;
    return false;
  }
  int own = dirfd(d);
  for (dirent* e = readdir(d); e != nullptr; e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = std::atoi(e->d_name);
    if (fd >= minFd && fd != own) out->push_back(fd);
  }
  closedir(d);
  return true;
}

bool ReadArgs(const Napi::CallbackInfo& info, int* minFd, std::set<int>* keep) {
  if (info.Length() < 1 || !info[0].IsNumber()) return false;
  *minFd = info[0].As<Napi::Number>().Int32Value();
  if (info.Length() >= 2 && info[1].IsArray()) {
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber()) return false;
      keep->insert(v.As<Napi::Number>().Int32Value());
    }
  }
  return true;
}

// The arguments and the open descriptors they select; false (with a
// JavaScript exception pending) when either fails.
bool Select(const Napi::CallbackInfo& info, const char* usage, std::set<int>* keep, std::vector<int>* fds) {
  int minFd = 3;
  if (!ReadArgs(info, &minFd, keep)) {
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return false;
  }
  int err = 0;
  if (!ListFds(minFd, fds, &err)) {
    ErrnoError(info.Env(), err, "opendir").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// closeInheritedFds(minFd, keep[]) -> closed[]: closes every descriptor >= minFd
// that lacks FD_CLOEXEC, except those in keep (which get FD_CLOEXEC).
Napi::Value CloseInheritedFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::set<int> keep;
  std::vector<int> fds;
  if (!Select(info, "closeInheritedFds(minFd: number, keep?: number[])", &keep, &fds)) return env.Undefined();
  Napi::Array closed = Napi::Array::New(env);
  uint32_t n = 0;
  for (int fd : fds) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) continue;
    if (keep.count(fd) != 0) {
      fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
      continue;
    }
    if ((flags & FD_CLOEXEC) != 0) continue;
    if (close(fd) == 0) closed.Set(n++, Napi::Number::New(env, fd));
  }
  return closed;
}

// cloexecFrom(minFd) -> count: sets FD_CLOEXEC on every descriptor >= minFd
// that lacks it; returns how many needed it.
Napi::Value CloexecFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::set<int> keep;
  std::vector<int> fds;
  if (!Select(info, "cloexecFrom(minFd: number)", &keep, &fds)) return env.Undefined();
  uint32_t count = 0;
  for (int fd : fds) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || (flags & FD_CLOEXEC) != 0) continue;
    if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0) count++;
  }
  return Napi::Number::New(env, count);
}

// devNullStdio(): descriptors 1 and 2 become /dev/null.
// devNullStdio([fd]): fd, when given, is /dev/null opened earlier (a
// confined process can no longer open it); it is consumed.
Napi::Value DevNullStdio(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info.Length() >= 1 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "open").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // dup2 leaves the new descriptors without close-on-exec, as 1 and 2 should be.
  if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
    int err = errno;
    close(fd);
    ErrnoError(env, err, "dup2").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  close(fd);
  return env.Undefined();
}

// replaceFd(from, to): dup2(from, to) keeping close-on-exec, then close(from).
// A worker found again by a restarted daemon gets a fresh monitor channel in
// place of the dead one, under the descriptor number its code uses.
Napi::Value ReplaceFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "replaceFd(from: number, to: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int from = info[0].As<Napi::Number>().Int32Value();
  int to = info[1].As<Napi::Number>().Int32Value();
  if (from == to) return env.Undefined();
  if (dup3(from, to, O_CLOEXEC) < 0) {
    ErrnoError(env, errno, "dup3").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  close(from);
  return env.Undefined();
}

}  // namespace

void InitFds(Napi::Env env, Napi::Object exports) {
  exports.Set("closeInheritedFds", Napi::Function::New(env, CloseInheritedFds));
  exports.Set("cloexecFrom", Napi::Function::New(env, CloexecFrom));
  exports.Set("devNullStdio", Napi::Function::New(env, DevNullStdio));
  exports.Set("replaceFd", Napi::Function::New(env, ReplaceFd));
}

}  // namespace mpssh
