// Layouts of the MPTCP socket option structs, defined here rather than
// taken from <linux/mptcp.h> because installed headers lag behind the
// kernels this runs on. Every struct only ever grows at its end, and the
// kernel copies min(user size, kernel size) and reports what it wrote, so
// callers decode a field only when the returned length covers it.
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace mpssh {

// include/linux/socket.h
constexpr int kSolMptcp = 284;
// Socket options, include/uapi/linux/mptcp.h (Linux 6.18).
constexpr int kMptcpInfo = 1;
constexpr int kMptcpTcpInfo = 2;
constexpr int kMptcpSubflowAddrs = 3;
constexpr int kMptcpFullInfo = 4;

// struct mptcp_info, include/uapi/linux/mptcp.h as of Linux 6.18. The first
// block up to rcv_nxt is the original layout; the rest was appended by
// later kernels (retransmits and the byte counters with 6.5, then
// subflows_total, then the last_* timestamps with 6.10). The two holes are
// part of the ABI.
struct UapiMptcpInfo {
  uint8_t subflows;  // extra subflows, the initial one not counted
  uint8_t add_addr_signal;
  uint8_t add_addr_accepted;
  uint8_t subflows_max;
  uint8_t add_addr_signal_max;
  uint8_t add_addr_accepted_max;
  uint32_t flags;  // MPTCP_INFO_FLAG_FALLBACK = 1, _REMOTE_KEY_RECEIVED = 2
  uint32_t token;
  uint64_t write_seq;
  uint64_t snd_una;
  uint64_t rcv_nxt;
  uint8_t local_addr_used;
  uint8_t local_addr_max;
  uint8_t csum_enabled;
  uint32_t retransmits;
  uint64_t bytes_retrans;
  uint64_t bytes_sent;
  uint64_t bytes_received;
  uint64_t bytes_acked;
  uint8_t subflows_total;
  uint8_t reserved[3];
  uint32_t last_data_sent;
  uint32_t last_data_recv;
  uint32_t last_ack_recv;
};
static_assert(offsetof(UapiMptcpInfo, flags) == 8, "mptcp_info layout");
static_assert(offsetof(UapiMptcpInfo, write_seq) == 16, "mptcp_info layout");
static_assert(offsetof(UapiMptcpInfo, local_addr_used) == 40, "mptcp_info layout");
static_assert(offsetof(UapiMptcpInfo, retransmits) == 44, "mptcp_info layout");
static_assert(offsetof(UapiMptcpInfo, bytes_acked) == 72, "mptcp_info layout");
static_assert(offsetof(UapiMptcpInfo, subflows_total) == 80, "mptcp_info layout");
static_assert(sizeof(UapiMptcpInfo) == 96, "mptcp_info layout");

// struct tcp_info, include/uapi/linux/tcp.h as of Linux 6.18, up to
// tcpi_total_rto_time (6.7); 6.18 appends AccECN counters this code does not
// use, and the kernel simply copies fewer bytes for a shorter buffer.
struct UapiTcpInfo {
  uint8_t state;
  uint8_t ca_state;
  uint8_t retransmits;
  uint8_t probes;
  uint8_t backoff;
  uint8_t options;
  uint8_t wscale;  // snd_wscale:4, rcv_wscale:4
  uint8_t bits;    // delivery_rate_app_limited:1, fastopen_client_fail:2
  uint32_t rto;
  uint32_t ato;
  uint32_t snd_mss;
  uint32_t rcv_mss;
  uint32_t unacked;
  uint32_t sacked;
  uint32_t lost;
  uint32_t retrans;
  uint32_t fackets;
  uint32_t last_data_sent;
  uint32_t last_ack_sent;
  uint32_t last_data_recv;
  uint32_t last_ack_recv;
  uint32_t pmtu;
  uint32_t rcv_ssthresh;
  uint32_t rtt;  // microseconds
  uint32_t rttvar;
  uint32_t snd_ssthresh;
  uint32_t snd_cwnd;
  uint32_t advmss;
  uint32_t reordering;
  uint32_t rcv_rtt;
  uint32_t rcv_space;
  uint32_t total_retrans;
  uint64_t pacing_rate;
  uint64_t max_pacing_rate;
  uint64_t bytes_acked;
  uint64_t bytes_received;
  uint32_t segs_out;
  uint32_t segs_in;
  uint32_t notsent_bytes;
  uint32_t min_rtt;
  uint32_t data_segs_in;
  uint32_t data_segs_out;
  uint64_t delivery_rate;
  uint64_t busy_time;
  uint64_t rwnd_limited;
  uint64_t sndbuf_limited;
  uint32_t delivered;
  uint32_t delivered_ce;
  uint64_t bytes_sent;
  uint64_t bytes_retrans;
  uint32_t dsack_dups;
  uint32_t reord_seen;
  uint32_t rcv_ooopack;
  uint32_t snd_wnd;
  uint32_t rcv_wnd;
  uint32_t rehash;
  uint16_t total_rto;
  uint16_t total_rto_recoveries;
  uint32_t total_rto_time;
};
static_assert(offsetof(UapiTcpInfo, rtt) == 68, "tcp_info layout");
static_assert(offsetof(UapiTcpInfo, pacing_rate) == 104, "tcp_info layout");
static_assert(offsetof(UapiTcpInfo, bytes_received) == 128, "tcp_info layout");
static_assert(offsetof(UapiTcpInfo, bytes_sent) == 200, "tcp_info layout");
static_assert(offsetof(UapiTcpInfo, rcv_wnd) == 232, "tcp_info layout");
static_assert(sizeof(UapiTcpInfo) == 248, "tcp_info layout");

// struct mptcp_subflow_data: the header in front of the MPTCP_SUBFLOW_ADDRS
// and MPTCP_TCPINFO arrays (aligned(8) in the uapi header).
struct alignas(8) UapiSubflowData {
  uint32_t size_subflow_data;  // sizeof this header, set by us
  uint32_t num_subflows;       // set by the kernel: subflows that exist
  uint32_t size_kernel;        // set by the kernel: its element size
  uint32_t size_user;          // element size we use
};
static_assert(sizeof(UapiSubflowData) == 16, "mptcp_subflow_data layout");

// struct mptcp_subflow_addrs: two unions each as wide as
// struct __kernel_sockaddr_storage (128 bytes, 8-byte aligned).
struct UapiSubflowAddrs {
  sockaddr_storage local;
  sockaddr_storage remote;
};
static_assert(sizeof(UapiSubflowAddrs) == 256, "mptcp_subflow_addrs layout");

// struct mptcp_subflow_info (Linux 6.5): a subflow id, then the addresses.
struct UapiSubflowInfo {
  uint32_t id;
  UapiSubflowAddrs addrs;
};
static_assert(offsetof(UapiSubflowInfo, addrs) == 8 && sizeof(UapiSubflowInfo) == 264, "mptcp_subflow_info layout");

// struct mptcp_full_info (Linux 6.5): sizes and user pointers to the two
// arrays, then the connection's mptcp_info.
struct UapiFullInfo {
  uint32_t size_tcpinfo_kernel;  // set by the kernel
  uint32_t size_tcpinfo_user;
  uint32_t size_sfinfo_kernel;  // set by the kernel
  uint32_t size_sfinfo_user;
  uint32_t num_subflows;      // set by the kernel: subflows that exist
  uint32_t size_arrays_user;  // elements each array has room for
  uint64_t subflow_info;      // user pointer to UapiSubflowInfo[]
  uint64_t tcp_info;          // user pointer to UapiTcpInfo[]
  UapiMptcpInfo mptcp_info;
};
static_assert(offsetof(UapiFullInfo, mptcp_info) == 40, "mptcp_full_info layout");

}  // namespace mpssh
