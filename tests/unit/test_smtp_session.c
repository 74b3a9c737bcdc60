/*
 * test_smtp_session.c — unit tests of src/smtpd/smtp_session.c as
 * table-driven transcripts: each file in tests/unit/transcripts/smtp_session/
 * (one cmocka test per file, named after it) is a conversation between a
 * client and the session, fed through a fake transport (replies collected
 * in a buffer) and a fake cluster (the ENQUEUE is captured and decoded; the
 * transcript answers it as the cluster would). The few checks a transcript
 * cannot express stay as C tests at the end of this file.
 *
 * Owns the fakes, the transcript runner and its grammar; not the session.
 * Fails (cmocka) with the transcript's name, the step number and its line
 * on the first step that does not hold, or on a step it cannot read.
 *
 * A transcript is one step a line; blank lines and lines starting with '#'
 * are not steps. TEXT below takes the escapes \r \n \t \0 \\ \xHH and
 * {c*N} (the octet c N times); a line may not end in a space or a tab
 * (write \x20). *N repeats a line N times.
 *
 *   conf KEY N          before any other step: tls_available, policy_allowed,
 *                       max_rcpt, max_size, hop_max, submission,
 *                       implicit_tls; "conf rcpt_known fake"
 *                       installs the local-user hook (nobody@ is unknown,
 *                       broken@ fails the lookup, every address is recorded);
 *                       "conf auth fake" the authentication service of
 *                       fa_start() below (alice / secret); "conf
 *                       sender_owned fake" the sender-login hook (a
 *                       login owns <> and LOGIN@any domain)
 *   C: TEXT  C*N: TEXT  a client line, CRLF appended
 *   R: TEXT  R*N: TEXT  client octets as they are
 *                       consecutive C:/R: lines are one write; any other step
 *                       (or "send") hands them to the session first
 *   send [bytewise]     send the octets collected so far now (bytewise: one
 *                       write per octet)
 *   S: TEXT  S*N: TEXT  the next reply line is exactly TEXT; TEXT ending in
 *                       "..." is a prefix
 *   S+: CODE            the next reply is one whole reply of CODE, single
 *                       or multi-line, its text unchecked
 *   nothing             no reply is waiting
 *   codes enhanced      from here on every reply read must carry an
 *                       enhanced status code of its class (RFC 3463)
 *   propose hold|sync|toobig|failed   what env->propose does from now on:
 *                       keep the proposal in flight (the default), answer
 *                       "committed" from inside propose, or refuse at once
 *                       with SMTP_PROPOSE_E_TOOBIG / SMTP_PROPOSE_E_FAILED
 *   answer commit|duplicate|noquorum   smtp_session_proposed() for the
 *   answer refused KIND            proposal in flight; KIND is a spool
 *                       error (FULL NOMEM HOPS INVAL BADNAME IO)
 *   starttls fail       env->starttls fails from now on
 *   alias fail          env->alias_has fails from now on
 *   disk low|ok         env->storage_low answers 1 (under the reserve) or 0
 *   timeout | shutdown | disconnect   the server's receive timer fires, it
 *                       stops, or the client goes away (the session freed)
 *   check state NAME    smtp_session_state() (CONNECTED GREETED ... CLOSED)
 *   check COUNTER N     closed proposals accepted discarded starttls aborts
 *                       logins writes
 *                       (writes: env->write calls since the last client
 *                       write or event), buffered (held-back octets)
 *   check reject KIND N SMTP_EV_REJECTED events of KIND (RELAY, SIZE, ...)
 *   check asked A,B     the addresses the rcpt_known hook was asked, in order
 *   enqueue KEY VALUE   the last proposed ENQUEUE: sender, rcpts (A,B in
 *                       order), hops, ret (NONE HDRS FULL), envid, login,
 *                       notify I
 *                       (FAILURE,DELAY or 0), orcpt I; body-has, body-lacks,
 *                       body-ends TEXT. "" is the empty value.
 *
 * At the end the collected octets are sent and every reply must have been
 * read.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/cmd.h"
#include "spool/codec/ctlname.h"
#include "spool/codec/err.h"
#include "spool/store/spool.h"
#include "src/smtpd/smtp_session.h"

#define NOW_MS 1709214307890ull /* 2024-02-29T13:45:07.890Z */
#define TRANSCRIPT_DIR "tests/unit/transcripts/smtp_session"
#define ASKED_MAX 8

/* ---- the fake server and cluster ---- */

struct fake {
	struct smtp_session *s;
	char out[1 << 16];
	size_t out_len, out_read;
	int writes;
	int closed;
	int starttls_calls, starttls_rc;
	int proposals, propose_rc;
	int answer_sync; /* answer inside propose: applied, status 0 */
	uint8_t *cmd;
	size_t cmd_len;
	uint32_t seq;
	int alias_fails;
	int disk_low;
	int accepted, discarded;
	uint64_t accepted_octets;
	int rejects[SMTP_REJ__COUNT];
	char asked[ASKED_MAX][256]; /* addresses given to rcpt_known */
	int nasked;
	struct smtp_auth_ops auth; /* "conf auth fake" */
	int auth_step;		   /* LOGIN: 1 = user asked, 2 = password */
	int auth_aborts, logins;
	char auth_user[64];
	char auth_login[64];
};

static void f_write(void *arg, const char *p, size_t n)
{
	struct fake *f = arg;

	assert_true(f->out_len + n < sizeof(f->out));
	memcpy(f->out + f->out_len, p, n);
	f->out_len += n;
	f->writes++;
}

static int f_propose(void *arg, const void *cmd, size_t len)
{
	struct fake *f = arg;

	f->proposals++;
	if (f->propose_rc != 0)
		return f->propose_rc;
	free(f->cmd);
	f->cmd = malloc(len);
	assert_non_null(f->cmd);
	memcpy(f->cmd, cmd, len);
	f->cmd_len = len;
	if (f->answer_sync)
		smtp_session_proposed(f->s, 1, 0, 0);
	return 0;
}

static int f_starttls(void *arg)
{
	struct fake *f = arg;

	f->starttls_calls++;
	return f->starttls_rc;
}

static void f_close(void *arg)
{
	struct fake *f = arg;

	f->closed++;
}

static int f_alias_has(void *arg, const char *domain)
{
	struct fake *f = arg;

	if (f->alias_fails)
		return SPOOL_E_IO;
	return strcmp(domain, "alias.test") == 0;
}

static int f_storage_low(void *arg)
{
	return ((struct fake *)arg)->disk_low;
}

static uint64_t f_now(void *arg)
{
	return NOW_MS;
}

static uint32_t f_seq(void *arg)
{
	struct fake *f = arg;

	return ++f->seq;
}

static void f_event(void *arg, int ev, uint64_t n)
{
	struct fake *f = arg;

	if (ev == SMTP_EV_ACCEPTED) {
		f->accepted++;
		f->accepted_octets += n;
	} else if (ev == SMTP_EV_REJECTED) {
		assert_true(n < SMTP_REJ__COUNT);
		f->rejects[n]++;
	} else if (ev == SMTP_EV_DISCARDED) {
		f->discarded++;
	} else if (ev == SMTP_EV_LOGIN) {
		f->logins++;
	}
}

/* rcpt_known hook ("conf rcpt_known fake"): "nobody" is unknown, "broken"
 * fails the lookup; every address asked is recorded. */
static int f_rcpt_known(void *arg, const char *addr)
{
	struct fake *f = arg;

	if (f->nasked < ASKED_MAX)
		snprintf(f->asked[f->nasked++], sizeof(f->asked[0]), "%s",
			 addr);
	if (strncmp(addr, "nobody@", 7) == 0)
		return 0;
	if (strncmp(addr, "broken@", 7) == 0)
		return SPOOL_E_IO;
	return 1;
}

/* ---- the fake authentication service ("conf auth fake") ----
 * PLAIN "\0alice\0secret" (AGFsaWNlAHNlY3JldA==) and LOGIN alice
 * (YWxpY2U=) / secret (c2VjcmV0) succeed, any other credentials fail;
 * a response with a character outside base64 is refused as such;
 * mechanism TEMP fails the service. */

#define B64_CHARS                                                              \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

static int fa_not_b64(const char *resp)
{
	return resp[strspn(resp, B64_CHARS)] != '\0';
}

#define FAKE_PLAIN_OK "AGFsaWNlAHNlY3JldA=="

static const char *fa_mechs(void *arg)
{
	return "PLAIN LOGIN";
}

static int fa_plain(struct fake *f, const char *resp)
{
	if (fa_not_b64(resp))
		return SMTP_AUTH_E_SYNTAX;
	if (strcmp(resp, FAKE_PLAIN_OK) != 0)
		return SMTP_AUTH_E_FAIL;
	snprintf(f->auth_user, sizeof(f->auth_user), "alice");
	return SMTP_AUTH_OK;
}

static int fa_start(void *arg, const char *mech, const char *initial,
		    const char **out)
{
	struct fake *f = arg;

	*out = NULL;
	f->auth_step = 0;
	if (strcmp(mech, "TEMP") == 0)
		return SMTP_AUTH_E_TEMP;
	if (strcmp(mech, "PLAIN") == 0) {
		if (initial == NULL) {
			*out = "";
			f->auth_step = 1;
			return SMTP_AUTH_CONTINUE;
		}
		return fa_plain(f, initial);
	}
	if (strcmp(mech, "LOGIN") != 0)
		return SMTP_AUTH_E_MECH;
	f->auth_step = 2;
	*out = "VXNlcm5hbWU6"; /* Username: */
	return SMTP_AUTH_CONTINUE;
}

static int fa_step(void *arg, const char *resp, const char **out)
{
	struct fake *f = arg;

	*out = NULL;
	if (f->auth_step == 1)
		return fa_plain(f, resp);
	if (fa_not_b64(resp))
		return SMTP_AUTH_E_SYNTAX;
	if (f->auth_step == 2) {
		snprintf(f->auth_login, sizeof(f->auth_login), "%s", resp);
		f->auth_step = 3;
		*out = "UGFzc3dvcmQ6"; /* Password: */
		return SMTP_AUTH_CONTINUE;
	}
	if (f->auth_step != 3 || strcmp(f->auth_login, "YWxpY2U=") != 0 ||
	    strcmp(resp, "c2VjcmV0") != 0)
		return SMTP_AUTH_E_FAIL;
	snprintf(f->auth_user, sizeof(f->auth_user), "alice");
	return SMTP_AUTH_OK;
}

static const char *fa_user(void *arg)
{
	return ((struct fake *)arg)->auth_user;
}

static void fa_abort(void *arg)
{
	struct fake *f = arg;

	f->auth_aborts++;
	f->auth_step = 0;
}

static struct smtp_session_conf default_conf(void)
{
	struct smtp_session_conf c = {
	    .node_name = "NODE1",
	    .node_domain = "node1.cluster.test",
	    .cluster_domain = "cluster.test",
	    .client_ip = "192.0.2.10",
	    .node_id = 7,
	    .max_size = 1000,
	    .max_rcpt = 3,
	    .hop_max = 5,
	    .policy_allowed = 0,
	    .tls_available = 1,
	};
	return c;
}

/* sender_owned hook ("conf sender_owned fake"): a login owns the null
 * sender and LOGIN@anything, nothing else. */
static int f_sender_owned(void *arg, const char *login, const char *sender)
{
	size_t n = strlen(login);

	(void)arg;
	return sender[0] == '\0' ||
	       (strncmp(sender, login, n) == 0 && sender[n] == '@');
}

/* A started session with conf c (rcpt_arg, if used, becomes the fake). */
static struct fake *open_with(const struct smtp_session_conf *c)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct smtp_session_conf conf = *c;
	struct smtp_session_env env = {
	    .write = f_write,
	    .propose = f_propose,
	    .starttls = f_starttls,
	    .close = f_close,
	    .alias_has = f_alias_has,
	    .now_ms = f_now,
	    .next_seq = f_seq,
	    .event = f_event,
	    .storage_low = f_storage_low,
	};

	assert_non_null(f);
	env.arg = f;
	if (conf.rcpt_known != NULL)
		conf.rcpt_arg = f;
	if (conf.auth != NULL) { /* a marker: the fake service of this f */
		f->auth = (struct smtp_auth_ops){
		    .arg = f,
		    .mechs = fa_mechs,
		    .start = fa_start,
		    .step = fa_step,
		    .user = fa_user,
		    .abort = fa_abort,
		};
		conf.auth = &f->auth;
	}
	f->s = smtp_session_new(&conf, &env);
	assert_non_null(f->s);
	smtp_session_start(f->s);
	return f;
}

static void done(struct fake *f)
{
	if (f == NULL)
		return;
	smtp_session_free(f->s);
	free(f->cmd);
	free(f);
}

/* The next reply line (without CRLF) into line; 0 when none is left. */
static int next_line(struct fake *f, char *line, size_t size)
{
	const char *p = f->out + f->out_read;
	size_t avail = f->out_len - f->out_read;
	const char *e = memchr(p, '\n', avail);
	size_t n;

	if (e == NULL)
		return 0;
	assert_true(e > p && e[-1] == '\r');
	n = (size_t)(e - p) - 1;
	assert_true(n < size);
	memcpy(line, p, n);
	line[n] = '\0';
	f->out_read += (size_t)(e - p) + 1;
	return 1;
}

/* 1 if line is "ddd d.d.d ..." with a class matching the reply code. */
static int has_enhanced_code(const char *line)
{
	int a, b, c;
	unsigned d1, d2, d3;
	char sep;

	if (sscanf(line, "%1d%1d%1d%c%u.%u.%u", &a, &b, &c, &sep, &d1, &d2,
		   &d3) != 7)
		return 0;
	return (sep == ' ' || sep == '-') && (int)d1 == a && d2 < 1000 &&
	       d3 < 1000;
}

/* ---- the transcript runner ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* One transcript being run (the cmocka state of its test). */
struct tr {
	char name[256]; /* the file name without ".txt" */
	char path[PATH_MAX];
	struct smtp_session_conf conf;
	struct fake *f;
	int started;
	int gone; /* "disconnect": the session is freed */
	int enhanced;
	struct buf in; /* client octets not sent yet */
	struct buf text;
	struct buf arg;	      /* the step's TEXT, unescaped */
	struct spool_cmd cmd; /* decoded for an enqueue check */
	int cmd_live;
	int step, lineno;
	char why[2048]; /* scratch for a failure message's argument */
};

/* Fail the transcript at the current step (cmocka jumps out). */
#define tr_fail(t, ...)                                                        \
	do {                                                                   \
		char tr_msg_[8192];                                            \
		snprintf(tr_msg_, sizeof(tr_msg_), __VA_ARGS__);               \
		fail_msg("transcript %s, step %d (line %d): %s", (t)->name,    \
			 (t)->step, (t)->lineno, tr_msg_);                     \
	} while (0)

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode TEXT's escapes into out (reset first). 0, or -1 if malformed. */
static int unescape(const char *s, struct buf *out)
{
	out->len = 0;
	buf_add(out, "", 0);
	while (*s != '\0') {
		char c = *s++;

		if (c == '{') {
			char *end;
			unsigned long n;

			if (s[0] == '\0' || s[1] != '*')
				return -1;
			c = s[0];
			n = strtoul(s + 2, &end, 10);
			if (end == s + 2 || *end != '}' || n > 1000000)
				return -1;
			for (unsigned long i = 0; i < n; i++)
				buf_add(out, &c, 1);
			s = end + 1;
			continue;
		}
		if (c != '\\') {
			buf_add(out, &c, 1);
			continue;
		}
		switch (*s++) {
		case 'r':
			c = '\r';
			break;
		case 'n':
			c = '\n';
			break;
		case 't':
			c = '\t';
			break;
		case '0':
			c = '\0';
			break;
		case '\\':
			c = '\\';
			break;
		case '{':
			c = '{';
			break;
		case 'x':
			if (hexval(s[0]) < 0 || hexval(s[1]) < 0)
				return -1;
			c = (char)(hexval(s[0]) * 16 + hexval(s[1]));
			s += 2;
			break;
		default:
			return -1;
		}
		buf_add(out, &c, 1);
	}
	return 0;
}

static void tr_start(struct tr *t)
{
	if (t->started)
		return;
	t->f = open_with(&t->conf);
	t->started = 1;
}

static struct smtp_session *tr_session(struct tr *t)
{
	tr_start(t);
	if (t->gone)
		tr_fail(t, "the session was disconnected");
	return t->f->s;
}

/* Hand the collected client octets to the session. */
static void tr_send(struct tr *t, int bytewise)
{
	struct smtp_session *s;

	if (t->in.len == 0)
		return;
	s = tr_session(t);
	t->f->writes = 0;
	if (bytewise) {
		for (size_t i = 0; i < t->in.len; i++)
			smtp_session_input(s, t->in.p + i, 1);
	} else {
		smtp_session_input(s, t->in.p, t->in.len);
	}
	t->in.len = 0;
}

/* Read the next reply line for a step; applies "codes enhanced". */
static void tr_reply(struct tr *t, char *line, size_t size, const char *want)
{
	if (!next_line(t->f, line, size))
		tr_fail(t, "no reply, wanted \"%s\"", want);
	if (t->enhanced && !has_enhanced_code(line))
		tr_fail(t, "no enhanced code: \"%s\"", line);
}

/* S: the next reply line is want (a prefix if it ends in "..."). */
static void tr_expect(struct tr *t, const struct buf *want)
{
	char line[2048];
	size_t n = want->len;
	int prefix = n >= 3 && memcmp(want->p + n - 3, "...", 3) == 0;

	tr_reply(t, line, sizeof(line), want->p);
	if (prefix)
		n -= 3;
	if (strlen(line) < n || memcmp(line, want->p, n) != 0 ||
	    (!prefix && strlen(line) != n))
		tr_fail(t, "got \"%s\", wanted \"%s\"", line, want->p);
}

/* S+: one whole reply of code (the lines "code-..." then "code ..."). */
static void tr_expect_reply(struct tr *t, const char *code)
{
	char line[2048];

	if (strlen(code) != 3)
		tr_fail(t, "S+ wants a 3-digit code, not \"%s\"", code);
	do {
		tr_reply(t, line, sizeof(line), code);
		if (memcmp(line, code, 3) != 0 ||
		    (line[3] != '-' && line[3] != ' '))
			tr_fail(t, "got \"%s\", wanted a %s reply", line, code);
	} while (line[3] == '-');
}

static const char *const reject_names[SMTP_REJ__COUNT] = {
    [SMTP_REJ_LIMIT] = "LIMIT",	      [SMTP_REJ_SYNTAX] = "SYNTAX",
    [SMTP_REJ_RELAY] = "RELAY",	      [SMTP_REJ_RCPTS] = "RCPTS",
    [SMTP_REJ_SIZE] = "SIZE",	      [SMTP_REJ_BARE] = "BARE",
    [SMTP_REJ_LONG] = "LONG",	      [SMTP_REJ_HOPS] = "HOPS",
    [SMTP_REJ_NOQUORUM] = "NOQUORUM", [SMTP_REJ_FULL] = "FULL",
    [SMTP_REJ_SPOOL] = "SPOOL",	      [SMTP_REJ_TIMEOUT] = "TIMEOUT",
    [SMTP_REJ_ERRORS] = "ERRORS",     [SMTP_REJ_TLS] = "TLS",
    [SMTP_REJ_USER] = "USER",	      [SMTP_REJ_DISABLED] = "DISABLED",
    [SMTP_REJ_NUL] = "NUL",	      [SMTP_REJ_AUTH] = "AUTH",
    [SMTP_REJ_SENDER] = "SENDER",
};

static const struct {
	const char *name;
	int err;
} spool_errors[] = {
    {"FULL", SPOOL_E_FULL},	  {"NOMEM", SPOOL_E_NOMEM},
    {"HOPS", SPOOL_E_HOPS},	  {"INVAL", SPOOL_E_INVAL},
    {"BADNAME", SPOOL_E_BADNAME}, {"IO", SPOOL_E_IO},
};

/* A decimal argument of a step. */
static long tr_num(struct tr *t, const char *a)
{
	char *end;
	long v;

	if (a == NULL)
		tr_fail(t, "a number is missing");
	v = strtol(a, &end, 10);
	if (end == a || *end != '\0')
		tr_fail(t, "\"%s\" is not a number", a);
	return v;
}

/* "conf auth fake" sets conf.auth to this; open_with() replaces it. */
static const struct smtp_auth_ops fake_auth_marker;

static void tr_conf(struct tr *t, const char *key, const char *val)
{
	if (t->started)
		tr_fail(t, "conf after the session started");
	if (key == NULL || val == NULL)
		tr_fail(t, "conf KEY VALUE");
	if (strcmp(key, "rcpt_known") == 0 && strcmp(val, "fake") == 0)
		t->conf.rcpt_known = f_rcpt_known;
	else if (strcmp(key, "sender_owned") == 0 && strcmp(val, "fake") == 0)
		t->conf.sender_owned = f_sender_owned;
	else if (strcmp(key, "tls_available") == 0)
		t->conf.tls_available = (int)tr_num(t, val);
	else if (strcmp(key, "auth") == 0 && strcmp(val, "fake") == 0)
		t->conf.auth = &fake_auth_marker;
	else if (strcmp(key, "submission") == 0)
		t->conf.submission = (int)tr_num(t, val);
	else if (strcmp(key, "implicit_tls") == 0)
		t->conf.implicit_tls = (int)tr_num(t, val);
	else if (strcmp(key, "policy_allowed") == 0)
		t->conf.policy_allowed = (int)tr_num(t, val);
	else if (strcmp(key, "max_rcpt") == 0)
		t->conf.max_rcpt = (uint32_t)tr_num(t, val);
	else if (strcmp(key, "max_size") == 0)
		t->conf.max_size = (uint64_t)tr_num(t, val);
	else if (strcmp(key, "hop_max") == 0)
		t->conf.hop_max = (uint32_t)tr_num(t, val);
	else
		tr_fail(t, "unknown conf \"%s\"", key);
}

static void tr_answer(struct tr *t, const char *how, const char *kind)
{
	struct smtp_session *s = tr_session(t);

	if (smtp_session_state(s) != SMTP_S_QUEUEING)
		tr_fail(t, "answer, but no proposal is in flight (state %s)",
			smtp_state_name(smtp_session_state(s)));
	t->f->writes = 0;
	if (how != NULL && strcmp(how, "commit") == 0) {
		smtp_session_proposed(s, 1, 0, 0);
		return;
	}
	if (how != NULL && strcmp(how, "duplicate") == 0) {
		smtp_session_proposed(s, 1, 0, RES_F_DUPLICATE);
		return;
	}
	if (how != NULL && strcmp(how, "noquorum") == 0) {
		smtp_session_proposed(s, 0, 0, 0);
		return;
	}
	if (how != NULL && strcmp(how, "refused") == 0 && kind != NULL) {
		for (size_t i = 0;
		     i < sizeof(spool_errors) / sizeof(spool_errors[0]); i++) {
			if (strcmp(spool_errors[i].name, kind) == 0) {
				smtp_session_proposed(s, 1, spool_errors[i].err,
						      0);
				return;
			}
		}
	}
	tr_fail(t, "answer commit|duplicate|noquorum|refused KIND");
}

static void tr_check(struct tr *t, const char *key, const char *a,
		     const char *b)
{
	struct fake *f = t->f;
	long got = 0, want;

	if (key == NULL || a == NULL)
		tr_fail(t, "check KEY VALUE");
	if (strcmp(key, "state") == 0) {
		const char *st = smtp_state_name(smtp_session_state(f->s));

		if (t->gone || strcmp(st, a) != 0)
			tr_fail(t, "state %s, wanted %s",
				t->gone ? "(disconnected)" : st, a);
		return;
	}
	if (strcmp(key, "asked") == 0) {
		struct buf list = {0};

		for (int i = 0; i < f->nasked; i++) {
			if (i > 0)
				buf_add(&list, ",", 1);
			buf_add(&list, f->asked[i], strlen(f->asked[i]));
		}
		buf_add(&list, "", 0);
		if (strcmp(list.p, strcmp(a, "\"\"") == 0 ? "" : a) != 0) {
			snprintf(t->why, sizeof(t->why), "%s", list.p);
			free(list.p);
			tr_fail(t, "asked \"%.2000s\", wanted \"%s\"", t->why,
				a);
		}
		free(list.p);
		return;
	}
	if (strcmp(key, "reject") == 0) {
		for (int i = 0; i < SMTP_REJ__COUNT; i++) {
			if (strcmp(reject_names[i], a) == 0) {
				want = tr_num(t, b);
				if (f->rejects[i] != want)
					tr_fail(t, "reject %s %d, wanted %ld",
						a, f->rejects[i], want);
				return;
			}
		}
		tr_fail(t, "unknown reject kind \"%s\"", a);
	}
	want = tr_num(t, a);
	if (strcmp(key, "closed") == 0)
		got = f->closed;
	else if (strcmp(key, "proposals") == 0)
		got = f->proposals;
	else if (strcmp(key, "accepted") == 0)
		got = f->accepted;
	else if (strcmp(key, "discarded") == 0)
		got = f->discarded;
	else if (strcmp(key, "starttls") == 0)
		got = f->starttls_calls;
	else if (strcmp(key, "aborts") == 0)
		got = f->auth_aborts;
	else if (strcmp(key, "logins") == 0)
		got = f->logins;
	else if (strcmp(key, "writes") == 0)
		got = f->writes;
	else if (strcmp(key, "buffered") == 0 && !t->gone)
		got = (long)smtp_session_buffered(f->s);
	else
		tr_fail(t, "unknown check \"%s\"", key);
	if (got != want)
		tr_fail(t, "%s %ld, wanted %ld", key, got, want);
}

/* The value of an enqueue check: "" is empty, else TEXT with escapes. */
static void tr_value(struct tr *t, const char *v, struct buf *out)
{
	if (v == NULL)
		tr_fail(t, "a value is missing");
	if (strcmp(v, "\"\"") == 0)
		v = "";
	if (unescape(v, out) != 0)
		tr_fail(t, "bad escape in \"%s\"", v);
}

static void tr_enqueue_field(struct tr *t, const struct spool_cmd *cmd,
			     const char *key, const char *rest)
{
	const struct spool_cmd_enqueue *e = &cmd->u.enqueue;
	const char *body = e->body;
	const struct buf *v = &t->arg; /* the value, unescaped */
	char got[4096] = "";
	int ok;

	if (strcmp(key, "notify") == 0 || strcmp(key, "orcpt") == 0) {
		char *end;
		unsigned long i = strtoul(rest, &end, 10);

		if (end == rest || *end != ' ' || i >= e->rec.nrcpt)
			tr_fail(t, "enqueue %s INDEX VALUE (%u recipients)",
				key, e->rec.nrcpt);
		rest = end + 1;
		if (strcmp(key, "orcpt") == 0) {
			snprintf(got, sizeof(got), "%s", e->rec.rcpt[i].orcpt);
		} else {
			uint8_t n = e->rec.rcpt[i].notify;

			snprintf(got, sizeof(got), "%s%s%s%s%s",
				 n & DSN_NOTIFY_NEVER ? "NEVER," : "",
				 n & DSN_NOTIFY_SUCCESS ? "SUCCESS," : "",
				 n & DSN_NOTIFY_FAILURE ? "FAILURE," : "",
				 n & DSN_NOTIFY_DELAY ? "DELAY," : "",
				 n == 0 ? "0," : "");
			got[strlen(got) - 1] = '\0';
		}
	} else if (strcmp(key, "sender") == 0) {
		snprintf(got, sizeof(got), "%s", e->rec.sender);
	} else if (strcmp(key, "envid") == 0) {
		snprintf(got, sizeof(got), "%s", e->rec.envid);
	} else if (strcmp(key, "login") == 0) {
		snprintf(got, sizeof(got), "%s",
			 e->rec.login != NULL ? e->rec.login : "");
	} else if (strcmp(key, "hops") == 0) {
		snprintf(got, sizeof(got), "%u", (unsigned)e->rec.hops);
	} else if (strcmp(key, "ret") == 0) {
		snprintf(got, sizeof(got), "%s",
			 e->rec.ret == DSN_RET_HDRS   ? "HDRS"
			 : e->rec.ret == DSN_RET_FULL ? "FULL"
						      : "NONE");
	} else if (strcmp(key, "rcpts") == 0) {
		for (uint32_t i = 0; i < e->rec.nrcpt; i++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got),
				 "%s%s", i ? "," : "", e->rec.rcpt[i].addr);
	} else if (strncmp(key, "body-", 5) == 0) {
		tr_value(t, rest, &t->arg);
		if (strcmp(key, "body-has") == 0)
			ok = memmem(body, e->body_len, v->p, v->len) != NULL;
		else if (strcmp(key, "body-lacks") == 0)
			ok = memmem(body, e->body_len, v->p, v->len) == NULL;
		else if (strcmp(key, "body-ends") == 0)
			ok = e->body_len >= v->len &&
			     memcmp(body + e->body_len - v->len, v->p,
				    v->len) == 0;
		else
			ok = -1;
		if (ok < 0)
			tr_fail(t, "unknown enqueue check \"%s\"", key);
		if (!ok)
			tr_fail(t,
				"%s \"%s\" does not hold for the body "
				"\"%.*s\"",
				key, rest, (int)e->body_len, body);
		return;
	} else {
		tr_fail(t, "unknown enqueue check \"%s\"", key);
	}
	tr_value(t, rest, &t->arg);
	if (strcmp(got, v->p) != 0)
		tr_fail(t, "enqueue %s \"%.2000s\", wanted \"%.2000s\"", key,
			got, v->p);
}

/* enqueue KEY VALUE: a field of the last proposed ENQUEUE. */
static void tr_enqueue(struct tr *t, const char *key, const char *rest)
{
	if (key == NULL || rest == NULL)
		tr_fail(t, "enqueue KEY VALUE");
	if (t->f->cmd == NULL)
		tr_fail(t, "nothing was proposed");
	if (spool_cmd_decode(&t->cmd, t->f->cmd, t->f->cmd_len) != 0)
		tr_fail(t, "the proposed command does not decode");
	t->cmd_live = 1; /* freed here, or by tr_teardown after a failure */
	if (t->cmd.type != CMD_ENQUEUE)
		tr_fail(t, "the proposed command is not an ENQUEUE");
	tr_enqueue_field(t, &t->cmd, key, rest);
	spool_cmd_free(&t->cmd);
	t->cmd_live = 0;
}

/* A directive: its first four words, and rest = the line after the
 * second word (an enqueue check's value, spaces and all). */
static void tr_directive(struct tr *t, char *line)
{
	char words[1024], *w[4] = {NULL, NULL, NULL, NULL}, *save = NULL;
	const char *rest = strchr(line, ' ');
	struct fake *f;

	if (rest != NULL)
		rest = strchr(rest + 1, ' ');
	if (rest != NULL)
		rest++;
	snprintf(words, sizeof(words), "%s", line);
	w[0] = strtok_r(words, " ", &save);
	for (int i = 1; i < 4 && w[i - 1] != NULL; i++)
		w[i] = strtok_r(NULL, " ", &save);
	if (w[0] == NULL)
		tr_fail(t, "an empty step");
	if (strcmp(w[0], "conf") == 0) {
		tr_conf(t, w[1], w[2]);
		return;
	}
	if (strcmp(w[0], "send") == 0) {
		if (w[1] != NULL && strcmp(w[1], "bytewise") != 0)
			tr_fail(t, "send [bytewise]");
		tr_start(t);
		tr_send(t, w[1] != NULL);
		return;
	}
	tr_start(t);
	tr_send(t, 0);
	f = t->f;
	if (strcmp(w[0], "enqueue") == 0) {
		tr_enqueue(t, w[1], rest);
	} else if (strcmp(w[0], "nothing") == 0) {
		char got[2048];

		if (next_line(f, got, sizeof(got)))
			tr_fail(t, "unexpected reply \"%s\"", got);
		if (f->out_read < f->out_len)
			tr_fail(t, "a reply without its CRLF");
	} else if (strcmp(w[0], "codes") == 0 && w[1] != NULL &&
		   strcmp(w[1], "enhanced") == 0) {
		t->enhanced = 1;
	} else if (strcmp(w[0], "check") == 0) {
		tr_check(t, w[1], w[2], w[3]);
	} else if (strcmp(w[0], "answer") == 0) {
		tr_answer(t, w[1], w[2]);
	} else if (strcmp(w[0], "propose") == 0 && w[1] != NULL) {
		f->answer_sync = strcmp(w[1], "sync") == 0;
		if (strcmp(w[1], "toobig") == 0)
			f->propose_rc = SMTP_PROPOSE_E_TOOBIG;
		else if (strcmp(w[1], "failed") == 0)
			f->propose_rc = SMTP_PROPOSE_E_FAILED;
		else if (strcmp(w[1], "hold") == 0 || f->answer_sync)
			f->propose_rc = 0;
		else
			tr_fail(t, "propose hold|sync|toobig|failed");
	} else if (strcmp(w[0], "starttls") == 0 && w[1] != NULL &&
		   strcmp(w[1], "fail") == 0) {
		f->starttls_rc = -1;
	} else if (strcmp(w[0], "alias") == 0 && w[1] != NULL &&
		   strcmp(w[1], "fail") == 0) {
		f->alias_fails = 1;
	} else if (strcmp(w[0], "disk") == 0 && w[1] != NULL &&
		   (strcmp(w[1], "low") == 0 || strcmp(w[1], "ok") == 0)) {
		f->disk_low = strcmp(w[1], "low") == 0;
	} else if (strcmp(w[0], "timeout") == 0) {
		f->writes = 0;
		smtp_session_timeout(tr_session(t));
	} else if (strcmp(w[0], "shutdown") == 0) {
		f->writes = 0;
		smtp_session_shutdown(tr_session(t));
	} else if (strcmp(w[0], "disconnect") == 0) {
		smtp_session_free(tr_session(t));
		f->s = NULL;
		t->gone = 1;
	} else {
		tr_fail(t, "unknown step \"%s\"", w[0]);
	}
}

/* "C*30: x" -> kind 'C', count 30, text "x". 0, or -1 if not such a line. */
static int tr_line_kind(const char *line, char *kind, long *count,
			const char **text)
{
	const char *p = line + 1;

	if (line[0] != 'C' && line[0] != 'R' && line[0] != 'S')
		return -1;
	*kind = line[0];
	*count = 1;
	if (*p == '*') {
		char *end;

		*count = strtol(p + 1, &end, 10);
		if (end == p + 1 || *count < 1)
			return -1;
		p = end;
	} else if (*p == '+' && line[0] == 'S') {
		*kind = '+';
		p++;
	}
	if (p[0] != ':' || (p[1] != ' ' && p[1] != '\0'))
		return -1;
	*text = p[1] ? p + 2 : p + 1;
	return 0;
}

/* One line of the transcript. */
static void tr_step(struct tr *t, char *line)
{
	const char *arg;
	char kind;
	long count;

	if (tr_line_kind(line, &kind, &count, &arg) != 0) {
		tr_directive(t, line);
		return;
	}
	if (kind == '+') {
		tr_start(t);
		tr_send(t, 0);
		tr_expect_reply(t, arg);
		return;
	}
	if (unescape(arg, &t->arg) != 0)
		tr_fail(t, "bad escape in \"%s\"", arg);
	for (long i = 0; i < count; i++) {
		if (kind == 'S') {
			tr_start(t);
			tr_send(t, 0);
			tr_expect(t, &t->arg);
		} else {
			buf_add(&t->in, t->arg.p, t->arg.len);
			if (kind == 'C')
				buf_add(&t->in, "\r\n", 2);
		}
	}
}

static void run_transcript(void **state)
{
	struct tr *t = *state;
	FILE *fp = fopen(t->path, "r");
	char chunk[4096], *line, *save = NULL;
	size_t n;

	if (fp == NULL)
		fail_msg("transcript %s: cannot open %s", t->name, t->path);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&t->text, chunk, n);
	fclose(fp);
	if (t->text.len == 0)
		fail_msg("transcript %s: empty", t->name);
	t->conf = default_conf();
	/* strtok_r would merge empty lines and lose the line numbers */
	for (line = t->text.p; line != NULL; line = save) {
		size_t len;

		save = strchr(line, '\n');
		if (save != NULL)
			*save++ = '\0';
		t->lineno++;
		len = strlen(line);
		if (len == 0 || line[0] == '#')
			continue;
		t->step++;
		if (line[len - 1] == ' ' || line[len - 1] == '\t')
			tr_fail(t, "the line ends in a blank (write \\x20)");
		tr_step(t, line);
	}
	t->step++; /* the end: everything sent, every reply read */
	tr_start(t);
	if (!t->gone)
		tr_send(t, 0);
	else if (t->in.len > 0)
		tr_fail(t, "at the end: octets after the disconnect");
	if (next_line(t->f, chunk, sizeof(chunk)))
		tr_fail(t, "at the end: unexpected reply \"%.2000s\"", chunk);
	if (t->f->out_read < t->f->out_len)
		tr_fail(t, "at the end: a reply without its CRLF");
}

static int tr_teardown(void **state)
{
	struct tr *t = *state;

	if (t->cmd_live)
		spool_cmd_free(&t->cmd);
	t->cmd_live = 0;
	if (t->f != NULL && t->gone)
		t->f->s = NULL;
	done(t->f);
	t->f = NULL;
	t->started = t->gone = t->enhanced = 0;
	t->step = t->lineno = 0;
	free(t->in.p);
	free(t->text.p);
	free(t->arg.p);
	memset(&t->in, 0, sizeof(t->in));
	memset(&t->text, 0, sizeof(t->text));
	memset(&t->arg, 0, sizeof(t->arg));
	return 0;
}

/* ---- what a transcript cannot express ---- */

/* The next reply line must begin with want. */
static void expect_impl(struct fake *f, const char *want, int lineno)
{
	char line[2048];

	if (!next_line(f, line, sizeof(line)))
		fail_msg("line %d: no reply, wanted \"%s\"", lineno, want);
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("line %d: got \"%s\", wanted \"%s\"", lineno, line,
			 want);
}
#define expect(f, want) expect_impl((f), (want), __LINE__)

static void expect_nothing_impl(struct fake *f, int lineno)
{
	char line[2048];

	if (next_line(f, line, sizeof(line)))
		fail_msg("line %d: unexpected reply \"%s\"", lineno, line);
}
#define expect_nothing(f) expect_nothing_impl((f), __LINE__)

static void send_str(struct fake *f, const char *s)
{
	smtp_session_input(f->s, s, strlen(s));
}

/* The control-file name, every envelope field, the Received: header with
 * that name in it, and the 250 naming it: not expressible as a transcript
 * (the name is minted by the session). */
static void test_message_is_proposed_and_250_only_after_commit(void **state)
{
	struct smtp_session_conf c = default_conf();
	struct fake *f = open_with(&c);
	struct spool_cmd cmd;
	struct spool_cmd_enqueue *e;
	struct ctlname cn;
	char want[128], line[256];
	const char *body;

	expect(f, "220 ");
	send_str(f, "EHLO client.test\r\n");
	do {
		assert_true(next_line(f, line, sizeof(line)));
		assert_memory_equal(line, "250", 3);
	} while (line[3] == '-');
	send_str(f, "MAIL FROM:<alice@client.test>\r\n"
		    "RCPT TO:<bob@node1.cluster.test>\r\nDATA\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
	send_str(f, "Subject: hi\r\n\r\nHello\r\n.\r\n");
	expect_nothing(f); /* nothing before the quorum has it */
	assert_int_equal(smtp_session_state(f->s), SMTP_S_QUEUEING);
	assert_int_equal(f->proposals, 1);
	assert_non_null(f->cmd);
	assert_int_equal(spool_cmd_decode(&cmd, f->cmd, f->cmd_len), 0);
	assert_int_equal(cmd.type, CMD_ENQUEUE);
	e = &cmd.u.enqueue;
	assert_int_equal(ctlname_parse(e->name, &cn), 0);
	assert_string_equal(cn.user, "TCPIP$SMTP");
	assert_string_equal(cn.node, "NODE1");
	assert_int_equal(cn.seq, 1);
	assert_string_equal(e->rec.user, "TCPIP$SMTP");
	assert_string_equal(e->rec.sender, "alice@client.test");
	assert_string_equal(e->rec.client, "192.0.2.10");
	assert_string_equal(e->rec.helo, "client.test");
	assert_int_equal(e->rec.origin_node, 7);
	assert_int_equal(e->rec.hops, 0);
	assert_int_equal(e->rec.nrcpt, 1);
	assert_string_equal(e->rec.rcpt[0].addr, "bob@node1.cluster.test");
	body = e->body;
	snprintf(want, sizeof(want),
		 "Received: from client.test ([192.0.2.10])\r\n"
		 "\tby node1.cluster.test (smtpcluster NODE1) with ESMTP id %s"
		 "\r\n",
		 e->name);
	assert_true(e->body_len > strlen(want));
	assert_memory_equal(body, want, strlen(want));
	assert_non_null(memmem(body, e->body_len,
			       "\tfor <bob@node1.cluster.test>; Thu, 29 "
			       "Feb 2024 13:45:07 +0000\r\n"
			       "Subject: hi\r\n\r\nHello\r\n",
			       strlen("\tfor <bob@node1.cluster.test>; Thu, 29 "
				      "Feb 2024 13:45:07 +0000\r\n"
				      "Subject: hi\r\n\r\nHello\r\n")));
	assert_memory_equal(body + e->body_len - 7, "Hello\r\n", 7);

	smtp_session_proposed(f->s, 1, 0, 0);
	snprintf(want, sizeof(want), "250 2.0.0 Ok: queued as %s", e->name);
	expect(f, want);
	expect_nothing(f);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_GREETED);
	assert_int_equal(f->accepted, 1);
	assert_int_equal(f->accepted_octets, e->body_len);
	spool_cmd_free(&cmd);
	done(f);
}

/* ---- main: one test per transcript file; argv[1] filters by name ---- */

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_transcript(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && d->d_name[0] != '.' &&
	       strcmp(d->d_name + n - 4, ".txt") == 0;
}

/* The transcript folder: $SMTP_TRANSCRIPTS, TRANSCRIPT_DIR from the top
 * of the tree, or the same from beside build/asan/tests/. */
static int find_dir(const char *argv0, char *dir, size_t size)
{
	const char *env = getenv("SMTP_TRANSCRIPTS");
	const char *slash = strrchr(argv0, '/');
	DIR *d;

	if (env != NULL && env[0] != '\0') {
		snprintf(dir, size, "%s", env);
	} else if ((d = opendir(TRANSCRIPT_DIR)) != NULL) {
		closedir(d);
		snprintf(dir, size, "%s", TRANSCRIPT_DIR);
	} else {
		snprintf(dir, size, "%.*s/../../../%s",
			 slash ? (int)(slash - argv0) : 1, slash ? argv0 : ".",
			 TRANSCRIPT_DIR);
	}
	d = opendir(dir);
	if (d == NULL)
		return -1;
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest c_tests[] = {
	    cmocka_unit_test(
		test_message_is_proposed_and_250_only_after_commit),
	};
	const size_t nc = sizeof(c_tests) / sizeof(c_tests[0]);
	struct dirent **names = NULL;
	struct CMUnitTest *tests;
	struct tr *trs;
	char dir[PATH_MAX - 300];
	int n, rc;

	if (find_dir(argc > 0 ? argv[0] : ".", dir, sizeof(dir)) != 0 ||
	    (n = scandir(dir, &names, is_transcript, by_name)) <= 0) {
		fprintf(stderr, "test_smtp_session: no transcripts in %s\n",
			dir);
		return 1;
	}
	tests = calloc((size_t)n + nc, sizeof(*tests));
	trs = calloc((size_t)n, sizeof(*trs));
	if (tests == NULL || trs == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		struct tr *t = &trs[i];

		snprintf(t->name, sizeof(t->name), "%.*s",
			 (int)strlen(names[i]->d_name) - 4, names[i]->d_name);
		snprintf(t->path, sizeof(t->path), "%s/%s", dir,
			 names[i]->d_name);
		tests[i].name = t->name;
		tests[i].test_func = run_transcript;
		tests[i].teardown_func = tr_teardown;
		tests[i].initial_state = t;
		free(names[i]);
	}
	free(names);
	memcpy(tests + n, c_tests, sizeof(c_tests));
	if (argc > 1)
		cmocka_set_test_filter(argv[1]); /* e.g. "starttls_*" */
	rc = _cmocka_run_group_tests("smtp_session", tests, (size_t)n + nc,
				     NULL, NULL);
	free(tests);
	free(trs);
	return rc;
}
