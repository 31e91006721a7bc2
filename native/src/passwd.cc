// The user database through the C library, so that accounts from every NSS
// source (files, LDAP, sssd, systemd-homed) are seen exactly as sshd sees
// them: getpwnam_r(3), getgrouplist(3), getgrgid_r(3). Node has none of these.
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "errors.h"
#include "modules.h"

namespace mpssh {

namespace {

// Buffer for the *_r calls; grown on ERANGE up to this cap (large LDAP groups).
constexpr size_t kMaxBuffer = 1 << 20;

// getpwnam(name) -> { name, uid, gid, home, shell, passwd } | null
Napi::Value GetPwnam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "getpwnam(name: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.find('\0') != std::string::npos) return env.Null();
  size_t size = 4096;
  for (;;) {
    std::vector<char> buf(size);
    passwd pw{};
    passwd* result = nullptr;
    int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &result);
    if (rc == ERANGE && size < kMaxBuffer) {
      size *= 2;
      continue;
    }
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
}

// getgrouplist(name, gid) -> number[] (the primary gid included)
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
  size_t size = 4096;
  for (;;) {
    std::vector<char> buf(size);
    group gr{};
    group* result = nullptr;
    int rc = getgrgid_r(gid, &gr, buf.data(), buf.size(), &result);
    if (rc == ERANGE && size < kMaxBuffer) {
      size *= 2;
      continue;
    }
    if (rc != 0) {
      ErrnoError(env, rc, "getgrgid_r").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (result == nullptr) return env.Null();
    return Napi::String::New(env, gr.gr_name);
  }
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
  size_t size = 4096;
  for (;;) {
    std::vector<char> buf(size);
    spwd sp{};
    spwd* result = nullptr;
    int rc = getspnam_r(name.c_str(), &sp, buf.data(), buf.size(), &result);
    if (rc == ERANGE && size < kMaxBuffer) {
      size *= 2;
      continue;
    }
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
    // The hash was in our buffer; do not leave it in freed memory.
    explicit_bzero(buf.data(), buf.size());
    return o;
  }
}

}  // namespace

void InitPasswd(Napi::Env env, Napi::Object exports) {
  exports.Set("getpwnam", Napi::Function::New(env, GetPwnam));
  exports.Set("getgrouplist", Napi::Function::New(env, GetGroupList));
  exports.Set("getgrgid", Napi::Function::New(env, GetGrgid));
  exports.Set("getspnam", Napi::Function::New(env, GetSpnam));
}

}  // namespace mpssh
