// The address reflex: the one decision the path manager lets the addon make
// without waiting for JS. When an address notification arrives, waking the
// JS event loop, decoding the message and running the policy take longer
// than the kernel needs to add the endpoint; so the daemon, after each time it
// has caught up with the kernel, states in advance: "an ordinary new address
// of family F on link I gets this ADD_ADDR request". The reflex matches the
// first notification that follows against that statement, sends the request
// at once, and reports what it did; the JS side records the endpoint as its
// own and its full pass verifies it as for any other change.
//
// It holds no policy. The daemon computes the statement with the policy
// itself (src/daemon/reflex.ts) and rearms after every batch of
// notifications: the reflex acts at most once per arming, on the first
// message, and any other message only disarms it, so a decision is never
// taken on a state the daemon has not seen.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mpssh {

struct ReflexEntry {
  uint32_t ifindex = 0;
  uint8_t family = 0;        // AF_INET or AF_INET6
  uint32_t refuse_flags = 0; // IFA_F_* bits that leave the address to the daemon
  std::vector<uint8_t> request;  // a whole ADD_ADDR netlink message
  size_t address_offset = 0;     // where the address goes in `request`
};

struct ReflexPrefix {
  uint8_t family = 0;
  uint8_t len = 0;  // bits
  uint8_t bytes[16] = {};
};

struct ReflexArm {
  std::vector<ReflexEntry> entries;
  // Addresses in these prefixes are left to the daemon (link-local, unique-local).
  std::vector<ReflexPrefix> refuse;
  // Addresses the daemon already knows (on a link, an endpoint, or given
  // settings of their own): a notification about one is not a new address.
  std::vector<ReflexPrefix> known;  // len = full length
};

struct ReflexFired {
  uint32_t ifindex = 0;
  uint8_t family = 0;
  uint8_t address[16] = {};
  // 0: the kernel acknowledged the endpoint; EINPROGRESS: sent, no ack read;
  // otherwise the errno of sendto or of the kernel's answer.
  int error = 0;
};

class AddressReflex {
 public:
  bool armed() const { return armed_; }
  void Arm(ReflexArm arm) {
    arm_ = std::move(arm);
    armed_ = true;
  }
  void Disarm() {
    armed_ = false;
    arm_ = ReflexArm{};
  }

  // Looks at one datagram that came from the kernel to multicast `group`
  // (0 for unicast replies, which are ignored). Disarms unless it is not
  // armed or the datagram is a reply; sends the request on `target_fd`
  // (a generic netlink socket nobody else reads) when the first message is
  // an armed address. Returns true and fills `fired` when it sent.
  bool OnDatagram(const uint8_t* data, size_t len, uint32_t group, int target_fd, ReflexFired* fired);

 private:
  bool Matches(const uint8_t* payload, size_t len, const ReflexEntry** entry, ReflexFired* fired) const;
  void Send(const ReflexEntry& entry, int target_fd, ReflexFired* fired);

  bool armed_ = false;
  ReflexArm arm_;
  uint32_t seq_ = 0x80000000u;
};

}  // namespace mpssh
