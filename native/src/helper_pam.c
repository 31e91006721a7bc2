/*
 * Linux-PAM for one connection, in the root process the daemon starts for
 * it: the PAM handle lives here from the first account or authentication
 * request to the end of the login, so the handle that authenticated is the
 * one whose session is opened and closed, as in sshd. PAM calls may block
 * (pam_faildelay, network directories); here they block only this process.
 *
 * The conversation depends on what is being done: while authenticating with
 * keyboard-interactive, each prompt goes to the daemon (and on to the
 * client) and its answer comes back; for password authentication the
 * password the client sent answers the one hidden prompt; otherwise prompts
 * fail and messages are collected (pam_nologin's text, pam_motd's motd).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "user_helper.h"

#ifdef HAVE_PAM
#include <security/pam_appl.h>

static pam_handle_t *pamh;
static enum { CONV_COLLECT, CONV_RELAY, CONV_PASSWORD } conv_mode = CONV_COLLECT;
static const char *conv_password;
/* The stack itself authenticated the user (keyboard-interactive, password). */
static int pam_authenticated;
static int password_used;
/* Messages (PAM_TEXT_INFO, PAM_ERROR_MSG) not yet shown to anyone. */
static char info[LOGIN_TEXT_MAX];
static size_t info_len;

static void add_info(const char *msg) {
  size_t n = strlen(msg);
  /* Bounded: a module that talks too much is cut short, not a reason to fail. */
  if (info_len + n + 2 > sizeof(info)) return;
  memcpy(info + info_len, msg, n);
  info_len += n;
  if (n == 0 || msg[n - 1] != '\n') info[info_len++] = '\n';
  info[info_len] = '\0';
}

static void free_responses(struct pam_response *r, int n) {
  if (r == NULL) return;
  for (int i = 0; i < n; i++) {
    if (r[i].resp != NULL) {
      explicit_bzero(r[i].resp, strlen(r[i].resp));
      free(r[i].resp);
    }
  }
  free(r);
}

/* One prompt to the client, through the daemon: the text gathered so far
 * goes before it, as sshd shows it. NULL when the client gave up. */
static char *relay_prompt(const char *text, int echo) {
  char buf[LOGIN_TEXT_MAX + 1024];
  int w = snprintf(buf, sizeof(buf), "%s%s", info, text != NULL ? text : "");
  if (w < 0) return NULL;
  info_len = 0;
  info[0] = '\0';
  const char *fields[] = {"prompt", echo ? "1" : "0", buf};
  if (login_send(fields, 3) != 0) return NULL;
  char **f;
  size_t n;
  if (login_read(&f, &n) != 0 || n != 2 || strcmp(f[0], "answer") != 0) return NULL;
  return strdup(f[1]);
}

static int conversation(int num, const struct pam_message **msg, struct pam_response **resp, void *data) {
  (void)data;
  if (num <= 0 || num > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  struct pam_response *r = calloc((size_t)num, sizeof(*r));
  if (r == NULL) return PAM_BUF_ERR;
  for (int i = 0; i < num; i++) {
    int style = msg[i]->msg_style;
    const char *text = msg[i]->msg != NULL ? msg[i]->msg : "";
    if (style == PAM_TEXT_INFO || style == PAM_ERROR_MSG) {
      add_info(text);
      continue;
    }
    if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON) goto fail;
    if (conv_mode == CONV_RELAY) {
      r[i].resp = relay_prompt(text, style == PAM_PROMPT_ECHO_ON);
    } else if (conv_mode == CONV_PASSWORD && style == PAM_PROMPT_ECHO_OFF && !password_used) {
      /* The password the client sent answers the first hidden prompt only. */
      password_used = 1;
      r[i].resp = strdup(conv_password);
    }
    if (r[i].resp == NULL) goto fail;
  }
  *resp = r;
  return PAM_SUCCESS;
fail:
  free_responses(r, num);
  return PAM_CONV_ERR;
}

static struct pam_conv conv = {conversation, NULL};

int pam_begin(const char *service, const char *user, const char *rhost) {
  int rc = pam_start(service, user, &conv, &pamh);
  if (rc != PAM_SUCCESS) {
    fprintf(stderr, "mpsshd-user-helper: pam_start: %s\n", pam_strerror(pamh, rc));
    pamh = NULL;
    return -1;
  }
  /* What sshd gives the modules: the client's address and "ssh" as the tty. */
  if ((rc = pam_set_item(pamh, PAM_RHOST, rhost)) != PAM_SUCCESS || (rc = pam_set_item(pamh, PAM_TTY, "ssh")) != PAM_SUCCESS) {
    fprintf(stderr, "mpsshd-user-helper: pam_set_item: %s\n", pam_strerror(pamh, rc));
    pam_end(pamh, rc);
    pamh = NULL;
    return -1;
  }
  return 0;
}

int pam_active(void) { return pamh != NULL; }

const char *pam_take_info(void) { return info; }

void pam_clear_info(void) {
  info_len = 0;
  info[0] = '\0';
}

static enum pam_result account_result(int rc, const char **why) {
  *why = pam_strerror(pamh, rc);
  if (rc == PAM_SUCCESS) return PAMR_OK;
  if (rc == PAM_NEW_AUTHTOK_REQD) return PAMR_NEW_AUTHTOK;
  return PAMR_DENIED;
}

enum pam_result pam_account(const char **why) {
  conv_mode = CONV_COLLECT;
  return account_result(pam_acct_mgmt(pamh, 0), why);
}

enum pam_result pam_auth(const char *password, int permit_empty, int may_change, const char **why) {
  conv_mode = password != NULL ? CONV_PASSWORD : CONV_RELAY;
  conv_password = password;
  password_used = 0;
  /* PermitEmptyPasswords no, as sshd: Debian's pam_unix has `nullok`, and
   * would let an account with an empty password in with an empty answer,
   * or with no prompt at all. */
  int rc = pam_authenticate(pamh, permit_empty ? 0 : PAM_DISALLOW_NULL_AUTHTOK);
  conv_password = NULL;
  if (rc != PAM_SUCCESS) {
    *why = pam_strerror(pamh, rc);
    conv_mode = CONV_COLLECT;
    return PAMR_FAILED;
  }
  /* The account stack right after, on the same handle, as sshd does. */
  rc = pam_acct_mgmt(pamh, 0);
  if (rc == PAM_NEW_AUTHTOK_REQD && password == NULL && may_change) {
    /* keyboard-interactive can ask for the new password at once (never
     * with stand-in answers: that would set a password nobody chose). */
    rc = pam_chauthtok(pamh, PAM_CHANGE_EXPIRED_AUTHTOK);
    if (rc != PAM_SUCCESS) {
      *why = pam_strerror(pamh, rc);
      conv_mode = CONV_COLLECT;
      return PAMR_FAILED;
    }
  }
  conv_mode = CONV_COLLECT;
  enum pam_result r = account_result(rc, why);
  pam_authenticated = r == PAMR_OK;
  return r;
}

int pam_session_open(const char **why) {
  conv_mode = CONV_COLLECT;
  int rc = pam_setcred(pamh, PAM_ESTABLISH_CRED);
  /* After a key, the auth stack never ran and its modules may have no
   * credentials to give (all of them ignoring is a failure to libpam): sshd
   * then goes on, and fails only when PAM did the authenticating. */
  if (rc != PAM_SUCCESS && pam_authenticated) {
    *why = pam_strerror(pamh, rc);
    return -1;
  }
  rc = pam_open_session(pamh, 0);
  if (rc != PAM_SUCCESS) {
    *why = pam_strerror(pamh, rc);
    pam_setcred(pamh, PAM_DELETE_CRED);
    return -1;
  }
  return 0;
}

char **pam_environment(void) { return pamh != NULL ? pam_getenvlist(pamh) : NULL; }

void pam_finish(int session_open) {
  if (pamh == NULL) return;
  conv_mode = CONV_COLLECT;
  int rc = PAM_SUCCESS;
  if (session_open) {
    rc = pam_close_session(pamh, 0);
    if (rc != PAM_SUCCESS) fprintf(stderr, "mpsshd-user-helper: pam_close_session: %s\n", pam_strerror(pamh, rc));
    rc = pam_setcred(pamh, PAM_DELETE_CRED);
    if (rc != PAM_SUCCESS) fprintf(stderr, "mpsshd-user-helper: pam_setcred: %s\n", pam_strerror(pamh, rc));
  }
  pam_end(pamh, rc);
  pamh = NULL;
}

#else /* !HAVE_PAM: built without libpam; the daemon is told and uses its own checks. */

int pam_begin(const char *service, const char *user, const char *rhost) {
  (void)service;
  (void)user;
  (void)rhost;
  return -1;
}
int pam_active(void) { return 0; }
const char *pam_take_info(void) { return ""; }
void pam_clear_info(void) {}
enum pam_result pam_account(const char **why) {
  *why = "PAM not available";
  return PAMR_DENIED;
}
enum pam_result pam_auth(const char *password, int permit_empty, int may_change, const char **why) {
  (void)password;
  (void)permit_empty;
  (void)may_change;
  *why = "PAM not available";
  return PAMR_FAILED;
}
int pam_session_open(const char **why) {
  *why = "PAM not available";
  return -1;
}
char **pam_environment(void) { return NULL; }
void pam_finish(int session_open) { (void)session_open; }

#endif
