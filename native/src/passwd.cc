// The user database through the C library, so that accounts from every NSS
// source (files, LDAP, sssd, systemd-homed) are seen exactly as sshd sees
// them: getpwnam_r(3), getgrouplist(3), getgrgid_r(3). Node has none of these.
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "modules.h"

namespace mpssh {

namespace {

// Buffer for the *_r calls; grown on ERANGE up to this cap (large LDAP groups).
constexpr size_t kMaxBuffer = 1 << 20;

// The scratch buffer of one *_r call. With `wipe` (shadow entries: it holds
// a password hash) every buffer is zeroed before it is freed, on every path.
class Scratch {
 public:
  explicit Scratch(bool wipe) : wipe_(wipe) {}
  ~Scratch() { Clear(); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  // Calls call(buffer, size), doubling the buffer on ERANGE up to
  // kMaxBuffer; returns the call's last result.
  template <typename Call>
  int Run(Call call) {
    for (size_t size = 4096;; size *= 2) {
      Clear();
      buf_.assign(size, 0);
      int rc = call(buf_.data(), buf_.size());
      if (rc != ERANGE || size >= kMaxBuffer) return rc;
    }
  }

 private:
  void Clear() {
    if (wipe_ && !buf_.empty()) explicit_bzero(buf_.data(), buf_.size());
  }
  bool wipe_;
  std::vector<char> buf_;
};

// getpwnam(name) -> { name, uid, gid, home, shell, passwd } | null
Napi::Value GetPwnam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "getpwnam(name: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.find('\0') != std::string::npos) return env.Null();
  Scratch scratch(false);
  passwd pw{};
  passwd* result = nullptr;
  int rc = scratch.Run([&](char* b, size_t n) { return getpwnam_r(name.c_str(), &pw, b, n, &result); });
  if (rc != 0) {
    ErrnoError(env, rc, "getpwnam_r").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (result == nullptr) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, pw.pw_name));
  o.Set("uid", Napi::Number::New(env, pw.pw_uid));
  o.Set("gid", Napi::Number::New(env, pw.pw_gid));
  o.Set("home", Napi::String::New(env, pw.pw_dir ? pw.pw_dir : ""));
  o.Set("shell", Napi::String::New(env, pw.pw_shell ? pw.pw_shell : ""));
  return o;
}

// getgrouplist(name, gid) -> number[] (the primary gid included)
// getpwuid(uid) -> name | null: who owns a process, for the status of connections.
Napi::Value GetPwuidName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "getpwuidName(uid: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double v = info[0].As<Napi::Number>().DoubleValue();
  if (v < 0 || v > 4294967294.0 || v != static_cast<double>(static_cast<uid_t>(v))) return env.Null();
  Scratch scratch(false);
  passwd pw{};
  passwd* result = nullptr;
  int rc = scratch.Run([&](char* b, size_t n) { return getpwuid_r(static_cast<uid_t>(v), &pw, b, n, &result); });
  if (rc != 0) {
    ErrnoError(env, rc, "getpwuid_r").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (result == nullptr) return env.Null();
  return Napi::String::New(env, pw.pw_name);
}

Napi::Value GetGroupList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "getgrouplist(name: string, gid: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  gid_t gid = info[1].As<Napi::Number>().Uint32Value();
  int n = 64;
  std::vector<gid_t> groups;
  for (int tries = 0; tries < 8; tries++) {
    groups.resize(n);
    int got = n;
    if (getgrouplist(name.c_str(), gid, groups.data(), &got) >= 0) {
      groups.resize(got);
      Napi::Array out = Napi::Array::New(env, groups.size());
      for (size_t i = 0; i < groups.size(); i++) out.Set(i, Napi::Number::New(env, groups[i]));
      return out;
    }
    n = got > n ? got : n * 2;
  }
  ErrnoError(env, ERANGE, "getgrouplist").ThrowAsJavaScriptException();
  return env.Undefined();
}

// getgrgid(gid) -> name | null
Napi::Value GetGrgid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "getgrgid(gid: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  gid_t gid = info[0].As<Napi::Number>().Uint32Value();
  Scratch scratch(false);
  group gr{};
  group* result = nullptr;
  int rc = scratch.Run([&](char* b, size_t n) { return getgrgid_r(gid, &gr, b, n, &result); });
  if (rc != 0) {
    ErrnoError(env, rc, "getgrgid_r").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (result == nullptr) return env.Null();
  return Napi::String::New(env, gr.gr_name);
}

// getspnam(name) -> { lastChange, min, max, warn, inactive, expire, locked } | null
// Dates are days since the epoch, -1 where the field is empty. Only whether
// the password field is locked ("!" prefix, as usermod -L and passwd -l set
// it) leaves this function, never the hash. null: no shadow entry.
Napi::Value GetSpnam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "getspnam(name: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.find('\0') != std::string::npos) return env.Null();
  // The hash lands in this buffer: wiped before it is freed, whatever happens.
  Scratch scratch(true);
  spwd sp{};
  spwd* result = nullptr;
  int rc = scratch.Run([&](char* b, size_t n) { return getspnam_r(name.c_str(), &sp, b, n, &result); });
  if (rc == ENOENT || (rc == 0 && result == nullptr)) return env.Null();
  if (rc != 0) {
    ErrnoError(env, rc, "getspnam_r").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("lastChange", Napi::Number::New(env, static_cast<double>(sp.sp_lstchg)));
  o.Set("min", Napi::Number::New(env, static_cast<double>(sp.sp_min)));
  o.Set("max", Napi::Number::New(env, static_cast<double>(sp.sp_max)));
  o.Set("warn", Napi::Number::New(env, static_cast<double>(sp.sp_warn)));
  o.Set("inactive", Napi::Number::New(env, static_cast<double>(sp.sp_inact)));
  o.Set("expire", Napi::Number::New(env, static_cast<double>(sp.sp_expire)));
  o.Set("locked", Napi::Boolean::New(env, sp.sp_pwdp != nullptr && sp.sp_pwdp[0] == '!'));
  return o;
}

}  // namespace

void InitPasswd(Napi::Env env, Napi::Object exports) {
  exports.Set("getpwnam", Napi::Function::New(env, GetPwnam));
  exports.Set("getpwuidName", Napi::Function::New(env, GetPwuidName));
  exports.Set("getgrouplist", Napi::Function::New(env, GetGroupList));
  exports.Set("getgrgid", Napi::Function::New(env, GetGrgid));
  exports.Set("getspnam", Napi::Function::New(env, GetSpnam));
}

}  // namespace mpssh
