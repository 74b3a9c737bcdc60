/*
 * peer_conn.c — one forwarding connection (peer.h) on the connection
 * layer (src/base/conn.c): accept or connect, mutual TLS and the hello,
 * then frames through the frame reader, writes with a bound, close once.
 *
 * Owns the connection's memory and its state machine (enum peer_state,
 * legal[] below, entered only through enter()). Does not own the TLS
 * contexts (struct peer_tls, cluster_tls.c) or what the frames mean (the
 * owner's on_frame).
 *
 * Fails closed: a TLS failure (no certificate, one the cluster CA did not
 * issue, not TLS at all), a certificate that does not name the node the
 * hello claims or that the connecting side meant to reach, a bad hello,
 * or a handshake not finished in PEER_HELLO_MS closes the connection
 * before any frame is parsed, with one log line (peer address and
 * reason) and tls->refused counted. A protocol error in the frames closes
 * it with one log line; a peer can never make it allocate more than the
 * reader's limit or queue writes without bound.
 */
#include "src/cluster/peer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"
#include "src/base/tls.h"

static uint64_t next_conn_id = 1;

static const unsigned char legal[PS_CLOSED + 1][PS_CLOSED + 1] = {
    [PS_CONNECTING] = {[PS_TLS] = 1, [PS_OPEN] = 1, [PS_CLOSED] = 1},
    [PS_TLS] = {[PS_HELLO] = 1, [PS_OPEN] = 1, [PS_CLOSED] = 1},
    [PS_HELLO] = {[PS_OPEN] = 1, [PS_CLOSED] = 1},
    [PS_OPEN] = {[PS_CLOSED] = 1},
};

/* The one place the state changes. 0, or -1 for a transition legal[]
 * does not allow (a bug: logged, the connection is closed). */
static int enter(struct peer_conn *c, enum peer_state to)
{
	if (!legal[c->state][to]) {
		log_error("forward: %s: illegal state change %d -> %d", c->peer,
			  c->state, to);
		peer_conn_close(c, "internal error");
		return -1;
	}
	c->state = to;
	c->connected = to == PS_OPEN;
	if (to == PS_OPEN)
		conn_timer(&c->conn, 0);
	return 0;
}

/* Refuse the peer: log with the address and reason, count, close. */
static void refuse(struct peer_conn *c, const char *fmt, const char *why)
{
	if (c->closing)
		return;
	c->tls->refused++;
	log_warn("forward: refused %s: %s%s", c->peer, fmt, why);
	peer_conn_close(c, NULL);
}

int peer_conn_mid_frame(const struct peer_conn *c)
{
	return c->rd.in_payload || c->rd.hdr_got > 0;
}

void peer_conn_close(struct peer_conn *c, const char *why)
{
	if (c == NULL || c->closing)
		return;
	c->closing = 1;
	c->connected = 0;
	c->state = PS_CLOSED;
	if (why != NULL)
		log_info("forward: closing connection %s: %s", c->peer, why);
	conn_close(&c->conn, 0);
}

/* Last step of a close: tell the owner, then free. */
static void on_conn_close(struct conn *k)
{
	struct peer_conn *c = k->data;

	if (c->on_close != NULL)
		c->on_close(c);
	peer_reader_free(&c->rd);
	free(c);
}

/* Frames from plaintext bytes (state PS_OPEN). */
static void feed_frames(struct peer_conn *c, const uint8_t *p, size_t left)
{
	while (left > 0 && !c->closing) {
		struct peer_frame f;
		size_t used = 0;
		int rv = peer_reader_feed(&c->rd, p, left, &used, &f);

		p += used;
		left -= used;
		if (rv < 0) {
			log_warn("forward: dropping connection %s: %s "
				 "(limit %llu bytes)",
				 c->peer, peer_strerror(rv),
				 (unsigned long long)c->rd.max_payload);
			peer_conn_close(c, NULL);
			return;
		}
		if (rv == 0)
			return;
		c->frames_in++;
		if (c->on_frame != NULL)
			c->on_frame(c, &f);
		free(f.payload);
	}
}

/* Accepting side: the hello, then frames. */
static void take_hello(struct peer_conn *c, const uint8_t *p, size_t n)
{
	size_t want = PEER_HELLO_LEN - c->hello_got;
	size_t k = n < want ? n : want;
	uint64_t id;
	char why[96];

	memcpy(c->hello + c->hello_got, p, k);
	c->hello_got += k;
	if (c->hello_got < PEER_HELLO_LEN)
		return;
	if (peer_hello_decode(c->hello, &id) != 0) {
		refuse(c, "not a forwarding hello", "");
		return;
	}
	if (c->tls->server != NULL && id != c->node_id) {
		snprintf(why, sizeof(why),
			 "%" PRIu64 ", its certificate names node %" PRIu64, id,
			 c->node_id);
		refuse(c, "the hello claims node ", why);
		return;
	}
	c->node_id = id;
	if (enter(c, PS_OPEN) != 0)
		return;
	log_debug("forward: node %" PRIu64 " connected from %s", id, c->peer);
	feed_frames(c, p + k, n - k);
}

static void on_data(struct conn *k, const char *p, size_t n)
{
	struct peer_conn *c = k->data;

	if (c->state == PS_HELLO)
		take_hello(c, (const uint8_t *)p, n);
	else if (c->state == PS_OPEN)
		feed_frames(c, (const uint8_t *)p, n);
	else
		refuse(c, "data before the TLS handshake ended", "");
}

static void on_rx(struct conn *k, size_t n)
{
	struct peer_conn *c = k->data;

	(void)n;
	c->last_rx = uv_now(k->u.h.loop);
}

/* Connecting side, once the channel is up: send the hello, report. */
static void send_hello(struct peer_conn *c)
{
	uint8_t h[PEER_HELLO_LEN];

	peer_hello_encode(h, c->tls->self_id);
	if (conn_write(&c->conn, h, sizeof(h)) != 0) {
		peer_conn_close(c, "write failed");
		return;
	}
	if (enter(c, PS_OPEN) != 0)
		return;
	if (c->on_connect != NULL)
		c->on_connect(c, 0);
}

static void on_tls(struct conn *k)
{
	struct peer_conn *c = k->data;
	unsigned long long id;
	char why[96];

	if (conn_tls_peer_node(k, &id) != 0) {
		refuse(c, "its certificate names no node (CN=node-<id>)", "");
		return;
	}
	if (c->on_connect == NULL) { /* accepting side */
		c->node_id = id;
		enter(c, PS_HELLO);
		return;
	}
	if (id != c->node_id) {
		snprintf(why, sizeof(why), "node %llu, expected node %" PRIu64,
			 id, c->node_id);
		refuse(c, "its certificate names ", why);
		return;
	}
	send_hello(c);
}

static void on_error(struct conn *k, enum conn_event ev, int code)
{
	struct peer_conn *c = k->data;

	if (ev == CONN_EV_TLS && c->state == PS_TLS) {
		refuse(c, "TLS handshake failed: ", conn_tls_error(k));
		return;
	}
	if (ev == CONN_EV_TLS) {
		peer_conn_close(c, conn_tls_error(k));
		return;
	}
	if (c->state == PS_TLS || c->state == PS_HELLO) {
		if (ev == CONN_EV_READ && code == UV_EOF)
			refuse(c, "closed before the hello", "");
		else
			refuse(c, "before the hello: ", uv_strerror(code));
		return;
	}
	peer_conn_close(c, code == UV_EOF ? NULL : uv_strerror(code));
}

static void on_timer(struct conn *k)
{
	struct peer_conn *c = k->data;

	if (c->state != PS_OPEN)
		refuse(c, "TLS handshake and hello not finished in time", "");
}

static void tcp_connected(struct conn *k, int status)
{
	struct peer_conn *c = k->data;

	if (status == 0)
		status = conn_read_start(k);
	if (status != 0) {
		if (c->on_connect != NULL)
			c->on_connect(c, status);
		peer_conn_close(c, NULL);
		return;
	}
	conn_set_nodelay(k);
	if (c->tls->client == NULL) {
		send_hello(c);
		return;
	}
	if (enter(c, PS_TLS) != 0)
		return;
	if (conn_starttls_client(k, c->tls->client, NULL) != 0)
		peer_conn_close(c, "out of memory");
}

static const struct conn_cbs peer_cbs = {
    .on_connect = tcp_connected,
    .on_rx = on_rx,
    .on_data = on_data,
    .on_tls = on_tls,
    .on_error = on_error,
    .on_timer = on_timer,
    .on_close = on_conn_close,
};

static struct peer_conn *conn_new(uv_loop_t *loop, struct peer_tls *tls,
				  uint64_t max_payload, void *owner)
{
	struct peer_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (conn_init(&c->conn, loop, CONN_TCP, &peer_cbs, c) != 0) {
		free(c);
		return NULL;
	}
	c->tls = tls;
	c->id = next_conn_id++;
	c->owner = owner;
	c->last_rx = uv_now(loop);
	peer_reader_init(&c->rd, max_payload);
	/* room for a few maximal frames before a slow peer is cut off */
	c->max_queued = 4 * (size_t)max_payload + (1u << 20);
	conn_timer(&c->conn, PEER_HELLO_MS);
	return c;
}

struct peer_conn *peer_conn_accept(uv_stream_t *server, struct peer_tls *tls,
				   uint64_t max_payload, void *owner,
				   peer_frame_cb on_frame,
				   peer_close_cb on_close)
{
	struct peer_conn *c = conn_new(server->loop, tls, max_payload, owner);

	if (c == NULL) {
		log_error("forward: out of memory accepting a connection");
		return NULL;
	}
	c->on_frame = on_frame;
	c->state = PS_TLS;
	if (conn_accept(&c->conn, server) != 0 ||
	    conn_read_start(&c->conn) != 0) {
		peer_conn_close(c, "accept failed");
		return NULL; /* on_close is not set: freed without a word */
	}
	conn_set_nodelay(&c->conn);
	conn_peer_name(&c->conn, c->peer, sizeof(c->peer));
	if (tls->server == NULL)
		enter(c, PS_HELLO); /* plaintext: the hello, unchecked */
	else if (conn_starttls_server(&c->conn, tls->server) != 0) {
		peer_conn_close(c, "out of memory");
		return NULL;
	}
	c->on_close = on_close;
	return c;
}

struct peer_conn *peer_conn_connect(uv_loop_t *loop, struct peer_tls *tls,
				    const char *host, int port,
				    uint64_t expect_id, uint64_t max_payload,
				    void *owner, peer_connect_cb on_connect,
				    peer_frame_cb on_frame,
				    peer_close_cb on_close)
{
	struct sockaddr_storage ss;
	struct peer_conn *c;

	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
		log_error("forward: %s is not a numeric address", host);
		return NULL;
	}
	c = conn_new(loop, tls, max_payload, owner);
	if (c == NULL)
		return NULL;
	snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	c->state = PS_CONNECTING;
	c->node_id = expect_id;
	if (conn_connect_tcp(&c->conn, (const struct sockaddr *)&ss) != 0) {
		peer_conn_close(c, NULL);
		return NULL;
	}
	c->on_connect = on_connect;
	c->on_frame = on_frame;
	c->on_close = on_close;
	return c;
}

int peer_conn_send(struct peer_conn *c, uint8_t type, uint64_t req,
		   const void *payload, size_t len)
{
	uint8_t hdr[PEER_HDR_LEN];
	uv_buf_t b[2];

	if (c == NULL || c->closing || !c->connected || len > UINT32_MAX)
		return -1;
	if (conn_write_queue_size(&c->conn) > c->max_queued) {
		peer_conn_close(c, "peer does not read its replies");
		return -1;
	}
	peer_hdr_encode(hdr, type, (uint32_t)len, req);
	b[0] = uv_buf_init((char *)hdr, PEER_HDR_LEN);
	b[1] = uv_buf_init((char *)payload, (unsigned)len);
	if (conn_writev(&c->conn, b, len > 0 ? 2 : 1) != 0) {
		peer_conn_close(c, "write failed");
		return -1;
	}
	return 0;
}
