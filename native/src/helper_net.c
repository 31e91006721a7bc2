/*
 * Sockets opened as the user: TCP connects (-L) and listeners (-R), Unix
 * sockets, and the agent socket in a private directory. The kernel checks
 * them as it would for any of the user's programs: a port below 1024 needs
 * root, a directory's modes apply to a Unix socket's path.
 *
 * A name lookup can take seconds (DNS timeouts) and a connect up to the
 * kernel's SYN retries; neither may hold up the other requests, so lookups
 * run in a thread each (getaddrinfo has no asynchronous form of its own)
 * and connects are non-blocking, finished from the main poll loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "user_helper.h"

/* Lookups and connects in flight at once; more are refused with EAGAIN. */
#define MAX_PENDING 64
#define MAX_AGENTS 8
/* sshd's SSH_LISTEN_BACKLOG. */
#define LISTEN_BACKLOG 128

enum pending_kind { CONNECT, LISTEN };
enum pending_state { UNUSED = 0, RESOLVING, CONNECTING };

struct pending {
  enum pending_state state;
  enum pending_kind kind;
  uint32_t id;
  int v6only;
  char host[NI_MAXHOST];
  char port[8];
  /* Written by the resolver thread before it reports, read after. */
  int gai_err;
  int gai_errno;
  struct addrinfo *res;
  struct addrinfo *cur;
  int fd;
  int last_err;
  const char *last_syscall;
};

static struct pending pending[MAX_PENDING];
static int notify[2] = {-1, -1};
static struct {
  char dir[64];
  char path[96];
} agents[MAX_AGENTS];
static size_t nagents;

int net_init(void) {
  for (size_t i = 0; i < MAX_PENDING; i++) pending[i].fd = -1;
  return pipe2(notify, O_CLOEXEC | O_NONBLOCK);
}

int net_resolver_fd(void) { return notify[0]; }

static struct pending *new_pending(uint32_t id) {
  for (size_t i = 0; i < MAX_PENDING; i++) {
    if (pending[i].state != UNUSED) continue;
    struct pending *p = &pending[i];
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->fd = -1;
    p->last_err = ECONNREFUSED;
    p->last_syscall = "connect";
    return p;
  }
  reply_error(id, "EAGAIN", EAGAIN, "request", "too many connections in progress");
  return NULL;
}

static void release(struct pending *p) {
  if (p->res != NULL) freeaddrinfo(p->res);
  close_quietly(p->fd);
  p->res = NULL;
  p->fd = -1;
  p->state = UNUSED;
}

/* The words the C library uses, and the codes Node.js gives lookups. */
static void reply_gai(uint32_t id, int e, int sys_errno) {
  if (e == EAI_SYSTEM) {
    reply_errno(id, sys_errno, "getaddrinfo");
    return;
  }
  const char *code = e == EAI_NONAME || e == EAI_NODATA ? "ENOTFOUND" : e == EAI_AGAIN ? "EAI_AGAIN" : e == EAI_FAIL ? "EAI_FAIL" : "EAI_OTHER";
  reply_error(id, code, 0, "getaddrinfo", gai_strerror(e));
}

static void hints_for(const struct pending *p, struct addrinfo *h, int flags) {
  memset(h, 0, sizeof(*h));
  h->ai_family = AF_UNSPEC;
  h->ai_socktype = SOCK_STREAM;
  h->ai_flags = flags | (p->kind == LISTEN ? AI_PASSIVE : 0);
}

static void *resolve_thread(void *arg) {
  struct pending *p = arg;
  struct addrinfo h;
  hints_for(p, &h, AI_NUMERICSERV);
  p->gai_err = getaddrinfo(p->host, p->port, &h, &p->res);
  p->gai_errno = errno;
  /* A pointer is far below PIPE_BUF: the write is atomic, never partial. */
  while (write(notify[1], &p, sizeof(p)) < 0 && errno == EINTR) {
  }
  return NULL;
}

static void resolved(struct pending *p);

/* Numeric addresses at once; names in a thread. */
static void resolve(struct pending *p) {
  struct addrinfo h;
  hints_for(p, &h, AI_NUMERICHOST | AI_NUMERICSERV);
  p->gai_err = getaddrinfo(p->host, p->port, &h, &p->res);
  p->gai_errno = errno;
  if (p->gai_err != EAI_NONAME) {
    resolved(p);
    return;
  }
  p->state = RESOLVING;
  pthread_attr_t attr;
  pthread_t t;
  int e = pthread_attr_init(&attr);
  if (e == 0) e = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (e == 0) e = pthread_create(&t, &attr, resolve_thread, p);
  pthread_attr_destroy(&attr);
  if (e != 0) {
    reply_errno(p->id, e, "pthread_create");
    release(p);
  }
}

static void finish_ok(struct pending *p, const char *value) {
  reply_ok(p->id, &p->fd, 1, value != NULL ? &value : NULL, value != NULL ? 1 : 0);
  release(p);
}

static void finish_error(struct pending *p) {
  reply_errno(p->id, p->last_err, p->last_syscall);
  release(p);
}

/* Tries the addresses from p->cur on until one connects, one is in
 * progress, or none is left (the last error is the answer, as sshd and
 * Node.js report it). */
static void connect_next(struct pending *p) {
  for (; p->cur != NULL; p->cur = p->cur->ai_next) {
    struct addrinfo *a = p->cur;
    close_quietly(p->fd);
    p->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
      p->last_err = errno;
      p->last_syscall = "socket";
      continue;
    }
    if (connect(p->fd, a->ai_addr, a->ai_addrlen) == 0) {
      finish_ok(p, NULL);
      return;
    }
    if (errno == EINPROGRESS) {
      p->state = CONNECTING;
      return;
    }
    p->last_err = errno;
    p->last_syscall = "connect";
  }
  finish_error(p);
}

static void listen_first(struct pending *p) {
  for (struct addrinfo *a = p->res; a != NULL; a = a->ai_next) {
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      p->last_err = errno;
      p->last_syscall = "socket";
      continue;
    }
    int one = 1, v6only = p->v6only;
    /* As sshd and Node.js: a port in TIME_WAIT can be listened on again. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
      p->last_err = errno;
      p->last_syscall = "bind";
      close(fd);
      continue;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
      port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    char portbuf[8];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    p->fd = fd;
    finish_ok(p, portbuf);
    return;
  }
  finish_error(p);
}

static void resolved(struct pending *p) {
  if (p->gai_err != 0) {
    reply_gai(p->id, p->gai_err, p->gai_errno);
    p->res = NULL;
    release(p);
    return;
  }
  p->cur = p->res;
  if (p->kind == CONNECT)
    connect_next(p);
  else
    listen_first(p);
}

void net_resolved(void) {
  struct pending *p;
  while (read(notify[0], &p, sizeof(p)) == (ssize_t)sizeof(p)) {
    if (p < pending || p >= pending + MAX_PENDING || p->state != RESOLVING) continue;
    resolved(p);
  }
}

size_t net_poll_fill(struct pollfd *pfd, size_t room) {
  size_t n = 0;
  for (size_t i = 0; i < MAX_PENDING && n < room; i++)
    if (pending[i].state == CONNECTING) pfd[n++] = (struct pollfd){pending[i].fd, POLLOUT, 0};
  return n;
}

void net_poll_done(const struct pollfd *pfd, size_t n) {
  for (size_t k = 0; k < n; k++) {
    if (pfd[k].revents == 0) continue;
    struct pending *p = NULL;
    for (size_t i = 0; i < MAX_PENDING; i++)
      if (pending[i].state == CONNECTING && pending[i].fd == pfd[k].fd) p = &pending[i];
    if (p == NULL) continue;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) {
      finish_ok(p, NULL);
      continue;
    }
    p->last_err = err;
    p->last_syscall = "connect";
    p->cur = p->cur->ai_next;
    connect_next(p);
  }
}

/* tcp-connect: host port | tcp-listen: address port v6only */
static void tcp_request(const struct request *r, enum pending_kind kind) {
  long port;
  size_t want = kind == CONNECT ? 2 : 3;
  const char *op = kind == CONNECT ? "tcp-connect" : "tcp-listen";
  if (r->nfield != want || r->field[0][0] == '\0' || strlen(r->field[0]) >= NI_MAXHOST ||
      !parse_long(r->field[1], kind == CONNECT ? 1 : 0, 65535, &port) ||
      (kind == LISTEN && strcmp(r->field[2], "0") != 0 && strcmp(r->field[2], "1") != 0)) {
    reply_error(r->id, "EINVAL", EINVAL, op, "bad address or port");
    return;
  }
  struct pending *p = new_pending(r->id);
  if (p == NULL) return;
  p->kind = kind;
  p->state = RESOLVING;
  strcpy(p->host, r->field[0]);
  snprintf(p->port, sizeof(p->port), "%ld", port);
  p->v6only = kind == LISTEN && r->field[2][0] == '1';
  resolve(p);
}

void op_tcp_connect(const struct request *r) { tcp_request(r, CONNECT); }
void op_tcp_listen(const struct request *r) { tcp_request(r, LISTEN); }

static int unix_address(const char *path, struct sockaddr_un *sun) {
  memset(sun, 0, sizeof(*sun));
  sun->sun_family = AF_UNIX;
  if (path[0] != '/' || strlen(path) >= sizeof(sun->sun_path)) return 0;
  strcpy(sun->sun_path, path);
  return 1;
}

/* Binds and listens with the socket file's mode set at creation (umask),
 * so there is no moment where it has wider permissions. */
static int unix_listen(const struct sockaddr_un *sun, mode_t mode, const char **syscall) {
  *syscall = "socket";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  mode_t old = umask(~mode & 0777);
  int ok = bind(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
  umask(old);
  *syscall = ok ? "listen" : "bind";
  if (!ok || listen(fd, LISTEN_BACKLOG) != 0) {
    close_quietly(fd);
    return -1;
  }
  return fd;
}

/* unix-listen: path mode(octal) unlink(0|1) */
void op_unix_listen(const struct request *r) {
  struct sockaddr_un sun;
  long mode;
  if (r->nfield != 3 || !unix_address(r->field[0], &sun) || !parse_octal(r->field[1], 0777, &mode) ||
      (strcmp(r->field[2], "0") != 0 && strcmp(r->field[2], "1") != 0)) {
    reply_error(r->id, "EINVAL", EINVAL, "unix-listen", "bad path, mode or flag");
    return;
  }
  struct stat st;
  /* Only a stale socket is removed, never a file of another kind. */
  if (r->field[2][0] == '1' && lstat(sun.sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(sun.sun_path);
  const char *syscall;
  int fd = unix_listen(&sun, (mode_t)mode, &syscall);
  if (fd < 0) {
    reply_errno(r->id, errno, syscall);
    return;
  }
  reply_ok(r->id, &fd, 1, NULL, 0);
  close(fd);
}

/* unix-connect: path. Local connects finish at once or fail (EAGAIN for a
 * full backlog), so non-blocking suffices without a poll. */
void op_unix_connect(const struct request *r) {
  struct sockaddr_un sun;
  if (r->nfield != 1 || !unix_address(r->field[0], &sun)) {
    reply_error(r->id, "EINVAL", EINVAL, "unix-connect", "bad path");
    return;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    reply_errno(r->id, errno, "socket");
    return;
  }
  if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) != 0) {
    reply_errno(r->id, errno, "connect");
    close(fd);
    return;
  }
  reply_ok(r->id, &fd, 1, NULL, 0);
  close(fd);
}

/* /tmp/ssh- and ten random letters or digits, mode 0700 (glibc's mkdtemp
 * fills only six X's); a name someone else took is skipped. */
static int make_private_dir(char *dir, size_t len) {
  static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int attempt = 0; attempt < 100; attempt++) {
    unsigned char rnd[10];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) return -1;
    char name[11];
    for (size_t i = 0; i < sizeof(rnd); i++) name[i] = chars[rnd[i] % (sizeof(chars) - 1)];
    name[10] = '\0';
    snprintf(dir, len, "/tmp/ssh-%s", name);
    if (mkdir(dir, 0700) == 0) return 0;
    if (errno != EEXIST) return -1;
  }
  errno = EEXIST;
  return -1;
}

/* agent-listen: a private directory /tmp/ssh-XXXXXXXXXX (0700) holding a
 * listening socket agent.<pid> (0600), as sshd makes for SSH_AUTH_SOCK;
 * both are removed when the helper exits. */
void op_agent_listen(const struct request *r) {
  if (r->nfield != 0) {
    reply_error(r->id, "EINVAL", EINVAL, "agent-listen", "bad request");
    return;
  }
  if (nagents == MAX_AGENTS) {
    reply_error(r->id, "EAGAIN", EAGAIN, "agent-listen", "too many agent sockets");
    return;
  }
  char *dir = agents[nagents].dir, *path = agents[nagents].path;
  if (make_private_dir(dir, sizeof(agents[0].dir)) != 0) {
    reply_errno(r->id, errno, "mkdir");
    return;
  }
  char made[sizeof(agents[0].path)];
  snprintf(made, sizeof(made), "%s/agent.%d", dir, (int)getpid());
  memcpy(path, made, sizeof(made));
  struct sockaddr_un sun;
  const char *syscall = "bind";
  errno = ENAMETOOLONG;
  int fd = unix_address(path, &sun) ? unix_listen(&sun, 0600, &syscall) : -1;
  if (fd < 0) {
    int e = errno;
    rmdir(dir);
    reply_errno(r->id, e, syscall);
    return;
  }
  nagents++;
  const char *value = path;
  reply_ok(r->id, &fd, 1, &value, 1);
  close(fd);
}

void net_cleanup(void) {
  for (size_t i = 0; i < MAX_PENDING; i++)
    if (pending[i].state == CONNECTING) close_quietly(pending[i].fd);
  for (size_t i = 0; i < nagents; i++) {
    unlink(agents[i].path);
    rmdir(agents[i].dir);
  }
  nagents = 0;
}
