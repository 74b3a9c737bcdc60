/*
 * smtp_client.c — the delivery client's engine (see smtp_client.h): the
 * SMTP/LMTP client state machine (states, legal transitions, phase
 * timers), command output, reply-line parsing, the events and the
 * endings. What each reply means is in smtp_client_reply.c, the data-phase
 * bytes in smtp_client_data.c; the engine runs on a socket in
 * smtp_client_conn.c. Nothing here does I/O.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "spool/codec/record.h"
#include "src/base/log.h"
#include "src/delivery/smtp_client_impl.h"

/* ---- state ---- */

static const char *const state_names[SC__COUNT] = {
    "IDLE", "CONNECT", "GREETING", "EHLO", "HELO",  "STARTTLS", "TLS",	"MAIL",
    "RCPT", "DATA",    "BODY",	   "DOT",  "READY", "RSET",	"QUIT", "DONE"};

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
    [SC_RCPT] = B(SC_RCPT) | B(SC_DATA) | B(SC_READY) | B(SC_QUIT) | B(SC_DONE),
    [SC_DATA] = B(SC_BODY) | B(SC_DOT) | B(SC_READY) | B(SC_QUIT) | B(SC_DONE),
    [SC_BODY] = B(SC_DOT) | B(SC_READY) | B(SC_QUIT) | B(SC_DONE),
    [SC_DOT] = B(SC_DOT) | B(SC_READY) | B(SC_QUIT) | B(SC_DONE),
    [SC_READY] = B(SC_RSET) | B(SC_QUIT) | B(SC_DONE),
    [SC_RSET] = B(SC_MAIL) | B(SC_QUIT) | B(SC_DONE),
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
	case SC_RSET:
		return c->cfg.t_mail;
	case SC_READY:
		return c->cfg.t_idle;
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

void smtp_cli_enter(struct smtp_client *c, enum smtp_client_state next)
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
void smtp_cli_cmd(struct smtp_client *c, const char *fmt, ...)
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

void smtp_cli_flush(struct smtp_client *c)
{
	if (c->out_len > 0 && c->state != SC_DONE)
		c->io.write(c->io.arg, c->out, c->out_len);
	c->out_len = 0;
}

/* ---- endings ---- */

/* The session is over: stop the timer, let the transport close. */
void smtp_cli_finish(struct smtp_client *c)
{
	if (c->state == SC_DONE)
		return;
	smtp_cli_flush(c);
	smtp_cli_enter(c, SC_DONE);
	c->io.finish(c->io.arg);
}

void smtp_cli_quit(struct smtp_client *c)
{
	smtp_cli_cmd(c, "QUIT");
	smtp_cli_enter(c, SC_QUIT);
}

void smtp_cli_txn_end(struct smtp_client *c)
{
	c->txns++;
	if (c->io.ready == NULL || c->cfg.lmtp || c->cfg.reuse <= c->txns) {
		smtp_cli_quit(c);
		return;
	}
	/* the outcomes are the caller's now: forget them and the message */
	c->r = NULL;
	c->n = c->nsend = c->nacc = 0;
	c->cfg.sender = "";
	c->cfg.envid = NULL;
	c->cfg.data = NULL;
	c->cfg.data_len = 0;
	smtp_cli_enter(c, SC_READY);
	c->io.ready(c->io.arg);
}

void smtp_client_quit(struct smtp_client *c)
{
	if (c->state != SC_READY)
		return;
	smtp_cli_quit(c);
	smtp_cli_flush(c);
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
void smtp_cli_fail(struct smtp_client *c, int hard, int send_quit,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->reply, sizeof(c->reply), fmt, ap);
	va_end(ap);
	if (c->state == SC_RSET)
		c->reuse_failed = 1;
	defer_unanswered(c, c->reply, hard);
	log_info("%s %s: %s", c->cfg.lmtp ? "lmtp" : "smtp", c->cfg.peer,
		 c->reply);
	if (send_quit)
		smtp_cli_quit(c);
	else
		smtp_cli_finish(c);
}

void smtp_cli_protocol_error(struct smtp_client *c, const char *what)
{
	smtp_cli_fail(c, 0, 0, "451 4.5.0 protocol error from %s in %s: %s",
		      c->cfg.peer, state_names[c->state], what);
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
		smtp_cli_protocol_error(c, "malformed reply line");
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
			smtp_cli_protocol_error(
			    c, "multi-line reply changes its code");
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
			smtp_cli_ehlo_keyword(c, kw);
	}
	if (more)
		return;
	c->rcode = 0;
	smtp_cli_on_reply(c, code, c->rtext);
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
			smtp_cli_protocol_error(
			    c, "reply line longer than 4096 octets");
			return;
		}
		c->line[c->line_len++] = s[i];
	}
	smtp_cli_flush(c);
}

/* ---- other events ---- */

void smtp_client_begin(struct smtp_client *c)
{
	if (c->state == SC_IDLE)
		smtp_cli_enter(c, SC_CONNECT);
}

void smtp_client_connected(struct smtp_client *c)
{
	if (c->state == SC_IDLE || c->state == SC_CONNECT)
		smtp_cli_enter(c, SC_GREETING);
}

void smtp_client_drained(struct smtp_client *c)
{
	if (c->state == SC_BODY)
		smtp_cli_enter(c, SC_DOT);
}

void smtp_client_tls_done(struct smtp_client *c, int ok, const char *why)
{
	if (c->state != SC_TLS)
		return;
	if (!ok) {
		c->tls_failed = 1;
		smtp_cli_fail(c, 0, 0,
			      "451 4.7.5 TLS handshake with %s failed: %s",
			      c->cfg.peer, why ? why : "?");
		return;
	}
	c->tls_active = 1;
	smtp_cli_send_ehlo(c);
	smtp_cli_flush(c);
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
	case SC_RSET:
		return "the RSET reply";
	default:
		return "the peer";
	}
}

void smtp_client_timeout(struct smtp_client *c)
{
	if (c->state == SC_DONE)
		return;
	if (c->state == SC_QUIT) {
		smtp_cli_finish(c);
		return;
	}
	if (c->state == SC_READY) { /* idle long enough */
		smtp_client_quit(c);
		return;
	}
	smtp_cli_fail(c, 0, 0, "451 4.4.2 timeout: %s waiting for %s",
		      c->cfg.peer, waiting_for(c->state));
}

void smtp_client_closed(struct smtp_client *c, const char *why)
{
	if (c->state == SC_DONE)
		return;
	if (c->state == SC_QUIT || c->state == SC_READY) {
		smtp_cli_finish(c); /* an idle connection closed: no loss */
		return;
	}
	if (c->state == SC_CONNECT || c->state == SC_IDLE)
		smtp_cli_fail(c, 0, 0, "451 4.4.1 cannot connect to %s: %s",
			      c->cfg.peer, why ? why : "?");
	else
		smtp_cli_fail(c, 0, 0,
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

int smtp_cli_setup(struct smtp_client *c, const struct smtp_client_cfg *cfg,
		   struct smtp_client_rcpt *r, uint32_t n)
{
	uint32_t *sendv, *acc;

	if (!addr_ok(cfg->sender) || cfg->helo == NULL || !addr_ok(cfg->helo))
		return SPOOL_E_INVAL;
	sendv = calloc(n ? n : 1, sizeof(*sendv));
	acc = calloc(n ? n : 1, sizeof(*acc));
	if (sendv == NULL || acc == NULL) {
		free(sendv);
		free(acc);
		return SPOOL_E_NOMEM;
	}
	free(c->sendv);
	free(c->acc);
	c->sendv = sendv;
	c->acc = acc;
	c->cfg = *cfg;
	snprintf(c->peer, sizeof(c->peer), "%s",
		 cfg->peer != NULL ? cfg->peer : "?");
	c->cfg.peer = c->peer;
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
	if (c->cfg.t_idle == 0)
		c->cfg.t_idle = 2000;
	c->r = r;
	c->n = n;
	c->nsend = c->next = c->nacc = c->dot_next = 0;
	c->data_empty = c->pipelined = c->rset_ahead = 0;
	for (uint32_t i = 0; i < n; i++) {
		r[i].outcome = OUT_DEFERRED;
		r[i].hard = 0;
		r[i].answered = 0;
		snprintf(r[i].reply, sizeof(r[i].reply),
			 "451 4.4.0 no answer from %s", c->cfg.peer);
		if (!addr_ok(r[i].addr) || strchr(r[i].addr, '>') != NULL) {
			smtp_cli_settle(c, i, 501,
					"501 5.1.3 bad recipient address");
			continue;
		}
		c->sendv[c->nsend++] = i;
	}
	return 0;
}

int smtp_client_new(struct smtp_client **out, const struct smtp_client_cfg *cfg,
		    const struct smtp_client_io *io, struct smtp_client_rcpt *r,
		    uint32_t n)
{
	struct smtp_client *c;
	int rc;

	if (io->write == NULL || io->finish == NULL)
		return SPOOL_E_INVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return SPOOL_E_NOMEM;
	c->io = *io;
	rc = smtp_cli_setup(c, cfg, r, n);
	if (rc != 0) {
		smtp_client_free(c);
		return rc;
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

int smtp_client_reuse_failed(const struct smtp_client *c)
{
	return c->reuse_failed;
}

unsigned smtp_client_transactions(const struct smtp_client *c)
{
	return c->txns;
}

unsigned smtp_client_extensions(const struct smtp_client *c)
{
	return c->ext;
}
