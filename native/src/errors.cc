#include "errors.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace mpssh {

const char* ErrnoName(int err) {
  // strerrorname_np exists since glibc 2.32; Debian 12 ships 2.36.
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "EUNKNOWN";
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  std::string msg = std::string(syscall) + " " + ErrnoName(err) + ": " + std::strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Value().Set("errno", Napi::Number::New(env, err));
  e.Value().Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Value().Set("syscall", Napi::String::New(env, syscall));
  return e;
}

}  // namespace mpssh
