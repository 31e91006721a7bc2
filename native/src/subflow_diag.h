// Per-subflow MPTCP state that the MPTCP socket options do not give (the
// backup flags and address ids), read from sock_diag: the TCP subflow's
// INET_DIAG_ULP_INFO, as `ss -ti` shows it after "tcp-ulp-mptcp".
#pragma once
#include <sys/socket.h>

#include <cstdint>

namespace mpssh {

struct SubflowDiag {
  bool found = false;
  uint32_t flags = 0;  // MPTCP_SUBFLOW_FLAG_* (include/uapi/linux/mptcp.h)
  int idLocal = -1;    // local address id, -1 when not reported
  int idRemote = -1;   // remote address id, -1 when not reported
};

// A NETLINK_SOCK_DIAG socket in the calling thread's network namespace.
class SockDiag {
 public:
  SockDiag();
  ~SockDiag();
  SockDiag(const SockDiag&) = delete;
  SockDiag& operator=(const SockDiag&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Looks up the TCP subflow local -> remote (both AF_INET or both
  // AF_INET6) and decodes its MPTCP ULP info. A subflow bound to a device
  // (as the path manager binds those of endpoints with "dev") is only found
  // under that device's index, so `ifindex` (the interface holding the local
  // address; 0 if unknown) is tried first, then no device. Lookup failures
  // (the subflow just closed, an old kernel) leave found false.
  SubflowDiag Query(const sockaddr_storage& local, const sockaddr_storage& remote, unsigned ifindex);

 private:
  SubflowDiag QueryOnce(const sockaddr_storage& local, const sockaddr_storage& remote, unsigned ifindex);

  int fd_ = -1;
  uint32_t seq_ = 0;
};

}  // namespace mpssh
