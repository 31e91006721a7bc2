/*
 * mpsshd-user-helper --login <pam-service|-> <user-name> <client-address>
 *
 * The root process of one connection (sshd's per-connection monitor),
 * started by the daemon with fd 3 and fd 4 the user side's sockets (the
 * worker gets their other ends after the login) and fd 5 a socket to the
 * daemon. Before the login it runs the PAM account and authentication
 * stacks the daemon asks for; it then opens the session, forks, and:
 *
 *   the child becomes the user for good and serves the worker on fd 3/4
 *   exactly as the plain helper does, telling its parent on fd 5 (a
 *   socket pair of their own) only which terminals it opened and when
 *   their programs ended;
 *   the parent stays root and waits: it keeps the login records and the
 *   terminals' ownership, and when the child is gone (the connection is
 *   over) writes the logout records, closes the PAM session and exits.
 *
 * Requests from the daemon (frames as on fd 3, see user_helper.h; the daemon
 * is root and the only writer, but lengths are bounded all the same):
 *   acct                                -> acct ok|new-authtok|denied <why> <text>
 *   auth kbdint <mode> | auth password <mode> <pw>
 *     mode 0: an empty password is refused; 1: allowed (PermitEmptyPasswords);
 *     x: the daemon hands stand-ins for an attempt that cannot log in: an
 *     empty password is refused and an expired one is never changed
 *                                       -> (prompt <echo> <text> / answer <text>)*
 *                                          auth ok|new-authtok|denied|failed <why> <text>
 *   session <uid> <gid> <lastlog 0|1> <motd 0|1>
 *                                       -> session ok | session failed <why>
 * and first of all the helper says `hello <pam 0|1>`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "user_helper.h"

/* Requests are short; a password or an answer is far below this. */
#define LOGIN_MAX_FRAME (64 * 1024)
#define LOGIN_MAX_FIELDS 16

static char frame[LOGIN_MAX_FRAME + 1];
static char *fields[LOGIN_MAX_FIELDS];

static int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int login_read(char ***out, size_t *count) {
  unsigned char head[4];
  if (read_full(LOGIN_FD, head, 4) != 0) return -1;
  uint32_t len = ((uint32_t)head[0] << 24) | ((uint32_t)head[1] << 16) | ((uint32_t)head[2] << 8) | head[3];
  if (len == 0 || len > LOGIN_MAX_FRAME) return -1;
  if (read_full(LOGIN_FD, frame, len) != 0) return -1;
  if (!parse_fields(frame, len, fields, LOGIN_MAX_FIELDS, count) || *count == 0) return -1;
  *out = fields;
  return 0;
}

int login_send(const char *const *f, size_t n) {
  static char out[4 + LOGIN_MAX_FRAME];
  size_t len = 4;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(f[i]) + 1;
    if (len + l > sizeof(out)) return -1;
    memcpy(out + len, f[i], l);
    len += l;
  }
  uint32_t body = (uint32_t)(len - 4);
  out[0] = (char)(body >> 24);
  out[1] = (char)(body >> 16);
  out[2] = (char)(body >> 8);
  out[3] = (char)body;
  const char *p = out;
  while (len > 0) {
    ssize_t w = send(LOGIN_FD, p, len, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static const char *result_word(enum pam_result r) {
  switch (r) {
    case PAMR_OK: return "ok";
    case PAMR_NEW_AUTHTOK: return "new-authtok";
    case PAMR_DENIED: return "denied";
    default: return "failed";
  }
}

static void die_login(const char *what) {
  fprintf(stderr, "mpsshd-user-helper: %s\n", what);
  pam_finish(0);
  _exit(1);
}

/* The text shown on the first login shell: PAM's messages (pam_motd), then
 * the last login, then /etc/motd when PrintMotd asks for it. */
static char *login_text(uid_t uid, int lastlog, int motd) {
  size_t size = 3 * LOGIN_TEXT_MAX, len = 0;
  char *t = calloc(1, size);
  if (t == NULL) return NULL;
  const char *pam = pam_take_info();
  size_t n = strnlen(pam, LOGIN_TEXT_MAX - 1);
  memcpy(t, pam, n);
  len = n;
  if (lastlog) len += last_login_text(uid, t + len, size - len);
  if (motd) {
    int fd = open("/etc/motd", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t r;
      do r = read(fd, t + len, LOGIN_TEXT_MAX - 1);
      while (r < 0 && errno == EINTR);
      if (r > 0) len += (size_t)r;
      close(fd);
    }
  }
  t[len] = '\0';
  if (len == 0) {
    free(t);
    return NULL;
  }
  return t;
}

/* session: the account the daemon accepted, checked against the passwd
 * database; PAM's session; then the fork. Returns in the child only. */
static void start_session(const char *user, const char *rhost, char **f, size_t n, int authorised, uid_t *uid_out, gid_t *gid_out) {
  long uid, gid, lastlog, motd;
  const char *why = "bad request";
  if (n != 5 || !parse_long(f[1], 0, 0xfffffffeL, &uid) || !parse_long(f[2], 0, 0xfffffffeL, &gid) || !parse_long(f[3], 0, 1, &lastlog) ||
      !parse_long(f[4], 0, 1, &motd))
    goto refuse;
  struct passwd *pw = getpwnam(user);
  why = "user and ids do not match";
  if (pw == NULL || pw->pw_uid != (uid_t)uid || pw->pw_gid != (gid_t)gid) goto refuse;
  /* With PAM, its account stack must have passed on this handle first. */
  why = "account not checked";
  if (pam_active() && !authorised) goto refuse;
  pam_clear_info();
  int opened = 0;
  if (pam_active()) {
    if (pam_session_open(&why) != 0) goto refuse;
    opened = 1;
  }
  char *text = login_text((uid_t)uid, (int)lastlog, (int)motd);
  char **env = pam_environment();
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    why = "socketpair failed";
    goto undo;
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(sp[0]);
    close(sp[1]);
    why = "fork failed";
    goto undo;
  }
  if (pid == 0) {
    /* The daemon's socket is not the child's: the report socket takes its number. */
    if (dup3(sp[1], REPORT_FD, O_CLOEXEC) < 0) _exit(1);
    close(sp[0]);
    close(sp[1]);
    *uid_out = (uid_t)uid;
    *gid_out = (gid_t)gid;
    user_side_login(env, text);
    return;
  }
  close(sp[1]);
  close(CONTROL_FD);
  close(FDPASS_FD);
  const char *ok[] = {"session", "ok"};
  login_send(ok, 2);
  /* The daemon may restart; the session does not depend on it any more. */
  close(LOGIN_FD);
  monitor_session(pid, sp[0], user, (uid_t)uid, rhost, opened);
  _exit(0);
undo:
  free(text);
  pam_finish(opened);
refuse: {
  const char *no[] = {"session", "failed", why};
  login_send(no, 3);
  _exit(1);
}
}

int login_main(int argc, char **argv, const char **user_out, uid_t *uid_out, gid_t *gid_out) {
  if (argc != 5) die_login("usage: mpsshd-user-helper --login <pam-service|-> <user-name> <client-address>");
  const char *service = argv[2], *user = argv[3], *rhost = argv[4];
  if (strlen(user) == 0 || strlen(user) > 256 || user[0] == '-' || strlen(service) > 256 || strlen(rhost) > 256) die_login("bad arguments");
  if (geteuid() != 0) die_login("--login needs root");
  int with_pam = strcmp(service, "-") != 0 && pam_begin(service, user, rhost) == 0;
  const char *hello[] = {"hello", with_pam ? "1" : "0"};
  if (login_send(hello, 2) != 0) die_login("daemon went away");
  int authorised = 0;
  for (;;) {
    char **f;
    size_t n;
    /* End of file: the login did not happen; PAM's handle is dropped. */
    if (login_read(&f, &n) != 0) die_login("daemon closed the login");
    const char *why = "";
    enum pam_result r;
    if (strcmp(f[0], "acct") == 0 && n == 1 && with_pam) {
      pam_clear_info();
      r = pam_account(&why);
      authorised = r == PAMR_OK;
      const char *a[] = {"acct", result_word(r), why, pam_take_info()};
      if (login_send(a, 4) != 0) die_login("daemon went away");
    } else if (strcmp(f[0], "auth") == 0 && with_pam && ((n == 3 && strcmp(f[1], "kbdint") == 0) || (n == 4 && strcmp(f[1], "password") == 0)) &&
               (strcmp(f[2], "0") == 0 || strcmp(f[2], "1") == 0 || strcmp(f[2], "x") == 0)) {
      int permit_empty = f[2][0] == '1';
      int may_change = f[2][0] != 'x';
      char *password = n == 4 ? strdup(f[3]) : NULL;
      if (n == 4) explicit_bzero(f[3], strlen(f[3]));
      if (n == 4 && password == NULL) die_login("out of memory");
      pam_clear_info();
      r = pam_auth(password, permit_empty, may_change, &why);
      if (password != NULL) {
        explicit_bzero(password, strlen(password));
        free(password);
      }
      authorised = r == PAMR_OK;
      const char *a[] = {"auth", result_word(r), why, pam_take_info()};
      if (login_send(a, 4) != 0) die_login("daemon went away");
    } else if (strcmp(f[0], "session") == 0) {
      start_session(user, rhost, f, n, authorised, uid_out, gid_out);
      *user_out = user;
      return 0; /* the child, now serving as the user */
    } else {
      die_login("unexpected request from the daemon");
    }
  }
}
