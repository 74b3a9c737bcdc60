/*
 * cluster_server.c — the forwarding port (the raft port + 1): accept
 * connections from the other nodes, take their frames (proposals for this
 * leader's queue, admin requests, reports) and send the answers back.
 *
 * Owns the listener and the accepted connections, and knows nothing of
 * what the frames mean: a PROPOSE frame's command (once it decodes) and
 * an ADMIN frame go up through struct cluster_up (cluster_impl.h); the
 * layers above call down here to answer (cs_send_result, cs_find_conn).
 *
 * A connection that sends a malformed or oversized frame is closed by
 * peer_conn.c with a log line; one that sends a frame type a server never
 * receives, or a command that does not decode, is closed here. Answers
 * for a connection that has gone are dropped: its proposer retries with
 * the same request.
 */
#include "src/cluster/cluster_impl.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"

struct peer_conn *cs_find_conn(struct cluster *c, uint64_t id)
{
	for (struct peer_conn *k = LIST_FIRST(&c->sconns); k != NULL;
	     k = LIST_NEXT(k, next)) {
		if (k->id == id) {
			return k->closing ? NULL : k;
		}
	}
	return NULL;
}

void cs_send_result(struct cluster *c, uint64_t conn_id, uint64_t req,
		    int32_t status, const void *body, size_t blen)
{
	struct peer_conn *conn = cs_find_conn(c, conn_id);
	uint8_t *p;
	size_t len;

	if (conn == NULL) {
		return;
	}
	p = peer_status_encode(status, body, blen, 0, &len);
	if (p == NULL) {
		peer_conn_close(conn, "out of memory");
		return;
	}
	peer_conn_send(conn, PEER_RESULT, req, p, len);
	free(p);
}

/* Close connections that stopped in the middle of a frame. */
void cs_tick(struct cluster *c)
{
	uint64_t now = cluster_now(c);

	for (struct peer_conn *k = LIST_FIRST(&c->sconns); k != NULL;
	     k = LIST_NEXT(k, next)) {
		if (!k->closing && peer_conn_mid_frame(k) &&
		    now - k->last_rx > CLUSTER_FRAME_IDLE_MS) {
			log_warn("forward: %s sent part of a frame and nothing "
				 "for %u ms; dropping the connection",
				 k->peer, CLUSTER_FRAME_IDLE_MS);
			peer_conn_close(k, NULL);
		}
	}
}

static void server_frame(struct peer_conn *conn, struct peer_frame *f)
{
	struct cluster *c = conn->owner;
	int rv;

	switch (f->type) {
	case PEER_PROPOSE:
		/* the proposing node checked these bytes too, but they
		 * crossed a socket from another process: never let bytes
		 * that do not decode into the log */
		rv = spool_cmd_check(f->payload, f->len);
		if (rv != 0) {
			log_warn(
			    "forward: %s proposed a command that does not "
			    "decode (%u bytes: %s); dropping the connection",
			    conn->peer, f->len, spool_strerror(rv));
			cs_send_result(c, conn->id, f->req, PEER_R_FAILED, NULL,
				       0);
			peer_conn_close(conn, NULL);
			return;
		}
		if (c->stopping) {
			cs_send_result(c, conn->id, f->req, PEER_R_RETRY, NULL,
				       0);
			return;
		}
		rv = c->up->proposal(c, conn->id, f->req, f->payload, f->len);
		if (rv == 0) {
			f->payload = NULL; /* taken by the queue */
		} else {
			cs_send_result(c, conn->id, f->req, rv, NULL, 0);
		}
		return;
	case PEER_ADMIN:
		c->up->admin(c, conn, f);
		return;
	default:
		log_warn("forward: %s sent a frame of type %u to the server "
			 "side; dropping the connection",
			 conn->peer, f->type);
		peer_conn_close(conn, NULL);
		return;
	}
}

static void server_closed(struct peer_conn *conn)
{
	struct cluster *c = conn->owner;

	LIST_REMOVE(conn, next); /* linked by on_connection */
	c->conns_open--;
	log_debug("forward: connection from %s closed", conn->peer);
	c->up->conn_closed(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct cluster *c = server->data;
	struct peer_conn *conn;

	if (status != 0) {
		log_warn("forward: accept: %s", uv_strerror(status));
		return;
	}
	conn = peer_conn_accept(server, &c->ptls, c->max_payload, c,
				server_frame, server_closed);
	if (conn == NULL) {
		return;
	}
	c->conns_open++;
	LIST_INSERT_HEAD(&c->sconns, conn, next);
	if (c->stopping) {
		peer_conn_close(conn, NULL);
	} else if (c->conns_open > CLUSTER_CONNS_MAX) {
		log_warn("forward: %u connections open; refusing %s",
			 c->conns_open - 1, conn->peer);
		peer_conn_close(conn, NULL);
	} else {
		log_debug("forward: connection from %s", conn->peer);
	}
}

int cs_listen(struct cluster *c)
{
	struct sockaddr_storage ss;
	char host[NODECONF_STR];
	int port;
	int rv;

	if (nodeconf_split_addr(c->conf.cluster_address, host, sizeof(host),
				&port) != 0 ||
	    port >= 65535) {
		log_error("forward: cluster address %s is not HOST:PORT",
			  c->conf.cluster_address);
		return -1;
	}
	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(host, port + 1, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(host, port + 1, (struct sockaddr_in6 *)&ss) != 0) {
		log_error("forward: %s is not a numeric address", host);
		return -1;
	}
	uv_tcp_init(c->loop, &c->listener);
	c->listener.data = c;
	c->listening = 1;
	rv = uv_tcp_bind(&c->listener, (const struct sockaddr *)&ss, 0);
	if (rv == 0) {
		rv = uv_listen((uv_stream_t *)&c->listener, 64, on_connection);
	}
	if (rv != 0) {
		log_error("forward: cannot listen on %s:%d: %s", host, port + 1,
			  uv_strerror(rv));
		return -1;
	}
	log_info("forward: listening on %s:%d", host, port + 1);
	return 0;
}

static void listener_closed(uv_handle_t *h)
{
	struct cluster *c = h->data;
	c->listening = 0;
	c->up->conn_closed(c);
}

void cs_close_all(struct cluster *c)
{
	if (c->listening && !uv_is_closing((uv_handle_t *)&c->listener)) {
		uv_close((uv_handle_t *)&c->listener, listener_closed);
	}
	for (struct peer_conn *k = LIST_FIRST(&c->sconns); k != NULL;
	     k = LIST_NEXT(k, next)) {
		peer_conn_close(k, NULL);
	}
}
