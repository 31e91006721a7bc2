/*
 * Programs: a session's shell, command or subsystem, started as the leader
 * of its own session and process group, on a new terminal or on three
 * pipes, with exactly descriptors 0-2. The helper keeps no copy of the
 * descriptors it hands over; it keeps the pid, so that it can report the
 * exit and hang the group up, which the worker (another uid) cannot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "user_helper.h"

/* More than MaxSessions allows by far; each running entry is a process. */
#define MAX_CHILDREN 512
#define MAX_ARGS 4096
#define MAX_ENV 4096

enum child_state { FREE = 0, RUNNING, EXITED };

struct child {
  pid_t pid;
  enum child_state state;
  /* When a hung-up leader gets SIGKILL (monotonic ms); 0: not hung up. */
  int64_t kill_at;
  /* Age, to forget the oldest exited entry first. */
  uint64_t seq;
  /* Its terminal, whose login record the root parent closes at the exit; "" for pipes. */
  char tty[REPORT_TTY_MAX];
};

static struct child children[MAX_CHILDREN];
static uint64_t next_seq;
static int max_fd = 65536;

void spawn_init(void) {
  /* Known before any fork: the fallback when close_range is missing. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max_fd) max_fd = (int)rl.rlim_cur;
}

/*
 * Exited leaders are remembered (while room lasts) because their group may
 * live on: a hangup after the leader's exit still reaches the background
 * jobs still tied to the channel, as a terminal hangup would.
 */
static struct child *find_child(pid_t pid) {
  struct child *exited = NULL;
  for (size_t i = 0; i < MAX_CHILDREN; i++) {
    if (children[i].pid != pid) continue;
    if (children[i].state == RUNNING) return &children[i];
    if (children[i].state == EXITED) exited = &children[i];
  }
  return exited;
}

static struct child *new_slot(pid_t pid) {
  struct child *oldest = NULL;
  for (size_t i = 0; i < MAX_CHILDREN; i++) {
    struct child *c = &children[i];
    /* The pid is free again, so its old group is gone: forget it. */
    if (c->state == EXITED && c->pid == pid) c->state = FREE;
    if (c->state == FREE) return c;
    if (c->state == EXITED && (oldest == NULL || c->seq < oldest->seq)) oldest = c;
  }
  return oldest;
}

static int has_free_slot(void) {
  for (size_t i = 0; i < MAX_CHILDREN; i++)
    if (children[i].state != RUNNING) return 1;
  return 0;
}

struct spawn_spec {
  const char *file;
  char **argv;
  char **envp;
  const char *cwd;
  int pty;
  unsigned short cols, rows;
  /* Start-up files to run first: 0 none, 1 /etc/ssh/sshrc, 2 ~/.ssh/rc before it. */
  int rc;
};

/* What a child reports through its close-on-exec pipe when it cannot run
 * the program; nothing arriving means execve succeeded. */
struct exec_failure {
  int err;
  int step;
};
static const char *const STEP_NAMES[] = {"setsid", "open", "ioctl", "dup2", "execve"};
enum { STEP_SETSID, STEP_OPEN, STEP_IOCTL, STEP_DUP2, STEP_EXECVE };

static void close_from(unsigned lo, unsigned hi) {
  if (lo > hi) return;
  if (close_range(lo, hi, 0) == 0) return;
  /* Kernels before 5.9: one by one, up to the descriptor limit. */
  for (unsigned fd = lo; fd <= hi && fd < (unsigned)max_fd; fd++) close((int)fd);
}

/* sshd's start-up files: ~/.ssh/rc (the working directory is the home), or
 * else /etc/ssh/sshrc, run by sh(1) with the session's environment and
 * terminal before the program, their input empty so that they cannot eat
 * the client's. Only async-signal-safe calls (see child_exec). */
static void run_rc_file(const struct spawn_spec *s) {
  const char *script = NULL;
  if (s->rc >= 2 && access(".ssh/rc", F_OK) == 0) script = ".ssh/rc";
  else if (s->rc >= 1 && access("/etc/ssh/sshrc", F_OK) == 0) script = "/etc/ssh/sshrc";
  if (script == NULL) return;
  pid_t p = fork();
  if (p == 0) {
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0 && nul != 0) {
      dup2(nul, 0);
      close(nul);
    }
    char *const argv[] = {(char *)"sh", (char *)script, NULL};
    execve("/bin/sh", argv, s->envp);
    _exit(127);
  }
  if (p > 0) {
    int st;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

/* In the child, between fork and exec: async-signal-safe calls only (a
 * resolver thread may have held a libc lock at the fork). Never returns. */
static void child_exec(const struct spawn_spec *s, const char *tty, const int stdio[3], int errw) {
  struct exec_failure f = {0, 0};
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  /* Ignored signals stay ignored across exec; the program starts clean. */
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
  }
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (setsid() < 0) {
    f = (struct exec_failure){errno, STEP_SETSID};
    goto fail;
  }
  int fds[3] = {stdio[0], stdio[1], stdio[2]};
  if (s->pty) {
    /* A session leader without a terminal that opens one (no O_NOCTTY)
     * gets it as its controlling terminal; TIOCSCTTY says so explicitly. */
    int t = open(tty, O_RDWR);
    if (t < 0) {
      f = (struct exec_failure){errno, STEP_OPEN};
      goto fail;
    }
    if (ioctl(t, TIOCSCTTY, 0) != 0) {
      f = (struct exec_failure){errno, STEP_IOCTL};
      goto fail;
    }
    fds[0] = fds[1] = fds[2] = t;
  }
  for (int i = 0; i < 3; i++) {
    if (dup2(fds[i], i) < 0) {
      f = (struct exec_failure){errno, STEP_DUP2};
      goto fail;
    }
  }
  /* Only 0-2 reach the program (the error pipe closes itself at exec). */
  close_from(3, (unsigned)errw - 1);
  close_from((unsigned)errw + 1, ~0U);
  if (chdir(s->cwd) != 0 && chdir("/") != 0) {
    /* No directory at all: run where we are, as sshd does after a message. */
  }
  run_rc_file(s);
  execve(s->file, s->argv, s->envp);
  f = (struct exec_failure){errno, STEP_EXECVE};
fail:
  while (write(errw, &f, sizeof(f)) < 0 && errno == EINTR) {
  }
  _exit(127);
}

/* Opens a terminal pair; the parent keeps `slave` open until the program has
 * exec'd, so the worker never reads the master before a slave exists (which
 * would look like the end). Returns 0 or an errno with *syscall set. */
static int open_pty(const struct spawn_spec *s, int *master, int *slave, char *name, size_t len, const char **syscall) {
  *syscall = "posix_openpt";
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return errno;
  *syscall = "grantpt";
  if (grantpt(m) != 0) goto fail;
  *syscall = "unlockpt";
  if (unlockpt(m) != 0) goto fail;
  *syscall = "ptsname_r";
  int e = ptsname_r(m, name, len);
  if (e != 0) {
    errno = e;
    goto fail;
  }
  *syscall = "open";
  int sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (sl < 0) goto fail;
  struct winsize ws = {s->rows, s->cols, 0, 0};
  *syscall = "ioctl";
  if (ioctl(m, TIOCSWINSZ, &ws) != 0) {
    close_quietly(sl);
    goto fail;
  }
  *master = m;
  *slave = sl;
  return 0;
fail:
  e = errno;
  close(m);
  return e;
}

static void close_all(int *fds, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
}

/* The first login shell gets the login text (PAM's motd, the last login)
 * before its own output, as from sshd; it waits in the terminal's buffer
 * until the worker reads the master. Never blocks: a text that does not fit
 * is cut. */
static void show_login_text(int slave, const struct spawn_spec *s) {
  if (s->argv[0] == NULL || s->argv[0][0] != '-') return;
  char *text = user_side_take_login_text();
  if (text == NULL) return;
  int flags = fcntl(slave, F_GETFL);
  if (flags >= 0 && fcntl(slave, F_SETFL, flags | O_NONBLOCK) == 0) {
    size_t len = strlen(text), off = 0;
    while (off < len) {
      ssize_t n = write(slave, text + off, len - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += (size_t)n;
    }
    fcntl(slave, F_SETFL, flags);
  }
  free(text);
}

/* Starts the program and answers the request; every descriptor made here is
 * closed on every path. */
static void run(uint32_t id, struct spawn_spec *s) {
  int mine[3] = {-1, -1, -1};   /* handed to the worker */
  int theirs[3] = {-1, -1, -1}; /* the child's ends; for a pty, theirs[0] is the parent's slave */
  int errp[2] = {-1, -1};
  char tty[64] = "";
  const char *syscall = "pipe2";
  int err = 0;
  if (s->pty) {
    err = open_pty(s, &mine[0], &theirs[0], tty, sizeof(tty), &syscall);
    if (err == 0) {
      /* SSH_TTY names the terminal, which is known only now. */
      char **e = s->envp;
      size_t n = 0;
      for (size_t i = 0; e[i] != NULL; i++)
        if (strncmp(e[i], "SSH_TTY=", 8) != 0) e[n++] = e[i];
      static char ssh_tty[80];
      snprintf(ssh_tty, sizeof(ssh_tty), "SSH_TTY=%s", tty);
      e[n++] = ssh_tty;
      e[n] = NULL;
      /* The root parent makes the terminal the user's and the tty group's
       * (0620) before any program runs on it. */
      if (report_claim(tty) != 0) fprintf(stderr, "mpsshd-user-helper: %s keeps its mode: the root parent did not take it\n", tty);
      show_login_text(theirs[0], s);
    }
  } else {
    for (int i = 0; i < 3 && err == 0; i++) {
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) {
        err = errno;
        break;
      }
      /* stdin: the worker writes; stdout, stderr: the worker reads. */
      mine[i] = i == 0 ? p[1] : p[0];
      theirs[i] = i == 0 ? p[0] : p[1];
    }
  }
  if (err == 0 && pipe2(errp, O_CLOEXEC) != 0) {
    syscall = "pipe2";
    err = errno;
  }
  if (err != 0) {
    close_all(mine, 3);
    close_all(theirs, 3);
    close_all(errp, 2);
    reply_errno(id, err, syscall);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) child_exec(s, tty, theirs, errp[1]);
  err = errno;
  close_all(&errp[1], 1);
  if (pid < 0) {
    close_all(mine, 3);
    close_all(theirs, 3);
    close_all(errp, 1);
    reply_errno(id, err, "fork");
    return;
  }
  struct exec_failure f;
  ssize_t n;
  do n = read(errp[0], &f, sizeof(f));
  while (n < 0 && errno == EINTR);
  close_all(errp, 1);
  close_all(theirs, 3);
  if (n != 0) {
    /* The child reported why it could not run the program, then exited. */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    close_all(mine, 3);
    if (n != (ssize_t)sizeof(f)) f = (struct exec_failure){EIO, STEP_EXECVE};
    reply_errno(id, f.err, STEP_NAMES[f.step]);
    return;
  }
  struct child *c = new_slot(pid);
  *c = (struct child){pid, RUNNING, 0, ++next_seq, ""};
  if (s->pty) {
    snprintf(c->tty, sizeof(c->tty), "%s", tty);
    report_login(tty, pid);
  }
  char pidbuf[16];
  snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
  const char *values[] = {pidbuf, tty};
  reply_ok(id, mine, s->pty ? 1 : 3, values, 2);
  close_all(mine, 3);
}

static int has_name(char *const *env, size_t n, const char *var) {
  size_t len = strcspn(var, "=");
  for (size_t i = 0; i < n; i++)
    if (strncmp(env[i], var, len) == 0 && env[i][len] == '=') return 1;
  return 0;
}

/*
 * PAM's variables (pam_env's /etc/environment and locale, pam_systemd's
 * XDG_RUNTIME_DIR, ...) go to every program, as sshd passes them on; what the
 * session set itself (USER, HOME, SSH_*, the client's LANG) wins. sshd keeps
 * SSH_AUTH_INFO* and SSH_CONNECTION* of PAM's out too.
 */
static void add_pam_env(char **envp, size_t n, char **pam, size_t npam) {
  size_t at = n;
  for (size_t i = 0; i < npam; i++) {
    const char *v = pam[i];
    if (strchr(v, '=') == NULL || v[0] == '=') continue;
    if (strncmp(v, "SSH_AUTH_INFO", 13) == 0 || strncmp(v, "SSH_CONNECTION", 14) == 0) continue;
    if (has_name(envp, at, v)) continue;
    envp[at++] = pam[i];
  }
  envp[at] = NULL;
}

/* spawn: file argv0 argc args... envc env... cwd pipes|pty [cols rows] */
void op_spawn(const struct request *r) {
  char **f = r->field;
  size_t n = r->nfield, i = 0;
  long argc, envc, cols = 0, rows = 0;
  struct spawn_spec s = {0};
  const char *bad = NULL;
  if (n < 3 || f[0][0] != '/' || !parse_long(f[2], 0, MAX_ARGS, &argc) || n < 3 + (size_t)argc + 1) {
    bad = "bad program or arguments";
    goto invalid;
  }
  s.file = f[0];
  i = 3 + (size_t)argc;
  if (!parse_long(f[i], 0, MAX_ENV, &envc) || n < i + 1 + (size_t)envc + 3) {
    bad = "bad environment";
    goto invalid;
  }
  for (size_t k = 0; k < (size_t)envc; k++) {
    const char *v = f[i + 1 + k];
    if (v[0] == '=' || strchr(v, '=') == NULL) {
      bad = "bad environment entry";
      goto invalid;
    }
  }
  size_t env_at = i + 1;
  i = env_at + (size_t)envc;
  s.cwd = f[i];
  long rc;
  if (!parse_long(f[i + 1], 0, 2, &rc)) {
    bad = "bad start-up file mode";
    goto invalid;
  }
  s.rc = (int)rc;
  i++;
  if (strcmp(f[i + 1], "pty") == 0) {
    if (n != i + 4 || !parse_long(f[i + 2], 1, 0xffff, &cols) || !parse_long(f[i + 3], 1, 0xffff, &rows)) {
      bad = "bad terminal size";
      goto invalid;
    }
    s.pty = 1;
  } else if (strcmp(f[i + 1], "pipes") != 0 || n != i + 2) {
    bad = "bad stdio mode";
    goto invalid;
  }
  s.cols = (unsigned short)cols;
  s.rows = (unsigned short)rows;
  if (!has_free_slot()) {
    reply_error(r->id, "EAGAIN", EAGAIN, "spawn", "too many programs");
    return;
  }
  /* The strings stay in the request buffer; only the arrays are new. One
   * more environment slot for SSH_TTY, and room for PAM's variables. */
  char **pam = user_side_pam_env();
  size_t npam = 0;
  while (pam != NULL && pam[npam] != NULL && npam < MAX_ENV) npam++;
  s.argv = calloc((size_t)argc + 2, sizeof(char *));
  s.envp = calloc((size_t)envc + npam + 2, sizeof(char *));
  if (s.argv == NULL || s.envp == NULL) {
    free(s.argv);
    free(s.envp);
    reply_errno(r->id, ENOMEM, "calloc");
    return;
  }
  s.argv[0] = f[1];
  for (long k = 0; k < argc; k++) s.argv[1 + k] = f[3 + k];
  for (long k = 0; k < envc; k++) s.envp[k] = f[env_at + (size_t)k];
  add_pam_env(s.envp, (size_t)envc, pam, npam);
  run(r->id, &s);
  free(s.argv);
  free(s.envp);
  return;
invalid:
  reply_error(r->id, "EINVAL", EINVAL, "spawn", bad);
}

/* The signals RFC 4254 lets a client send, by the names it uses. */
static int signal_number(const char *name) {
  static const struct {
    const char *name;
    int sig;
  } table[] = {
      {"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"FPE", SIGFPE},   {"HUP", SIGHUP},   {"ILL", SIGILL},
      {"INT", SIGINT},   {"KILL", SIGKILL}, {"PIPE", SIGPIPE}, {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV},
      {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (strcmp(name, table[i].name) == 0) return table[i].sig;
  return 0;
}

/* A program of this helper's, by the pid field; answers ESRCH otherwise. */
static struct child *requested_child(const struct request *r, const char *op) {
  long pid;
  if (r->nfield < 1 || !parse_long(r->field[0], 1, INT32_MAX, &pid)) {
    reply_error(r->id, "EINVAL", EINVAL, op, "bad pid");
    return NULL;
  }
  struct child *c = find_child((pid_t)pid);
  if (c == NULL) reply_errno(r->id, ESRCH, op);
  return c;
}

/* signal: pid name -- to the program's whole process group, as sshd does. */
void op_signal(const struct request *r) {
  int sig = r->nfield == 2 ? signal_number(r->field[1]) : 0;
  if (sig == 0) {
    reply_error(r->id, "EINVAL", EINVAL, "signal", "bad signal");
    return;
  }
  struct child *c = requested_child(r, "signal");
  if (c == NULL) return;
  if (killpg(c->pid, sig) != 0) {
    reply_errno(r->id, errno, "killpg");
    return;
  }
  reply_ok(r->id, NULL, 0, NULL, 0);
}

static void hang_up(struct child *c, int64_t now) {
  /* SIGCONT too: a stopped job would not see the SIGHUP until resumed. */
  killpg(c->pid, SIGHUP);
  killpg(c->pid, SIGCONT);
  if (c->state == RUNNING && c->kill_at == 0) c->kill_at = now + HANGUP_GRACE_MS;
}

/* hangup: pid -- answers whether the leader is still running (its exit
 * event follows then) or had already exited. */
void op_hangup(const struct request *r) {
  if (r->nfield != 1) {
    reply_error(r->id, "EINVAL", EINVAL, "hangup", "bad request");
    return;
  }
  struct child *c = requested_child(r, "hangup");
  if (c == NULL) return;
  hang_up(c, monotonic_ms());
  const char *state = c->state == RUNNING ? "running" : "exited";
  reply_ok(r->id, NULL, 0, &state, 1);
}

void reap_children(void) {
  for (;;) {
    int st;
    pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid <= 0) return;
    struct child *c = find_child(pid);
    if (c == NULL || c->state != RUNNING) continue;
    c->state = EXITED;
    c->kill_at = 0;
    if (c->tty[0] != '\0') report_end(c->tty);
    if (WIFSIGNALED(st))
      send_exit_event(pid, 1, WTERMSIG(st));
    else
      send_exit_event(pid, 0, WEXITSTATUS(st));
  }
}

int hangup_timers(void) {
  int64_t now = monotonic_ms(), next = -1;
  for (size_t i = 0; i < MAX_CHILDREN; i++) {
    struct child *c = &children[i];
    if (c->state != RUNNING || c->kill_at == 0) continue;
    if (now >= c->kill_at) {
      /* The leader only: what it started with nohup chose to outlive a hangup. */
      kill(c->pid, SIGKILL);
      c->kill_at = 0;
    } else if (next < 0 || c->kill_at - now < next) {
      next = c->kill_at - now;
    }
  }
  return next < 0 ? -1 : (int)next;
}

void hangup_all(void) {
  int64_t now = monotonic_ms();
  for (size_t i = 0; i < MAX_CHILDREN; i++)
    if (children[i].state == RUNNING) hang_up(&children[i], now);
}

size_t running_children(void) {
  size_t n = 0;
  for (size_t i = 0; i < MAX_CHILDREN; i++) n += children[i].state == RUNNING;
  return n;
}

void kill_all(void) {
  for (size_t i = 0; i < MAX_CHILDREN; i++)
    if (children[i].state == RUNNING) kill(children[i].pid, SIGKILL);
}
