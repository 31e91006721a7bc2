// Sending one datagram to systemd's notification socket ($NOTIFY_SOCKET),
// the protocol of sd_notify(3). Node's dgram module has no AF_UNIX, and
// linking libsystemd for one sendto(2) is not worth a build dependency.
// The message format and the environment are handled in TypeScript
// (src/daemon/sd-notify.ts); this only delivers the bytes.
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"
#include "modules.h"

namespace mpssh {

// sdNotify(socketPath, message): one SOCK_DGRAM datagram to socketPath. A
// path starting with '@' names an abstract socket (the '@' becomes a NUL
// byte and the address length counts only the name, as systemd does).
static Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    Napi::TypeError::New(env, "sdNotify(socketPath: string, message: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>();
  std::string message = info[1].As<Napi::String>();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || (path[0] != '/' && path[0] != '@') || path.size() > sizeof(addr.sun_path) ||
      (path[0] == '/' && path.size() == sizeof(addr.sun_path))) {
    // A path socket needs room for its terminating NUL; an abstract one does not.
    ErrnoError(env, EINVAL, "sdNotify").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t len = sizeof(sa_family_t) + path.size();
  if (path[0] == '@') {
    addr.sun_path[0] = '\0';
  } else {
    len += 1;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ErrnoError(env, errno, "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ssize_t n;
  do {
    n = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
               reinterpret_cast<sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) {
    ErrnoError(env, err, "sendto").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

void InitSdNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
}

}  // namespace mpssh
