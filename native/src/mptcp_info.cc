// Introspection of MPTCP connections through getsockopt(SOL_MPTCP, ...):
// MPTCP_INFO (struct mptcp_info), MPTCP_FULL_INFO (one consistent snapshot
// of every subflow's id, addresses and struct tcp_info; Linux 6.5+) and, on
// older kernels, MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO (Linux 5.16+).
//
// The struct layouts are in mptcp_uapi.h; a field is decoded only when the
// length the kernel returned covers it.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netpacket/packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "errors.h"
#include "modules.h"
#include "mptcp_uapi.h"
#include "subflow_diag.h"

namespace mpssh {

namespace {

// True when `len` returned bytes cover the member at [off, off+size).
inline bool Covers(size_t len, size_t off, size_t size) { return len >= off + size; }
#define HAS(len, T, m) Covers((len), offsetof(T, m), sizeof(T::m))

Napi::Value U64(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

Napi::Object DecodeMptcpInfo(Napi::Env env, const UapiMptcpInfo& i, size_t len) {
  using T = UapiMptcpInfo;
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, static_cast<double>(len)));
  if (!HAS(len, T, rcv_nxt)) return o;
  o.Set("subflows", i.subflows);
  o.Set("addAddrSignal", i.add_addr_signal);
  o.Set("addAddrAccepted", i.add_addr_accepted);
  o.Set("subflowsMax", i.subflows_max);
  o.Set("addAddrSignalMax", i.add_addr_signal_max);
  o.Set("addAddrAcceptedMax", i.add_addr_accepted_max);
  o.Set("flags", i.flags);
  o.Set("token", i.token);
  o.Set("writeSeq", U64(env, i.write_seq));
  o.Set("sndUna", U64(env, i.snd_una));
  o.Set("rcvNxt", U64(env, i.rcv_nxt));
  if (HAS(len, T, csum_enabled)) {
    o.Set("localAddrUsed", i.local_addr_used);
    o.Set("localAddrMax", i.local_addr_max);
    o.Set("csumEnabled", i.csum_enabled);
  }
  if (HAS(len, T, bytes_acked)) {
    o.Set("retransmits", i.retransmits);
    o.Set("bytesRetrans", U64(env, i.bytes_retrans));
    o.Set("bytesSent", U64(env, i.bytes_sent));
    o.Set("bytesReceived", U64(env, i.bytes_received));
    o.Set("bytesAcked", U64(env, i.bytes_acked));
  }
  if (HAS(len, T, subflows_total)) o.Set("subflowsTotal", i.subflows_total);
  if (HAS(len, T, last_ack_recv)) {
    o.Set("lastDataSent", i.last_data_sent);
    o.Set("lastDataRecv", i.last_data_recv);
    o.Set("lastAckRecv", i.last_ack_recv);
  }
  return o;
}

Napi::Object DecodeTcpInfo(Napi::Env env, const UapiTcpInfo& i, size_t len) {
  using T = UapiTcpInfo;
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, static_cast<double>(len)));
  if (!HAS(len, T, total_retrans)) return o;
  o.Set("state", i.state);
  o.Set("caState", i.ca_state);
  o.Set("rto", i.rto);
  o.Set("sndMss", i.snd_mss);
  o.Set("rcvMss", i.rcv_mss);
  o.Set("unacked", i.unacked);
  o.Set("lost", i.lost);
  o.Set("retrans", i.retrans);
  o.Set("pmtu", i.pmtu);
  o.Set("rtt", i.rtt);
  o.Set("rttvar", i.rttvar);
  o.Set("sndCwnd", i.snd_cwnd);
  o.Set("totalRetrans", i.total_retrans);
  if (HAS(len, T, bytes_received)) {
    o.Set("pacingRate", U64(env, i.pacing_rate));
    o.Set("bytesAcked", U64(env, i.bytes_acked));
    o.Set("bytesReceived", U64(env, i.bytes_received));
  }
  if (HAS(len, T, min_rtt)) {
    o.Set("segsOut", i.segs_out);
    o.Set("segsIn", i.segs_in);
    o.Set("minRtt", i.min_rtt);
  }
  if (HAS(len, T, delivery_rate)) o.Set("deliveryRate", U64(env, i.delivery_rate));
  if (HAS(len, T, bytes_retrans)) {
    o.Set("bytesSent", U64(env, i.bytes_sent));
    o.Set("bytesRetrans", U64(env, i.bytes_retrans));
  }
  if (HAS(len, T, snd_wnd)) o.Set("sndWnd", i.snd_wnd);
  if (HAS(len, T, rcv_wnd)) o.Set("rcvWnd", i.rcv_wnd);
  return o;
}

// Interface addresses of the calling thread's namespace, for ifindex lookup.
class IfAddrs {
 public:
  IfAddrs() {
    if (getifaddrs(&list_) != 0) list_ = nullptr;
  }
  ~IfAddrs() {
    if (list_ != nullptr) freeifaddrs(list_);
  }
  IfAddrs(const IfAddrs&) = delete;
  IfAddrs& operator=(const IfAddrs&) = delete;

  // Index of the interface holding the address in `sa`, 0 when none does.
  unsigned IndexOf(const sockaddr_storage& sa) const {
    if (sa.ss_family == AF_INET6) {
      const auto& s6 = reinterpret_cast<const sockaddr_in6&>(sa);
      if (s6.sin6_scope_id != 0) return s6.sin6_scope_id;
    }
    for (const ifaddrs* a = list_; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != sa.ss_family) continue;
      bool same = false;
      if (sa.ss_family == AF_INET) {
        same = reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in&>(sa).sin_addr.s_addr;
      } else if (sa.ss_family == AF_INET6) {
        same = std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr,
                           &reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr, sizeof(in6_addr)) == 0;
      }
      if (same) return IndexOfName(a->ifa_name);
    }
    return 0;
  }

  // The index from the link's own entry (AF_PACKET, from the same dump):
  // if_nametoindex() would need an AF_UNIX or AF_INET socket, which a
  // locked-down worker may not make.
  unsigned IndexOfName(const char* name) const {
    // An IPv4 address's label may be an alias ("eth0:1"); the link is "eth0".
    const char* colon = std::strchr(name, ':');
    size_t len = colon != nullptr ? static_cast<size_t>(colon - name) : std::strlen(name);
    for (const ifaddrs* a = list_; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_PACKET) continue;
      if (std::strncmp(a->ifa_name, name, len) != 0 || a->ifa_name[len] != '\0') continue;
      return static_cast<unsigned>(reinterpret_cast<const sockaddr_ll*>(a->ifa_addr)->sll_ifindex);
    }
    return if_nametoindex(name);
  }

 private:
  ifaddrs* list_ = nullptr;
};

// An IPv4-mapped IPv6 address (what a dual-stack "::" listener sees for
// IPv4 peers) as the IPv4 address it is, so that subflows read the same on
// both sides and match the path manager's IPv4 endpoints.
sockaddr_storage Unmapped(const sockaddr_storage& in) {
  if (in.ss_family != AF_INET6) return in;
  const auto& s6 = reinterpret_cast<const sockaddr_in6&>(in);
  if (!IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr)) return in;
  sockaddr_storage out{};
  auto& s4 = reinterpret_cast<sockaddr_in&>(out);
  s4.sin_family = AF_INET;
  s4.sin_port = s6.sin6_port;
  std::memcpy(&s4.sin_addr, &s6.sin6_addr.s6_addr[12], 4);
  return out;
}

// {family, address, port, scopeId?, ifindex?} or undefined for an unknown family.
Napi::Value DecodeSockAddr(Napi::Env env, const sockaddr_storage& raw, const IfAddrs* ifs) {
  const sockaddr_storage sa = Unmapped(raw);
  char text[INET6_ADDRSTRLEN] = {};
  Napi::Object o = Napi::Object::New(env);
  if (sa.ss_family == AF_INET) {
    const auto& s = reinterpret_cast<const sockaddr_in&>(sa);
    inet_ntop(AF_INET, &s.sin_addr, text, sizeof(text));
    o.Set("family", 4);
    o.Set("port", ntohs(s.sin_port));
  } else if (sa.ss_family == AF_INET6) {
    const auto& s = reinterpret_cast<const sockaddr_in6&>(sa);
    inet_ntop(AF_INET6, &s.sin6_addr, text, sizeof(text));
    o.Set("family", 6);
    o.Set("port", ntohs(s.sin6_port));
    if (s.sin6_scope_id != 0) o.Set("scopeId", s.sin6_scope_id);
  } else {
    return env.Undefined();
  }
  o.Set("address", text);
  if (ifs != nullptr) {
    unsigned idx = ifs->IndexOf(sa);
    if (idx != 0) o.Set("ifindex", idx);
  }
  return o;
}

bool IsFallbackErr(int err) { return err == EOPNOTSUPP || err == ENOPROTOOPT; }

bool ReadFd(const Napi::CallbackInfo& info, const char* usage, int* fd) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return false;
  }
  *fd = info[0].As<Napi::Number>().Int32Value();
  return true;
}

// The outcome of one query: ok, "not MPTCP" (null to JS), unsupported
// option (try the older way), or a failure to throw.
enum class Got { kOk, kNotMptcp, kNoSuchOption, kError };

Got ClassifyErr(int err) {
  if (IsFallbackErr(err)) return Got::kNotMptcp;
  return Got::kError;
}

struct Snapshot {
  std::vector<UapiSubflowInfo> sf;
  std::vector<UapiTcpInfo> tcp;
  size_t sfSize = 0;   // bytes of each sf element the kernel filled
  size_t tcpSize = 0;  // bytes of each tcp element the kernel filled
  uint32_t total = 0;  // subflows the kernel has
  size_t count = 0;    // elements returned
  bool haveIds = false;
  UapiMptcpInfo info{};
  size_t infoLen = 0;
  int err = 0;
};

// MPTCP_FULL_INFO. A kernel before 6.5 does not know option 4 and answers
// EOPNOTSUPP -- the same as a fallen-back connection -- so that case is
// told apart by the caller trying MPTCP_INFO next.
Got FullInfo(int fd, size_t room, Snapshot* s) {
  s->sf.assign(room, UapiSubflowInfo{});
  s->tcp.assign(room, UapiTcpInfo{});
  UapiFullInfo fi{};
  fi.size_tcpinfo_user = sizeof(UapiTcpInfo);
  fi.size_sfinfo_user = sizeof(UapiSubflowInfo);
  fi.size_arrays_user = static_cast<uint32_t>(room);
  fi.subflow_info = reinterpret_cast<uintptr_t>(s->sf.data());
  fi.tcp_info = reinterpret_cast<uintptr_t>(s->tcp.data());
  socklen_t len = sizeof(fi);
  if (getsockopt(fd, kSolMptcp, kMptcpFullInfo, &fi, &len) != 0) {
    s->err = errno;
    return IsFallbackErr(s->err) ? Got::kNoSuchOption : Got::kError;
  }
  s->total = fi.num_subflows;
  s->count = std::min<size_t>(fi.num_subflows, room);
  s->sfSize = std::min<size_t>(fi.size_sfinfo_kernel, sizeof(UapiSubflowInfo));
  s->tcpSize = std::min<size_t>(fi.size_tcpinfo_kernel, sizeof(UapiTcpInfo));
  s->haveIds = true;
  size_t infoLen = len > offsetof(UapiFullInfo, mptcp_info) ? len - offsetof(UapiFullInfo, mptcp_info) : 0;
  s->info = fi.mptcp_info;
  s->infoLen = std::min(infoLen, sizeof(UapiMptcpInfo));
  return Got::kOk;
}

// One of the array options with a struct mptcp_subflow_data header; copies
// the elements out into `out` (elements of `elem` bytes).
template <typename E>
Got SubflowArray(int fd, int opt, size_t room, std::vector<E>* out, size_t* filled, uint32_t* total, int* err) {
  std::vector<uint8_t> buf(sizeof(UapiSubflowData) + room * sizeof(E));
  UapiSubflowData hdr{};
  hdr.size_subflow_data = sizeof(UapiSubflowData);
  hdr.size_user = sizeof(E);
  std::memcpy(buf.data(), &hdr, sizeof(hdr));
  socklen_t len = static_cast<socklen_t>(buf.size());
  if (getsockopt(fd, kSolMptcp, opt, buf.data(), &len) != 0) {
    *err = errno;
    return ClassifyErr(*err);
  }
  std::memcpy(&hdr, buf.data(), sizeof(hdr));
  *total = hdr.num_subflows;
  size_t got = len > sizeof(UapiSubflowData) ? (len - sizeof(UapiSubflowData)) / sizeof(E) : 0;
  size_t n = std::min<size_t>({got, hdr.num_subflows, room});
  out->assign(n, E{});
  for (size_t i = 0; i < n; i++) std::memcpy(&(*out)[i], buf.data() + sizeof(UapiSubflowData) + i * sizeof(E), sizeof(E));
  *filled = std::min<size_t>(hdr.size_kernel, sizeof(E));
  return Got::kOk;
}

// MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO (two calls, so a subflow may come or go
// in between: only as many entries as both returned are paired, in the
// kernel's subflow list order).
Got AddrsAndTcpInfo(int fd, size_t room, Snapshot* s) {
  std::vector<UapiSubflowAddrs> addrs;
  size_t addrSize = 0;
  uint32_t totalA = 0, totalT = 0;
  Got g = SubflowArray(fd, kMptcpSubflowAddrs, room, &addrs, &addrSize, &totalA, &s->err);
  if (g != Got::kOk) return g;
  g = SubflowArray(fd, kMptcpTcpInfo, room, &s->tcp, &s->tcpSize, &totalT, &s->err);
  if (g != Got::kOk) return g;
  s->count = std::min(addrs.size(), s->tcp.size());
  s->total = std::max(totalA, totalT);
  s->sf.assign(s->count, UapiSubflowInfo{});
  for (size_t i = 0; i < s->count; i++) s->sf[i].addrs = addrs[i];
  s->sfSize = addrSize == 0 ? 0 : offsetof(UapiSubflowInfo, addrs) + addrSize;
  return Got::kOk;
}

// MPTCP_INFO into `info`; returns the bytes the kernel wrote.
Got Info(int fd, UapiMptcpInfo* info, size_t* outLen, int* err) {
  *info = UapiMptcpInfo{};
  socklen_t len = sizeof(*info);
  if (getsockopt(fd, kSolMptcp, kMptcpInfo, info, &len) != 0) {
    *err = errno;
    return ClassifyErr(*err);
  }
  *outLen = std::min<size_t>(len, sizeof(*info));
  return Got::kOk;
}

}  // namespace

// mptcpInfo(fd) -> decoded struct mptcp_info, or null when the connection
// is not MPTCP (plain TCP socket, or fell back).
static Napi::Value MptcpInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ReadFd(info, "mptcpInfo(fd: number)", &fd)) return env.Undefined();
  UapiMptcpInfo mi;
  size_t len = 0;
  int err = 0;
  Got g = Info(fd, &mi, &len, &err);
  if (g == Got::kNotMptcp) return env.Null();
  if (g != Got::kOk) {
    ErrnoError(env, err, "getsockopt").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (HAS(len, UapiMptcpInfo, flags) && (mi.flags & 1u) != 0) return env.Null();
  return DecodeMptcpInfo(env, mi, len);
}

// mptcpSubflows(fd, {max?, legacyOnly?, diag?}) -> {source, total,
// subflows: [{id?, local, remote, tcp, diag?}], info?} or null when the
// connection is not MPTCP. Local addresses carry the ifindex of the
// interface holding them and `diag` (flags, address ids) comes from
// sock_diag, both looked up in the calling thread's network namespace.
// legacyOnly skips MPTCP_FULL_INFO, so that the path older kernels take can
// be tested on new ones.
static Napi::Value MptcpSubflows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ReadFd(info, "mptcpSubflows(fd: number, opts?: {max?: number, legacyOnly?: boolean, diag?: boolean})", &fd)) {
    return env.Undefined();
  }
  size_t room = 8;
  bool legacyOnly = false;
  bool withDiag = false;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    Napi::Value max = o.Get("max");
    if (max.IsNumber()) {
      int64_t r = max.As<Napi::Number>().Int64Value();
      room = r < 1 ? 1 : (r > 256 ? 256 : static_cast<size_t>(r));
    }
    legacyOnly = o.Get("legacyOnly").ToBoolean().Value();
    withDiag = o.Get("diag").ToBoolean().Value();
  }
  Snapshot s;
  const char* source = "full-info";
  Got g = legacyOnly ? Got::kNoSuchOption : FullInfo(fd, room, &s);
  if (g == Got::kNoSuchOption) {
    // Either a kernel before 6.5 or a connection that is not MPTCP.
    UapiMptcpInfo mi;
    size_t len = 0;
    g = Info(fd, &mi, &len, &s.err);
    if (g == Got::kOk) {
      s = Snapshot{};
      source = "subflow-addrs";
      g = AddrsAndTcpInfo(fd, room, &s);
      s.info = mi;
      s.infoLen = len;
    }
  }
  if (g == Got::kNotMptcp) return env.Null();
  if (g != Got::kOk) {
    ErrnoError(env, s.err, "getsockopt").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (HAS(s.infoLen, UapiMptcpInfo, flags) && (s.info.flags & 1u) != 0) return env.Null();
  IfAddrs ifs;
  std::unique_ptr<SockDiag> diag;
  if (withDiag) diag = std::make_unique<SockDiag>();
  Napi::Array list = Napi::Array::New(env, s.count);
  for (size_t i = 0; i < s.count; i++) {
    Napi::Object o = Napi::Object::New(env);
    const UapiSubflowInfo& sf = s.sf[i];
    if (s.haveIds && HAS(s.sfSize, UapiSubflowInfo, id)) o.Set("id", sf.id);
    if (Covers(s.sfSize, offsetof(UapiSubflowInfo, addrs), sizeof(sockaddr_storage))) {
      o.Set("local", DecodeSockAddr(env, sf.addrs.local, &ifs));
    }
    if (Covers(s.sfSize, offsetof(UapiSubflowInfo, addrs), sizeof(UapiSubflowAddrs))) {
      o.Set("remote", DecodeSockAddr(env, sf.addrs.remote, nullptr));
    }
    o.Set("tcp", DecodeTcpInfo(env, s.tcp[i], s.tcpSize));
    if (diag && diag->ok() && Covers(s.sfSize, offsetof(UapiSubflowInfo, addrs), sizeof(UapiSubflowAddrs))) {
      const sockaddr_storage local = Unmapped(sf.addrs.local);
      SubflowDiag d = diag->Query(local, Unmapped(sf.addrs.remote), ifs.IndexOf(local));
      if (d.found) {
        Napi::Object dj = Napi::Object::New(env);
        dj.Set("flags", d.flags);
        if (d.idLocal >= 0) dj.Set("localId", d.idLocal);
        if (d.idRemote >= 0) dj.Set("remoteId", d.idRemote);
        o.Set("diag", dj);
      }
    }
    list.Set(static_cast<uint32_t>(i), o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("source", source);
  out.Set("total", s.total);
  out.Set("subflows", list);
  if (s.infoLen > 0) out.Set("info", DecodeMptcpInfo(env, s.info, s.infoLen));
  return out;
}

// ifindexOfAddress(address) -> index of the interface holding a numeric
// address in the calling thread's namespace, 0 when none does.
static Napi::Value IfindexOfAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "ifindexOfAddress(address: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string text = info[0].As<Napi::String>();
  sockaddr_storage ss{};
  if (inet_pton(AF_INET, text.c_str(), &reinterpret_cast<sockaddr_in&>(ss).sin_addr) == 1) {
    ss.ss_family = AF_INET;
  } else if (inet_pton(AF_INET6, text.c_str(), &reinterpret_cast<sockaddr_in6&>(ss).sin6_addr) == 1) {
    ss.ss_family = AF_INET6;
  } else {
    Napi::TypeError::New(env, "not a numeric IP address: " + text).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  IfAddrs ifs;
  return Napi::Number::New(env, ifs.IndexOf(ss));
}

void InitMptcpInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("mptcpInfo", Napi::Function::New(env, MptcpInfo));
  exports.Set("mptcpSubflows", Napi::Function::New(env, MptcpSubflows));
  exports.Set("ifindexOfAddress", Napi::Function::New(env, IfindexOfAddress));
}

}  // namespace mpssh
