/*
 * smtp_session.c — the SMTP receiver's session (see smtp_session.h): the
 * state machine and its legal transitions, input framing with pipelining,
 * replies, the end of DATA or of the last BDAT chunk (the ENQUEUE built
 * and proposed) and the answer to the proposal. BDAT chunks (RFC 3030) are
 * read by count through the same reader as DATA (smtp_data.c, raw mode):
 * the same size limit, the same checks, the same 250 only once the entry
 * is committed. The verbs themselves are in smtp_verbs.c.
 *
 * Owns: the session's input and output buffers, the transaction (sender,
 * recipients, the message being read). Does not own: sockets, TLS, timers,
 * the cluster — all reached through the env callbacks, so the whole session
 * runs under unit tests and the fuzzer with fakes.
 *
 * Failure: a peer's mistakes get SMTP replies; more than SMTP_ERRORS_MAX
 * errors (protocol errors and refused recipients, 550 5.1.1 and 5.7.1)
 * end the session with 421 4.7.0. Out of memory ends a
 * transaction with 452 4.3.1, never a crash. A transition that is not in
 * the legal table is a programming bug and asserts.
 */
#include "src/smtpd/smtp_session.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/cmd.h"
#include "spool/codec/enqueue.h"
#include "spool/codec/err.h"
#include "spool/store/spool.h"
#include "spool/codec/wire.h"
#include "src/base/clock.h"
#include "src/base/log.h"
#include "src/metrics/metrics.h"
#include "src/smtpd/smtp_recvlog.h"
#include "src/smtpd/smtp_session_impl.h"

/* ---- state ---- */

static const char *const state_names[SMTP_S__COUNT] = {
    "CONNECTED", "GREETED",  "MAIL",   "RCPT", "DATA",
    "BDAT",	 "QUEUEING", "CLOSED", "AUTH"};

#define B(s) (1u << (s))
/* legal[old] = the states old may move to */
static const unsigned legal[SMTP_S__COUNT] = {
    [SMTP_S_CONNECTED] =
	B(SMTP_S_CONNECTED) | B(SMTP_S_GREETED) | B(SMTP_S_CLOSED),
    [SMTP_S_GREETED] = B(SMTP_S_CONNECTED) | B(SMTP_S_GREETED) |
		       B(SMTP_S_MAIL) | B(SMTP_S_CLOSED) | B(SMTP_S_AUTH),
    [SMTP_S_MAIL] = B(SMTP_S_GREETED) | B(SMTP_S_RCPT) | B(SMTP_S_CLOSED),
    [SMTP_S_RCPT] = B(SMTP_S_GREETED) | B(SMTP_S_RCPT) | B(SMTP_S_DATA) |
		    B(SMTP_S_BDAT) | B(SMTP_S_CLOSED),
    [SMTP_S_DATA] = B(SMTP_S_GREETED) | B(SMTP_S_QUEUEING) | B(SMTP_S_CLOSED),
    [SMTP_S_BDAT] = B(SMTP_S_GREETED) | B(SMTP_S_BDAT) | B(SMTP_S_QUEUEING) |
		    B(SMTP_S_CLOSED),
    [SMTP_S_QUEUEING] = B(SMTP_S_GREETED) | B(SMTP_S_CLOSED),
    [SMTP_S_CLOSED] = 0,
    [SMTP_S_AUTH] = B(SMTP_S_GREETED) | B(SMTP_S_CLOSED),
};

const char *smtp_state_name(enum smtp_state st)
{
	return (unsigned)st < SMTP_S__COUNT ? state_names[st] : "?";
}

/* The one place the state changes. */
void smtp_sess_enter(struct smtp_session *s, enum smtp_state next)
{
	assert((unsigned)next < SMTP_S__COUNT);
	assert(legal[s->state] & B(next));
	if (s->state != next)
		log_debug("smtp [%s]: %s -> %s", s->client_ip,
			  state_names[s->state], state_names[next]);
	s->state = next;
}

enum smtp_state smtp_session_state(const struct smtp_session *s)
{
	return s->state;
}

size_t smtp_session_buffered(const struct smtp_session *s)
{
	return s->in.len - s->in_off;
}

void smtp_sess_event(struct smtp_session *s, int ev, uint64_t n)
{
	if (s->env.event != NULL)
		s->env.event(s->env.arg, ev, n);
}

/* ---- output ---- */

/* Queue one reply line (CRLF added; over-long text is cut). */
void smtp_sess_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	wbuf_raw(&s->out, line, (size_t)n);
	if (s->out.err)
		s->out_failed = 1;
}

/* Hand the queued replies to the server. */
void smtp_sess_flush(struct smtp_session *s)
{
	if (s->out.len > 0)
		s->env.write(s->env.arg, (const char *)s->out.p, s->out.len);
	s->out.len = 0;
}

/* End the session: flush and close. */
void smtp_sess_close(struct smtp_session *s)
{
	if (s->state == SMTP_S_CLOSED)
		return;
	if (s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT)
		smtp_sess_event(s, SMTP_EV_DISCARDED, 0);
	smtp_sess_enter(s, SMTP_S_CLOSED);
	s->in_off = s->in.len;
	smtp_sess_flush(s);
	s->env.close(s->env.arg);
}

/* 1 when the node's disk is under its reserve (env.storage_low). */
int smtp_sess_storage_low(const struct smtp_session *s)
{
	return s->env.storage_low != NULL && s->env.storage_low(s->env.arg);
}

/* Count one error of the session (already answered): more than
 * SMTP_ERRORS_MAX end it with 421 4.7.0. 1 when it was closed. */
int smtp_sess_count_error(struct smtp_session *s)
{
	if (++s->errors <= SMTP_ERRORS_MAX)
		return 0;
	smtp_sess_reply(s, "421 4.7.0 %s Error: too many errors",
			s->node_domain);
	smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_ERRORS);
	smtp_sess_close(s);
	return 1;
}

/* A protocol error reply: counted; too many end the session. */
void smtp_sess_error(struct smtp_session *s, const char *text)
{
	smtp_sess_reply(s, "%s", text);
	smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_SYNTAX);
	smtp_sess_count_error(s);
}

/* ---- transaction ---- */

void smtp_sess_reset(struct smtp_session *s)
{
	for (uint32_t i = 0; i < s->nrcpt; i++) {
		free(s->rcpt[i].addr);
		free(s->rcpt[i].orcpt);
	}
	s->nrcpt = 0;
	s->sender[0] = '\0';
	memset(&s->mp, 0, sizeof(s->mp));
	smtp_data_free(&s->data);
	s->name[0] = '\0';
	s->body_len = 0;
}

/* Back to the idle state after a transaction (or RSET). */
void smtp_sess_idle(struct smtp_session *s)
{
	smtp_sess_reset(s);
	smtp_sess_enter(s, s->helo[0] ? SMTP_S_GREETED : SMTP_S_CONNECTED);
}

/* ---- end of DATA ---- */

/* Encode the ENQUEUE of the message just read; the body is released. */
static int build_enqueue(struct smtp_session *s, struct wbuf *wb)
{
	struct spool_rcpt *rc = calloc(s->nrcpt, sizeof(*rc));
	struct enqueue_msg m;
	size_t body_len;
	char *body;
	int ret;

	if (rc == NULL)
		return SPOOL_E_NOMEM;
	for (uint32_t i = 0; i < s->nrcpt; i++) {
		rc[i].addr = s->rcpt[i].addr;
		rc[i].orcpt = s->rcpt[i].orcpt;
		rc[i].notify = s->rcpt[i].notify;
		rc[i].flags = s->rcpt[i].flags;
		rc[i].reply = "";
	}
	body = smtp_data_take(&s->data, &body_len);
	memset(&m, 0, sizeof(m));
	m.name = s->name;
	m.user = SMTP_USER;
	m.sender = s->sender;
	m.client = s->client_ip;
	m.helo = s->helo;
	m.envid = s->mp.envid;
	m.login = s->auth_user;
	m.ret = s->mp.ret;
	m.flags = s->mp.smtputf8 ? MSG_F_SMTPUTF8 : 0;
	m.kind = KIND_MAIL;
	m.hops = s->data.received;
	m.origin_node = s->conf.node_id;
	m.nrcpt = s->nrcpt;
	m.rcpt = rc;
	m.body = body;
	m.body_len = body_len;
	s->body_len = body_len;
	/* the leader restamps */
	ret = enqueue_encode(s->env.now_ms(s->env.arg), &m, wb);
	free(body);
	free(rc);
	return ret;
}

/* Answer a message the reader refused (rc from smtp_data_status, not 0). */
static void data_refused(struct smtp_session *s, int rc)
{
	switch (rc) {
	case SMTP_DE_BARE:
		smtp_sess_reply(
		    s, "554 5.6.0 Error: bare <CR> or <LF> in message; "
		       "lines must end with <CR><LF>");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_BARE);
		break;
	case SMTP_DE_NUL:
		smtp_sess_reply(s, "554 5.6.0 Error: NUL octet in message");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_NUL);
		break;
	case SMTP_DE_LONG:
		smtp_sess_reply(s,
				"500 5.5.6 Error: message line longer than 998 "
				"octets");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_LONG);
		break;
	case SMTP_DE_SIZE:
		smtp_sess_reply(s,
				"552 5.3.4 Message size exceeds fixed maximum "
				"message size");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_SIZE);
		break;
	default:
		smtp_sess_reply(s, "452 4.3.1 Insufficient system storage");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_FULL);
		break;
	}
}

/* The terminator has been read (or BDAT LAST): refuse the message or
 * propose it. */
static void end_of_data(struct smtp_session *s)
{
	struct wbuf wb;
	int rc = smtp_data_status(&s->data);

	if (rc != 0) {
		data_refused(s, rc);
		smtp_sess_idle(s);
		return;
	}
	if (s->data.received > s->conf.hop_max) {
		smtp_sess_reply(s,
				"554 5.4.6 Error: too many hops (%u Received: "
				"headers)",
				s->data.received);
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_HOPS);
		smtp_sess_idle(s);
		return;
	}
	if (smtp_sess_storage_low(s) || build_enqueue(s, &wb) != 0) {
		smtp_sess_reply(s, "452 4.3.1 Insufficient system storage");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_FULL);
		smtp_sess_idle(s);
		return;
	}
	/* The durability rule: no reply now. The 250 comes only from
	 * smtp_session_proposed(), once the entry is applied on the leader
	 * (committed on a quorum). */
	smtp_sess_enter(s, SMTP_S_QUEUEING);
	s->eod_at = clock_mono_s();
	smtp_sess_flush(s);
	rc = s->env.propose(s->env.arg, wb.p, wb.len);
	wbuf_free(&wb);
	if (rc != 0 && s->state == SMTP_S_QUEUEING) {
		if (rc == SMTP_PROPOSE_E_TOOBIG) {
			smtp_sess_reply(s,
					"552 5.3.4 Message size exceeds fixed "
					"maximum message size");
			smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_SIZE);
		} else {
			smtp_sess_reply(
			    s, "451 4.3.0 Error: queue unavailable, try "
			       "again later");
			smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_NOQUORUM);
		}
		smtp_sess_idle(s);
	}
}

void smtp_sess_chunk_end(struct smtp_session *s)
{
	int rc;

	s->chunk_active = 0;
	if (s->chunk_discard) {
		s->chunk_discard = 0; /* refused at BDAT: already answered */
		return;
	}
	if (s->chunk_last) {
		smtp_data_finish(&s->data);
		end_of_data(s);
		return;
	}
	/* refuse as soon as the message cannot be accepted: the client
	 * sends no more chunks after a 5xx or 4xx (RFC 3030 2) */
	rc = smtp_data_status(&s->data);
	if (rc != 0) {
		data_refused(s, rc);
		smtp_sess_idle(s);
		return;
	}
	smtp_sess_reply(s, "250 2.0.0 Ok: %llu octets",
			(unsigned long long)s->chunk_size);
}

/* ---- input ---- */

/* The octets of the BDAT chunk being read: stored, or skipped when the
 * BDAT was refused. */
static void chunk_input(struct smtp_session *s, const char *p, size_t avail)
{
	size_t k = avail < s->chunk_left ? avail : (size_t)s->chunk_left;

	if (!s->chunk_discard)
		(void)smtp_data_feed(&s->data, p, k); /* raw: takes all */
	s->in_off += k;
	s->chunk_left -= k;
	if (s->chunk_left == 0)
		smtp_sess_chunk_end(s);
}

/* Handle buffered input until it runs out or the session must wait. */
static void process(struct smtp_session *s)
{
	if (s->processing)
		return;
	s->processing = 1;
	while (s->state != SMTP_S_CLOSED && s->state != SMTP_S_QUEUEING &&
	       s->in_off < s->in.len) {
		const char *p = (const char *)s->in.p + s->in_off;
		size_t avail = s->in.len - s->in_off;
		const char *lf;

		if (s->chunk_active) {
			chunk_input(s, p, avail);
			continue;
		}
		if (s->state == SMTP_S_DATA) {
			s->in_off += smtp_data_feed(&s->data, p, avail);
			if (s->data.done)
				end_of_data(s);
			continue;
		}
		lf = memchr(p, '\n', avail);
		if (lf == NULL) {
			if (avail >= SMTP_LINE_MAX) {
				if (!s->discarding)
					smtp_sess_error(s,
							"500 5.5.2 Error: line "
							"too long");
				s->discarding = 1;
				s->in_off = s->in.len;
			}
			break;
		}
		s->in_off += (size_t)(lf - p) + 1;
		if (s->discarding) {
			s->discarding = 0; /* the tail of the long line */
			continue;
		}
		if ((size_t)(lf - p) + 1 > SMTP_LINE_MAX) {
			smtp_sess_error(s, "500 5.5.2 Error: line too long");
			continue;
		}
		smtp_sess_command(s, p, (size_t)(lf - p) + 1);
	}
	if (s->in_off == s->in.len) {
		s->in_off = s->in.len = 0;
	} else if (s->in_off > 0 && s->in_off >= s->in.len / 2) {
		memmove(s->in.p, s->in.p + s->in_off, s->in.len - s->in_off);
		s->in.len -= s->in_off;
		s->in_off = 0;
	}
	s->processing = 0;
	if (s->out_failed && s->state != SMTP_S_CLOSED) {
		s->out_failed = 0;
		log_error("smtp [%s]: out of memory for replies", s->client_ip);
		smtp_sess_close(s);
	}
	smtp_sess_flush(s);
}

void smtp_session_input(struct smtp_session *s, const char *p, size_t n)
{
	if (s->state == SMTP_S_CLOSED || n == 0)
		return;
	wbuf_raw(&s->in, p, n);
	if (s->in.err) {
		log_error("smtp [%s]: out of memory for input", s->client_ip);
		smtp_sess_reply(s, "421 4.3.0 %s Error: out of memory",
				s->node_domain);
		smtp_sess_close(s);
		return;
	}
	process(s);
}

/* The receive log's line for the message just answered with reply. */
static void recv_log(const struct smtp_session *s, const char *reply)
{
	const char *stack[16];
	const char **rcpt = stack;
	struct smtp_recv_entry e;

	if (s->nrcpt > 16) {
		rcpt = malloc(s->nrcpt * sizeof(*rcpt));
		if (rcpt == NULL)
			return; /* the line is dropped, the mail is not */
	}
	for (uint32_t i = 0; i < s->nrcpt; i++)
		rcpt[i] = s->rcpt[i].addr;
	memset(&e, 0, sizeof(e));
	e.node_name = s->node_name;
	e.client_ip = s->client_ip;
	e.helo = s->helo;
	e.sender = s->sender;
	e.rcpt = rcpt;
	e.nrcpt = s->nrcpt;
	e.size = s->body_len;
	e.name = s->name;
	e.reply = reply;
	smtp_recvlog_write(&e);
	if (rcpt != stack)
		free(rcpt);
}

void smtp_session_proposed(struct smtp_session *s, int applied, int res_status,
			   uint32_t res_flags)
{
	char reply[SPOOL_NAME_MAX + 256];
	int ev = SMTP_EV_REJECTED;
	uint64_t n = SMTP_REJ_SPOOL;

	assert(s->state == SMTP_S_QUEUEING);
	if (applied &&
	    (res_status == 0 || (res_flags & RES_F_DUPLICATE) != 0)) {
		snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %s",
			 s->name);
		metrics_observe(MH_ACCEPT_SECONDS, clock_mono_s() - s->eod_at);
		log_info(
		    "smtp [%s]: queued %s, %llu octets, %u recipient(s)%s%s%s",
		    s->client_ip, s->name, (unsigned long long)s->body_len,
		    s->nrcpt, (res_flags & RES_F_DUPLICATE) ? " (retried)" : "",
		    s->auth_user[0] ? ", authenticated as " : "", s->auth_user);
		ev = SMTP_EV_ACCEPTED;
		n = s->body_len;
	} else if (!applied) {
		snprintf(reply, sizeof(reply),
			 "451 4.3.0 Error: could not commit the message to a "
			 "quorum, try again later");
		n = SMTP_REJ_NOQUORUM;
	} else if (res_status == SPOOL_E_FULL || res_status == SPOOL_E_NOMEM) {
		snprintf(reply, sizeof(reply),
			 "452 4.3.1 Insufficient system storage");
		n = SMTP_REJ_FULL;
	} else if (res_status == SPOOL_E_HOPS) {
		snprintf(reply, sizeof(reply),
			 "554 5.4.6 Error: too many hops");
		n = SMTP_REJ_HOPS;
	} else {
		snprintf(reply, sizeof(reply),
			 "554 5.3.0 Error: message refused by the spool (%s)",
			 spool_strerror(res_status));
	}
	smtp_sess_reply(s, "%s", reply);
	recv_log(s, reply);
	smtp_sess_event(s, ev, n);
	smtp_sess_idle(s);
	if (s->stop_after) {
		smtp_sess_reply(s, "421 4.3.2 %s Service shutting down",
				s->node_domain);
		smtp_sess_close(s);
	}
	process(s); /* pipelined commands waiting behind the message */
}

void smtp_session_timeout(struct smtp_session *s)
{
	if (s->state == SMTP_S_CLOSED)
		return;
	if (s->state == SMTP_S_QUEUEING) {
		s->stop_after = 1; /* the server's reply timer decides */
		return;
	}
	smtp_sess_reply(s, "421 4.4.2 %s Error: timeout exceeded",
			s->node_domain);
	smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_TIMEOUT);
	smtp_sess_close(s);
}

void smtp_session_shutdown(struct smtp_session *s)
{
	if (s->state == SMTP_S_CLOSED)
		return;
	if (s->state == SMTP_S_QUEUEING) {
		s->stop_after = 1;
		return;
	}
	smtp_sess_reply(s, "421 4.3.2 %s Service shutting down",
			s->node_domain);
	smtp_sess_close(s);
}

/* ---- life cycle ---- */

struct smtp_session *smtp_session_new(const struct smtp_session_conf *conf,
				      const struct smtp_session_env *env)
{
	struct smtp_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	snprintf(s->node_name, sizeof(s->node_name), "%s",
		 conf->node_name ? conf->node_name : "");
	snprintf(s->node_domain, sizeof(s->node_domain), "%s",
		 conf->node_domain && conf->node_domain[0] ? conf->node_domain
							   : s->node_name);
	snprintf(s->cluster_domain, sizeof(s->cluster_domain), "%s",
		 conf->cluster_domain ? conf->cluster_domain : "");
	snprintf(s->client_ip, sizeof(s->client_ip), "%s",
		 conf->client_ip ? conf->client_ip : "unknown");
	s->conf = *conf;
	s->conf.node_name = s->node_name;
	s->conf.node_domain = s->node_domain;
	s->conf.cluster_domain = s->cluster_domain;
	s->conf.client_ip = s->client_ip;
	s->env = *env;
	s->state = SMTP_S_CONNECTED;
	s->tls = conf->implicit_tls != 0; /* RFC 8314: TLS from the start */
	smtp_data_init(&s->data, conf->max_size);
	return s;
}

void smtp_session_free(struct smtp_session *s)
{
	if (s == NULL)
		return;
	if (s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT)
		smtp_sess_event(s, SMTP_EV_DISCARDED, 0);
	if (s->state == SMTP_S_AUTH && s->conf.auth->abort != NULL)
		s->conf.auth->abort(s->conf.auth->arg);
	smtp_sess_reset(s);
	free(s->rcpt);
	wbuf_free(&s->in);
	wbuf_free(&s->out);
	free(s);
}

void smtp_session_start(struct smtp_session *s)
{
	smtp_sess_reply(s, "220 %s ESMTP smtpcluster %s", s->node_domain,
			s->node_name);
	smtp_sess_flush(s);
}
