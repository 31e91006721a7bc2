// One datagram to a netlink port (0: the kernel), retried when a signal
// interrupts it: shared by the socket's sends and the address reflex.
#pragma once
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace mpssh {

// Returns 0, or the errno of sendto.
inline int NetlinkSendTo(int fd, const void* data, size_t len, uint32_t port = 0) {
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  to.nl_pid = port;
  ssize_t n;
  do {
    n = sendto(fd, data, len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

}  // namespace mpssh
