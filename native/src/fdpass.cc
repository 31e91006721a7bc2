// Passing a descriptor over a Unix socket with SCM_RIGHTS, in the form
// OpenSSH expects from a ProxyCommand under ProxyUseFdpass: exactly one
// data byte (NUL) carrying exactly one descriptor (see mm_send_fd() and
// mm_receive_fd() in OpenSSH's monitor_fdpass.c). The receiver gets its own
// reference to the open socket; the sender may close its copy afterwards
// without affecting the connection.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.h"
#include "modules.h"

namespace mpssh {

namespace {

constexpr int kMaxFds = 8;  // room for a misbehaving sender; extras are closed

// Waits until fd is ready for `events`; false with errno set on failure or
// ETIMEDOUT when timeoutMs (>= 0) passed. timeoutMs < 0 waits forever.
bool WaitReady(int fd, short events, int timeoutMs) {
  pollfd p{fd, events, 0};
  for (;;) {
    int n = poll(&p, 1, timeoutMs);
    if (n > 0) return true;
    if (n == 0) {
      errno = ETIMEDOUT;
      return false;
    }
    if (errno != EINTR) return false;
  }
}

bool ReadArgs(const Napi::CallbackInfo& info, int count, const char* usage, int* out) {
  for (int i = 0; i < count; i++) {
    if (static_cast<int>(info.Length()) <= i || !info[i].IsNumber()) {
      Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
      return false;
    }
    out[i] = info[i].As<Napi::Number>().Int32Value();
  }
  return true;
}

}  // namespace

// sendFd(unixFd, fd, timeoutMs): sends fd with one NUL byte. The socket's
// own blocking mode is ignored (MSG_DONTWAIT): while its buffer is full this
// polls for up to timeoutMs (-1: no limit).
static Napi::Value SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int a[3] = {-1, -1, -1};
  if (!ReadArgs(info, 3, "sendFd(unixFd: number, fd: number, timeoutMs: number)", a)) return env.Undefined();
  char byte = '\0';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &a[1], sizeof(int));
  for (;;) {
    ssize_t n = sendmsg(a[0], &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == 1) return env.Undefined();
    if (n >= 0) {
      // Zero bytes sent cannot carry the descriptor; report it like a short write.
      ErrnoError(env, EIO, "sendmsg").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && WaitReady(a[0], POLLOUT, a[2])) continue;
    ErrnoError(env, errno, errno == ETIMEDOUT ? "poll" : "sendmsg").ThrowAsJavaScriptException();
    return env.Undefined();
  }
}

// receiveFd(unixFd, timeoutMs) -> fd (close-on-exec). Fails with EPIPE when
// the peer closed without sending, ENOMSG when a byte came without a
// descriptor, ETIMEDOUT (syscall "poll") after timeoutMs (-1: no limit).
static Napi::Value ReceiveFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int a[2] = {-1, -1};
  if (!ReadArgs(info, 2, "receiveFd(unixFd: number, timeoutMs: number)", a)) return env.Undefined();
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr msg{};
  ssize_t n;
  for (;;) {
    msg = msghdr{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    n = recvmsg(a[0], &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && WaitReady(a[0], POLLIN, a[1])) continue;
    ErrnoError(env, errno, errno == ETIMEDOUT ? "poll" : "recvmsg").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int received = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (received < 0) {
        received = fd;
      } else {
        close(fd);  // only one descriptor per message is expected
      }
    }
  }
  if (received >= 0) return Napi::Number::New(env, received);
  int err = n == 0 ? EPIPE : ((msg.msg_flags & MSG_CTRUNC) != 0 ? EMSGSIZE : ENOMSG);
  ErrnoError(env, err, "recvmsg").ThrowAsJavaScriptException();
  return env.Undefined();
}

// waitReadable(fd, timeoutMs) -> boolean: whether fd became readable (or
// reached end of file) within timeoutMs; a process blocked on a read for
// someone else's answer can still keep its own deadline.
static Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int args[2];
  if (!ReadArgs(info, 2, "waitReadable(fd: number, timeoutMs: number)", args)) return env.Undefined();
  if (WaitReady(args[0], POLLIN, args[1])) return Napi::Boolean::New(env, true);
  if (errno == ETIMEDOUT) return Napi::Boolean::New(env, false);
  ErrnoError(env, errno, "poll").ThrowAsJavaScriptException();
  return env.Undefined();
}

// socketPair() -> [fd, fd]: a connected AF_UNIX stream pair (close-on-exec),
// as OpenSSH makes for a ProxyCommand under ProxyUseFdpass; for handing
// connections between processes and for tests.
static Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    ErrnoError(env, errno, "socketpair").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

void InitFdPass(Napi::Env env, Napi::Object exports) {
  exports.Set("socketPair", Napi::Function::New(env, SocketPair));
  exports.Set("sendFd", Napi::Function::New(env, SendFd));
  exports.Set("receiveFd", Napi::Function::New(env, ReceiveFd));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable));
}

}  // namespace mpssh
