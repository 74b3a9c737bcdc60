/*
 * transport.c — raft TCP transport with a checked handshake (see
 * transport.h). Owns the listener, the connections whose handshake is in
 * progress, and libraft's TCP transport used for outgoing connections.
 * A bad handshake closes that connection with one log line; nothing a
 * peer sends before its handshake is complete reaches libraft.
 *
 * With a wrap, every connection is a local socket pair's end the wrap
 * delivered: incoming ones are checked as above plus the handshake's
 * server id against the certificate's node id; outgoing ones get
 * libraft's handshake written here (libraft's TCP transport, which would
 * write it, is not used then).
 *
 * Handshake (libraft's, little-endian): u64 protocol (1), u64 server id,
 * u64 address length (padded to 8, NUL included), the address.
 */
#include "raft/transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "raft/rlog.h"

#define HS_PREAMBLE 24
#define HS_PROTOCOL 1

/* A stream handed to libraft: TCP, or a socket pair's end (wrap). */
union rstream {
	uv_handle_t h;
	uv_stream_t s;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct hs {
	struct rtransport *t;
	union rstream *st; /* raft_malloc'd: libraft frees it after accept */
	int wrapping;	   /* the wrap has it (st not initialized yet) */
	uint64_t cert_id;  /* wrap: the node id the certificate names */
	uint8_t buf[HS_PREAMBLE + RTRANSPORT_ADDRESS_MAX];
	size_t got, need;
	uint64_t started;
	char peer[64];
	LIST_ENTRY(hs) next; /* in t->pending */
};

/* An outgoing connection through the wrap. */
struct cx {
	struct rtransport *t;
	struct raft_uv_connect *req;
	raft_uv_connect_cb cb;
	union rstream *st; /* raft_malloc'd once the wrap delivered */
	uv_write_t wreq;
	int canceled;
	uint8_t buf[HS_PREAMBLE + RTRANSPORT_ADDRESS_MAX];
	LIST_ENTRY(cx) next; /* in t->connects */
};

struct rtransport {
	struct raft_uv_transport outer; /* what raft_uv_init uses */
	struct raft_uv_transport inner; /* libraft's TCP transport */
	uv_loop_t *loop;
	char address[RTRANSPORT_ADDRESS_MAX];
	raft_uv_accept_cb accept_cb;
	const struct rtransport_wrap *wrap; /* NULL: plain TCP */
	raft_id id;
	LIST_HEAD(cx_head, cx) connects; /* wrapped connects not yet reported */
	uv_tcp_t listener;
	uv_timer_t timer;
	int listener_open, timer_open, inner_open;
	LIST_HEAD(hs_head, hs) pending; /* handshakes being read */
	unsigned npending;
	unsigned nclosing; /* handshakes being closed */
	int closing;
	raft_uv_transport_close_cb close_cb;
	unsigned long long refused;
};

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--) {
		v = v << 8 | p[i];
	}
	return v;
}

static void maybe_closed(struct rtransport *t)
{
	if (t->closing && !t->listener_open && !t->timer_open &&
	    !t->inner_open && LIST_EMPTY(&t->pending) && t->nclosing == 0 &&
	    LIST_EMPTY(&t->connects) && t->close_cb != NULL) {
		raft_uv_transport_close_cb cb = t->close_cb;
		t->close_cb = NULL;
		cb(&t->outer);
	}
}

static void hs_link(struct rtransport *t, struct hs *h)
{
	LIST_INSERT_HEAD(&t->pending, h, next);
	t->npending++;
}

static void hs_unlink(struct rtransport *t, struct hs *h)
{
	LIST_REMOVE(h, next);
	t->npending--;
}

static void hs_closed(uv_handle_t *handle)
{
	struct hs *h = handle->data;
	struct rtransport *t = h->t;

	t->nclosing--;
	raft_free(h->st);
	free(h);
	maybe_closed(t);
}

/* Close a connection whose handshake failed, timed out or was cut short
 * (why NULL: no log line). */
static void hs_drop(struct hs *h, const char *why)
{
	struct rtransport *t = h->t;

	if (why != NULL) {
		t->refused++;
		rlog_warn("raft transport: dropping connection from %s: %s",
			  h->peer, why);
	}
	hs_unlink(t, h);
	if (h->wrapping) {
		t->wrap->cancel(t->wrap->data, h);
		raft_free(h->st);
		free(h);
		return;
	}
	t->nclosing++;
	uv_read_stop(&h->st->s);
	uv_close(&h->st->h, hs_closed);
}

static void hs_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct hs *h = handle->data;
	(void)suggested;
	buf->base = (char *)h->buf + h->got;
	buf->len = h->need - h->got;
}

/* 0 when the address bytes hold a printable, NUL-terminated address. */
static int address_ok(const uint8_t *a, size_t len)
{
	size_t n = 0;

	while (n < len && a[n] != '\0') {
		if (a[n] < 0x21 || a[n] > 0x7e) {
			return -1;
		}
		n++;
	}
	return n > 0 && n < len ? 0 : -1;
}

static void hs_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct hs *h = s->data;
	struct rtransport *t = h->t;
	uint64_t id, alen;
	uv_stream_t *stream;

	(void)buf;
	if (nread == 0) {
		return;
	}
	if (nread < 0) {
		hs_drop(h, h->got > 0 ? "closed during the handshake" : NULL);
		return;
	}
	h->got += (size_t)nread;
	if (h->got < h->need) {
		return;
	}
	if (h->need == HS_PREAMBLE) {
		if (le64(h->buf) != HS_PROTOCOL) {
			hs_drop(h, "not a raft handshake (protocol)");
			return;
		}
		alen = le64(h->buf + 16);
		if (le64(h->buf + 8) == 0 || alen < 8 ||
		    alen > RTRANSPORT_ADDRESS_MAX || alen % 8 != 0) {
			hs_drop(h, "bad handshake (server id or address "
				   "length)");
			return;
		}
		h->need = HS_PREAMBLE + (size_t)alen;
		return;
	}
	if (address_ok(h->buf + HS_PREAMBLE, h->need - HS_PREAMBLE) != 0) {
		hs_drop(h, "bad handshake (address)");
		return;
	}
	id = le64(h->buf + 8);
	if (t->wrap != NULL && id != h->cert_id) {
		char why[128];

		snprintf(why, sizeof(why),
			 "the handshake names server %llu, its certificate "
			 "node %llu",
			 (unsigned long long)id,
			 (unsigned long long)h->cert_id);
		hs_drop(h, why);
		return;
	}
	uv_read_stop(s);
	hs_unlink(t, h);
	stream = &h->st->s;
	stream->data = NULL;
	/* libraft owns the stream from here (closes and frees it) */
	t->accept_cb(&t->outer, id, (const char *)h->buf + HS_PREAMBLE, stream);
	free(h);
}

static void peer_name(uv_tcp_t *tcp, char *out, size_t size)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			uv_ip4_name(in, ip, sizeof(ip));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			uv_ip6_name(in6, ip, sizeof(ip));
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(out, size, "%s:%d", ip, port);
}

/* The wrap delivered the plaintext end of an accepted connection. */
static void hs_wrapped(void *arg, int fd, uint64_t peer_id, const char *peer)
{
	struct hs *h = arg;
	struct rtransport *t = h->t;

	h->wrapping = 0;
	if (fd < 0) {
		t->refused++; /* the wrap logged why */
		hs_unlink(t, h);
		raft_free(h->st);
		free(h);
		maybe_closed(t);
		return;
	}
	h->cert_id = peer_id;
	snprintf(h->peer, sizeof(h->peer), "%s", peer);
	uv_pipe_init(t->loop, &h->st->pipe, 0);
	h->st->h.data = h;
	if (uv_pipe_open(&h->st->pipe, fd) != 0) {
		close(fd);
		hs_drop(h, "cannot open the local end");
		return;
	}
	h->started = uv_now(t->loop);
	uv_read_start(&h->st->s, hs_alloc, hs_read);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct rtransport *t = server->data;
	struct hs *h;

	if (status != 0 || t->closing) {
		return;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return;
	}
	h->st = raft_malloc(sizeof(*h->st));
	if (h->st == NULL) {
		free(h);
		return;
	}
	h->t = t;
	h->need = HS_PREAMBLE;
	h->started = uv_now(t->loop);
	if (t->wrap != NULL && t->npending < RTRANSPORT_PENDING_MAX) {
		hs_link(t, h);
		h->wrapping = 1;
		snprintf(h->peer, sizeof(h->peer), "?");
		if (t->wrap->accept(t->wrap->data, server, hs_wrapped, h) !=
		    0) {
			hs_unlink(t, h);
			raft_free(h->st);
			free(h);
		}
		return;
	}
	uv_tcp_init(t->loop, &h->st->tcp);
	h->st->h.data = h;
	if (uv_accept(server, &h->st->s) != 0) {
		t->nclosing++;
		uv_close(&h->st->h, hs_closed);
		return;
	}
	peer_name(&h->st->tcp, h->peer, sizeof(h->peer));
	hs_link(t, h);
	if (t->npending > RTRANSPORT_PENDING_MAX ||
	    (t->wrap != NULL && t->npending >= RTRANSPORT_PENDING_MAX)) {
		hs_drop(h, "too many handshakes in progress");
		return;
	}
	uv_read_start(&h->st->s, hs_alloc, hs_read);
}

/* Handshakes that take too long are dropped. */
static void timer_cb(uv_timer_t *timer)
{
	struct rtransport *t = timer->data;
	uint64_t now = uv_now(t->loop);
	struct hs *h = LIST_FIRST(&t->pending);

	while (h != NULL) {
		struct hs *next = LIST_NEXT(h, next);
		/* a wrapped one has the wrap's own deadline until it is
		 * delivered */
		if (!h->wrapping &&
		    now - h->started > RTRANSPORT_HANDSHAKE_MS) {
			hs_drop(h, "handshake not finished in time");
		}
		h = next;
	}
}

static int t_init(struct raft_uv_transport *outer, raft_id id,
		  const char *address)
{
	struct rtransport *t = outer->impl;
	int rv;

	if (strlen(address) >= sizeof(t->address)) {
		snprintf(outer->errmsg, sizeof(outer->errmsg),
			 "address too long");
		return RAFT_NAMETOOLONG;
	}
	snprintf(t->address, sizeof(t->address), "%s", address);
	t->id = id;
	t->inner.data = outer->data; /* as if raft_uv_init had set it */
	rv = t->inner.init(&t->inner, id, address);
	if (rv != 0) {
		snprintf(outer->errmsg, sizeof(outer->errmsg), "%s",
			 t->inner.errmsg);
	}
	return rv;
}

/* Resolve HOST:PORT (numeric, or a name through getaddrinfo). */
static int resolve(const char *address, struct sockaddr_storage *ss)
{
	char host[RTRANSPORT_ADDRESS_MAX];
	const char *colon = strrchr(address, ':');
	struct addrinfo hints, *res = NULL;
	size_t hlen;
	int port;

	if (colon == NULL ||
	    (hlen = (size_t)(colon - address)) >= sizeof(host) || hlen == 0) {
		return -1;
	}
	memcpy(host, address, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	port = atoi(colon + 1);
	if (port <= 0 || port > 65535) {
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) {
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	if (ss->ss_family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	} else {
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	}
	freeaddrinfo(res);
	return 0;
}

static int t_listen(struct raft_uv_transport *outer, raft_uv_accept_cb cb)
{
	struct rtransport *t = outer->impl;
	struct sockaddr_storage ss;
	int rv;

	t->accept_cb = cb;
	if (resolve(t->address, &ss) != 0) {
		snprintf(outer->errmsg, sizeof(outer->errmsg),
			 "cannot resolve %.200s", t->address);
		return RAFT_IOERR;
	}
	uv_tcp_init(t->loop, &t->listener);
	t->listener.data = t;
	t->listener_open = 1;
	rv = uv_tcp_bind(&t->listener, (const struct sockaddr *)&ss, 0);
	if (rv == 0) {
		rv = uv_listen((uv_stream_t *)&t->listener, 64, on_connection);
	}
	if (rv != 0) {
		snprintf(outer->errmsg, sizeof(outer->errmsg),
			 "listen on %.200s: %s", t->address, uv_strerror(rv));
		return RAFT_IOERR;
	}
	uv_timer_init(t->loop, &t->timer);
	t->timer.data = t;
	t->timer_open = 1;
	uv_timer_start(&t->timer, timer_cb, 1000, 1000);
	return 0;
}

static void cx_unlink(struct rtransport *t, struct cx *x)
{
	LIST_REMOVE(x, next);
}

/* Report a wrapped connect to libraft and forget it. */
static void cx_finish(struct cx *x, uv_stream_t *stream, int status)
{
	struct rtransport *t = x->t;

	cx_unlink(t, x);
	x->cb(x->req, stream, status);
	free(x);
	maybe_closed(t);
}

static void cx_stream_closed(uv_handle_t *h)
{
	raft_free(h);
}

static void cx_written(uv_write_t *w, int status)
{
	struct cx *x = w->data;

	if (status != 0 || x->canceled) {
		if (!uv_is_closing(&x->st->h)) {
			uv_close(&x->st->h, cx_stream_closed);
		}
		cx_finish(x, NULL,
			  x->canceled ? RAFT_CANCELED : RAFT_NOCONNECTION);
		return;
	}
	x->st->h.data = NULL;
	cx_finish(x, &x->st->s, 0); /* libraft owns the stream now */
}

static void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

/* The wrap connected: send libraft's handshake on the local end, then
 * hand the stream over. */
static void cx_wrapped(void *arg, int fd, uint64_t peer_id, const char *peer)
{
	struct cx *x = arg;
	struct rtransport *t = x->t;
	size_t alen = strlen(t->address) + 1;
	uv_buf_t b;

	(void)peer_id;
	(void)peer;
	if (fd < 0) {
		cx_finish(x, NULL, RAFT_NOCONNECTION);
		return;
	}
	x->st = raft_malloc(sizeof(*x->st));
	if (x->st == NULL) {
		close(fd);
		cx_finish(x, NULL, RAFT_NOMEM);
		return;
	}
	uv_pipe_init(t->loop, &x->st->pipe, 0);
	if (uv_pipe_open(&x->st->pipe, fd) != 0) {
		close(fd);
		uv_close(&x->st->h, cx_stream_closed);
		cx_finish(x, NULL, RAFT_NOCONNECTION);
		return;
	}
	alen = (alen + 7) / 8 * 8;
	memset(x->buf, 0, sizeof(x->buf));
	le64_put(x->buf, HS_PROTOCOL);
	le64_put(x->buf + 8, t->id);
	le64_put(x->buf + 16, alen);
	memcpy(x->buf + HS_PREAMBLE, t->address, strlen(t->address));
	b = uv_buf_init((char *)x->buf, (unsigned)(HS_PREAMBLE + alen));
	x->wreq.data = x;
	if (uv_write(&x->wreq, &x->st->s, &b, 1, cx_written) != 0) {
		uv_close(&x->st->h, cx_stream_closed);
		cx_finish(x, NULL, RAFT_NOCONNECTION);
	}
}

static int t_connect(struct raft_uv_transport *outer,
		     struct raft_uv_connect *req, raft_id id,
		     const char *address, raft_uv_connect_cb cb)
{
	struct rtransport *t = outer->impl;
	struct sockaddr_storage ss;
	struct cx *x;
	int rv;

	if (t->wrap == NULL) {
		rv = t->inner.connect(&t->inner, req, id, address, cb);
		if (rv != 0) {
			snprintf(outer->errmsg, sizeof(outer->errmsg), "%s",
				 t->inner.errmsg);
		}
		return rv;
	}
	if (t->closing) {
		return RAFT_CANCELED;
	}
	if (resolve(address, &ss) != 0) {
		snprintf(outer->errmsg, sizeof(outer->errmsg),
			 "cannot resolve %.200s", address);
		return RAFT_NOCONNECTION;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		return RAFT_NOMEM;
	}
	x->t = t;
	x->req = req;
	x->cb = cb;
	/* linked first: the wrap's answer may only come on a later turn,
	 * but cx_finish unlinks whenever it comes */
	LIST_INSERT_HEAD(&t->connects, x, next);
	if (t->wrap->connect(t->wrap->data, (const struct sockaddr *)&ss,
			     address, id, cx_wrapped, x) != 0) {
		LIST_REMOVE(x, next);
		free(x);
		snprintf(outer->errmsg, sizeof(outer->errmsg),
			 "cannot connect to %.200s", address);
		return RAFT_NOCONNECTION;
	}
	return 0;
}

static void listener_closed(uv_handle_t *h)
{
	struct rtransport *t = h->data;
	t->listener_open = 0;
	maybe_closed(t);
}

static void timer_closed(uv_handle_t *h)
{
	struct rtransport *t = h->data;
	t->timer_open = 0;
	maybe_closed(t);
}

static void inner_closed(struct raft_uv_transport *inner)
{
	struct rtransport *t =
	    (struct rtransport *)((char *)inner -
				  offsetof(struct rtransport, inner));
	t->inner_open = 0;
	maybe_closed(t);
}

static void t_close(struct raft_uv_transport *outer,
		    raft_uv_transport_close_cb cb)
{
	struct rtransport *t = outer->impl;

	t->closing = 1;
	t->close_cb = cb;
	while (!LIST_EMPTY(&t->pending)) {
		hs_drop(LIST_FIRST(&t->pending), NULL);
	}
	/* wrapped connects: the wrap's are cancelled now, the ones writing
	 * the handshake finish in cx_written */
	for (struct cx *x = LIST_FIRST(&t->connects), *next; x != NULL;
	     x = next) {
		next = LIST_NEXT(x, next);
		if (x->st == NULL) {
			t->wrap->cancel(t->wrap->data, x);
			cx_finish(x, NULL, RAFT_CANCELED);
		} else if (!x->canceled) {
			x->canceled = 1;
			uv_close(&x->st->h, cx_stream_closed);
		}
	}
	if (t->listener_open) {
		uv_close((uv_handle_t *)&t->listener, listener_closed);
	}
	if (t->timer_open) {
		uv_close((uv_handle_t *)&t->timer, timer_closed);
	}
	if (t->inner_open) {
		t->inner.close(&t->inner, inner_closed);
	}
	maybe_closed(t);
}

struct rtransport *rtransport_new(uv_loop_t *loop,
				  const struct rtransport_wrap *wrap)
{
	struct rtransport *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		return NULL;
	}
	t->loop = loop;
	t->wrap = wrap;
	t->inner.version = 1;
	if (raft_uv_tcp_init(&t->inner, loop) != 0) {
		free(t);
		return NULL;
	}
	t->inner_open = 1;
	t->outer.version = 1;
	t->outer.impl = t;
	t->outer.init = t_init;
	t->outer.listen = t_listen;
	t->outer.connect = t_connect;
	t->outer.close = t_close;
	return t;
}

struct raft_uv_transport *rtransport_iface(struct rtransport *t)
{
	return &t->outer;
}

unsigned long long rtransport_refused(const struct rtransport *t)
{
	return t->refused;
}

void rtransport_free(struct rtransport *t)
{
	if (t == NULL) {
		return;
	}
	raft_uv_tcp_close(&t->inner);
	free(t);
}
