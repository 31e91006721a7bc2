/*
 * Login records and terminal ownership, done by the root parent of a
 * logged-in connection for each terminal its user-side child opened:
 * utmp and wtmp (glibc's utmpx calls), lastlog where /var/log/lastlog
 * exists, and the terminal given to the user and the tty group, mode 0620,
 * as login(1) and sshd do. The parent acts only on a terminal it checked
 * itself: a /dev/pts/N character device owned by the connection's user.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <lastlog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utmp.h>
#include <utmpx.h>

#include "user_helper.h"

#define LASTLOG_FILE "/var/log/lastlog"

/* Copies at most `size` bytes of `s` into a fixed utmp field (which need
 * not end with a NUL when full, as utmp(5) says). */
static void set_field(char *field, size_t size, const char *s) {
  memset(field, 0, size);
  size_t n = strnlen(s, size);
  memcpy(field, s, n);
}

int valid_pts_name(const char *tty) {
  static const char prefix[] = "/dev/pts/";
  if (strncmp(tty, prefix, sizeof(prefix) - 1) != 0) return 0;
  const char *d = tty + sizeof(prefix) - 1;
  size_t n = strlen(d);
  if (n == 0 || n > 7 || (d[0] == '0' && n > 1)) return 0;
  for (size_t i = 0; i < n; i++)
    if (d[i] < '0' || d[i] > '9') return 0;
  return 1;
}

int claim_terminal(const char *tty, uid_t uid, gid_t user_gid) {
  if (!valid_pts_name(tty)) return EINVAL;
  /* Opened, not looked up twice: the checks and the change are on the same
   * inode even if the number is reused meanwhile. O_NOCTTY: never ours. */
  int fd = open(tty, O_RDONLY | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0) {
    err = errno;
  } else if (!S_ISCHR(st.st_mode) || st.st_uid != uid) {
    /* devpts makes a slave its opener's; anything else is not this user's. */
    err = EPERM;
  } else {
    /* The tty group may write (write(1), wall(1)); without one, only the user. */
    struct group *g = getgrnam("tty");
    gid_t gid = g != NULL ? g->gr_gid : user_gid;
    mode_t mode = g != NULL ? 0620 : 0600;
    if (fchown(fd, uid, gid) != 0 || fchmod(fd, mode) != 0) err = errno;
  }
  close(fd);
  return err;
}

/* The utmp id of a line, as login programs derive it: its last four
 * characters ("ts/3" for pts/3). */
static void fill_common(struct utmpx *ut, const char *tty, pid_t pid) {
  const char *line = tty + strlen("/dev/");
  size_t len = strlen(line);
  set_field(ut->ut_line, sizeof(ut->ut_line), line);
  set_field(ut->ut_id, sizeof(ut->ut_id), len > sizeof(ut->ut_id) ? line + len - sizeof(ut->ut_id) : line);
  ut->ut_pid = pid;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  ut->ut_tv.tv_sec = (int32_t)tv.tv_sec;
  ut->ut_tv.tv_usec = (int32_t)tv.tv_usec;
}

static void write_entry(struct utmpx *ut) {
  /* /run/utmp is made at boot (systemd-tmpfiles); where it is missing
   * there is no utmp to keep, as for login(1). */
  setutxent();
  if (pututxline(ut) == NULL && errno != ENOENT)
    fprintf(stderr, "mpsshd-user-helper: utmp: %s\n", strerror(errno));
  endutxent();
  updwtmpx(_PATH_WTMP, ut);
}

static void write_lastlog(const char *tty, uid_t uid, const char *host) {
  int fd = open(LASTLOG_FILE, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return; /* no lastlog on this system */
  struct lastlog ll;
  memset(&ll, 0, sizeof(ll));
  ll.ll_time = (int32_t)time(NULL);
  set_field(ll.ll_line, sizeof(ll.ll_line), tty + strlen("/dev/"));
  set_field(ll.ll_host, sizeof(ll.ll_host), host);
  off_t at = (off_t)uid * (off_t)sizeof(ll);
  if (pwrite(fd, &ll, sizeof(ll), at) != (ssize_t)sizeof(ll))
    fprintf(stderr, "mpsshd-user-helper: lastlog: %s\n", strerror(errno));
  close(fd);
}

void record_login(const char *tty, pid_t pid, const char *user, uid_t uid, const char *host) {
  struct utmpx ut;
  memset(&ut, 0, sizeof(ut));
  ut.ut_type = USER_PROCESS;
  fill_common(&ut, tty, pid);
  set_field(ut.ut_user, sizeof(ut.ut_user), user);
  set_field(ut.ut_host, sizeof(ut.ut_host), host);
  struct in6_addr a6;
  struct in_addr a4;
  if (inet_pton(AF_INET6, host, &a6) == 1)
    memcpy(ut.ut_addr_v6, &a6, sizeof(a6));
  else if (inet_pton(AF_INET, host, &a4) == 1)
    memcpy(ut.ut_addr_v6, &a4, sizeof(a4));
  write_entry(&ut);
  write_lastlog(tty, uid, host);
}

void record_logout(const char *tty, pid_t pid) {
  struct utmpx ut;
  memset(&ut, 0, sizeof(ut));
  ut.ut_type = DEAD_PROCESS;
  fill_common(&ut, tty, pid);
  write_entry(&ut);
}

/* sshd's words: "Last login: <ctime> from <host>". */
size_t last_login_text(uid_t uid, char *out, size_t size) {
  if (size == 0) return 0;
  out[0] = '\0';
  int fd = open(LASTLOG_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  struct lastlog ll;
  off_t at = (off_t)uid * (off_t)sizeof(ll);
  ssize_t n = pread(fd, &ll, sizeof(ll), at);
  close(fd);
  if (n != (ssize_t)sizeof(ll) || ll.ll_time == 0) return 0;
  time_t t = (time_t)ll.ll_time;
  char when[64];
  struct tm tm;
  if (localtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm) == 0) return 0;
  char host[sizeof(ll.ll_host) + 1];
  memcpy(host, ll.ll_host, sizeof(ll.ll_host));
  host[sizeof(ll.ll_host)] = '\0';
  int w = host[0] != '\0' ? snprintf(out, size, "Last login: %s from %s\n", when, host) : snprintf(out, size, "Last login: %s\n", when);
  if (w < 0 || (size_t)w >= size) {
    out[0] = '\0';
    return 0;
  }
  return (size_t)w;
}
