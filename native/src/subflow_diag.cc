// sock_diag lookups of single TCP subflows (see subflow_diag.h). One request
// per subflow names it by its 4-tuple (inet_diag_req_v2 without NLM_F_DUMP),
// and asks for INET_DIAG_INFO, which also brings the ULP info in which MPTCP
// puts the subflow's flags and address ids (net/mptcp/diag.c).
#include "subflow_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mpssh {

namespace {

// MPTCP_SUBFLOW_ATTR_* (include/uapi/linux/mptcp.h, numbering unchanged
// since Linux 5.7), the attributes nested in INET_ULP_INFO_MPTCP.
constexpr unsigned short kAttrFlags = 8;
constexpr unsigned short kAttrIdRem = 9;
constexpr unsigned short kAttrIdLoc = 10;
constexpr unsigned short kNlaTypeMask = 0x3fff;  // strips NLA_F_NESTED / NLA_F_NET_BYTEORDER

// Calls fn(type, payload, length) for each attribute in [data, data+len).
template <typename Fn>
void ForEachAttr(const unsigned char* data, size_t len, Fn fn) {
  while (len >= sizeof(rtattr)) {
    rtattr a;
    std::memcpy(&a, data, sizeof(a));
    if (a.rta_len < sizeof(rtattr) || a.rta_len > len) return;
    fn(static_cast<unsigned short>(a.rta_type & kNlaTypeMask), data + RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0));
    size_t step = RTA_ALIGN(a.rta_len);
    if (step >= len) return;
    data += step;
    len -= step;
  }
}

void DecodeMptcpUlp(const unsigned char* data, size_t len, SubflowDiag* out) {
  ForEachAttr(data, len, [&](unsigned short type, const unsigned char* p, size_t n) {
    if (type == kAttrFlags && n >= 4) {
      std::memcpy(&out->flags, p, 4);
      out->found = true;
    } else if (type == kAttrIdRem && n >= 1) {
      out->idRemote = p[0];
    } else if (type == kAttrIdLoc && n >= 1) {
      out->idLocal = p[0];
    }
  });
}

void DecodeDiagMsg(const unsigned char* data, size_t len, SubflowDiag* out) {
  size_t head = NLMSG_ALIGN(sizeof(inet_diag_msg));
  if (len < head) return;
  ForEachAttr(data + head, len - head, [&](unsigned short type, const unsigned char* p, size_t n) {
    if (type != INET_DIAG_ULP_INFO) return;
    ForEachAttr(p, n, [&](unsigned short t2, const unsigned char* p2, size_t n2) {
      if (t2 == INET_ULP_INFO_MPTCP) DecodeMptcpUlp(p2, n2, out);
    });
  });
}

void PutAddr(const sockaddr_storage& sa, __be16* port, __be32* addr) {
  if (sa.ss_family == AF_INET) {
    const auto& s = reinterpret_cast<const sockaddr_in&>(sa);
    *port = s.sin_port;
    std::memcpy(addr, &s.sin_addr, 4);
  } else {
    const auto& s = reinterpret_cast<const sockaddr_in6&>(sa);
    *port = s.sin6_port;
    std::memcpy(addr, &s.sin6_addr, 16);
  }
}

}  // namespace

SockDiag::SockDiag() { fd_ = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG); }

SockDiag::~SockDiag() {
  if (fd_ >= 0) close(fd_);
}

SubflowDiag SockDiag::Query(const sockaddr_storage& local, const sockaddr_storage& remote, unsigned ifindex) {
  if (ifindex != 0) {
    SubflowDiag d = QueryOnce(local, remote, ifindex);
    if (d.found) return d;
  }
  return QueryOnce(local, remote, 0);
}

SubflowDiag SockDiag::QueryOnce(const sockaddr_storage& local, const sockaddr_storage& remote, unsigned ifindex) {
  SubflowDiag out;
  if (fd_ < 0 || local.ss_family != remote.ss_family) return out;
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) return out;
  struct {
    nlmsghdr nh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nh.nlmsg_len = sizeof(msg);
  msg.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nh.nlmsg_flags = NLM_F_REQUEST;
  msg.nh.nlmsg_seq = ++seq_;
  msg.req.sdiag_family = static_cast<__u8>(local.ss_family);
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
  msg.req.idiag_states = ~0u;
  PutAddr(local, &msg.req.id.idiag_sport, msg.req.id.idiag_src);
  PutAddr(remote, &msg.req.id.idiag_dport, msg.req.id.idiag_dst);
  msg.req.id.idiag_if = ifindex;
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, &msg, sizeof(msg), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) return out;
  // The kernel answers within sendto(); the reply is either the socket or an
  // error (ENOENT when the subflow has gone).
  alignas(nlmsghdr) unsigned char buf[8192];
  ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
  if (n <= 0) return out;
  size_t left = static_cast<size_t>(n);
  for (const nlmsghdr* h = reinterpret_cast<const nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
    if (h->nlmsg_seq != seq_) continue;
    if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      DecodeDiagMsg(static_cast<const unsigned char*>(NLMSG_DATA(h)), h->nlmsg_len - NLMSG_LENGTH(0), &out);
    }
  }
  return out;
}

}  // namespace mpssh
