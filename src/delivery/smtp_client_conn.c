/*
 * smtp_client_conn.c — the delivery client's transport (see
 * smtp_client_conn.h): runs one smtp_client engine on a src/base/conn.h
 * connection (TCP, or a Unix socket for LMTP), with the client side of
 * TLS for STARTTLS and the engine's phase timer on the connection's timer.
 *
 * Owns: the struct smtp_conn (freed after the owner's callback, once every
 * handle is closed) and the engine inside it. Does not own the TLS context,
 * the recipients or the configuration (the caller's).
 *
 * Fails soft: every connection failure becomes smtp_client_closed() with a
 * reason the engine writes into the unanswered recipients' replies; the
 * engine then ends the session, which closes the connection.
 */
#include "src/delivery/smtp_client_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/err.h"
#include "src/base/conn.h"
#include "src/delivery/smtp_client.h"

struct smtp_conn {
	struct conn conn;
	struct ssl_ctx_st *ctx;
	char sni[256];
	int verify; /* ctx verifies the certificate for sni */
	struct smtp_client *eng;
	smtp_conn_cb cb;
	void *arg;
	struct smtp_conn **slot;
};

/* A write that failed at once, told to the engine. */
static void write_failed(struct smtp_conn *c, int rc)
{
	smtp_client_closed(c->eng, rc == UV_ENOMEM   ? "out of memory"
				   : rc == UV_EPROTO ? "TLS write failed"
						     : uv_strerror(rc));
}

/* ---- the engine's io ---- */

static void io_write(void *arg, const void *p, size_t n)
{
	struct smtp_conn *c = arg;
	int rc = conn_write(&c->conn, p, n);

	if (rc != 0)
		write_failed(c, rc);
}

static int io_starttls(void *arg)
{
	struct smtp_conn *c = arg;

	return conn_starttls_client(&c->conn, c->ctx, c->sni) == 0 ? 0 : -1;
}

static void io_timer(void *arg, uint64_t ms)
{
	struct smtp_conn *c = arg;

	conn_timer(&c->conn, ms);
}

static void io_finish(void *arg)
{
	struct smtp_conn *c = arg;

	conn_close(&c->conn, 0);
}

/* The transaction is over, the connection open: its owner takes it or
 * it is QUIT. */
static void io_ready(void *arg)
{
	struct smtp_conn *c = arg;
	smtp_conn_cb cb = c->cb;
	void *cb_arg = c->arg;

	if (c->slot != NULL && *c->slot == c)
		*c->slot = NULL;
	c->slot = NULL;
	c->cb = NULL;
	c->arg = NULL;
	cb(cb_arg, c->eng, c);
	if (c->cb == NULL)
		smtp_client_quit(c->eng); /* nobody took it */
}

/* ---- the connection's events ---- */

static void on_connect(struct conn *cn, int status)
{
	struct smtp_conn *c = cn->data;

	if (status < 0) {
		smtp_client_closed(c->eng, uv_strerror(status));
		return;
	}
	smtp_client_connected(c->eng);
	if (conn_read_start(cn) != 0)
		smtp_client_closed(c->eng, "read failed");
}

static void on_data(struct conn *cn, const char *p, size_t n)
{
	struct smtp_conn *c = cn->data;

	smtp_client_input(c->eng, p, n);
}

static void on_tls(struct conn *cn)
{
	struct smtp_conn *c = cn->data;

	smtp_client_tls_done(c->eng, 1, NULL);
}

static void on_error(struct conn *cn, enum conn_event ev, int code)
{
	struct smtp_conn *c = cn->data;

	switch (ev) {
	case CONN_EV_READ:
		smtp_client_closed(c->eng, code == UV_EOF
					       ? "connection closed by peer"
					       : uv_strerror(code));
		break;
	case CONN_EV_WRITE:
		write_failed(c, code);
		break;
	case CONN_EV_TLS:
		if (code == TLS_E_NOMEM)
			smtp_client_closed(c->eng, "TLS buffer failure");
		else if (conn_tls_state(cn) == CONN_HANDSHAKE)
			smtp_client_tls_done(c->eng, 0,
					     code == TLS_E_CLOSED
						 ? "handshake refused"
						 : conn_tls_error(cn));
		else
			smtp_client_closed(c->eng, "TLS read failed");
		break;
	}
}

static void on_written(struct conn *cn)
{
	struct smtp_conn *c = cn->data;

	if (conn_writes_pending(cn) == 0)
		smtp_client_drained(c->eng);
}

static void on_timer(struct conn *cn)
{
	struct smtp_conn *c = cn->data;

	smtp_client_timeout(c->eng);
}

static void on_close(struct conn *cn)
{
	struct smtp_conn *c = cn->data;

	if (c->slot != NULL && *c->slot == c)
		*c->slot = NULL;
	if (c->cb != NULL)
		c->cb(c->arg, c->eng, NULL);
	smtp_client_free(c->eng);
	free(c);
}

static const struct conn_cbs conn_cbs = {
    .on_connect = on_connect,
    .on_data = on_data,
    .on_tls = on_tls,
    .on_error = on_error,
    .on_written = on_written,
    .on_timer = on_timer,
    .on_close = on_close,
};

/* ---- life ---- */

/* Fill a socket address from a numeric IP and port. */
static int make_sockaddr(const char *ip, unsigned port,
			 struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':') != NULL)
		return uv_ip6_addr(ip, (int)port, (struct sockaddr_in6 *)ss);
	return uv_ip4_addr(ip, (int)port, (struct sockaddr_in *)ss);
}

int smtp_conn_start(uv_loop_t *loop, const struct smtp_conn_target *t,
		    struct ssl_ctx_st *tls, const struct smtp_client_cfg *cfg,
		    struct smtp_client_rcpt *r, uint32_t n, smtp_conn_cb cb,
		    void *arg, struct smtp_conn **slot)
{
	struct smtp_client_io io;
	struct sockaddr_storage ss;
	struct smtp_conn *c;
	int rc;

	if (t->unix_path == NULL &&
	    (t->ip == NULL || make_sockaddr(t->ip, t->port, &ss) != 0))
		return SPOOL_E_INVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return SPOOL_E_NOMEM;
	c->ctx = tls;
	c->cb = cb;
	c->arg = arg;
	if (t->sni != NULL)
		snprintf(c->sni, sizeof(c->sni), "%s", t->sni);
	c->verify = tls != NULL && t->verify;
	io.arg = c;
	io.write = io_write;
	io.starttls = tls != NULL ? io_starttls : NULL;
	io.timer = io_timer;
	io.finish = io_finish;
	io.ready = cfg->reuse > 1 && !cfg->lmtp ? io_ready : NULL;
	rc = smtp_client_new(&c->eng, cfg, &io, r, n);
	if (rc != 0)
		goto err_after_alloc;
	if (conn_init(&c->conn, loop,
		      t->unix_path != NULL ? CONN_PIPE : CONN_TCP, &conn_cbs,
		      c) != 0) {
		rc = SPOOL_E_IO;
		goto err_after_engine;
	}
	c->slot = slot;
	if (slot != NULL)
		*slot = c;
	smtp_client_begin(c->eng);
	if (t->unix_path != NULL) {
		conn_connect_pipe(&c->conn, t->unix_path);
	} else {
		rc = conn_connect_tcp(&c->conn, (const struct sockaddr *)&ss);
		if (rc != 0)
			smtp_client_closed(c->eng, uv_strerror(rc));
	}
	return 0;

err_after_engine:
	smtp_client_free(c->eng);
err_after_alloc:
	free(c);
	return rc;
}

void smtp_conn_abort(struct smtp_conn *c, const char *why)
{
	if (c == NULL || conn_closing(&c->conn))
		return;
	smtp_client_closed(c->eng, why ? why : "cancelled");
}

int smtp_conn_tls(const struct smtp_conn *c, const char **host)
{
	int level = 0;

	if (smtp_client_tls_active(c->eng))
		level = c->verify ? 2 : 1;
	if (host != NULL)
		*host = level == 2 ? c->sni : "";
	return level;
}

int smtp_conn_ready(const struct smtp_conn *c)
{
	return c != NULL && !conn_closing(&c->conn) &&
	       smtp_client_state(c->eng) == SC_READY;
}

int smtp_conn_next(struct smtp_conn *c, const struct smtp_client_cfg *cfg,
		   struct smtp_client_rcpt *r, uint32_t n, smtp_conn_cb cb,
		   void *arg, struct smtp_conn **slot)
{
	int rc;

	if (!smtp_conn_ready(c))
		return SPOOL_E_INVAL;
	/* set before: a write that fails at once ends the session */
	c->cb = cb;
	c->arg = arg;
	c->slot = slot;
	if (slot != NULL)
		*slot = c;
	rc = smtp_client_next(c->eng, cfg, r, n);
	if (rc != 0) {
		if (slot != NULL && *slot == c)
			*slot = NULL;
		c->cb = NULL;
		c->arg = NULL;
		c->slot = NULL;
	}
	return rc;
}

void smtp_conn_park(struct smtp_conn *c, smtp_conn_cb cb, void *arg)
{
	c->cb = cb;
	c->arg = arg;
	c->slot = NULL;
}

void smtp_conn_quit(struct smtp_conn *c)
{
	if (c != NULL && !conn_closing(&c->conn))
		smtp_client_quit(c->eng);
}

struct ssl_ctx_st *smtp_client_tls_ctx(void)
{
	return tls_client_ctx_new();
}

struct ssl_ctx_st *smtp_client_tls_ctx_verify(const char *ca_file, char *err,
					      size_t errsize)
{
	return tls_client_ctx_new_verify(ca_file, err, errsize);
}

void smtp_client_tls_free(struct ssl_ctx_st *ctx)
{
	tls_client_ctx_free(ctx);
}
