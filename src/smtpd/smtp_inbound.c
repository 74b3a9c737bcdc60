/*
 * smtp_inbound.c — one SMTP receiver connection (see smtp_inbound.h) on a
 * src/base/conn.h stream: what the session writes and reads (in the clear
 * or through TLS after STARTTLS), flow control, the receive timeout, the
 * reply deadline of the proposal in flight, and the orderly close. It is
 * the smtp_session's environment: the env callbacks below are how the
 * pure session reaches the world; the listener is reached only through
 * struct smtp_inbound_host.
 *
 * The durability rule lives here and in smtp_session_proposed(): the
 * session is told "applied" only from the cluster's callback, i.e. after
 * the ENQUEUE entry was committed on a quorum and applied on the leader;
 * only then does it write 250.
 *
 * A submission connection (smtp_session_conf.submission) also owns its
 * SASL state (smtp_auth.c), freed after its session; implicit TLS (port
 * 465) starts the handshake before anything is written and greets once
 * it is done.
 *
 * Lifetime: a connection is freed in the conn's close callback. A proposal in flight is a separate srv_pending that outlives the
 * connection when needed, so the cluster's late answer never touches
 * freed memory. Failures (write errors, TLS errors, a vanished client)
 * close the connection; the partial message dies with the session.
 */
#include "src/smtpd/smtp_inbound.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/err.h"
#include "spool/store/spool.h"
#include "src/base/conn.h"
#include "src/base/log.h"
#include "src/cluster/cluster.h"
#include "src/smtpd/smtp_auth.h"

#define HOLD_MAX (64 * 1024)	/* pipelined input held behind a proposal */
#define WQUEUE_MAX (256 * 1024) /* unsent replies before we stop reading */

/* A proposal in flight. It outlives its connection when the client goes
 * away or the reply deadline passes first: c is then NULL, it is listed
 * in the host's orphans (it still holds a message in the cluster, so it
 * counts against the node's limits) and the cluster's answer only frees
 * it. */
struct inbound_pending {
	struct smtp_inbound *c;
	struct inbound_orphans *o; /* set while abandoned */
	char ip[INET6_ADDRSTRLEN];
	LIST_ENTRY(inbound_pending) link; /* o->list */
};

/* The abandoned proposals of one host; freed with the last reference
 * (the host's, dropped by smtp_inbound_host_release, and one each). */
struct inbound_orphans {
	unsigned refs;
	unsigned n;
	LIST_HEAD(orphan_list, inbound_pending) list;
};

static void orphans_unref(struct inbound_orphans *o)
{
	if (o != NULL && --o->refs == 0)
		free(o);
}

struct smtp_inbound {
	struct conn conn;
	struct smtp_inbound_host *h;
	struct smtp_session *sess; /* NULL for a refused connection */
	struct smtp_auth *auth;	   /* SASL of a submission session, or NULL */
	int greet_after_tls;	   /* implicit TLS: greet once it is up */
	struct inbound_pending *prop;
	char ip[INET6_ADDRSTRLEN];
	uint64_t receive_timeout_ms;
	int closing;		       /* no more I/O; the conn closes soon */
	LIST_ENTRY(smtp_inbound) link; /* h->conns */
};

static void inbound_close(struct smtp_inbound *c, int graceful);

/* ---- writing ---- */

/* Queue n octets; a failure is logged and closes. */
static void inbound_write(struct smtp_inbound *c, const char *p, size_t n)
{
	int rc = conn_write(&c->conn, p, n);

	if (rc == 0)
		return;
	if (rc == UV_ENOMEM)
		log_error("smtp [%s]: out of memory for a reply", c->ip);
	else if (rc == UV_EPROTO)
		log_info("smtp [%s]: TLS: %s", c->ip, conn_tls_error(&c->conn));
	else
		log_info("smtp [%s]: write: %s", c->ip, uv_strerror(rc));
	inbound_close(c, 0);
}

/* Start or stop reading as flow control says. */
static void update_reading(struct smtp_inbound *c)
{
	int want = !c->closing && c->sess != NULL;

	if (want && smtp_session_state(c->sess) == SMTP_S_QUEUEING &&
	    smtp_session_buffered(c->sess) > HOLD_MAX)
		want = 0; /* the client pipelines faster than we commit */
	if (want && conn_write_queue_size(&c->conn) > WQUEUE_MAX)
		want = 0; /* the client does not read its replies */
	if (want == conn_reading(&c->conn))
		return;
	if (want)
		(void)conn_read_start(&c->conn);
	else
		conn_read_stop(&c->conn);
}

/* ---- closing ---- */

/* Let the cluster's answer find no connection; the proposal keeps
 * counting against the limits until it is answered. */
static void abandon_proposal(struct smtp_inbound *c)
{
	struct smtp_inbound_host *h = c->h;
	struct inbound_pending *pp = c->prop;

	if (pp == NULL)
		return;
	pp->c = NULL;
	c->prop = NULL;
	if (h->orphans == NULL) {
		h->orphans = calloc(1, sizeof(*h->orphans));
		if (h->orphans == NULL)
			return; /* not counted: nothing worse than before */
		h->orphans->refs = 1;
		LIST_INIT(&h->orphans->list);
	}
	pp->o = h->orphans;
	pp->o->refs++;
	pp->o->n++;
	memcpy(pp->ip, c->ip, sizeof(pp->ip));
	LIST_INSERT_HEAD(&pp->o->list, pp, link);
}

unsigned smtp_inbound_load(const struct smtp_inbound_host *h)
{
	return h->nconns + (h->orphans != NULL ? h->orphans->n : 0);
}

void smtp_inbound_host_release(struct smtp_inbound_host *h)
{
	orphans_unref(h->orphans);
	h->orphans = NULL;
}

/* Close: graceful = send what is queued first (bounded by a watchdog). */
static void inbound_close(struct smtp_inbound *c, int graceful)
{
	if (!c->closing) {
		c->closing = 1;
		abandon_proposal(c);
	}
	conn_close(&c->conn, graceful);
}

static void on_close(struct conn *cn)
{
	struct smtp_inbound *c = cn->data;
	struct smtp_inbound_host *h = c->h;

	smtp_session_free(c->sess); /* drops a partial message */
	smtp_auth_free(c->auth);    /* after the session that uses it */
	if (c->sess != NULL)
		h->stats->active--;
	LIST_REMOVE(c, link);
	h->nconns--;
	free(c);
	h->released(h->arg);
}

/* ---- timers ---- */

/* The receive timeout, unless a proposal's deadline is running. */
static void arm_receive_timer(struct smtp_inbound *c)
{
	if (c->closing || c->prop != NULL)
		return;
	conn_timer(&c->conn, c->receive_timeout_ms);
}

static void on_timer(struct conn *cn)
{
	struct smtp_inbound *c = cn->data;

	if (c->prop != NULL) {
		log_warn("smtp [%s]: no quorum within %u ms; 451 sent", c->ip,
			 c->h->reply_timeout_ms);
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
	inbound_write(arg, p, n);
}

static void on_proposed(void *arg, int status, const struct spool_result *res)
{
	struct inbound_pending *pp = arg;
	struct smtp_inbound *c = pp->c;

	if (pp->o != NULL) {
		LIST_REMOVE(pp, link);
		pp->o->n--;
		orphans_unref(pp->o);
	}
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
	struct smtp_inbound *c = arg;
	struct inbound_pending *pp = malloc(sizeof(*pp));
	int rc;

	if (pp == NULL)
		return SMTP_PROPOSE_E_FAILED;
	memset(pp, 0, sizeof(*pp));
	pp->c = c;
	c->prop = pp;
	rc = cluster_propose(c->h->cl, cmd, len, on_proposed, pp);
	if (rc != 0) {
		c->prop = NULL;
		free(pp);
		log_warn("smtp [%s]: cannot propose the message (%d)", c->ip,
			 rc);
		return rc == CLUSTER_E_TOOBIG ? SMTP_PROPOSE_E_TOOBIG
					      : SMTP_PROPOSE_E_FAILED;
	}
	if (c->prop != NULL) /* not answered inside cluster_propose */
		conn_timer(&c->conn, c->h->reply_timeout_ms);
	return 0;
}

static int env_starttls(void *arg)
{
	struct smtp_inbound *c = arg;
	int rc;

	if (c->h->tls == NULL)
		return -1;
	rc = conn_starttls_server(&c->conn, c->h->tls);
	if (rc == UV_ENOMEM)
		log_error("smtp [%s]: cannot start TLS (out of memory)", c->ip);
	return rc == 0 ? 0 : -1;
}

static void env_close(void *arg)
{
	inbound_close(arg, 1);
}

static int env_alias_has(void *arg, const char *domain)
{
	struct smtp_inbound *c = arg;

	return c->h->alias_has(c->h->arg, domain);
}

static int env_storage_low(void *arg)
{
	struct smtp_inbound *c = arg;

	return c->h->storage_low != NULL && c->h->storage_low();
}

static uint64_t env_now_ms(void *arg)
{
	struct smtp_inbound *c = arg;

	return c->h->now_ms();
}

static void env_event(void *arg, int ev, uint64_t n)
{
	struct smtp_inbound *c = arg;
	struct smtp_stats *st = c->h->stats;

	if (ev == SMTP_EV_ACCEPTED) {
		st->messages++;
		st->bytes += n;
	} else if (ev == SMTP_EV_REJECTED && n < SMTP_REJ__COUNT) {
		st->rejected[n]++;
	} else if (ev == SMTP_EV_LOGIN) {
		st->logins++;
	} else if (ev == SMTP_EV_DISCARDED) {
		st->discarded++;
		log_info("smtp [%s]: partial message discarded", c->ip);
	}
}

/* ---- reading ---- */

static void on_rx(struct conn *cn, size_t n)
{
	arm_receive_timer(cn->data);
}

static void on_data(struct conn *cn, const char *p, size_t n)
{
	struct smtp_inbound *c = cn->data;

	smtp_session_input(c->sess, p, n);
	update_reading(c);
}

static void on_tls(struct conn *cn)
{
	struct smtp_inbound *c = cn->data;

	c->h->stats->tls_sessions++;
	log_debug("smtp [%s]: TLS established, %s %s", c->ip,
		  conn_tls_version(cn), conn_tls_cipher(cn));
	if (c->greet_after_tls && !c->closing) { /* RFC 8314 3.3 */
		c->greet_after_tls = 0;
		smtp_session_start(c->sess);
	}
}

static void on_error(struct conn *cn, enum conn_event ev, int code)
{
	struct smtp_inbound *c = cn->data;

	switch (ev) {
	case CONN_EV_READ:
		if (code != UV_EOF)
			log_info("smtp [%s]: read: %s", c->ip,
				 uv_strerror(code));
		else
			log_debug("smtp [%s]: client closed (%s)", c->ip,
				  smtp_state_name(smtp_session_state(c->sess)));
		inbound_close(c, 0);
		break;
	case CONN_EV_WRITE:
		if (code == UV_ENOMEM)
			log_error("smtp [%s]: out of memory for a reply",
				  c->ip);
		else if (!c->closing)
			log_info("smtp [%s]: write: %s", c->ip,
				 uv_strerror(code));
		inbound_close(c, 0);
		break;
	case CONN_EV_TLS:
		if (code == TLS_E_CLOSED) {
			inbound_close(c, 1);
			break;
		}
		if (code != TLS_E_NOMEM) {
			log_info("smtp [%s]: TLS: %s", c->ip,
				 conn_tls_error(cn));
			if (conn_tls_state(cn) == CONN_HANDSHAKE)
				c->h->stats->rejected[SMTP_REJ_TLS]++;
		}
		inbound_close(c, 0);
		break;
	}
}

static void on_written(struct conn *cn)
{
	update_reading(cn->data);
}

static const struct conn_cbs inbound_cbs = {
    .on_rx = on_rx,
    .on_data = on_data,
    .on_tls = on_tls,
    .on_error = on_error,
    .on_written = on_written,
    .on_timer = on_timer,
    .on_close = on_close,
};

/* ---- life cycle ---- */

static void on_refused_handle_closed(uv_handle_t *h)
{
	free(h);
}

struct smtp_inbound *smtp_inbound_accept(struct smtp_inbound_host *h,
					 uv_stream_t *listener)
{
	struct smtp_inbound *c = calloc(1, sizeof(*c));

	if (c == NULL ||
	    conn_init(&c->conn, h->loop, CONN_TCP, &inbound_cbs, c) != 0) {
		/* accept and drop it, or libuv keeps calling us */
		uv_tcp_t *t = malloc(sizeof(*t));

		free(c);
		log_error("smtp: out of memory for a connection");
		if (t != NULL) {
			uv_tcp_init(h->loop, t);
			if (uv_accept(listener, (uv_stream_t *)t) != 0)
				log_warn("smtp: accept failed");
			uv_close((uv_handle_t *)t, on_refused_handle_closed);
		}
		return NULL;
	}
	c->h = h;
	LIST_INSERT_HEAD(&h->conns, c, link);
	h->nconns++;
	if (conn_accept(&c->conn, listener) != 0) {
		log_warn("smtp: accept failed");
		c->closing = 1;
		conn_close(&c->conn, 0);
		return NULL;
	}
	conn_peer_ip(&c->conn, c->ip, sizeof(c->ip));
	conn_set_nodelay(&c->conn);
	return c;
}

const char *smtp_inbound_ip(const struct smtp_inbound *c)
{
	return c->ip;
}

unsigned smtp_inbound_count_ip(const struct smtp_inbound_host *h,
			       const char *ip, const struct smtp_inbound *self)
{
	const struct smtp_inbound *c;
	unsigned n = 0;

	const struct inbound_pending *pp;

	for (c = LIST_FIRST(&h->conns); c != NULL; c = LIST_NEXT(c, link)) {
		if (c != self && !c->closing && strcmp(c->ip, ip) == 0)
			n++;
	}
	if (h->orphans == NULL)
		return n;
	LIST_FOREACH (pp, &h->orphans->list, link) {
		if (strcmp(pp->ip, ip) == 0)
			n++;
	}
	return n;
}

void smtp_inbound_refuse(struct smtp_inbound *c, const char *line)
{
	char buf[600];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", line);

	if (n > 0 && (size_t)n < sizeof(buf))
		inbound_write(c, buf, (size_t)n);
	inbound_close(c, 1);
}

void smtp_inbound_begin(struct smtp_inbound *c,
			const struct smtp_session_conf *sc,
			uint64_t receive_timeout_ms)
{
	struct smtp_session_env env = {
	    .arg = c,
	    .write = env_write,
	    .propose = env_propose,
	    .starttls = env_starttls,
	    .close = env_close,
	    .alias_has = env_alias_has,
	    .now_ms = env_now_ms,
	    .storage_low = env_storage_low,
	    .event = env_event,
	};
	struct smtp_session_conf own;

	c->receive_timeout_ms = receive_timeout_ms;
	own = *sc;
	if (sc->submission) {
		c->auth = smtp_auth_new(c->ip); /* NULL: no AUTH offered */
		own.auth = smtp_auth_ops(c->auth);
	}
	if (sc->implicit_tls) {
		if (c->h->tls == NULL ||
		    conn_starttls_server(&c->conn, c->h->tls) != 0) {
			log_error("smtp [%s]: cannot start implicit TLS",
				  c->ip);
			inbound_close(c, 0);
			return;
		}
		c->greet_after_tls = 1;
	}
	c->sess = smtp_session_new(&own, &env);
	if (c->sess == NULL) {
		log_error("smtp [%s]: out of memory for a session", c->ip);
		inbound_close(c, 0);
		return;
	}
	c->h->stats->active++;
	log_debug("smtp [%s]: connected (relay %s)", c->ip,
		  sc->policy_allowed ? "allowed" : "denied");
	if (conn_read_start(&c->conn) != 0) {
		inbound_close(c, 0);
		return;
	}
	if (!c->greet_after_tls)
		smtp_session_start(c->sess);
	arm_receive_timer(c); /* bounds the implicit handshake too */
}

void smtp_inbound_shutdown_all(struct smtp_inbound_host *h)
{
	struct smtp_inbound *c;

	/* the list only shrinks in close callbacks, never in here */
	for (c = LIST_FIRST(&h->conns); c != NULL; c = LIST_NEXT(c, link)) {
		if (c->closing)
			continue;
		if (c->sess == NULL)
			inbound_close(c, 1);
		else
			smtp_session_shutdown(c->sess);
	}
}
