/*
 * The helper's side of the wire: reply and event frames on fd 3, descriptors
 * on fd 4, and the strict parsers every request field goes through. See
 * user_helper.h for the format.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "user_helper.h"

/* Replies are small (a path at most), except none: a fixed buffer suffices. */
#define REPLY_MAX 8192

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* One descriptor with one NUL byte, the form the worker's receiveFd reads. */
static int send_fd(int fd) {
  char byte = 0;
  struct iovec iov = {&byte, 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof(control));
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  for (;;) {
    ssize_t n = sendmsg(FDPASS_FD, &msg, MSG_NOSIGNAL);
    if (n == 1) return 0;
    if (n < 0 && errno == EINTR) continue;
    return -1;
  }
}

/* Appends a NUL-terminated field; false when the reply would not fit. */
static int put(char *buf, size_t *len, const char *s) {
  size_t n = strlen(s) + 1;
  if (*len + n > REPLY_MAX) return 0;
  memcpy(buf + *len, s, n);
  *len += n;
  return 1;
}

static void send_frame(const char *const *fields, size_t n) {
  char buf[4 + REPLY_MAX];
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    if (!put(buf + 4, &len, fields[i])) {
      /* Only a path near PATH_MAX could do this; the worker then sees an
       * error instead of a cut value. */
      len = 0;
      put(buf + 4, &len, fields[0]);
      put(buf + 4, &len, "error");
      put(buf + 4, &len, "ENAMETOOLONG");
      put(buf + 4, &len, "36");
      put(buf + 4, &len, "reply");
      put(buf + 4, &len, "reply too long");
      break;
    }
  }
  buf[0] = (char)(len >> 24);
  buf[1] = (char)(len >> 16);
  buf[2] = (char)(len >> 8);
  buf[3] = (char)len;
  if (write_all(CONTROL_FD, buf, len + 4) != 0) helper_shutdown_requested();
}

void reply_ok(uint32_t id, const int *fds, size_t nfds, const char *const *values, size_t nvalues) {
  char idbuf[16], nbuf[16];
  snprintf(idbuf, sizeof(idbuf), "%u", id);
  snprintf(nbuf, sizeof(nbuf), "%zu", nfds);
  for (size_t i = 0; i < nfds; i++) {
    if (send_fd(fds[i]) != 0) {
      /* The worker closed its end: nobody is left to serve. */
      helper_shutdown_requested();
      return;
    }
  }
  const char *fields[8];
  size_t n = 0;
  fields[n++] = idbuf;
  fields[n++] = "ok";
  fields[n++] = nbuf;
  for (size_t i = 0; i < nvalues && n < 8; i++) fields[n++] = values[i];
  send_frame(fields, n);
}

void reply_error(uint32_t id, const char *code, int err, const char *syscall, const char *message) {
  char idbuf[16], errbuf[16];
  snprintf(idbuf, sizeof(idbuf), "%u", id);
  snprintf(errbuf, sizeof(errbuf), "%d", err);
  const char *fields[] = {idbuf, "error", code, errbuf, syscall, message};
  send_frame(fields, 6);
}

void reply_errno(uint32_t id, int err, const char *syscall) {
  const char *name = strerrorname_np(err);
  reply_error(id, name != NULL ? name : "EUNKNOWN", err, syscall, strerror(err));
}

void send_exit_event(pid_t pid, int signaled, int value) {
  char pidbuf[16], valbuf[16];
  snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
  snprintf(valbuf, sizeof(valbuf), "%d", value);
  const char *fields[] = {"0", "exit", pidbuf, signaled ? "signal" : "code", valbuf};
  send_frame(fields, 5);
}

int parse_fields(char *body, size_t len, char **field, size_t max, size_t *count) {
  if (len == 0 || body[len - 1] != '\0') return 0;
  size_t n = 0;
  for (size_t start = 0; start < len;) {
    if (n == max) return 0;
    field[n++] = body + start;
    start += strlen(body + start) + 1;
  }
  *count = n;
  return 1;
}

static int parse_base(const char *s, int base, long min, long max, long *out) {
  /* strtol alone accepts spaces, signs and empty strings. */
  if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0' && base == 10)) return 0;
  for (const char *p = s; *p != '\0'; p++) {
    if (*p == '-' && p == s && min < 0 && base == 10) continue;
    if (*p < '0' || *p > (base == 8 ? '7' : '9')) return 0;
  }
  errno = 0;
  char *end = NULL;
  long v = strtol(s, &end, base);
  if (errno != 0 || *end != '\0' || v < min || v > max) return 0;
  *out = v;
  return 1;
}

int parse_long(const char *s, long min, long max, long *out) { return parse_base(s, 10, min, max, out); }

int parse_octal(const char *s, long max, long *out) { return parse_base(s, 8, 0, max, out); }
