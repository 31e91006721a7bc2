/*
 * mpsshd-user-helper: the per-connection process that does, as the logged-in
 * user, everything a connection needs on the user's behalf (programs, TCP and
 * Unix sockets, the agent socket) and hands the resulting descriptors to the
 * connection's worker, which parses network input and is not the user.
 *
 * Wire format on fd 3 (both directions): frames of a 4-byte big-endian length
 * N (1..HELPER_MAX_FRAME) followed by N bytes made of NUL-terminated fields.
 * No value ever contains a NUL (paths, argv, environment, host names are C
 * strings anyway), so fields need no length of their own.
 *
 *   request: <id> <op> <op fields...>           id: 1..2^31-1, decimal
 *   reply:   <id> ok <n descriptors> <values...>
 *            <id> error <code> <errno> <syscall> <message>
 *   event:   0 exit <pid> code|signal <number>
 *
 * A reply's descriptors are sent on fd 4 *before* the reply (SCM_RIGHTS, one
 * NUL byte per descriptor), so the worker, reading the reply, finds them
 * already queued and never waits for them.
 */
#ifndef MPSSH_USER_HELPER_H
#define MPSSH_USER_HELPER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#define CONTROL_FD 3
#define FDPASS_FD 4
/* --login mode: the daemon's socket in the root process; in its user-side
 * child, the same number is the report socket to the root parent. */
#define LOGIN_FD 5
#define REPORT_FD 5
/* PAM's messages and the motd shown at login are cut at this size. */
#define LOGIN_TEXT_MAX 8192
/* "/dev/pts/" and up to seven digits, NUL included. */
#define REPORT_TTY_MAX 32

/* Large enough for an exec request with a big environment and a 256 KiB
 * command (an SSH packet's limit), small enough to be a fixed buffer. */
#define HELPER_MAX_FRAME (1024 * 1024)
#define HELPER_MAX_FIELDS 8192
/* What a user's hung-up program gets before SIGKILL, as a terminal hangup
 * followed by sshd's cleanup. */
#define HANGUP_GRACE_MS 2000

/* A parsed request: fields point into the frame buffer. */
struct request {
  uint32_t id;
  const char *op;
  char **field; /* after id and op */
  size_t nfield;
};

/* --- helper_wire.c: frames, replies, descriptor passing. */
/* Sends one reply or event frame; on failure the worker is gone and the
 * helper shuts down (the caller checks helper_closing()). */
void reply_ok(uint32_t id, const int *fds, size_t nfds, const char *const *values, size_t nvalues);
void reply_error(uint32_t id, const char *code, int err, const char *syscall, const char *message);
void reply_errno(uint32_t id, int err, const char *syscall);
void send_exit_event(pid_t pid, int signaled, int value);
/* Splits a frame's body into fields; false when it is not NUL-terminated
 * fields or has too many. */
int parse_fields(char *body, size_t len, char **field, size_t max, size_t *count);
/* Strict decimal parse into [min, max]. */
int parse_long(const char *s, long min, long max, long *out);
/* Strict octal parse into [0, max]. */
int parse_octal(const char *s, long max, long *out);

/* --- user_helper.c: process-wide state. */
void helper_shutdown_requested(void);
int helper_closing(void);
int64_t monotonic_ms(void);
/* Closes a descriptor the helper owns, keeping errno. */
void close_quietly(int fd);

/* --- helper_spawn.c: programs. */
void spawn_init(void);
void op_spawn(const struct request *r);
void op_signal(const struct request *r);
void op_hangup(const struct request *r);
/* Reaps exited children and reports them. */
void reap_children(void);
/* Delivers SIGKILL to hung-up programs whose grace time is over; returns the
 * poll timeout until the next deadline (-1 when none). */
int hangup_timers(void);
/* Hangs up every running program (connection over). */
void hangup_all(void);
size_t running_children(void);
/* Sends SIGKILL to every program still running (the last step of a shutdown). */
void kill_all(void);

/* --- helper_net.c: sockets. */
int net_init(void);
/* The descriptor resolver threads report on, for poll(). */
int net_resolver_fd(void);
void op_tcp_connect(const struct request *r);
void op_tcp_listen(const struct request *r);
void op_unix_listen(const struct request *r);
void op_unix_connect(const struct request *r);
void op_agent_listen(const struct request *r);
/* Resolutions that finished: start their connects or binds. */
void net_resolved(void);
/* Adds connecting sockets to a poll set; returns how many were added. */
size_t net_poll_fill(struct pollfd *pfd, size_t room);
/* Handles the poll results for the entries net_poll_fill added. */
void net_poll_done(const struct pollfd *pfd, size_t n);
/* Removes the agent directories (at exit). */
void net_cleanup(void);


/* --- user_helper.c: a login's user side (the --login child). */
/* Called in the child after the fork: PAM's environment for every program
 * and the text for the first login shell (either may be NULL). */
void user_side_login(char **pam_env, char *login_text);
/* PAM's variables a program gets besides those the worker sent. */
char **user_side_pam_env(void);
/* The login text, once: NULL after the first call or when ~/.hushlogin exists. */
char *user_side_take_login_text(void);

/* --- helper_login.c: the --login root process. */
/* Runs the pre-login requests; returns only in the user-side child. */
int login_main(int argc, char **argv, const char **user, uid_t *uid, gid_t *gid);
int login_read(char ***fields, size_t *count);
int login_send(const char *const *fields, size_t n);

/* --- helper_pam.c: Linux-PAM (stubs when built without libpam). */
enum pam_result { PAMR_OK, PAMR_NEW_AUTHTOK, PAMR_DENIED, PAMR_FAILED };
int pam_begin(const char *service, const char *user, const char *rhost);
int pam_active(void);
const char *pam_take_info(void);
void pam_clear_info(void);
enum pam_result pam_account(const char **why);
/* password NULL: keyboard-interactive, prompts relayed to the daemon. */
enum pam_result pam_auth(const char *password, int permit_empty, int may_change, const char **why);
int pam_session_open(const char **why);
char **pam_environment(void);
void pam_finish(int session_open);

/* --- helper_monitor.c: the root parent and the child's reports to it. */
void monitor_session(pid_t child, int fd, const char *user, uid_t uid, const char *rhost, int pam_open);
void report_init(int fd);
/* Asks the root parent to give the terminal to the user; 0 once done (or
 * when there is no parent). */
int report_claim(const char *tty);
void report_login(const char *tty, pid_t pid);
void report_end(const char *tty);

/* --- helper_records.c: utmp, wtmp, lastlog, terminal ownership (root). */
int valid_pts_name(const char *tty);
/* Gives a /dev/pts/N owned by uid to uid and the tty group, 0620; an errno otherwise. */
int claim_terminal(const char *tty, uid_t uid, gid_t user_gid);
void record_login(const char *tty, pid_t pid, const char *user, uid_t uid, const char *host);
void record_logout(const char *tty, pid_t pid);
size_t last_login_text(uid_t uid, char *out, size_t size);

/* The signals both the helper and its root parent take on a signalfd: a
 * child's exit and the ones that end them. */
void handled_signals(sigset_t *set);

#endif
