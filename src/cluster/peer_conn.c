/*
 * peer_conn.c — one TCP connection carrying forwarding frames
 * (peer.h): accept or connect, read into the frame reader, queue
 * writes, close once. Owns the connection's memory and its write buffers;
 * frames go to the owner's on_frame. Any protocol error closes the
 * connection with one log line; a peer can never make it allocate more
 * than the reader's limit or queue writes without bound.
 */
#include "src/cluster/peer.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"

#define READ_CHUNK (64 * 1024)

static uint64_t next_conn_id = 1;

struct write_req {
	uv_write_t req;
	struct peer_conn *conn;
	uint8_t data[];
};

static struct peer_conn *conn_new(uv_loop_t *loop, uint64_t max_payload,
				  void *owner)
{
	struct peer_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	if (uv_tcp_init(loop, &c->tcp) != 0) {
		free(c);
		return NULL;
	}
	c->tcp.data = c;
	c->id = next_conn_id++;
	c->owner = owner;
	c->last_rx = uv_now(loop);
	peer_reader_init(&c->rd, max_payload);
	/* room for a few maximal frames before a slow peer is cut off */
	c->max_queued = 4 * (size_t)max_payload + (1u << 20);
	return c;
}

/* Last step of a close: tell the owner, then free. */
static void conn_closed(uv_handle_t *h)
{
	struct peer_conn *c = h->data;
	if (c->on_close != NULL) {
		c->on_close(c);
	}
	peer_reader_free(&c->rd);
	free(c);
}

int peer_conn_mid_frame(const struct peer_conn *c)
{
	return c->rd.in_payload || c->rd.hdr_got > 0;
}

void peer_conn_close(struct peer_conn *c, const char *why)
{
	if (c == NULL || c->closing) {
		return;
	}
	c->closing = 1;
	if (why != NULL) {
		log_info("forward: closing connection %s: %s", c->peer, why);
	}
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = malloc(READ_CHUNK);
	buf->len = buf->base != NULL ? READ_CHUNK : 0;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct peer_conn *c = s->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t left;

	if (nread < 0) {
		free(buf->base);
		peer_conn_close(c, nread == UV_EOF ? NULL
						   : uv_strerror((int)nread));
		return;
	}
	left = (size_t)nread;
	c->last_rx = uv_now(c->tcp.loop);
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
			break;
		}
		if (rv == 0) {
			break;
		}
		c->frames_in++;
		if (c->on_frame != NULL) {
			c->on_frame(c, &f);
		}
		free(f.payload);
	}
	free(buf->base);
}

static void set_peer_name(struct peer_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char host[64] = "?";
	int port = 0;

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			uv_ip4_name(in, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			uv_ip6_name(in6, host, sizeof(host));
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
}

struct peer_conn *peer_conn_accept(uv_stream_t *server, uint64_t max_payload,
				   void *owner, peer_frame_cb on_frame,
				   peer_close_cb on_close)
{
	struct peer_conn *c = conn_new(server->loop, max_payload, owner);

	if (c == NULL) {
		log_error("forward: out of memory accepting a connection");
		return NULL;
	}
	c->on_frame = on_frame;
	c->on_close = NULL; /* not the owner's until fully set up */
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
		peer_conn_close(c, "accept failed");
		return NULL;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	set_peer_name(c);
	c->connected = 1;
	c->on_close = on_close;
	return c;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct peer_conn *c = req->data;

	if (c->closing) {
		return;
	}
	if (status == 0) {
		status =
		    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	}
	if (status == 0) {
		uv_tcp_nodelay(&c->tcp, 1);
		c->connected = 1;
	}
	if (c->on_connect != NULL) {
		c->on_connect(c, status);
	}
	if (status != 0) {
		peer_conn_close(c, NULL);
	}
}

struct peer_conn *peer_conn_connect(uv_loop_t *loop, const char *host, int port,
				    uint64_t max_payload, void *owner,
				    peer_connect_cb on_connect,
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
	c = conn_new(loop, max_payload, owner);
	if (c == NULL) {
		return NULL;
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	c->connect_req.data = c;
	if (uv_tcp_connect(&c->connect_req, &c->tcp,
			   (const struct sockaddr *)&ss, connect_cb) != 0) {
		peer_conn_close(c, NULL);
		return NULL;
	}
	c->on_connect = on_connect;
	c->on_frame = on_frame;
	c->on_close = on_close;
	return c;
}

static void write_cb(uv_write_t *req, int status)
{
	struct write_req *w = req->data;
	struct peer_conn *c = w->conn;

	free(w);
	if (status != 0 && status != UV_ECANCELED) {
		peer_conn_close(c, uv_strerror(status));
	}
}

int peer_conn_send(struct peer_conn *c, uint8_t type, uint64_t req,
		   const void *payload, size_t len)
{
	struct write_req *w;
	uv_buf_t b;

	if (c == NULL || c->closing || !c->connected || len > UINT32_MAX) {
		return -1;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) >
	    c->max_queued) {
		peer_conn_close(c, "peer does not read its replies");
		return -1;
	}
	w = malloc(sizeof(*w) + PEER_HDR_LEN + len);
	if (w == NULL) {
		return -1;
	}
	w->conn = c;
	w->req.data = w;
	peer_hdr_encode(w->data, type, (uint32_t)len, req);
	if (len > 0) {
		memcpy(w->data + PEER_HDR_LEN, payload, len);
	}
	b = uv_buf_init((char *)w->data, (unsigned)(PEER_HDR_LEN + len));
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
		free(w);
		peer_conn_close(c, "write failed");
		return -1;
	}
	return 0;
}
