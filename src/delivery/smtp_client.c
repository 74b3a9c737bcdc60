/*
 * smtp_client.c — the delivery client's engine (see smtp_client.h): the
 * SMTP/LMTP client state machine, reply parsing and command building. The
 * data-phase bytes are built in smtp_client_data.c, the engine runs on a
 * socket in smtp_client_conn.c; nothing here does I/O.
 *
 * Owns: the input line buffer (bounded: SMTP_CLIENT_LINE_MAX), the output
 * buffer of queued commands, the current reply. Does not own: the
 * recipient array, the configuration strings, the body bytes (caller's).
 *
 * Failure: everything a peer can send is handled: a malformed or over-long
 * reply is a protocol error that defers the unanswered recipients and ends
 * the session; a transition that is not in the legal table is a bug and
 * asserts.
 */
#include "src/delivery/smtp_client.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "spool/codec/record.h"
#include "src/base/log.h"

struct smtp_client {
	struct smtp_client_cfg cfg;
	struct smtp_client_io io;
	struct smtp_client_rcpt *r;
	uint32_t n;
	enum smtp_client_state state;

	unsigned ext;	     /* SC_EXT_* from the last EHLO */
	uint64_t size_limit; /* SIZE n, 0 = none given */
	int tls_active, tls_failed;
	int pipelined;	 /* MAIL, RCPTs and DATA went together */
	uint32_t *sendv; /* recipients to send RCPT for */
	uint32_t nsend;
	uint32_t next; /* index in sendv of the next RCPT reply */
	uint32_t *acc; /* accepted recipients, in order */
	uint32_t nacc;
	uint32_t dot_next; /* LMTP: next accepted one awaiting its reply */
	int data_empty;	   /* 354 though nothing was accepted */
	int ehlo_lines;	   /* lines of the EHLO reply seen */

	char line[SMTP_CLIENT_LINE_MAX];
	size_t line_len;
	int rcode; /* code of the reply being read, 0 = none yet */
	char rtext[SMTP_CLIENT_REPLY_MAX];
	size_t rtext_len;

	char reply[SMTP_CLIENT_REPLY_MAX]; /* session level */

	char *out;
	size_t out_len, out_cap;
};

/* ---- state ---- */

static const char *const state_names[SC__COUNT] = {
    "IDLE", "CONNECT", "GREETING", "EHLO", "HELO", "STARTTLS", "TLS",
    "MAIL", "RCPT",    "DATA",	   "BODY", "DOT",  "QUIT",     "DONE"};

#define B(s) (1u << (s))
/* legal[old] = the states old may move to */
static const unsigned legal[SC__COUNT] = {
    [SC_IDLE] = B(SC_CONNECT) | B(SC_GREETING) | B(SC_DONE),
    [SC_CONNECT] = B(SC_GREETING) | B(SC_DONE),
    [SC_GREETING] = B(SC_EHLO) | B(SC_QUIT) | B(SC_DONE),
    [SC_EHLO] =
	B(SC_HELO) | B(SC_STARTTLS) | B(SC_MAIL) | B(SC_QUIT) | B(SC_DONE),
    [SC_HELO] = B(SC_MAIL) | B(SC_QUIT) | B(SC_DONE),
    [SC_STARTTLS] = B(SC_TLS) | B(SC_MAIL) | B(SC_QUIT) | B(SC_DONE),
    [SC_TLS] = B(SC_EHLO) | B(SC_DONE),
    [SC_MAIL] = B(SC_RCPT) | B(SC_QUIT) | B(SC_DONE),
    [SC_RCPT] = B(SC_RCPT) | B(SC_DATA) | B(SC_QUIT) | B(SC_DONE),
    [SC_DATA] = B(SC_BODY) | B(SC_DOT) | B(SC_QUIT) | B(SC_DONE),
    [SC_BODY] = B(SC_DOT) | B(SC_QUIT) | B(SC_DONE),
    [SC_DOT] = B(SC_DOT) | B(SC_QUIT) | B(SC_DONE),
    [SC_QUIT] = B(SC_DONE),
    [SC_DONE] = 0,
};

const char *smtp_client_state_name(enum smtp_client_state st)
{
	return (unsigned)st < SC__COUNT ? state_names[st] : "?";
}

/* The phase timeout of a state. */
static uint64_t state_timeout(const struct smtp_client *c,
			      enum smtp_client_state st)
{
	switch (st) {
	case SC_CONNECT:
	case SC_GREETING:
	case SC_EHLO:
	case SC_HELO:
	case SC_STARTTLS:
	case SC_TLS:
		return c->cfg.t_initial;
	case SC_MAIL:
		return c->cfg.t_mail;
	case SC_RCPT:
		return c->cfg.t_rcpt;
	case SC_DATA:
	case SC_BODY:
		return c->cfg.t_data;
	case SC_DOT:
		return c->cfg.t_term;
	case SC_QUIT:
		return c->cfg.t_quit;
	default:
		return 0;
	}
}

/* The one place the state changes; (re)arms the phase timer. */
static void enter_state(struct smtp_client *c, enum smtp_client_state next)
{
	assert((unsigned)next < SC__COUNT);
	assert(legal[c->state] & B(next));
	if (c->state != next)
		log_debug("%s %s: %s -> %s", c->cfg.lmtp ? "lmtp" : "smtp",
			  c->cfg.peer, state_names[c->state],
			  state_names[next]);
	c->state = next;
	if (c->io.timer != NULL)
		c->io.timer(c->io.arg, state_timeout(c, next));
}

/* ---- output ---- */

static void out_add(struct smtp_client *c, const char *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 512;
		char *nb;

		while (cap < c->out_len + n)
			cap *= 2;
		nb = realloc(c->out, cap);
		if (nb == NULL)
			return; /* the command is lost: the peer times out */
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

/* Queue one command line (CRLF added). */
static void cmd(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void cmd(struct smtp_client *c, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 3)
		n = (int)sizeof(buf) - 3;
	buf[n++] = '\r';
	buf[n++] = '\n';
	out_add(c, buf, (size_t)n);
}

static void flush(struct smtp_client *c)
{
	if (c->out_len > 0 && c->state != SC_DONE)
		c->io.write(c->io.arg, c->out, c->out_len);
	c->out_len = 0;
}

/* ---- endings ---- */

/* The session is over: stop the timer, let the transport close. */
static void finish(struct smtp_client *c)
{
	if (c->state == SC_DONE)
		return;
	flush(c);
	enter_state(c, SC_DONE);
	c->io.finish(c->io.arg);
}

static void quit(struct smtp_client *c)
{
	cmd(c, "QUIT");
	enter_state(c, SC_QUIT);
}

/* Every recipient without a final answer gets reply (deferred). */
static void defer_unanswered(struct smtp_client *c, const char *reply, int hard)
{
	for (uint32_t i = 0; i < c->n; i++) {
		if (c->r[i].answered)
			continue;
		c->r[i].outcome = OUT_DEFERRED;
		c->r[i].hard = (uint8_t)hard;
		snprintf(c->r[i].reply, sizeof(c->r[i].reply), "%s", reply);
	}
}

/* A session-level failure: record it, defer the rest, QUIT or close. */
static void session_fail(struct smtp_client *c, int hard, int send_quit,
			 const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void session_fail(struct smtp_client *c, int hard, int send_quit,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->reply, sizeof(c->reply), fmt, ap);
	va_end(ap);
	defer_unanswered(c, c->reply, hard);
	log_info("%s %s: %s", c->cfg.lmtp ? "lmtp" : "smtp", c->cfg.peer,
		 c->reply);
	if (send_quit)
		quit(c);
	else
		finish(c);
}

static void protocol_error(struct smtp_client *c, const char *what)
{
	session_fail(c, 0, 0, "451 4.5.0 protocol error from %s in %s: %s",
		     c->cfg.peer, state_names[c->state], what);
}

/* ---- the transaction ---- */

static void send_rcpt(struct smtp_client *c, uint32_t i)
{
	const struct smtp_client_rcpt *r = &c->r[i];
	char params[1200];
	size_t used = 0;

	params[0] = '\0';
	if ((c->ext & SC_EXT_DSN) && r->notify) {
		if (r->notify & DSN_NOTIFY_NEVER)
			used += (size_t)snprintf(params, sizeof(params),
						 " NOTIFY=NEVER");
		else
			used += (size_t)snprintf(
			    params, sizeof(params), " NOTIFY=%s%s%s%s%s",
			    (r->notify & DSN_NOTIFY_SUCCESS) ? "SUCCESS" : "",
			    ((r->notify & DSN_NOTIFY_SUCCESS) &&
			     (r->notify &
			      (DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY)))
				? ","
				: "",
			    (r->notify & DSN_NOTIFY_FAILURE) ? "FAILURE" : "",
			    ((r->notify & DSN_NOTIFY_FAILURE) &&
			     (r->notify & DSN_NOTIFY_DELAY))
				? ","
				: "",
			    (r->notify & DSN_NOTIFY_DELAY) ? "DELAY" : "");
	}
	if ((c->ext & SC_EXT_DSN) && r->orcpt != NULL && r->orcpt[0] != '\0' &&
	    used < sizeof(params))
		snprintf(params + used, sizeof(params) - used, " ORCPT=%s",
			 r->orcpt);
	cmd(c, "RCPT TO:<%s>%s", r->addr, params);
}

static void send_mail(struct smtp_client *c)
{
	char params[512];
	size_t used = 0;

	params[0] = '\0';
	if (c->ext & SC_EXT_SIZE)
		used += (size_t)snprintf(params + used, sizeof(params) - used,
					 " SIZE=%llu",
					 (unsigned long long)c->cfg.size);
	if ((c->ext & SC_EXT_8BITMIME) && c->cfg.eightbit &&
	    used < sizeof(params))
		used += (size_t)snprintf(params + used, sizeof(params) - used,
					 " BODY=8BITMIME");
	if ((c->ext & SC_EXT_DSN) && c->cfg.ret != DSN_RET_NONE &&
	    used < sizeof(params))
		used += (size_t)snprintf(
		    params + used, sizeof(params) - used, " RET=%s",
		    c->cfg.ret == DSN_RET_FULL ? "FULL" : "HDRS");
	if ((c->ext & SC_EXT_DSN) && c->cfg.envid != NULL &&
	    c->cfg.envid[0] != '\0' && used < sizeof(params))
		snprintf(params + used, sizeof(params) - used, " ENVID=%s",
			 c->cfg.envid);
	cmd(c, "MAIL FROM:<%s>%s", c->cfg.sender, params);
}

/* After the greeting dance: MAIL (+ RCPTs + DATA when pipelining). */
static void begin_transaction(struct smtp_client *c)
{
	if (c->nsend == 0) {
		quit(c);
		return;
	}
	if (c->size_limit > 0 && c->cfg.size > c->size_limit) {
		session_fail(c, 1, 1,
			     "552 5.3.4 message size %llu exceeds the limit "
			     "of %s (%llu)",
			     (unsigned long long)c->cfg.size, c->cfg.peer,
			     (unsigned long long)c->size_limit);
		return;
	}
	c->pipelined = (c->ext & SC_EXT_PIPELINING) != 0;
	c->next = 0;
	c->nacc = 0;
	send_mail(c);
	if (c->pipelined) {
		for (uint32_t k = 0; k < c->nsend; k++)
			send_rcpt(c, c->sendv[k]);
		cmd(c, "DATA");
	}
	enter_state(c, SC_MAIL);
}

static void send_ehlo(struct smtp_client *c)
{
	c->ext = 0;
	c->size_limit = 0;
	c->ehlo_lines = 0;
	cmd(c, "%s %s", c->cfg.lmtp ? "LHLO" : "EHLO", c->cfg.helo);
	enter_state(c, SC_EHLO);
}

/* One line of an EHLO reply (not the first): note the extension. */
static void ehlo_keyword(struct smtp_client *c, const char *kw)
{
	char word[32];
	size_t i = 0;

	while (kw[i] != '\0' && kw[i] != ' ' && kw[i] != '=' &&
	       i < sizeof(word) - 1) {
		word[i] = (char)toupper((unsigned char)kw[i]);
		i++;
	}
	word[i] = '\0';
	if (strcmp(word, "PIPELINING") == 0)
		c->ext |= SC_EXT_PIPELINING;
	else if (strcmp(word, "STARTTLS") == 0)
		c->ext |= SC_EXT_STARTTLS;
	else if (strcmp(word, "8BITMIME") == 0)
		c->ext |= SC_EXT_8BITMIME;
	else if (strcmp(word, "DSN") == 0)
		c->ext |= SC_EXT_DSN;
	else if (strcmp(word, "SIZE") == 0) {
		const char *p = kw + i;
		unsigned long long v = 0;

		c->ext |= SC_EXT_SIZE;
		while (*p == ' ' || *p == '=')
			p++;
		while (*p >= '0' && *p <= '9' && v < (1ULL << 50))
			v = v * 10 + (unsigned long long)(*p++ - '0');
		c->size_limit = v;
	}
}

/* Final outcome for recipient i from a reply. */
static void settle(struct smtp_client *c, uint32_t i, int code,
		   const char *text)
{
	struct smtp_client_rcpt *r = &c->r[i];

	r->answered = 1;
	r->hard = 0;
	r->outcome = code / 100 == 2   ? OUT_DELIVERED
		     : code / 100 == 5 ? OUT_FAILED
				       : OUT_DEFERRED;
	snprintf(r->reply, sizeof(r->reply), "%s", text);
}

static void on_greeting(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 == 2)
		send_ehlo(c);
	else if (code / 100 == 5)
		session_fail(c, 1, 1, "%s", text);
	else if (code / 100 == 4)
		session_fail(c, 0, 1, "%s", text);
	else
		protocol_error(c, "unexpected greeting");
}

static void on_ehlo(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 == 2) {
		if (!c->cfg.lmtp && c->cfg.tls_allowed && !c->tls_active &&
		    (c->ext & SC_EXT_STARTTLS) && c->io.starttls != NULL) {
			cmd(c, "STARTTLS");
			enter_state(c, SC_STARTTLS);
			return;
		}
		begin_transaction(c);
		return;
	}
	if (c->cfg.lmtp || c->tls_active || code == 421 || code / 100 == 2 ||
	    code / 100 < 4) {
		if (code / 100 == 5)
			session_fail(c, 1, 1, "%s", text);
		else
			session_fail(c, 0, 1, "%s", text);
		return;
	}
	/* RFC 5321 3.2: an EHLO refused, try HELO */
	c->ext = 0;
	cmd(c, "HELO %s", c->cfg.helo);
	enter_state(c, SC_HELO);
}

static void on_helo(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 == 2)
		begin_transaction(c);
	else
		session_fail(c, code / 100 == 5, 1, "%s", text);
}

static void on_starttls(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 != 2) {
		/* opportunistic: carry on in clear */
		log_info("smtp %s: STARTTLS refused (%s), going on without",
			 c->cfg.peer, text);
		begin_transaction(c);
		return;
	}
	enter_state(c, SC_TLS);
	if (c->io.starttls(c->io.arg) != 0) {
		c->tls_failed = 1;
		session_fail(c, 0, 0, "451 4.7.5 TLS setup with %s failed",
			     c->cfg.peer);
	}
}

static void on_mail(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 != 2) {
		session_fail(c, code / 100 == 5, 1, "%s", text);
		return;
	}
	enter_state(c, SC_RCPT);
	if (!c->pipelined)
		send_rcpt(c, c->sendv[0]);
}

static void on_rcpt(struct smtp_client *c, int code, const char *text)
{
	uint32_t i = c->sendv[c->next];

	if (code / 100 == 2) {
		c->acc[c->nacc++] = i;
		snprintf(c->r[i].reply, sizeof(c->r[i].reply), "%s", text);
	} else {
		settle(c, i, code, text);
	}
	c->next++;
	if (c->next < c->nsend) {
		if (!c->pipelined)
			send_rcpt(c, c->sendv[c->next]);
		enter_state(c, SC_RCPT);
		return;
	}
	if (c->pipelined) {
		enter_state(c, SC_DATA); /* its reply is on its way */
		return;
	}
	if (c->nacc == 0) {
		quit(c);
		return;
	}
	cmd(c, "DATA");
	enter_state(c, SC_DATA);
}

static void on_data(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 == 3) {
		if (c->nacc == 0) {
			/* RFC 2920 3.1: nothing to send, end it empty */
			c->data_empty = 1;
			cmd(c, ".");
			enter_state(c, SC_DOT);
			return;
		}
		flush(c);
		enter_state(c, SC_BODY);
		c->io.write(c->io.arg, c->cfg.data, c->cfg.data_len);
		return;
	}
	if (code / 100 == 2) {
		protocol_error(c, "2xx reply to DATA");
		return;
	}
	for (uint32_t k = 0; k < c->nacc; k++)
		settle(c, c->acc[k], code, text);
	quit(c);
}

static void on_dot(struct smtp_client *c, int code, const char *text)
{
	if (c->data_empty) {
		quit(c);
		return;
	}
	if (code / 100 == 3 || code / 100 == 1) {
		protocol_error(c, "intermediate reply after the data");
		return;
	}
	if (!c->cfg.lmtp) {
		for (uint32_t k = 0; k < c->nacc; k++)
			settle(c, c->acc[k], code, text);
		quit(c);
		return;
	}
	/* LMTP: one reply per accepted recipient, in RCPT order */
	settle(c, c->acc[c->dot_next++], code, text);
	if (c->dot_next >= c->nacc)
		quit(c);
	else
		enter_state(c, SC_DOT);
}

/* A complete reply arrived. */
static void on_reply(struct smtp_client *c, int code, const char *text)
{
	switch (c->state) {
	case SC_GREETING:
		on_greeting(c, code, text);
		break;
	case SC_EHLO:
		on_ehlo(c, code, text);
		break;
	case SC_HELO:
		on_helo(c, code, text);
		break;
	case SC_STARTTLS:
		on_starttls(c, code, text);
		break;
	case SC_MAIL:
		on_mail(c, code, text);
		break;
	case SC_RCPT:
		on_rcpt(c, code, text);
		break;
	case SC_DATA:
		on_data(c, code, text);
		break;
	case SC_BODY:
	case SC_DOT:
		on_dot(c, code, text);
		break;
	case SC_QUIT:
		finish(c);
		break;
	default:
		protocol_error(c, "reply while none was expected");
		break;
	}
}

/* ---- input ---- */

/* Append reply text (printable ASCII; others become '?'). */
static void rtext_add(struct smtp_client *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n && c->rtext_len < sizeof(c->rtext) - 1; i++) {
		unsigned char ch = (unsigned char)p[i];

		c->rtext[c->rtext_len++] =
		    (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	c->rtext[c->rtext_len] = '\0';
}

/* One reply line (CRLF stripped). */
static void on_line(struct smtp_client *c, const char *l, size_t len)
{
	int code, more;

	if (len < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
	    l[2] < '0' || l[2] > '9' ||
	    (len > 3 && l[3] != ' ' && l[3] != '-')) {
		protocol_error(c, "malformed reply line");
		return;
	}
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	more = len > 3 && l[3] == '-';
	if (c->rcode == 0) {
		c->rcode = code;
		c->rtext_len = 0;
		rtext_add(c, l, len);
	} else {
		if (code != c->rcode) {
			protocol_error(c, "multi-line reply changes its code");
			return;
		}
		if (len > 4) {
			rtext_add(c, " ", 1);
			rtext_add(c, l + 4, len - 4);
		}
	}
	if (c->state == SC_EHLO && code / 100 == 2) {
		char kw[128];
		size_t kl = len > 4 ? len - 4 : 0;

		if (kl >= sizeof(kw))
			kl = sizeof(kw) - 1;
		memcpy(kw, l + 4, kl);
		kw[kl] = '\0';
		if (c->ehlo_lines++ > 0)
			ehlo_keyword(c, kw);
	}
	if (more)
		return;
	c->rcode = 0;
	on_reply(c, code, c->rtext);
}

void smtp_client_input(struct smtp_client *c, const void *p, size_t n)
{
	const char *s = p;

	if (c->state == SC_DONE || c->state == SC_IDLE ||
	    c->state == SC_CONNECT || c->state == SC_TLS)
		return;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			size_t l = c->line_len;

			if (l > 0 && c->line[l - 1] == '\r')
				l--;
			c->line_len = 0;
			on_line(c, c->line, l);
			if (c->state == SC_DONE)
				return;
			if (c->state == SC_TLS) {
				/* bytes after "220" before the handshake
				 * are dropped (STARTTLS injection) */
				c->line_len = 0;
				c->rcode = 0;
				break;
			}
			continue;
		}
		if (c->line_len >= sizeof(c->line) - 1) {
			protocol_error(c, "reply line longer than 4096 octets");
			return;
		}
		c->line[c->line_len++] = s[i];
	}
	flush(c);
}

/* ---- other events ---- */

void smtp_client_begin(struct smtp_client *c)
{
	if (c->state == SC_IDLE)
		enter_state(c, SC_CONNECT);
}

void smtp_client_connected(struct smtp_client *c)
{
	if (c->state == SC_IDLE || c->state == SC_CONNECT)
		enter_state(c, SC_GREETING);
}

void smtp_client_drained(struct smtp_client *c)
{
	if (c->state == SC_BODY)
		enter_state(c, SC_DOT);
}

void smtp_client_tls_done(struct smtp_client *c, int ok, const char *why)
{
	if (c->state != SC_TLS)
		return;
	if (!ok) {
		c->tls_failed = 1;
		session_fail(c, 0, 0,
			     "451 4.7.5 TLS handshake with %s failed: %s",
			     c->cfg.peer, why ? why : "?");
		return;
	}
	c->tls_active = 1;
	send_ehlo(c);
	flush(c);
}

static const char *waiting_for(enum smtp_client_state st)
{
	switch (st) {
	case SC_CONNECT:
		return "the connection";
	case SC_GREETING:
		return "the greeting";
	case SC_EHLO:
		return "the EHLO reply";
	case SC_HELO:
		return "the HELO reply";
	case SC_STARTTLS:
		return "the STARTTLS reply";
	case SC_TLS:
		return "the TLS handshake";
	case SC_MAIL:
		return "the MAIL reply";
	case SC_RCPT:
		return "the RCPT reply";
	case SC_DATA:
		return "the DATA reply";
	case SC_BODY:
		return "the sending of the message";
	case SC_DOT:
		return "the reply to the end of data";
	default:
		return "the peer";
	}
}

void smtp_client_timeout(struct smtp_client *c)
{
	if (c->state == SC_DONE)
		return;
	if (c->state == SC_QUIT) {
		finish(c);
		return;
	}
	session_fail(c, 0, 0, "451 4.4.2 timeout: %s waiting for %s",
		     c->cfg.peer, waiting_for(c->state));
}

void smtp_client_closed(struct smtp_client *c, const char *why)
{
	if (c->state == SC_DONE)
		return;
	if (c->state == SC_QUIT) {
		finish(c);
		return;
	}
	if (c->state == SC_CONNECT || c->state == SC_IDLE)
		session_fail(c, 0, 0, "451 4.4.1 cannot connect to %s: %s",
			     c->cfg.peer, why ? why : "?");
	else
		session_fail(c, 0, 0,
			     "451 4.4.2 connection with %s lost waiting for "
			     "%s: %s",
			     c->cfg.peer, waiting_for(c->state),
			     why ? why : "?");
}

/* ---- life ---- */

/* 1 if s is printable ASCII without '<', '>' or spaces issues. */
static int addr_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] == 0x7f)
			return 0;
	return n <= SPOOL_ADDR_MAX;
}

int smtp_client_new(struct smtp_client **out, const struct smtp_client_cfg *cfg,
		    const struct smtp_client_io *io, struct smtp_client_rcpt *r,
		    uint32_t n)
{
	struct smtp_client *c;

	if (!addr_ok(cfg->sender) || cfg->helo == NULL || !addr_ok(cfg->helo) ||
	    io->write == NULL || io->finish == NULL)
		return SPOOL_E_INVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return SPOOL_E_NOMEM;
	c->sendv = calloc(n ? n : 1, sizeof(*c->sendv));
	c->acc = calloc(n ? n : 1, sizeof(*c->acc));
	if (c->sendv == NULL || c->acc == NULL) {
		smtp_client_free(c);
		return SPOOL_E_NOMEM;
	}
	c->cfg = *cfg;
	if (c->cfg.peer == NULL)
		c->cfg.peer = "?";
	/* a phase without a timeout would wait forever: RFC 5321 4.5.3.2 */
	if (c->cfg.t_initial == 0)
		c->cfg.t_initial = 5 * 60000;
	if (c->cfg.t_mail == 0)
		c->cfg.t_mail = 5 * 60000;
	if (c->cfg.t_rcpt == 0)
		c->cfg.t_rcpt = 5 * 60000;
	if (c->cfg.t_data == 0)
		c->cfg.t_data = 3 * 60000;
	if (c->cfg.t_term == 0)
		c->cfg.t_term = 10 * 60000;
	if (c->cfg.t_quit == 0)
		c->cfg.t_quit = 10000;
	c->io = *io;
	c->r = r;
	c->n = n;
	for (uint32_t i = 0; i < n; i++) {
		r[i].outcome = OUT_DEFERRED;
		r[i].hard = 0;
		r[i].answered = 0;
		snprintf(r[i].reply, sizeof(r[i].reply),
			 "451 4.4.0 no answer from %s", c->cfg.peer);
		if (!addr_ok(r[i].addr) || strchr(r[i].addr, '>') != NULL) {
			settle(c, i, 501, "501 5.1.3 bad recipient address");
			continue;
		}
		c->sendv[c->nsend++] = i;
	}
	*out = c;
	return 0;
}

void smtp_client_free(struct smtp_client *c)
{
	if (c == NULL)
		return;
	free(c->sendv);
	free(c->acc);
	free(c->out);
	free(c);
}

enum smtp_client_state smtp_client_state(const struct smtp_client *c)
{
	return c->state;
}

const char *smtp_client_reply(const struct smtp_client *c)
{
	return c->reply;
}

int smtp_client_tls_active(const struct smtp_client *c)
{
	return c->tls_active;
}

int smtp_client_tls_failed(const struct smtp_client *c)
{
	return c->tls_failed;
}

unsigned smtp_client_extensions(const struct smtp_client *c)
{
	return c->ext;
}
