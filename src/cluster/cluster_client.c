/*
 * cluster_client.c — a follower's one connection to the leader's
 * forwarding port (the leader's raft port + 1): connect to whoever leads,
 * with a pause between tries, drop it when the leader changes, and hand
 * what arrives on it up through struct cluster_up (cluster_impl.h):
 * RESULT and ADMIN_RESULT frames, "connected" and "lost".
 *
 * Owns c->client and its connect backoff; it knows nothing of proposals
 * or admin operations, which send on c->client themselves. A frame of
 * another type, or a RESULT that does not decode, is a protocol error:
 * the connection is dropped with a log line and what was sent on it is
 * retried by its owner.
 */
#include "src/cluster/cluster_impl.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"

static void client_drop(struct cluster *c, const char *why)
{
	struct peer_conn *conn = c->client;

	if (conn == NULL) {
		return;
	}
	c->client = NULL;
	peer_conn_close(conn, why);
	c->up->leader_lost(c);
}

static void client_closed(struct peer_conn *conn)
{
	struct cluster *c = conn->owner;

	c->conns_open--;
	if (c->client == conn) {
		c->client = NULL;
		if (conn->connected) {
			log_info("forward: connection to the leader %s lost",
				 conn->peer);
		}
		c->up->leader_lost(c);
	}
	c->up->conn_closed(c);
}

static void client_connected(struct peer_conn *conn, int status)
{
	struct cluster *c = conn->owner;

	if (conn != c->client) {
		return;
	}
	if (status != 0) {
		c->client_failures++;
		if (c->client_failures == 1 || c->client_failures % 50 == 0) {
			log_warn("forward: cannot connect to the leader at %s: "
				 "%s (%u tries)",
				 conn->peer, uv_strerror(status),
				 c->client_failures);
		}
		return;
	}
	c->client_failures = 0;
	log_info("forward: connected to the leader at %s", conn->peer);
	c->last_report_sent = 0;
	c->up->leader_connected(c);
}

static void client_frame(struct peer_conn *conn, struct peer_frame *f)
{
	struct cluster *c = conn->owner;
	const uint8_t *body;
	size_t blen;
	int32_t st;

	if (conn != c->client) {
		return;
	}
	if (f->type == PEER_ADMIN_RESULT) {
		c->up->admin_result(c, f);
		return;
	}
	if (f->type != PEER_RESULT ||
	    peer_result_decode(f->payload, f->len, &st, &body, &blen) != 0) {
		log_warn("forward: unexpected frame (type %u) from the leader "
			 "%s",
			 f->type, conn->peer);
		client_drop(c, "protocol error");
		return;
	}
	c->up->result(c, f->req, st, body, blen);
}

/* Keep one connection to the current leader's forwarding port. */
void ccl_check(struct cluster *c)
{
	raft_id lid = 0;
	const char *laddr = NULL;
	char host[NODECONF_STR];
	int port;
	uint64_t now;
	struct peer_conn *conn;

	if (c->raft == NULL || c->stopping) {
		return;
	}
	raft_leader(c->raft, &lid, &laddr);
	if (lid == c->conf.id) {
		client_drop(c, "this node leads now");
		return;
	}
	if (lid == 0 || laddr == NULL) {
		return; /* keep what we have until a leader is known */
	}
	if (c->client != NULL && c->client_leader_id != lid) {
		client_drop(c, "the leader changed");
	}
	now = cluster_now(c);
	if (c->client != NULL || now < c->client_connect_at) {
		return;
	}
	c->client_connect_at = now + 200;
	if (nodeconf_split_addr(laddr, host, sizeof(host), &port) != 0 ||
	    port >= 65535) {
		log_error("forward: leader address %s is not HOST:PORT", laddr);
		return;
	}
	conn = peer_conn_connect(c->loop, &c->ptls, host, port + 1, lid,
				 c->max_payload, c, client_connected,
				 client_frame, client_closed);
	if (conn == NULL) {
		return;
	}
	c->conns_open++;
	c->client = conn;
	c->client_leader_id = lid;
}

/* At stop: close the connection without telling anyone (everything
 * pending has been failed already). */
void ccl_close(struct cluster *c)
{
	struct peer_conn *client = c->client;

	if (client != NULL) {
		c->client = NULL;
		peer_conn_close(client, NULL);
	}
}
