// A raw netlink socket watched by libuv. The npm `netlink` package's socket
// aborts on ENOBUFS and loses errno; this one reports a receive-buffer
// overrun as an event and keeps reading, hands every other error to JS with
// errno/code/syscall, and reads a bounded number of datagrams per wakeup so
// a notification storm cannot starve the event loop.
//
// JS view (see src/netlink/socket.ts):
//   new NetlinkSocketHandle(protocol, rcvbuf) -> throws ErrnoError
//   .portId, .rcvbuf, .fd
//   .start(onMessages(bufs: Buffer[], groups: number[]), onOverrun(), onError(err), maxReads)
//     groups[i] is the multicast group datagram i was sent to, 0 for unicast
//   .send(buf, portId = 0), .addMembership(group), .dropMembership(group)
//   .sendAsync(buf, done(err | null)): sendto on a libuv pool thread, for
//     requests the kernel may answer slowly inside sendto itself
//     (generic netlink runs a request's handler in the sender's context)
//   .ref(), .unref(), .close()   (close is safe twice)
//   .foreignDropped: datagrams dropped because a process, not the kernel, sent them
//   .armReflex(target, entries, refuse, known) / .armReflex(null): see
//     address_reflex.h; onMessages then gets a third argument, the requests
//     the reflex sent for this batch: [{ ifindex, family: 4|6, address, errno }]
#include <linux/netlink.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "address_reflex.h"
#include "errors.h"
#include "modules.h"
#include "netlink_send.h"

// Option numbers from include/uapi/linux/netlink.h (Linux 4.12+ for EXT_ACK);
// defined here too so older libc headers still build.
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_PKTINFO
#define NETLINK_PKTINFO 3
#endif

namespace mpssh {

namespace {

constexpr int kDefaultMaxReads = 64;
// Datagrams up to this size are read into the socket's own buffer first.
constexpr size_t kScratchBytes = 8192;

// napi_type_tag of every NetlinkSocketHandle: valid in any environment, unlike a constructor reference.
const napi_type_tag kHandleTag = {0x6d7073736864726eULL, 0x6c5f736f636b6574ULL};

// One sendto on a pool thread. It sends on its own dup() of the socket, so a
// close() from JS meanwhile cannot make it write to a reused descriptor.
class SendWorker : public Napi::AsyncWorker {
 public:
  SendWorker(Napi::Function done, int fd, const uint8_t* data, size_t len)
      : Napi::AsyncWorker(done), fd_(fd), data_(data, data + len) {}
  ~SendWorker() override {
    if (fd_ >= 0) close(fd_);
  }

 protected:
  void Execute() override { errno_ = NetlinkSendTo(fd_, data_.data(), data_.size()); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Callback().Call({errno_ != 0 ? ErrnoError(env, errno_, "sendto").Value() : env.Null()});
  }

 private:
  int fd_;
  int errno_ = 0;
  std::vector<uint8_t> data_;
};

// The uv_poll_t lives apart from the JS object: uv_close completes on a later
// loop turn, possibly after the wrapper has been garbage-collected.
void FreePoll(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

class NetlinkSocketHandle : public Napi::ObjectWrap<NetlinkSocketHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkSocketHandle",
                       {
                           InstanceAccessor<&NetlinkSocketHandle::PortId>("portId"),
                           InstanceAccessor<&NetlinkSocketHandle::Rcvbuf>("rcvbuf"),
                           InstanceAccessor<&NetlinkSocketHandle::Fd>("fd"),
                           InstanceAccessor<&NetlinkSocketHandle::ForeignDropped>("foreignDropped"),
                           InstanceMethod<&NetlinkSocketHandle::Start>("start"),
                           InstanceMethod<&NetlinkSocketHandle::Send>("send"),
                           InstanceMethod<&NetlinkSocketHandle::SendAsync>("sendAsync"),
                           InstanceMethod<&NetlinkSocketHandle::AddMembership>("addMembership"),
                           InstanceMethod<&NetlinkSocketHandle::DropMembership>("dropMembership"),
                           InstanceMethod<&NetlinkSocketHandle::RefHandle>("ref"),
                           InstanceMethod<&NetlinkSocketHandle::UnrefHandle>("unref"),
                           InstanceMethod<&NetlinkSocketHandle::Close>("close"),
                           InstanceMethod<&NetlinkSocketHandle::ArmReflex>("armReflex"),
                       });
  }

  NetlinkSocketHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkSocketHandle>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "new NetlinkSocketHandle(protocol: number, rcvbuf: number)")
          .ThrowAsJavaScriptException();
      return;
    }
    // Tells our own handles from any other object passed as a reflex target.
    info.This().As<Napi::Object>().TypeTag(&kHandleTag);
    int protocol = info[0].As<Napi::Number>().Int32Value();
    int want = info[1].As<Napi::Number>().Int32Value();
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd_ < 0) {
      ErrnoError(env, errno, "socket").ThrowAsJavaScriptException();
      return;
    }
    const char* failed = Setup(want);
    if (failed != nullptr) {
      int err = errno;
      close(fd_);
      fd_ = -1;
      ErrnoError(env, err, failed).ThrowAsJavaScriptException();
    }
  }

  ~NetlinkSocketHandle() override { CloseNow(); }

 private:
  // Binds with a kernel-chosen port id, sizes the receive buffer and asks for
  // extended acks. Returns the failing syscall's name, or nullptr.
  const char* Setup(int want) {
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return "bind";
    socklen_t len = sizeof sa;
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return "getsockname";
    port_id_ = sa.nl_pid;
    if (want > 0) {
      // SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN;
      // without it SO_RCVBUF gives what rmem_max allows.
      if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0 &&
          setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &want, sizeof want) != 0) {
        return "setsockopt(SO_RCVBUF)";
      }
    }
    len = sizeof rcvbuf_;
    if (getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_, &len) != 0) return "getsockopt(SO_RCVBUF)";
    int one = 1;
    // Kernels before 4.12 lack extended acks; errors then just have no text.
    if (setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one) != 0 && errno != ENOPROTOOPT) {
      return "setsockopt(NETLINK_EXT_ACK)";
    }
    // The group of each multicast datagram, as a control message: tells a
    // notification caused by our own request (same seq and port id) from
    // the reply, also for groups above 32 that sockaddr_nl cannot show.
    if (setsockopt(fd_, SOL_NETLINK, NETLINK_PKTINFO, &one, sizeof one) != 0) return "setsockopt(NETLINK_PKTINFO)";
    return nullptr;
  }

  bool CheckOpen(Napi::Env env, const char* syscall) {
    if (fd_ >= 0) return true;
    ErrnoError(env, EBADF, syscall).ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value PortId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_id_); }
  Napi::Value Rcvbuf(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), rcvbuf_); }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value ForeignDropped(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(foreign_dropped_));
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsFunction() || !info[1].IsFunction() || !info[2].IsFunction()) {
      Napi::TypeError::New(env, "start(onMessages, onOverrun, onError, maxReads?)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!CheckOpen(env, "uv_poll_start")) return env.Undefined();
    if (poll_ != nullptr) {
      Napi::Error::New(env, "netlink socket already started").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() >= 4 && info[3].IsNumber()) {
      int n = info[3].As<Napi::Number>().Int32Value();
      max_reads_ = n > 0 ? n : kDefaultMaxReads;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "no libuv loop").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto* poll = new uv_poll_t;
    int rc = uv_poll_init(loop, poll, fd_);
    if (rc != 0) {
      delete poll;
      ErrnoError(env, -rc, "uv_poll_init").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    poll->data = this;
    rc = uv_poll_start(poll, UV_READABLE, OnReadable);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll), FreePoll);
      ErrnoError(env, -rc, "uv_poll_start").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    poll_ = poll;
    if (!referenced_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    on_messages_ = Napi::Persistent(info[0].As<Napi::Function>());
    on_overrun_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_error_ = Napi::Persistent(info[2].As<Napi::Function>());
    // Keep the JS object alive while the poll may call into it.
    Ref();
    return env.Undefined();
  }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "send(buf: Buffer, portId?: number)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!CheckOpen(env, "sendto")) return env.Undefined();
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    // A port other than the kernel's (0) only serves tests that play a hostile process.
    uint32_t port = info.Length() >= 2 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
    int err = NetlinkSendTo(fd_, buf.Data(), buf.Length(), port);
    if (err != 0) ErrnoError(env, err, "sendto").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  Napi::Value SendAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "sendAsync(buf: Buffer, done: (err) => void)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!CheckOpen(env, "sendto")) return env.Undefined();
    int fd = fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      ErrnoError(env, errno, "fcntl(F_DUPFD_CLOEXEC)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    auto* worker = new SendWorker(info[1].As<Napi::Function>(), fd, buf.Data(), buf.Length());
    worker->Queue();
    return env.Undefined();
  }

  Napi::Value Membership(const Napi::CallbackInfo& info, int opt, const char* syscall) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "group: number expected").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!CheckOpen(env, syscall)) return env.Undefined();
    // The sockopt takes any group id; bind()'s nl_groups mask stops at 32.
    int group = info[0].As<Napi::Number>().Int32Value();
    if (setsockopt(fd_, SOL_NETLINK, opt, &group, sizeof group) != 0) {
      ErrnoError(env, errno, syscall).ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }
  Napi::Value AddMembership(const Napi::CallbackInfo& info) {
    return Membership(info, NETLINK_ADD_MEMBERSHIP, "setsockopt(NETLINK_ADD_MEMBERSHIP)");
  }
  Napi::Value DropMembership(const Napi::CallbackInfo& info) {
    return Membership(info, NETLINK_DROP_MEMBERSHIP, "setsockopt(NETLINK_DROP_MEMBERSHIP)");
  }

  Napi::Value RefHandle(const Napi::CallbackInfo& info) {
    referenced_ = true;
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }
  Napi::Value UnrefHandle(const Napi::CallbackInfo& info) {
    referenced_ = false;
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  // armReflex(target: NetlinkSocketHandle, entries, refuse, known) or armReflex(null).
  //   entries: [{ ifindex, family: 4|6, refuseFlags, request: Buffer, addressOffset }]
  //   refuse, known: [{ family: 4|6, prefix: Buffer (4 or 16 bytes), len }]
  // A malformed argument throws and leaves the reflex disarmed.
  Napi::Value ArmReflex(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    reflex_.Disarm();
    reflex_target_.Reset();
    if (info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined()) return env.Undefined();
    if (!CheckOpen(env, "armReflex")) return env.Undefined();
    if (info.Length() < 4 || !info[0].IsObject() || !info[0].As<Napi::Object>().CheckTypeTag(&kHandleTag) || !info[1].IsArray() ||
        !info[2].IsArray() || !info[3].IsArray()) {
      Napi::TypeError::New(env, "armReflex(target: NetlinkSocketHandle, entries[], refuse[], known[]) or armReflex(null)")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ReflexArm arm;
    auto fail = [&](const char* what) {
      Napi::TypeError::New(env, std::string("armReflex: ") + what).ThrowAsJavaScriptException();
      return env.Undefined();
    };
    Napi::Array entries = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < entries.Length(); i++) {
      Napi::Value v = entries.Get(i);
      if (!v.IsObject()) return fail("entry is not an object");
      Napi::Object o = v.As<Napi::Object>();
      Napi::Value req = o.Get("request");
      uint8_t family = 0;
      if (!req.IsBuffer() || !o.Get("ifindex").IsNumber() || !o.Get("refuseFlags").IsNumber() ||
          !o.Get("addressOffset").IsNumber() || !FamilyOf(o.Get("family"), &family)) {
        return fail("entry needs ifindex, family (4 or 6), refuseFlags, request, addressOffset");
      }
      ReflexEntry e;
      e.ifindex = o.Get("ifindex").As<Napi::Number>().Uint32Value();
      e.family = family;
      e.refuse_flags = o.Get("refuseFlags").As<Napi::Number>().Uint32Value();
      auto b = req.As<Napi::Buffer<uint8_t>>();
      e.request.assign(b.Data(), b.Data() + b.Length());
      e.address_offset = o.Get("addressOffset").As<Napi::Number>().Uint32Value();
      size_t alen = family == AF_INET ? 4 : 16;
      if (e.request.size() < NLMSG_HDRLEN || e.address_offset < NLMSG_HDRLEN ||
          e.address_offset > e.request.size() - alen) {
        return fail("addressOffset is outside the request");
      }
      arm.entries.push_back(std::move(e));
    }
    if (!Prefixes(info[2].As<Napi::Array>(), &arm.refuse) || !Prefixes(info[3].As<Napi::Array>(), &arm.known)) {
      return fail("a prefix needs family (4 or 6), prefix (4 or 16 bytes) and len within it");
    }
    reflex_target_ = Napi::Persistent(info[0].As<Napi::Object>());
    reflex_.Arm(std::move(arm));
    return env.Undefined();
  }

  static bool FamilyOf(Napi::Value v, uint8_t* family) {
    if (!v.IsNumber()) return false;
    int f = v.As<Napi::Number>().Int32Value();
    *family = f == 4 ? AF_INET : f == 6 ? AF_INET6 : 0;
    return *family != 0;
  }

  static bool Prefixes(Napi::Array arr, std::vector<ReflexPrefix>* out) {
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) return false;
      Napi::Object o = v.As<Napi::Object>();
      ReflexPrefix p;
      Napi::Value bytes = o.Get("prefix");
      if (!FamilyOf(o.Get("family"), &p.family) || !bytes.IsBuffer() || !o.Get("len").IsNumber()) return false;
      auto b = bytes.As<Napi::Buffer<uint8_t>>();
      size_t alen = p.family == AF_INET ? 4 : 16;
      uint32_t len = o.Get("len").As<Napi::Number>().Uint32Value();
      if (b.Length() != alen || len > alen * 8) return false;
      memcpy(p.bytes, b.Data(), alen);
      p.len = static_cast<uint8_t>(len);
      out->push_back(p);
    }
    return true;
  }

  int ReflexTargetFd() {
    if (reflex_target_.IsEmpty()) return -1;
    return NetlinkSocketHandle::Unwrap(reflex_target_.Value())->fd_;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    bool started = poll_ != nullptr;
    CloseNow();
    if (started) {
      on_messages_.Reset();
      on_overrun_.Reset();
      on_error_.Reset();
      Unref();
    }
    return info.Env().Undefined();
  }

  // Stops polling before the fd is closed (libuv requires that order).
  void CloseNow() {
    reflex_.Disarm();
    reflex_target_.Reset();
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), FreePoll);
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

  static void OnReadable(uv_poll_t* poll, int status, int events) {
    auto* self = static_cast<NetlinkSocketHandle*>(poll->data);
    if (self == nullptr) return;
    // An overrun sets sk_err, which epoll reports as EPOLLERR; libuv takes
    // that for a bad descriptor, stops the poll and says UV_EBADF. Read
    // anyway (the recv that returns ENOBUFS clears the error) and re-arm,
    // unless reading fails too.
    if (status == UV_EBADF) {
      if (self->ReadBatch() && self->poll_ == poll) {
        int rc = uv_poll_start(poll, UV_READABLE, OnReadable);
        if (rc != 0) self->ReportError(-rc, "uv_poll_start");
      }
      return;
    }
    if (status < 0) {
      self->ReportError(-status, "uv_poll");
      return;
    }
    self->ReadBatch();
  }

  void ReportError(int err, const char* syscall) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Deliver(on_error_, {ErrnoError(env, err, syscall).Value()});
  }

  // Reads up to max_reads_ datagrams, then hands them to JS in one call.
  // Each is sized first with MSG_PEEK|MSG_TRUNC so it lands, whole, in a
  // Buffer of its own size (dump parts can exceed any fixed guess).
  // Returns false when a read failed with an error other than EAGAIN/ENOBUFS.
  bool ReadBatch() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    std::vector<napi_value> bufs;
    std::vector<uint32_t> groups;
    std::vector<ReflexFired> fired;
    bool overrun = false;
    int err = 0;
    const char* failed = nullptr;
    // What a failed recv/recvmsg means for the read loop. The socket's pending
    // ENOBUFS is reported (and cleared) once; the queue behind it is intact,
    // so reading goes on.
    enum class Next { kRetry, kStop };
    auto on_error = [&](const char* call) {
      if (errno == EINTR) return Next::kRetry;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Next::kStop;
      if (errno == ENOBUFS) {
        overrun = true;
        // Notifications were lost: what the daemon armed for may be out of date.
        reflex_.Disarm();
        return Next::kRetry;
      }
      err = errno;
      failed = call;
      return Next::kStop;
    };
    for (int i = 0; i < max_reads_ && fd_ >= 0; i++) {
      ssize_t size = recv(fd_, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
      if (size < 0) {
        if (on_error("recv") == Next::kRetry) continue;
        break;
      }
      // Small datagrams (every notification) land in a buffer of the socket's
      // own, so the reflex acts before anything is allocated on the JS heap
      // (where an allocation can start a garbage collection); they are copied
      // into a Buffer afterwards. Larger ones (dump parts) go straight there.
      size_t want = size > 0 ? static_cast<size_t>(size) : 1;
      Napi::Buffer<uint8_t> buf;
      uint8_t* dst;
      if (want <= kScratchBytes) {
        if (scratch_.empty()) scratch_.resize(kScratchBytes);
        dst = scratch_.data();
      } else {
        buf = Napi::Buffer<uint8_t>::New(env, want);
        dst = buf.Data();
      }
      sockaddr_nl from{};
      iovec iov{dst, want};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(nl_pktinfo))];
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = recvmsg(fd_, &msg, MSG_DONTWAIT);
      if (n < 0) {
        if (on_error("recvmsg") == Next::kRetry) continue;
        break;
      }
      // Only the kernel (port 0) may speak to us; privileged processes can
      // unicast to any port, and their datagrams would pass for replies.
      if (from.nl_pid != 0) {
        foreign_dropped_++;
        continue;
      }
      uint32_t group = 0;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_PKTINFO) {
          nl_pktinfo info;
          memcpy(&info, CMSG_DATA(c), sizeof info);
          group = info.group;
        }
      }
      groups.push_back(group);
      // recvmsg returns at most the buffer's length: n <= want.
      ReflexFired f;
      if (reflex_.armed() && reflex_.OnDatagram(dst, static_cast<size_t>(n), group, ReflexTargetFd(), &f)) fired.push_back(f);
      if (buf.IsEmpty() || static_cast<size_t>(n) < buf.Length()) buf = Napi::Buffer<uint8_t>::Copy(env, dst, n);
      bufs.push_back(buf);
    }
    if (overrun) Deliver(on_overrun_, {});
    if (!bufs.empty() && fd_ >= 0) {
      Napi::Array arr = Napi::Array::New(env, bufs.size());
      Napi::Array grp = Napi::Array::New(env, bufs.size());
      for (size_t i = 0; i < bufs.size(); i++) {
        arr.Set(i, bufs[i]);
        grp.Set(i, Napi::Number::New(env, groups[i]));
      }
      if (fired.empty()) {
        Deliver(on_messages_, {arr, grp});
      } else {
        Napi::Array out = Napi::Array::New(env, fired.size());
        for (size_t i = 0; i < fired.size(); i++) {
          const ReflexFired& f = fired[i];
          Napi::Object o = Napi::Object::New(env);
          o.Set("ifindex", Napi::Number::New(env, f.ifindex));
          o.Set("family", Napi::Number::New(env, f.family == AF_INET ? 4 : 6));
          o.Set("address", Napi::Buffer<uint8_t>::Copy(env, f.address, f.family == AF_INET ? 4 : 16));
          o.Set("errno", Napi::Number::New(env, f.error));
          out.Set(i, o);
        }
        Deliver(on_messages_, {arr, grp, out});
      }
    }
    if (failed != nullptr && fd_ >= 0) Deliver(on_error_, {ErrnoError(env, err, failed).Value()});
    return failed == nullptr;
  }

  // Calls a JS callback from the loop; a throw becomes an uncaught exception
  // of the process, as for any other event callback.
  void Deliver(Napi::FunctionReference& fn, std::initializer_list<napi_value> args) {
    if (fn.IsEmpty()) return;
    Napi::Env env = Env();
    fn.MakeCallback(Value(), args);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  int fd_ = -1;
  uint32_t port_id_ = 0;
  int rcvbuf_ = 0;
  int max_reads_ = kDefaultMaxReads;
  bool referenced_ = true;
  uint64_t foreign_dropped_ = 0;
  uv_poll_t* poll_ = nullptr;
  std::vector<uint8_t> scratch_;
  AddressReflex reflex_;
  Napi::ObjectReference reflex_target_;
  Napi::FunctionReference on_messages_;
  Napi::FunctionReference on_overrun_;
  Napi::FunctionReference on_error_;
};

}  // namespace

void InitNetlinkSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("NetlinkSocketHandle", NetlinkSocketHandle::Define(env));
}

}  // namespace mpssh
