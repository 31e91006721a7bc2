// Sockets with protocol IPPROTO_MPTCP. Node.js and libuv only ever create
// TCP sockets with protocol 0, so the addon creates the descriptor and hands
// it to JavaScript: a listening fd for net.Server#listen({fd}) and an
// unconnected fd for new net.Socket({fd}) followed by socket.connect().
//
// When the kernel cannot make an MPTCP socket -- ENOPROTOOPT when
// net.mptcp.enabled=0 in this namespace, EPROTONOSUPPORT when the kernel has
// no MPTCP -- and the caller allows it, a plain TCP socket is made instead
// and the result says so, with the errno that caused it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"
#include "modules.h"

#ifndef IPPROTO_MPTCP
// include/uapi/linux/in.h (since Linux 5.6).
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
// include/linux/socket.h (since Linux 5.16).
#define SOL_MPTCP 284
#endif

namespace mpssh {

namespace {

// A parsed numeric socket address; the family comes from the text.
struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = 0;
};

// Parses a numeric IPv4/IPv6 address (an IPv6 zone "%N" with a numeric
// interface index is accepted) and a port. Returns false on bad text.
bool ParseAddr(const std::string& text, int port, SockAddr* out) {
  std::memset(&out->ss, 0, sizeof(out->ss));
  auto* in4 = reinterpret_cast<sockaddr_in*>(&out->ss);
  if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    out->len = sizeof(sockaddr_in);
    out->family = AF_INET;
    return true;
  }
  std::string host = text;
  uint32_t scope = 0;
  size_t pct = host.find('%');
  if (pct != std::string::npos) {
    std::string zone = host.substr(pct + 1);
    host.resize(pct);
    char* end = nullptr;
    unsigned long v = std::strtoul(zone.c_str(), &end, 10);
    if (zone.empty() || end == nullptr || *end != '\0') return false;
    scope = static_cast<uint32_t>(v);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out->ss);
  if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    in6->sin6_scope_id = scope;
    out->len = sizeof(sockaddr_in6);
    out->family = AF_INET6;
    return true;
  }
  return false;
}

bool IsNoMptcp(int err) { return err == ENOPROTOOPT || err == EPROTONOSUPPORT; }

// Result of MakeSocket: fd >= 0 on success, else err/syscall name the failure.
struct Made {
  int fd = -1;
  bool mptcp = false;
  int fallbackErrno = 0;  // why MPTCP was not used, 0 when it was
  int err = 0;
  const char* syscall = "socket";
};

Made MakeSocket(int family, bool allowFallback) {
  Made m;
  const int type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
  m.fd = socket(family, type, IPPROTO_MPTCP);
  if (m.fd >= 0) {
    m.mptcp = true;
    return m;
  }
  m.err = errno;
  if (!allowFallback || !IsNoMptcp(m.err)) return m;
  m.fallbackErrno = m.err;
  m.fd = socket(family, type, 0);
  m.err = m.fd >= 0 ? 0 : errno;
  return m;
}

Napi::Object Result(Napi::Env env, const Made& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", Napi::Number::New(env, m.fd));
  o.Set("mptcp", Napi::Boolean::New(env, m.mptcp));
  if (m.fallbackErrno != 0) {
    o.Set("fallbackCode", Napi::String::New(env, ErrnoName(m.fallbackErrno)));
    o.Set("fallbackErrno", Napi::Number::New(env, m.fallbackErrno));
  }
  return o;
}

bool OptBool(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}

bool ThrowType(Napi::Env env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

Napi::Value TypeErr(Napi::Env env, const char* msg) {
  ThrowType(env, msg);
  return env.Undefined();
}

// Reads {address, port} from o into addr; port must be 0..65535.
bool ReadAddr(Napi::Env env, const Napi::Object& o, const char* usage, SockAddr* addr) {
  Napi::Value a = o.Get("address");
  Napi::Value p = o.Get("port");
  if (!a.IsString() || !p.IsNumber()) return ThrowType(env, usage);
  double port = p.As<Napi::Number>().DoubleValue();
  if (!(port >= 0 && port <= 65535) || port != static_cast<int>(port)) return ThrowType(env, usage);
  if (!ParseAddr(a.As<Napi::String>(), static_cast<int>(port), addr)) {
    Napi::TypeError::New(env, std::string("not a numeric IP address: ") + a.As<Napi::String>().Utf8Value())
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

}  // namespace

// mptcpListen({address, port, backlog, ipv6Only?, allowFallback?})
//   -> {fd, mptcp, fallbackCode?, fallbackErrno?}
// A bound, listening, non-blocking socket. For an IPv6 address IPV6_V6ONLY is
// set to ipv6Only (default false: "::" also accepts IPv4, whatever the
// net.ipv6.bindv6only sysctl says).
static Napi::Value MptcpListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "mptcpListen({address: string, port: number, backlog: number, ipv6Only?: boolean, allowFallback?: boolean})";
  if (info.Length() < 1 || !info[0].IsObject()) return TypeErr(env, usage);
  Napi::Object o = info[0].As<Napi::Object>();
  SockAddr addr;
  if (!ReadAddr(env, o, usage, &addr)) return env.Undefined();
  Napi::Value b = o.Get("backlog");
  int backlog = b.IsNumber() ? b.As<Napi::Number>().Int32Value() : 511;
  bool v6only = OptBool(o, "ipv6Only", false);
  Made m = MakeSocket(addr.family, OptBool(o, "allowFallback", true));
  if (m.fd < 0) {
    ErrnoError(env, m.err, m.syscall).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int one = 1;
  int v6 = v6only ? 1 : 0;
  const char* failed = nullptr;
  if (setsockopt(m.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    failed = "setsockopt";
  } else if (addr.family == AF_INET6 && setsockopt(m.fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof(v6)) != 0) {
    failed = "setsockopt";
  } else if (bind(m.fd, reinterpret_cast<sockaddr*>(&addr.ss), addr.len) != 0) {
    failed = "bind";
  } else if (listen(m.fd, backlog) != 0) {
    failed = "listen";
  }
  if (failed != nullptr) {
    int err = errno;
    close(m.fd);
    ErrnoError(env, err, failed).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Result(env, m);
}

// mptcpSocket({family: 4|6, localAddress?, localPort?, allowFallback?})
//   -> {fd, mptcp, fallbackCode?, fallbackErrno?}
// An unconnected non-blocking stream socket, bound when localAddress is given
// (port localPort, default 0), for new net.Socket({fd}).connect(...).
static Napi::Value MptcpSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "mptcpSocket({family: 4 | 6, localAddress?: string, localPort?: number, allowFallback?: boolean})";
  if (info.Length() < 1 || !info[0].IsObject()) return TypeErr(env, usage);
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value f = o.Get("family");
  int fam = f.IsNumber() ? f.As<Napi::Number>().Int32Value() : 0;
  if (fam != 4 && fam != 6) return TypeErr(env, usage);
  int family = fam == 4 ? AF_INET : AF_INET6;
  SockAddr local;
  bool bindLocal = o.Get("localAddress").IsString();
  if (bindLocal) {
    Napi::Object lo = Napi::Object::New(env);
    lo.Set("address", o.Get("localAddress"));
    Napi::Value lp = o.Get("localPort");
    lo.Set("port", lp.IsNumber() ? lp : Napi::Number::New(env, 0));
    if (!ReadAddr(env, lo, usage, &local)) return env.Undefined();
    if (local.family != family) {
      ErrnoError(env, EAFNOSUPPORT, "bind").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  Made m = MakeSocket(family, OptBool(o, "allowFallback", true));
  if (m.fd < 0) {
    ErrnoError(env, m.err, m.syscall).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (bindLocal && bind(m.fd, reinterpret_cast<sockaddr*>(&local.ss), local.len) != 0) {
    int err = errno;
    close(m.fd);
    ErrnoError(env, err, "bind").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Result(env, m);
}

// socketProtocol(fd) -> SO_PROTOCOL of a socket (262 for MPTCP, 6 for TCP).
static Napi::Value SocketProtocol(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return TypeErr(env, "socketProtocol(fd: number)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int proto = 0;
  socklen_t len = sizeof(proto);
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) != 0) {
    ErrnoError(env, errno, "getsockopt").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, proto);
}

// mptcpConnection(fd) -> true when the connection on fd runs MPTCP, false
// when fd is a plain TCP socket (made as fallback, or what an MPTCP listener
// accepts from a TCP-only client) or an MPTCP socket whose connection fell
// back to TCP. getsockopt(SOL_MPTCP, MPTCP_INFO) is passed down to the one
// TCP subflow after fallback, where it fails with EOPNOTSUPP (IPv4) or
// ENOPROTOOPT (IPv6); on an MPTCP connection it succeeds, and the
// fallback flag in mptcpi_flags is checked as well.
static Napi::Value MptcpConnection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return TypeErr(env, "mptcpConnection(fd: number)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int proto = 0;
  socklen_t plen = sizeof(proto);
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) != 0) {
    ErrnoError(env, errno, "getsockopt").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (proto != IPPROTO_MPTCP) return Napi::Boolean::New(env, false);
  // Only the head of struct mptcp_info is needed: mptcpi_flags is the u32 at
  // offset 8 (include/uapi/linux/mptcp.h, unchanged since Linux 5.11);
  // bit 0 is MPTCP_INFO_FLAG_FALLBACK.
  uint8_t head[12] = {};
  socklen_t len = sizeof(head);
  const int kMptcpInfo = 1;
  if (getsockopt(fd, SOL_MPTCP, kMptcpInfo, head, &len) != 0) {
    int err = errno;
    if (err == EOPNOTSUPP || err == ENOPROTOOPT) return Napi::Boolean::New(env, false);
    ErrnoError(env, err, "getsockopt").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t flags = 0;
  if (len >= 12) std::memcpy(&flags, head + 8, sizeof(flags));
  return Napi::Boolean::New(env, (flags & 1u) == 0);
}

// dupFd(fd) -> a close-on-exec duplicate.
static Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return TypeErr(env, "dupFd(fd: number)");
  int fd = fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) {
    ErrnoError(env, errno, "fcntl").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

void InitMptcpSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("mptcpListen", Napi::Function::New(env, MptcpListen));
  exports.Set("mptcpSocket", Napi::Function::New(env, MptcpSocket));
  exports.Set("socketProtocol", Napi::Function::New(env, SocketProtocol));
  exports.Set("mptcpConnection", Napi::Function::New(env, MptcpConnection));
  exports.Set("dupFd", Napi::Function::New(env, DupFd));
}

}  // namespace mpssh
