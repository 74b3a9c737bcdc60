/*
 * conn.c — one byte stream on the libuv loop (see conn.h): the stream and
 * timer handles, the write requests, the TLS session over tls.c's memory
 * BIOs, flow control and the close that happens once.
 *
 * Owns: the two handles, the write requests in flight, the tls_conn. Does
 * not own the struct conn (the owner's), the TLS contexts, or any protocol:
 * what the bytes mean, what to log and when to close is the owner's.
 *
 * Fails soft: every failure is reported to the owner (a return code or
 * on_error) and nothing here closes by itself, except a graceful close
 * that a failed write or the watchdog cuts short.
 */
#include "src/base/conn.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONN_IO_BUF (64 * 1024)
#define TLS_CHUNK 16384

/* One read is handled at a time on a loop: scratch buffers per thread. */
static _Thread_local char rbuf[CONN_IO_BUF];
static _Thread_local char plain[CONN_IO_BUF];

struct conn_wreq {
	uv_write_t req;
	struct conn *c;
	char data[];
};

static void close_handles(struct conn *c);

/* ---- life ---- */

int conn_init(struct conn *c, uv_loop_t *loop, enum conn_kind kind,
	      const struct conn_cbs *cb, void *data)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->cb = cb;
	c->data = data;
	if (kind == CONN_PIPE)
		rc = uv_pipe_init(loop, &c->u.pipe, 0);
	else
		rc = uv_tcp_init(loop, &c->u.tcp);
	if (rc != 0)
		return rc;
	uv_timer_init(loop, &c->timer); /* cannot fail */
	c->u.h.data = c;
	c->timer.data = c;
	c->creq.data = c;
	c->sreq.data = c;
	c->open = 2;
	return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open > 0)
		return;
	tls_conn_free(c->tls);
	c->tls = NULL;
	c->cb->on_close(c); /* may free c */
}

static void close_handles(struct conn *c)
{
	if (c->handles_closing)
		return;
	c->handles_closing = 1;
	c->reading = 0;
	uv_close(&c->u.h, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	close_handles(req->data);
}

static int tls_flush(struct conn *c);
static void on_timer(uv_timer_t *t);

void conn_close(struct conn *c, int graceful)
{
	if (c->closing) {
		if (!graceful)
			close_handles(c);
		return;
	}
	c->closing = 1;
	conn_read_stop(c);
	if (!graceful) {
		close_handles(c);
		return;
	}
	if (c->tls_state == CONN_TLS) {
		tls_conn_close_notify(c->tls);
		if (tls_flush(c) != 0)
			close_handles(c);
	}
	uv_timer_start(&c->timer, on_timer, CONN_CLOSE_WATCHDOG_MS, 0);
	if (c->handles_closing ||
	    uv_shutdown(&c->sreq, &c->u.s, on_shutdown) != 0)
		close_handles(c);
}

int conn_closing(const struct conn *c)
{
	return c->closing;
}

/* ---- the timer ---- */

static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->closing) {
		close_handles(c); /* the graceful close took too long */
		return;
	}
	if (c->cb->on_timer != NULL)
		c->cb->on_timer(c);
}

void conn_timer(struct conn *c, uint64_t ms)
{
	if (c->closing)
		return;
	uv_timer_stop(&c->timer);
	if (ms > 0)
		uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status)
{
	struct conn_wreq *w = (struct conn_wreq *)req;
	struct conn *c = w->c;

	free(w);
	c->writes--;
	if (c->handles_closing)
		return;
	if (c->closing) {
		if (status < 0)
			close_handles(c); /* the graceful close cannot finish */
		return;
	}
	if (status < 0) {
		if (c->cb->on_error != NULL)
			c->cb->on_error(c, CONN_EV_WRITE, status);
		return;
	}
	if (c->cb->on_written != NULL)
		c->cb->on_written(c);
}

/* Queue the pieces on the stream as they are, copied into one request. */
static int raw_writev(struct conn *c, const uv_buf_t *bufs, unsigned nbufs)
{
	struct conn_wreq *w;
	size_t n = 0, o = 0;
	uv_buf_t b;
	int rc;

	for (unsigned i = 0; i < nbufs; i++)
		n += bufs[i].len;
	if (c->handles_closing || n == 0)
		return 0;
	w = malloc(sizeof(*w) + n);
	if (w == NULL)
		return UV_ENOMEM;
	w->c = c;
	for (unsigned i = 0; i < nbufs; i++) {
		if (bufs[i].len > 0)
			memcpy(w->data + o, bufs[i].base, bufs[i].len);
		o += bufs[i].len;
	}
	b = uv_buf_init(w->data, (unsigned)n);
	rc = uv_write(&w->req, &c->u.s, &b, 1, on_write);
	if (rc != 0) {
		free(w);
		return rc;
	}
	c->writes++;
	return 0;
}

/* Queue n octets on the stream as they are (copied). */
static int raw_write(struct conn *c, const void *p, size_t n)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);

	return raw_writev(c, &b, 1);
}

/* Send whatever ciphertext TLS has produced. 0 or a raw_write error. */
static int tls_flush(struct conn *c)
{
	char buf[TLS_CHUNK];
	size_t n;

	while ((n = tls_conn_take(c->tls, buf, sizeof(buf))) > 0) {
		int rc = raw_write(c, buf, n);

		if (rc != 0)
			return rc;
	}
	return 0;
}

int conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->handles_closing || n == 0)
		return 0;
	switch (c->tls_state) {
	case CONN_PLAIN:
		return raw_write(c, p, n);
	case CONN_TLS:
		if (tls_conn_write(c->tls, p, n) != 0)
			return UV_EPROTO;
		return tls_flush(c);
	default:
		return 0; /* mid-handshake: nothing can be said */
	}
}

int conn_writev(struct conn *c, const uv_buf_t *bufs, unsigned nbufs)
{
	if (c->handles_closing)
		return 0;
	if (c->tls_state == CONN_PLAIN)
		return raw_writev(c, bufs, nbufs);
	for (unsigned i = 0; i < nbufs; i++) {
		int rc = conn_write(c, bufs[i].base, bufs[i].len);

		if (rc != 0)
			return rc;
	}
	return 0;
}

size_t conn_write_queue_size(const struct conn *c)
{
	return uv_stream_get_write_queue_size(&c->u.s);
}

unsigned conn_writes_pending(const struct conn *c)
{
	return c->writes;
}

/* ---- reading ---- */

static void report(struct conn *c, enum conn_event ev, int code)
{
	if (c->cb->on_error != NULL)
		c->cb->on_error(c, ev, code);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	*b = uv_buf_init(rbuf, sizeof(rbuf));
}

/* Drive the handshake and decrypt; plaintext to the owner. */
static void tls_step(struct conn *c)
{
	for (;;) {
		int r = tls_conn_read(c->tls, plain, sizeof(plain));
		int wrc = tls_flush(c);

		if (wrc != 0) {
			report(c, CONN_EV_WRITE, wrc);
			return;
		}
		if (c->closing)
			return;
		if (c->tls_state == CONN_HANDSHAKE &&
		    tls_conn_established(c->tls)) {
			c->tls_state = CONN_TLS;
			if (c->cb->on_tls != NULL)
				c->cb->on_tls(c);
			if (c->closing)
				return;
		}
		if (r == 0)
			return;
		if (r < 0) {
			report(c, CONN_EV_TLS, r);
			return;
		}
		if (c->cb->on_data != NULL)
			c->cb->on_data(c, plain, (size_t)r);
		if (c->closing)
			return;
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;
	int rc;

	if (c->closing)
		return;
	if (n < 0) {
		report(c, CONN_EV_READ, (int)n);
		return;
	}
	if (n == 0)
		return;
	if (c->cb->on_rx != NULL) {
		c->cb->on_rx(c, (size_t)n);
		if (c->closing)
			return;
	}
	if (c->tls_state == CONN_PLAIN) {
		if (c->cb->on_data != NULL)
			c->cb->on_data(c, b->base, (size_t)n);
		return;
	}
	rc = tls_conn_feed(c->tls, b->base, (size_t)n);
	if (rc != 0) {
		report(c, CONN_EV_TLS, rc);
		return;
	}
	tls_step(c);
}

int conn_read_start(struct conn *c)
{
	int rc;

	if (c->reading)
		return 0;
	if (c->closing)
		return UV_EINVAL;
	rc = uv_read_start(&c->u.s, on_alloc, on_read);
	if (rc == 0)
		c->reading = 1;
	return rc;
}

void conn_read_stop(struct conn *c)
{
	if (!c->reading)
		return;
	c->reading = 0;
	uv_read_stop(&c->u.s);
}

int conn_reading(const struct conn *c)
{
	return c->reading;
}

/* ---- connecting ---- */

int conn_accept(struct conn *c, uv_stream_t *listener)
{
	return uv_accept(listener, &c->u.s);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;

	if (c->closing)
		return;
	if (c->cb->on_connect != NULL)
		c->cb->on_connect(c, status);
}

int conn_connect_tcp(struct conn *c, const struct sockaddr *sa)
{
	return uv_tcp_connect(&c->creq, &c->u.tcp, sa, on_connect);
}

void conn_connect_pipe(struct conn *c, const char *path)
{
	uv_pipe_connect(&c->creq, &c->u.pipe, path, on_connect);
}

int conn_open_fd(struct conn *c, int fd)
{
	return uv_pipe_open(&c->u.pipe, fd);
}

void conn_set_nodelay(struct conn *c)
{
	uv_tcp_nodelay(&c->u.tcp, 1);
}

int conn_fileno(const struct conn *c, uv_os_fd_t *fd)
{
	return uv_fileno(&c->u.h, fd);
}

/* The peer's address and port; 0 or -1. */
static int peer_addr(const struct conn *c, char *ip, size_t size, int *port)
{
	struct sockaddr_storage sa;
	int len = sizeof(sa);

	if (uv_tcp_getpeername(&c->u.tcp, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	if (sa.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;

		uv_ip4_name(s4, ip, size);
		*port = ntohs(s4->sin_port);
		return 0;
	}
	if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;

		uv_ip6_name(s6, ip, size);
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	return -1;
}

void conn_peer_ip(const struct conn *c, char *buf, size_t size)
{
	int port;

	snprintf(buf, size, "unknown");
	if (peer_addr(c, buf, size, &port) != 0) {
		snprintf(buf, size, "unknown");
		return;
	}
	if (strncmp(buf, "::ffff:", 7) == 0 && strchr(buf, '.'))
		memmove(buf, buf + 7, strlen(buf + 7) + 1);
}

void conn_peer_name(const struct conn *c, char *buf, size_t size)
{
	char host[64] = "?";
	int port = 0;

	if (peer_addr(c, host, sizeof(host), &port) != 0) {
		snprintf(host, sizeof(host), "?");
		port = 0;
	}
	snprintf(buf, size, "%s:%d", host, port);
}

/* ---- TLS ---- */

int conn_starttls_server(struct conn *c, struct tls_ctx *ctx)
{
	if (c->tls != NULL)
		return UV_EALREADY;
	c->tls = tls_conn_new(ctx);
	if (c->tls == NULL)
		return UV_ENOMEM;
	c->tls_state = CONN_HANDSHAKE;
	return 0;
}

int conn_starttls_client(struct conn *c, struct ssl_ctx_st *ctx,
			 const char *sni)
{
	if (c->tls != NULL)
		return UV_EALREADY;
	c->tls = tls_conn_new_client(ctx, sni);
	if (c->tls == NULL)
		return UV_ENOMEM;
	c->tls_state = CONN_HANDSHAKE;
	tls_step(c); /* the ClientHello */
	return 0;
}

enum conn_tls_state conn_tls_state(const struct conn *c)
{
	return c->tls_state;
}

const char *conn_tls_error(const struct conn *c)
{
	return c->tls != NULL ? tls_conn_error(c->tls) : "no TLS session";
}

const char *conn_tls_version(const struct conn *c)
{
	return c->tls != NULL ? tls_conn_version(c->tls) : "";
}

const char *conn_tls_cipher(const struct conn *c)
{
	return c->tls != NULL ? tls_conn_cipher(c->tls) : "";
}

int conn_tls_peer_node(const struct conn *c, unsigned long long *id)
{
	if (c->tls == NULL || c->tls_state != CONN_TLS)
		return -1;
	return tls_conn_peer_node(c->tls, id);
}
