/*
 * mpsshd-user-helper <user-name> <uid> <gid>
 * mpsshd-user-helper --login <pam-service|-> <user-name> <client-address>
 *   (root only: the connection's root parent first, see helper_login.c)
 *
 * Started by root for one authenticated connection, with fd 3 the request
 * socket and fd 4 the socket descriptors leave on. It becomes the user for
 * good before reading a single request, so nothing it does on request can go
 * beyond what the user could do with a shell: it has no setuid bit, keeps no
 * privilege, and the kernel enforces the rest (file modes, privileged ports,
 * whose processes may be signalled). It serves requests until fd 3 reaches
 * end of file, then hangs up the programs still running and removes what it
 * created.
 *
 * Single-threaded except for name resolution (getaddrinfo blocks, so each
 * resolution gets a short-lived thread); that is why a spawned child does
 * only async-signal-safe work between fork and exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "user_helper.h"

static int closing;
static int sigfd = -1;
/* The user's home, for ~/.hushlogin. */
static const char *user_home;

void helper_shutdown_requested(void) { closing = 1; }
int helper_closing(void) { return closing; }

int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void close_quietly(int fd) {
  int saved = errno;
  if (fd >= 0) close(fd);
  errno = saved;
}

/* Messages before the control socket works go to stderr, which root
 * pointed at its log or /dev/null. */
static void die(const char *what, int err) {
  if (err != 0)
    fprintf(stderr, "mpsshd-user-helper: %s: %s\n", what, strerror(err));
  else
    fprintf(stderr, "mpsshd-user-helper: %s\n", what);
  _exit(1);
}

/* 0-2 must be open: otherwise a pipe or socket made later could get one of
 * those numbers and a child's dup2 onto it would keep its close-on-exec flag. */
static void ensure_std_fds(void) {
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int n = open("/dev/null", O_RDWR);
    if (n < 0) die("open /dev/null", errno);
    if (n != fd) die("descriptor 0-2 could not be filled", 0);
  }
}

static void check_socket(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) die(fd == CONTROL_FD ? "descriptor 3" : "descriptor 4", errno);
  if (!S_ISSOCK(st.st_mode)) die("descriptors 3 and 4 must be sockets", 0);
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) die("fcntl", errno);
}

/*
 * Becomes the user for good: supplementary groups from the group database,
 * then gid, then uid, and checks that neither root nor another id can be
 * regained. A uid 0 account (root logins exist) stays root. Started by the
 * user itself (tests, or a daemon not running as root), it only checks.
 */
static void become_user(const char *name, uid_t uid, gid_t gid) {
  struct passwd *pw = getpwnam(name);
  if (pw == NULL) die("no such user", errno);
  if (pw->pw_uid != uid) die("user name and uid do not match", 0);
  user_home = pw->pw_dir != NULL ? strdup(pw->pw_dir) : NULL;
  if (getuid() == 0 || geteuid() == 0) {
    if (initgroups(name, gid) != 0) die("initgroups", errno);
    if (setgid(gid) != 0) die("setgid", errno);
    if (setuid(uid) != 0) die("setuid", errno);
  } else if (getuid() != uid) {
    die("not started by root nor by the user", 0);
  }
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0) die("getresuid", errno);
  if (ru != uid || eu != uid || su != uid) die("uid did not change", 0);
  if (uid != 0 && (rg != gid || eg != gid || sg != gid)) die("gid did not change", 0);
  if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) die("root could be regained", 0);
  if (uid != 0 && gid != 0 && setegid(0) != -1) die("group root could be regained", 0);
}

static void parse_args(int argc, char **argv, const char **name, uid_t *uid, gid_t *gid) {
  long u, g;
  if (argc != 4) die("usage: mpsshd-user-helper <user-name> <uid> <gid>", 0);
  size_t len = strlen(argv[1]);
  if (len == 0 || len > 256 || argv[1][0] == '-') die("bad user name", 0);
  /* (uid_t)-1 means "unchanged" to setuid: never a real account. */
  if (!parse_long(argv[2], 0, 0xfffffffeL, &u) || !parse_long(argv[3], 0, 0xfffffffeL, &g)) die("bad uid or gid", 0);
  *name = argv[1];
  *uid = (uid_t)u;
  *gid = (gid_t)g;
}

/* SIGCHLD and the signals that end the helper arrive on a signalfd; SIGPIPE
 * is ignored so a closed socket is an EPIPE, not death. */
void handled_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGCHLD);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGHUP);
}

static void setup_signals(void) {
  sigset_t set;
  handled_signals(&set);
  if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) die("sigprocmask", errno);
  sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) die("signalfd", errno);
  signal(SIGPIPE, SIG_IGN);
}

static void drain_signals(void) {
  struct signalfd_siginfo si;
  while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    if (si.ssi_signo == SIGCHLD) continue; /* reaped below, all at once */
    /* Stopped by someone (system shutdown, the user): clean up as at EOF. */
    closing = 1;
  }
  reap_children();
}

static void dispatch(const struct request *r) {
  static const struct {
    const char *name;
    void (*fn)(const struct request *);
  } ops[] = {
      {"spawn", op_spawn},           {"signal", op_signal},           {"hangup", op_hangup},
      {"tcp-connect", op_tcp_connect}, {"tcp-listen", op_tcp_listen}, {"unix-listen", op_unix_listen},
      {"unix-connect", op_unix_connect}, {"agent-listen", op_agent_listen},
  };
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    if (strcmp(r->op, ops[i].name) == 0) {
      ops[i].fn(r);
      return;
    }
  }
  reply_error(r->id, "EINVAL", EINVAL, "request", "unknown request");
}

/* The request buffer: one frame's length prefix and body at most. */
static char inbuf[4 + HELPER_MAX_FRAME];
static size_t inlen;
static char *fields[HELPER_MAX_FIELDS];

/* Handles every complete frame in the buffer. A frame that breaks the
 * framing ends the helper: there is no way to find the next one. */
static void handle_frames(void) {
  size_t pos = 0;
  while (!closing && inlen - pos >= 4) {
    const unsigned char *p = (const unsigned char *)inbuf + pos;
    uint32_t len = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    if (len == 0 || len > HELPER_MAX_FRAME) {
      fprintf(stderr, "mpsshd-user-helper: bad frame length %u, closing\n", len);
      closing = 1;
      return;
    }
    if (inlen - pos - 4 < len) break;
    char *body = inbuf + pos + 4;
    pos += 4 + len;
    size_t n = 0;
    long id = 0;
    if (!parse_fields(body, len, fields, HELPER_MAX_FIELDS, &n) || n < 2 || !parse_long(fields[0], 1, INT32_MAX, &id)) {
      /* Framed but unreadable: answered under id 0, which no request uses. */
      reply_error(0, "EINVAL", EINVAL, "request", "malformed request");
      continue;
    }
    struct request r = {(uint32_t)id, fields[1], fields + 2, n - 2};
    dispatch(&r);
  }
  memmove(inbuf, inbuf + pos, inlen - pos);
  inlen -= pos;
}

static void read_requests(void) {
  ssize_t n;
  do n = read(CONTROL_FD, inbuf + inlen, sizeof(inbuf) - inlen);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    /* EOF (or the worker vanished): the connection is over. */
    closing = 1;
    return;
  }
  inlen += (size_t)n;
  handle_frames();
}

#define MAX_POLL 80

static void serve(void) {
  struct pollfd pfd[MAX_POLL];
  while (!closing) {
    int timeout = hangup_timers();
    size_t n = 0;
    pfd[n++] = (struct pollfd){CONTROL_FD, POLLIN, 0};
    pfd[n++] = (struct pollfd){sigfd, POLLIN, 0};
    pfd[n++] = (struct pollfd){net_resolver_fd(), POLLIN, 0};
    size_t netn = net_poll_fill(pfd + n, MAX_POLL - n);
    if (poll(pfd, n + netn, timeout) < 0) {
      if (errno == EINTR) continue;
      die("poll", errno);
    }
    if (pfd[1].revents != 0) drain_signals();
    if (pfd[2].revents != 0) net_resolved();
    net_poll_done(pfd + n, netn);
    if (pfd[0].revents != 0) read_requests();
  }
}

/* The connection is over: programs still running are hung up as a terminal
 * hangup would, and killed if still there after the grace time; what they
 * started with nohup lives on. The helper waits for them, then leaves. */
static void finish(void) {
  hangup_all();
  int64_t give_up = monotonic_ms() + HANGUP_GRACE_MS + 1000;
  while (running_children() > 0 && monotonic_ms() < give_up) {
    int timeout = hangup_timers();
    struct pollfd p = {sigfd, POLLIN, 0};
    if (timeout < 0 || timeout > 100) timeout = 100;
    if (poll(&p, 1, timeout) < 0 && errno != EINTR) break;
    drain_signals();
  }
  /* A process in uninterruptible sleep may outlast the wait; it was sent
   * SIGKILL and the init process reaps it. */
  kill_all();
  net_cleanup();
}

static char **pam_env;
static char *login_text;
void user_side_login(char **env, char *text) {
  pam_env = env;
  login_text = text;
  report_init(REPORT_FD);
}

char **user_side_pam_env(void) { return pam_env; }

char *user_side_take_login_text(void) {
  char *t = login_text;
  login_text = NULL;
  if (t == NULL || user_home == NULL) return t;
  /* As login(1) and sshd: ~/.hushlogin keeps the login quiet. */
  char path[PATH_MAX];
  struct stat st;
  int w = snprintf(path, sizeof(path), "%s/.hushlogin", user_home);
  if (w > 0 && (size_t)w < sizeof(path) && stat(path, &st) == 0) {
    free(t);
    return NULL;
  }
  return t;
}

/* Anything else root left open is not for the user. */
static void close_above(int fd) {
  if (close_range((unsigned)fd + 1, ~0U, 0) != 0) {
    for (int i = fd + 1; i < 65536; i++) close(i);
  }
}

int main(int argc, char **argv) {
  const char *name;
  uid_t uid;
  gid_t gid;
  /* sshd's users get 022 unless PAM says otherwise: set before the login's
   * PAM session opens, so that pam_umask (a hardened host's 027 or 077)
   * decides what the user's programs inherit; not whatever umask the daemon
   * was started with. */
  umask(022);
  if (argc >= 2 && strcmp(argv[1], "--login") == 0) {
    ensure_std_fds();
    check_socket(CONTROL_FD);
    check_socket(FDPASS_FD);
    check_socket(LOGIN_FD);
    close_above(LOGIN_FD);
    /* Returns in the user-side child of a login, with fd 5 its report socket. */
    login_main(argc, argv, &name, &uid, &gid);
  } else {
    parse_args(argc, argv, &name, &uid, &gid);
    ensure_std_fds();
    check_socket(CONTROL_FD);
    check_socket(FDPASS_FD);
    close_above(FDPASS_FD);
  }
  become_user(name, uid, gid);
  setup_signals();
  spawn_init();
  if (net_init() != 0) die("pipe", errno);
  serve();
  finish();
  return 0;
}
