// See address_reflex.h. Every length in a message is checked before it is
// read: the datagrams come from the kernel (the socket drops any other
// sender), but a parser that trusts lengths is one kernel bug from reading
// out of bounds.
#include "address_reflex.h"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "netlink_send.h"

namespace mpssh {

namespace {

bool InPrefix(const ReflexPrefix& p, uint8_t family, const uint8_t* addr) {
  if (p.family != family) return false;
  size_t whole = p.len / 8;
  if (memcmp(p.bytes, addr, whole) != 0) return false;
  unsigned rest = p.len % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (p.bytes[whole] & mask) == (addr[whole] & mask);
}

size_t AddressLength(uint8_t family) { return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0; }

}  // namespace

bool AddressReflex::OnDatagram(const uint8_t* data, size_t len, uint32_t group, int target_fd, ReflexFired* fired) {
  if (!armed_ || group == 0) return false;
  // Whatever the first message is, this arming is used up: the daemon
  // rearms once it has taken the datagram in.
  const ReflexEntry* entry = nullptr;
  bool match = false;
  nlmsghdr h;
  if (len >= sizeof h) {
    memcpy(&h, data, sizeof h);
    if (h.nlmsg_len >= NLMSG_HDRLEN && h.nlmsg_len <= len && h.nlmsg_type == RTM_NEWADDR) {
      match = Matches(data + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN, &entry, fired);
    }
  }
  if (match) Send(*entry, target_fd, fired);
  Disarm();
  return match;
}

bool AddressReflex::Matches(const uint8_t* p, size_t len, const ReflexEntry** entry, ReflexFired* fired) const {
  ifaddrmsg ifa;
  if (len < sizeof ifa) return false;
  memcpy(&ifa, p, sizeof ifa);
  size_t alen = AddressLength(ifa.ifa_family);
  if (alen == 0 || ifa.ifa_scope != RT_SCOPE_UNIVERSE) return false;
  uint32_t flags = ifa.ifa_flags;
  const uint8_t* local = nullptr;
  const uint8_t* address = nullptr;
  for (size_t off = NLMSG_ALIGN(sizeof ifa); off + sizeof(rtattr) <= len;) {
    rtattr a;
    memcpy(&a, p + off, sizeof a);
    if (a.rta_len < sizeof a || a.rta_len > len - off) return false;
    size_t plen = a.rta_len - sizeof a;
    const uint8_t* payload = p + off + sizeof a;
    if (a.rta_type == IFA_LOCAL && plen == alen) local = payload;
    if (a.rta_type == IFA_ADDRESS && plen == alen) address = payload;
    // IFA_FLAGS, when present, holds all the flags; the header's byte only the low eight.
    if (a.rta_type == IFA_FLAGS && plen >= 4) memcpy(&flags, payload, 4);
    off += RTA_ALIGN(a.rta_len);
  }
  // As the daemon reads it: IFA_LOCAL is the address, IFA_ADDRESS the peer of a point-to-point link.
  const uint8_t* addr = local != nullptr ? local : address;
  if (addr == nullptr) return false;
  const ReflexEntry* e = nullptr;
  for (const ReflexEntry& x : arm_.entries) {
    if (x.ifindex == ifa.ifa_index && x.family == ifa.ifa_family) e = &x;
  }
  if (e == nullptr || (flags & e->refuse_flags) != 0) return false;
  for (const ReflexPrefix& r : arm_.refuse) {
    if (InPrefix(r, ifa.ifa_family, addr)) return false;
  }
  for (const ReflexPrefix& k : arm_.known) {
    if (InPrefix(k, ifa.ifa_family, addr)) return false;
  }
  *entry = e;
  fired->ifindex = ifa.ifa_index;
  fired->family = ifa.ifa_family;
  memcpy(fired->address, addr, alen);
  return true;
}

void AddressReflex::Send(const ReflexEntry& e, int fd, ReflexFired* fired) {
  std::vector<uint8_t> msg = e.request;
  size_t alen = AddressLength(e.family);
  uint32_t seq = ++seq_;
  memcpy(msg.data() + e.address_offset, fired->address, alen);
  memcpy(msg.data() + offsetof(nlmsghdr, nlmsg_seq), &seq, sizeof seq);
  if (fd < 0) {
    fired->error = EBADF;
    return;
  }
  fired->error = NetlinkSendTo(fd, msg.data(), msg.size());
  if (fired->error != 0) return;
  // Generic netlink runs the request inside sendto and queues the ack before
  // it returns: the ack is there to read now. Older acks left on the socket
  // (one that was not there in time) are read past.
  alignas(nlmsghdr) uint8_t buf[8192];
  for (int tries = 0; tries < 16; tries++) {
    sockaddr_nl from{};
    socklen_t fromlen = sizeof from;
    ssize_t got = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fromlen);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) break;
    nlmsghdr h;
    if (from.nl_pid != 0 || static_cast<size_t>(got) < sizeof h + sizeof(int)) continue;
    memcpy(&h, buf, sizeof h);
    if (h.nlmsg_type != NLMSG_ERROR || h.nlmsg_seq != seq) continue;
    int code;
    memcpy(&code, buf + NLMSG_HDRLEN, sizeof code);
    fired->error = -code;
    return;
  }
  fired->error = EINPROGRESS;
}

}  // namespace mpssh
