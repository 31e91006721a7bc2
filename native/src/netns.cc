// Entering a network namespace from the main thread, only for as long as a
// synchronous call takes: a socket keeps the namespace it was created in, so
// tests (and the lab) can open netlink and MPTCP sockets inside namespaces
// they made without running a second process. setns(2) changes only the
// calling thread, so libuv's thread pool is never affected.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "errors.h"
#include "modules.h"

namespace mpssh {

// openNetns(path) -> fd of a namespace file (O_RDONLY|O_CLOEXEC).
static Napi::Value OpenNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "openNetns(path: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "open").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// setNetns(fd): setns(fd, CLONE_NEWNET) on the calling (main) thread.
static Napi::Value SetNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "setNetns(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (setns(fd, CLONE_NEWNET) != 0) {
    ErrnoError(env, errno, "setns").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// closeFd(fd): close(2), for descriptors the addon handed out.
static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "closeFd(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (close(info[0].As<Napi::Number>().Int32Value()) != 0) {
    ErrnoError(env, errno, "close").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("openNetns", Napi::Function::New(env, OpenNetns));
  exports.Set("setNetns", Napi::Function::New(env, SetNetns));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
}

}  // namespace mpssh
