/*
 * The two ends of the channel between a logged-in connection's root parent
 * and its user-side child (a SOCK_SEQPACKET pair: one fixed-size report per
 * message, never a partial one).
 *
 * The child (the user) reports:   claim <tty>      before a program gets it
 *                                 login <tty> <pid> once it runs there
 *                                 end <tty>        when that program ended
 * The parent (root) answers a claim with one byte once it has given the
 * terminal to the user and the tty group, so that the program never sees
 * it otherwise. It believes nothing it did not check: the terminal must be
 * a /dev/pts/N owned by the user, a login must name a claimed terminal and
 * a process of the user's, an end a terminal it recorded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "user_helper.h"

/* More than MaxSessions allows: one entry per terminal of the connection. */
#define MAX_TTYS 64
#define CLAIM_WAIT_MS 2000

enum { REPORT_CLAIM = 1, REPORT_LOGIN = 2, REPORT_END = 3 };

struct tty_report {
  uint32_t kind;
  int32_t pid;
  char tty[REPORT_TTY_MAX];
};

/* ---- the child's end (runs as the user) */

static int report_fd = -1;

void report_init(int fd) { report_fd = fd; }

static int send_report(uint32_t kind, pid_t pid, const char *tty) {
  if (report_fd < 0) return 0;
  struct tty_report r;
  memset(&r, 0, sizeof(r));
  r.kind = kind;
  r.pid = (int32_t)pid;
  if (strlen(tty) >= sizeof(r.tty)) return -1;
  strcpy(r.tty, tty);
  ssize_t n;
  do n = send(report_fd, &r, sizeof(r), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof(r) ? 0 : -1;
}

int report_claim(const char *tty) {
  if (report_fd < 0) return 0;
  if (send_report(REPORT_CLAIM, 0, tty) != 0) return -1;
  struct pollfd p = {report_fd, POLLIN, 0};
  int64_t until = monotonic_ms() + CLAIM_WAIT_MS;
  for (;;) {
    int64_t left = until - monotonic_ms();
    if (left <= 0) return -1;
    int rc = poll(&p, 1, (int)left);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return -1;
    char ack;
    ssize_t n = recv(report_fd, &ack, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    return n == 1 && ack == 'y' ? 0 : -1;
  }
}

void report_login(const char *tty, pid_t pid) { send_report(REPORT_LOGIN, pid, tty); }
void report_end(const char *tty) { send_report(REPORT_END, 0, tty); }

/* ---- the parent's end (root) */

struct tty_entry {
  int state; /* 0 free, 1 claimed, 2 recorded */
  pid_t pid;
  char tty[REPORT_TTY_MAX];
};

static struct tty_entry ttys[MAX_TTYS];

static struct tty_entry *find_tty(const char *tty) {
  for (size_t i = 0; i < MAX_TTYS; i++)
    if (ttys[i].state != 0 && strcmp(ttys[i].tty, tty) == 0) return &ttys[i];
  return NULL;
}

static void release(struct tty_entry *e) {
  if (e->state == 2) record_logout(e->tty, e->pid);
  e->state = 0;
}

/* Whether `pid` is a process of `uid` (checked, not taken on trust). */
static int process_of(pid_t pid, uid_t uid) {
  char path[32];
  struct stat st;
  snprintf(path, sizeof(path), "/proc/%d", (int)pid);
  return stat(path, &st) == 0 && st.st_uid == uid;
}

struct session_owner {
  const char *user;
  uid_t uid;
  gid_t gid;
  const char *rhost;
};

static void handle_report(int fd, const struct tty_report *r, const struct session_owner *o) {
  if (memchr(r->tty, '\0', sizeof(r->tty)) == NULL || !valid_pts_name(r->tty)) {
    fprintf(stderr, "mpsshd-user-helper: ignoring a report naming no terminal\n");
    if (r->kind == REPORT_CLAIM) send(fd, "n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    return;
  }
  struct tty_entry *e = find_tty(r->tty);
  if (r->kind == REPORT_CLAIM) {
    /* A number seen before was closed and handed out again. */
    if (e != NULL) release(e);
    e = NULL;
    for (size_t i = 0; e == NULL && i < MAX_TTYS; i++)
      if (ttys[i].state == 0) e = &ttys[i];
    int err = e == NULL ? ENOSPC : claim_terminal(r->tty, o->uid, o->gid);
    if (err != 0) fprintf(stderr, "mpsshd-user-helper: %s not given to %s: %s\n", r->tty, o->user, strerror(err));
    if (err == 0) {
      e->state = 1;
      e->pid = 0;
      strcpy(e->tty, r->tty);
    }
    send(fd, err == 0 ? "y" : "n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  } else if (r->kind == REPORT_LOGIN) {
    if (e == NULL || e->state != 1 || r->pid <= 0 || !process_of(r->pid, o->uid)) return;
    e->state = 2;
    e->pid = r->pid;
    record_login(e->tty, e->pid, o->user, o->uid, o->rhost);
  } else if (r->kind == REPORT_END) {
    if (e != NULL) release(e);
  }
}

/* Reads every report queued; returns -1 once the child's end is closed. */
static int read_reports(int fd, const struct session_owner *o) {
  for (;;) {
    struct tty_report r;
    /* One byte more than a report: a longer message is truncated and refused. */
    char buf[sizeof(r) + 1];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    if (n == 0) return -1;
    if (n != (ssize_t)sizeof(r)) continue;
    memcpy(&r, buf, sizeof(r));
    handle_report(fd, &r, o);
  }
}

void monitor_session(pid_t child, int fd, const char *user, uid_t uid, const char *rhost, int pam_open) {
  struct passwd *pw = getpwnam(user);
  struct session_owner o = {user, uid, pw != NULL ? pw->pw_gid : (gid_t)-1, rhost};
  sigset_t set;
  handled_signals(&set);
  int sfd = -1;
  if (sigprocmask(SIG_BLOCK, &set, NULL) == 0) sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);
  int open_end = 1, done = 0;
  while (!done) {
    struct pollfd p[2] = {{sfd, POLLIN, 0}, {open_end ? fd : -1, POLLIN, 0}};
    /* Without a signalfd, look for the child's exit now and then. */
    int rc = poll(p, 2, sfd < 0 ? 500 : -1);
    if (rc < 0 && errno != EINTR) break;
    if (p[1].revents != 0 && read_reports(fd, &o) != 0) open_end = 0;
    struct signalfd_siginfo si;
    while (sfd >= 0 && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
      /* Stopped by the system: the child cleans up as at the end of the connection. */
      if (si.ssi_signo != SIGCHLD) kill(child, SIGTERM);
    }
    int st;
    pid_t w = waitpid(child, &st, WNOHANG);
    if (w == child || (w < 0 && errno == ECHILD)) done = 1;
  }
  if (open_end) read_reports(fd, &o);
  close(fd);
  for (size_t i = 0; i < MAX_TTYS; i++)
    if (ttys[i].state != 0) release(&ttys[i]);
  pam_finish(pam_open);
}
