/*
 * smtp_inbound.c — one SMTP receiver connection on libuv: reading and
 * writing the TCP stream (in the clear or through tls.c after STARTTLS),
 * flow control, the receive timeout, the reply deadline of the proposal in
 * flight, and the orderly close. It is the smtp_session's environment: the
 * env callbacks below are how the pure session reaches the world.
 *
 * The durability rule lives here and in smtp_session_proposed(): the
 * session is told "applied" only from the cluster's callback, i.e. after
 * the ENQUEUE entry was committed on a quorum and applied on the leader;
 * only then does it write 250.
 *
 * Lifetime: a connection is freed in the close callback of its last
 * handle. A proposal in flight is a separate srv_pending that outlives the
 * connection when needed, so the cluster's late answer never touches
 * freed memory. Failures (write errors, TLS errors, a vanished client)
 * close the connection; the partial message dies with the session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/err.h"
#include "spool/store/spool.h"
#include "src/cluster/cluster.h"
#include "src/base/log.h"
#include "src/smtpd/smtp_server_impl.h"

#define HOLD_MAX (64 * 1024)	/* pipelined input held behind a proposal */
#define WQUEUE_MAX (256 * 1024) /* unsent replies before we stop reading */
#define CLOSE_WATCHDOG_MS 10000 /* a graceful close may take this long */

struct wreq {
	uv_write_t req;
	struct srv_conn *c;
	char data[];
};

static void close_handles(struct srv_conn *c);
static void conn_close(struct srv_conn *c, int graceful);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status);

/* Queue n octets on the socket (copied). */
static void raw_write(struct srv_conn *c, const char *p, size_t n)
{
	struct wreq *w;
	uv_buf_t b;
	int rc;

	if (c->handles_closing || n == 0)
		return;
	w = malloc(sizeof(*w) + n);
	if (w == NULL) {
		log_error("smtp [%s]: out of memory for a reply", c->ip);
		conn_close(c, 0);
		return;
	}
	w->c = c;
	memcpy(w->data, p, n);
	b = uv_buf_init(w->data, (unsigned)n);
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc != 0) {
		free(w);
		log_info("smtp [%s]: write: %s", c->ip, uv_strerror(rc));
		conn_close(c, 0);
	}
}

/* Send whatever ciphertext TLS has produced. */
static void tls_flush(struct srv_conn *c)
{
	char buf[16384];
	size_t n;

	while ((n = tls_conn_take(c->tls, buf, sizeof(buf))) > 0)
		raw_write(c, buf, n);
}

/* Start or stop reading as flow control says. */
static void update_reading(struct srv_conn *c)
{
	int want = !c->closing && c->sess != NULL;

	if (want && smtp_session_state(c->sess) == SMTP_S_QUEUEING &&
	    smtp_session_buffered(c->sess) > HOLD_MAX)
		want = 0; /* the client pipelines faster than we commit */
	if (want &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WQUEUE_MAX)
		want = 0; /* the client does not read its replies */
	if (want == c->reading)
		return;
	c->reading = want;
	if (want)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	else
		uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct srv_conn *c = w->c;

	free(w);
	if (status < 0) {
		if (!c->closing)
			log_info("smtp [%s]: write: %s", c->ip,
				 uv_strerror(status));
		conn_close(c, 0);
		return;
	}
	update_reading(c);
}

/* ---- closing ---- */

/* Let the cluster's answer find no connection. */
static void abandon_proposal(struct srv_conn *c)
{
	if (c->prop != NULL) {
		c->prop->c = NULL;
		c->prop = NULL;
	}
}

static void free_conn(struct srv_conn *c)
{
	struct smtp_server *s = c->srv;

	smtp_session_free(c->sess); /* drops a partial message */
	if (c->sess != NULL)
		s->stats.active--;
	tls_conn_free(c->tls);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	free(c);
	smtp_srv_maybe_done(s);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct srv_conn *c = h->data;

	if (--c->open_handles == 0)
		free_conn(c);
}

static void close_handles(struct srv_conn *c)
{
	if (c->handles_closing)
		return;
	c->handles_closing = 1;
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	close_handles(req->data);
}

static void on_timer(uv_timer_t *t);

/* Close: graceful = send what is queued first (bounded by a watchdog). */
static void conn_close(struct srv_conn *c, int graceful)
{
	if (c->closing) {
		if (!graceful)
			close_handles(c);
		return;
	}
	c->closing = 1;
	abandon_proposal(c);
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
	}
	if (!graceful) {
		close_handles(c);
		return;
	}
	if (c->tls_state == STREAM_TLS) {
		tls_conn_close_notify(c->tls);
		tls_flush(c);
	}
	uv_timer_start(&c->timer, on_timer, CLOSE_WATCHDOG_MS, 0);
	c->shutdown_req.data = c;
	if (c->handles_closing ||
	    uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp,
			on_shutdown) != 0)
		close_handles(c);
}

/* ---- timers ---- */

/* The receive timeout, unless a proposal's deadline is running. */
static void arm_receive_timer(struct srv_conn *c)
{
	if (c->closing || c->prop != NULL)
		return;
	uv_timer_start(&c->timer, on_timer, c->receive_timeout_ms, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct srv_conn *c = t->data;

	if (c->closing) {
		close_handles(c); /* the graceful close took too long */
		return;
	}
	if (c->prop != NULL) {
		log_warn("smtp [%s]: no quorum within %u ms; 451 sent", c->ip,
			 c->srv->reply_timeout_ms);
		abandon_proposal(c);
		smtp_session_proposed(c->sess, 0, 0, 0);
	} else {
		log_info("smtp [%s]: receive timeout (%s)", c->ip,
			 smtp_state_name(smtp_session_state(c->sess)));
		smtp_session_timeout(c->sess);
	}
	arm_receive_timer(c);
	update_reading(c);
}

/* ---- the session's environment ---- */

static void env_write(void *arg, const char *p, size_t n)
{
	struct srv_conn *c = arg;

	if (c->closing && c->handles_closing)
		return;
	switch (c->tls_state) {
	case STREAM_PLAIN:
		raw_write(c, p, n);
		break;
	case STREAM_TLS:
		if (tls_conn_write(c->tls, p, n) != 0) {
			log_info("smtp [%s]: TLS: %s", c->ip,
				 tls_conn_error(c->tls));
			conn_close(c, 0);
			return;
		}
		tls_flush(c);
		break;
	default:
		break; /* mid-handshake: nothing can be said */
	}
}

static void on_proposed(void *arg, int status, const struct spool_result *res)
{
	struct srv_pending *pp = arg;
	struct srv_conn *c = pp->c;

	free(pp);
	if (c == NULL)
		return; /* client gone or deadline passed: nobody to tell */
	c->prop = NULL;
	if (status != 0)
		log_warn("smtp [%s]: proposal failed (%d); 451 sent", c->ip,
			 status);
	smtp_session_proposed(c->sess, status == 0, res ? res->status : 0,
			      res ? res->flags : 0);
	arm_receive_timer(c);
	update_reading(c);
}

static int env_propose(void *arg, const void *cmd, size_t len)
{
	struct srv_conn *c = arg;
	struct srv_pending *pp = malloc(sizeof(*pp));
	int rc;

	if (pp == NULL)
		return SMTP_PROPOSE_E_FAILED;
	pp->c = c;
	c->prop = pp;
	rc = cluster_propose(c->srv->cl, cmd, len, on_proposed, pp);
	if (rc != 0) {
		c->prop = NULL;
		free(pp);
		log_warn("smtp [%s]: cannot propose the message (%d)", c->ip,
			 rc);
		return rc == CLUSTER_E_TOOBIG ? SMTP_PROPOSE_E_TOOBIG
					      : SMTP_PROPOSE_E_FAILED;
	}
	if (c->prop != NULL) /* not answered inside cluster_propose */
		uv_timer_start(&c->timer, on_timer, c->srv->reply_timeout_ms,
			       0);
	return 0;
}

static int env_starttls(void *arg)
{
	struct srv_conn *c = arg;

	if (c->srv->tls == NULL || c->tls != NULL)
		return -1;
	c->tls = tls_conn_new(c->srv->tls);
	if (c->tls == NULL) {
		log_error("smtp [%s]: cannot start TLS (out of memory)", c->ip);
		return -1;
	}
	c->tls_state = STREAM_HANDSHAKE;
	return 0;
}

static void env_close(void *arg)
{
	conn_close(arg, 1);
}

static int env_alias_has(void *arg, const char *domain)
{
	struct srv_conn *c = arg;

	return smtp_srv_alias_has(c->srv, domain);
}

static uint64_t env_now_ms(void *arg)
{
	return smtp_srv_now_ms();
}

static uint32_t env_next_seq(void *arg)
{
	struct srv_conn *c = arg;

	return ++c->srv->seq;
}

static void env_event(void *arg, int ev, uint64_t n)
{
	struct srv_conn *c = arg;
	struct smtp_stats *st = &c->srv->stats;

	if (ev == SMTP_EV_ACCEPTED) {
		st->messages++;
		st->bytes += n;
	} else if (ev == SMTP_EV_REJECTED && n < SMTP_REJ__COUNT) {
		st->rejected[n]++;
	} else if (ev == SMTP_EV_DISCARDED) {
		st->discarded++;
		log_info("smtp [%s]: partial message discarded", c->ip);
	}
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct srv_conn *c = h->data;

	*buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

/* Ciphertext in: handshake, then plaintext to the session. */
static void tls_input(struct srv_conn *c, const char *p, size_t n)
{
	struct smtp_server *s = c->srv;

	if (tls_conn_feed(c->tls, p, n) != 0) {
		conn_close(c, 0);
		return;
	}
	for (;;) {
		int r = tls_conn_read(c->tls, s->plain, sizeof(s->plain));

		tls_flush(c);
		if (c->closing)
			return;
		if (c->tls_state == STREAM_HANDSHAKE &&
		    tls_conn_established(c->tls)) {
			c->tls_state = STREAM_TLS;
			s->stats.tls_sessions++;
			log_debug("smtp [%s]: TLS established, %s %s", c->ip,
				  tls_conn_version(c->tls),
				  tls_conn_cipher(c->tls));
		}
		if (r == 0)
			return;
		if (r == TLS_E_CLOSED) {
			conn_close(c, 1);
			return;
		}
		if (r < 0) {
			log_info("smtp [%s]: TLS: %s", c->ip,
				 tls_conn_error(c->tls));
			if (c->tls_state == STREAM_HANDSHAKE)
				s->stats.rejected[SMTP_REJ_TLS]++;
			conn_close(c, 0);
			return;
		}
		smtp_session_input(c->sess, s->plain, (size_t)r);
		if (c->closing)
			return;
	}
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct srv_conn *c = st->data;

	if (n < 0) {
		if (n != UV_EOF)
			log_info("smtp [%s]: read: %s", c->ip,
				 uv_strerror((int)n));
		else
			log_debug("smtp [%s]: client closed (%s)", c->ip,
				  smtp_state_name(smtp_session_state(c->sess)));
		conn_close(c, 0);
		return;
	}
	if (n == 0 || c->closing)
		return;
	arm_receive_timer(c);
	if (c->tls_state == STREAM_PLAIN)
		smtp_session_input(c->sess, buf->base, (size_t)n);
	else
		tls_input(c, buf->base, (size_t)n);
	update_reading(c);
}

/* ---- life cycle ---- */

/* The peer's address as text; IPv4-mapped IPv6 shown as IPv4. */
static void peer_ip(struct srv_conn *c)
{
	struct sockaddr_storage sa;
	int len = sizeof(sa);

	snprintf(c->ip, sizeof(c->ip), "unknown");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) != 0)
		return;
	if (sa.ss_family == AF_INET) {
		uv_ip4_name((struct sockaddr_in *)&sa, c->ip, sizeof(c->ip));
	} else if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;

		uv_ip6_name(s6, c->ip, sizeof(c->ip));
		if (strncmp(c->ip, "::ffff:", 7) == 0 && strchr(c->ip, '.'))
			memmove(c->ip, c->ip + 7, strlen(c->ip + 7) + 1);
	}
}

static void on_refused_handle_closed(uv_handle_t *h)
{
	free(h);
}

struct srv_conn *smtp_inbound_accept(struct smtp_server *s)
{
	struct srv_conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		/* accept and drop it, or libuv keeps calling us */
		uv_tcp_t *t = malloc(sizeof(*t));

		log_error("smtp: out of memory for a connection");
		if (t != NULL) {
			uv_tcp_init(s->loop, t);
			if (uv_accept((uv_stream_t *)&s->listener,
				      (uv_stream_t *)t) != 0)
				log_warn("smtp: accept failed");
			uv_close((uv_handle_t *)t, on_refused_handle_closed);
		}
		return NULL;
	}
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) !=
	    0) {
		log_warn("smtp: accept failed");
		c->closing = 1;
		close_handles(c);
		return NULL;
	}
	peer_ip(c);
	uv_tcp_nodelay(&c->tcp, 1);
	return c;
}

void smtp_inbound_refuse(struct srv_conn *c, const char *line)
{
	char buf[600];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", line);

	if (n > 0 && (size_t)n < sizeof(buf))
		raw_write(c, buf, (size_t)n);
	conn_close(c, 1);
}

void smtp_inbound_begin(struct srv_conn *c, const struct smtp_session_conf *sc)
{
	struct smtp_session_env env = {
	    .arg = c,
	    .write = env_write,
	    .propose = env_propose,
	    .starttls = env_starttls,
	    .close = env_close,
	    .alias_has = env_alias_has,
	    .now_ms = env_now_ms,
	    .next_seq = env_next_seq,
	    .event = env_event,
	};

	c->sess = smtp_session_new(sc, &env);
	if (c->sess == NULL) {
		log_error("smtp [%s]: out of memory for a session", c->ip);
		conn_close(c, 0);
		return;
	}
	c->srv->stats.active++;
	log_debug("smtp [%s]: connected (relay %s)", c->ip,
		  sc->policy_allowed ? "allowed" : "denied");
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		conn_close(c, 0);
		return;
	}
	c->reading = 1;
	smtp_session_start(c->sess);
	arm_receive_timer(c);
}

void smtp_inbound_shutdown(struct srv_conn *c)
{
	if (c->closing)
		return;
	if (c->sess == NULL) {
		conn_close(c, 1);
		return;
	}
	smtp_session_shutdown(c->sess);
}
