/*
 * cluster_service.c — SET / SHOW SERVICE SMTP for another node (issue
 * #14): a node's receiver settings are its own, not replicated, so the
 * request goes to that node's forwarding port (mutual TLS) in an ADMIN
 * frame (SERVICE_SET / SERVICE_SHOW, peer.h) and comes back in its
 * ADMIN_RESULT.
 *
 * Owns both sides of that exchange. Asking: one connection per request
 * (struct csv) to the member's raft address, port + 1, whose certificate
 * must name that member (peer_conn.c), the frame, the deadline
 * (CLUSTER_SERVICE_MS, checked from the tick) and the one callback.
 * Asked: the frame's checks (it decodes, the sender is a current member
 * of this node's raft configuration, the frame names this node) before
 * the hook (cluster_set_service_hook) runs it; what the settings mean and
 * how they are checked, applied and kept is the hook's (the control
 * server's, src/control/control_service_set.c).
 *
 * Failures: a member that cannot be reached, closes the connection, sends
 * something else or does not answer in time is CLUSTER_E_UNREACHABLE for
 * the asker, with the reason; a refusal from the member (not a member in
 * its view, no control server) is CLUSTER_E_FAILED with its reason; a
 * frame that does not decode closes the connection it came on, with a
 * log line. Every ask is answered exactly once, never from inside
 * cluster_service_ask; at stop with CLUSTER_E_SHUTDOWN.
 */
#include "src/cluster/cluster_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"

/* One request to another member. */
struct csv {
	uint64_t node;
	uint64_t req;
	uint64_t deadline; /* cluster_now() ms */
	uint8_t *frame;	   /* the ADMIN payload, sent once connected */
	size_t len;
	struct peer_conn *conn; /* NULL once closed or detached */
	cluster_service_cb cb;
	void *arg;
	struct cluster *c;
	LIST_ENTRY(csv) next; /* in c->svc */
};

static void csv_unlink(struct cluster *c, struct csv *q)
{
	(void)c;
	LIST_REMOVE(q, next);
}

/* Answer the ask and forget it; its connection is closed (its close
 * callback no longer sees the ask). */
static void finish(struct csv *q, int status, const char *text)
{
	struct cluster *c = q->c;
	struct peer_conn *conn = q->conn;

	csv_unlink(c, q);
	if (conn != NULL) {
		conn->user = NULL;
		q->conn = NULL;
		peer_conn_close(conn, NULL);
	}
	q->cb(q->arg, status, text != NULL ? text : "");
	free(q->frame);
	free(q);
}

static void ask_connected(struct peer_conn *conn, int status)
{
	struct csv *q = conn->user;
	char why[200];

	if (q == NULL)
		return;
	if (status != 0) {
		snprintf(why, sizeof(why),
			 "cannot connect to node %" PRIu64
			 "'s forwarding port %s: %s",
			 q->node, conn->peer, uv_strerror(status));
		finish(q, CLUSTER_E_UNREACHABLE, why);
		return;
	}
	if (peer_conn_send(conn, PEER_ADMIN, q->req, q->frame, q->len) != 0) {
		snprintf(why, sizeof(why),
			 "cannot send to node %" PRIu64 " at %s", q->node,
			 conn->peer);
		finish(q, CLUSTER_E_UNREACHABLE, why);
	}
}

static void ask_frame(struct peer_conn *conn, struct peer_frame *f)
{
	struct csv *q = conn->user;
	const char *msg = NULL;
	int32_t st;
	char why[200];

	if (q == NULL)
		return;
	if (f->type != PEER_ADMIN_RESULT || f->req != q->req ||
	    peer_admin_result_decode(f->payload, f->len, &st, &msg) != 0) {
		log_warn("forward: node %" PRIu64 " (%s) answered a "
			 "receiver-settings request with a frame of type %u "
			 "that is not its answer",
			 q->node, conn->peer, f->type);
		snprintf(why, sizeof(why),
			 "node %" PRIu64
			 " sent something other than its answer",
			 q->node);
		finish(q, CLUSTER_E_UNREACHABLE, why);
		return;
	}
	if (st == 0)
		finish(q, 0, msg);
	else
		finish(q, st == CLUSTER_E_SHUTDOWN ? st : CLUSTER_E_FAILED,
		       msg);
}

static void ask_closed(struct peer_conn *conn)
{
	struct cluster *c = conn->owner;
	struct csv *q = conn->user;
	char why[320];

	c->conns_open--;
	if (q != NULL) {
		q->conn = NULL;
		snprintf(why, sizeof(why),
			 "the connection to node %" PRIu64
			 "'s forwarding port %s closed before an answer (it "
			 "stopped, did not finish the TLS handshake, or "
			 "refused this node's certificate: see the logs)",
			 q->node, conn->peer);
		finish(q, CLUSTER_E_UNREACHABLE, why);
	}
	c->up->conn_closed(c);
}

/* The member id's raft server entry, or NULL. */
static const struct raft_server *member(const struct cluster *c, uint64_t id)
{
	for (unsigned i = 0; i < c->raft->configuration.n; i++)
		if (c->raft->configuration.servers[i].id == id)
			return &c->raft->configuration.servers[i];
	return NULL;
}

int cluster_service_ask(struct cluster *c, uint64_t node, int set,
			unsigned mask,
			const char *const values[CLUSTER_SERVICE_VALUES],
			cluster_service_cb cb, void *arg)
{
	struct peer_service ps;
	const struct raft_server *srv;
	char host[NODECONF_STR];
	struct csv *q;
	int port;

	if (c == NULL || cb == NULL || node == 0 || node == c->conf.id ||
	    (!set && mask != 0) ||
	    CLUSTER_SERVICE_VALUES != PEER_SERVICE_VALUES)
		return CLUSTER_E_INVAL;
	if (c->stopping || c->raft == NULL)
		return CLUSTER_E_SHUTDOWN;
	if ((srv = member(c, node)) == NULL)
		return CLUSTER_E_NOTMEMBER;
	if (srv->address == NULL ||
	    nodeconf_split_addr(srv->address, host, sizeof(host), &port) != 0 ||
	    port >= 65535)
		return CLUSTER_E_FAILED;
	memset(&ps, 0, sizeof(ps));
	ps.op = set ? PEER_OP_SERVICE_SET : PEER_OP_SERVICE_SHOW;
	ps.node = node;
	ps.mask = mask;
	for (unsigned k = 0; k < PEER_SERVICE_VALUES; k++)
		ps.values[k] = values != NULL ? values[k] : NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return CLUSTER_E_FAILED;
	q->frame = peer_service_encode(&ps, &q->len);
	if (q->frame == NULL)
		goto err_after_alloc;
	q->conn = peer_conn_connect(c->loop, &c->ptls, host, port + 1, node,
				    c->max_payload, c, ask_connected, ask_frame,
				    ask_closed);
	if (q->conn == NULL)
		goto err_after_frame;
	c->conns_open++;
	q->conn->user = q;
	q->c = c;
	q->node = node;
	q->req = ++c->next_req;
	q->deadline = cluster_now(c) + CLUSTER_SERVICE_MS;
	q->cb = cb;
	q->arg = arg;
	LIST_INSERT_HEAD(&c->svc, q, next);
	return 0;

err_after_frame:
	free(q->frame);
err_after_alloc:
	free(q);
	return CLUSTER_E_FAILED;
}

void csv_tick(struct cluster *c)
{
	uint64_t now = cluster_now(c);
	struct csv *q = LIST_FIRST(&c->svc), *next;
	char why[160];

	for (; q != NULL; q = next) {
		next = LIST_NEXT(q, next);
		if (now < q->deadline)
			continue;
		snprintf(why, sizeof(why),
			 "no answer from node %" PRIu64 " within %u ms",
			 q->node, CLUSTER_SERVICE_MS);
		finish(q, CLUSTER_E_UNREACHABLE, why);
		next = LIST_FIRST(&c->svc); /* the callback may change it */
	}
}

void csv_fail_all(struct cluster *c)
{
	unsigned bound = 100000; /* every ask is unlinked by finish */

	while (!LIST_EMPTY(&c->svc) && bound-- > 0)
		finish(LIST_FIRST(&c->svc), CLUSTER_E_SHUTDOWN,
		       "the node is stopping");
}

void cluster_set_service_hook(struct cluster *c, cluster_service_fn fn,
			      void *arg)
{
	if (c == NULL)
		return;
	c->svc_fn = fn;
	c->svc_arg = fn != NULL ? arg : NULL;
}

/* The asked side's answer on conn. */
static void reply(struct peer_conn *conn, uint64_t req, int32_t status,
		  const char *text)
{
	uint8_t *p;
	size_t len;

	p = peer_status_encode(status, text, 0, 1, &len);
	if (p == NULL) {
		peer_conn_close(conn, "out of memory");
		return;
	}
	peer_conn_send(conn, PEER_ADMIN_RESULT, req, p, len);
	free(p);
}

void csv_remote(struct cluster *c, struct peer_conn *conn, struct peer_frame *f)
{
	struct peer_service ps;
	char why[240];
	char *text;

	if (peer_service_decode(&ps, f->payload, f->len) != 0) {
		log_warn("forward: malformed receiver-settings frame from %s; "
			 "dropping the connection",
			 conn->peer);
		peer_conn_close(conn, NULL);
		return;
	}
	if (c->stopping || c->raft == NULL) {
		reply(conn, f->req, CLUSTER_E_SHUTDOWN, "the node is stopping");
		return;
	}
	if (member(c, conn->node_id) == NULL) {
		log_warn("forward: refused a receiver-settings request from "
			 "node %" PRIu64 " (%s): not a member of this node's "
			 "configuration",
			 conn->node_id, conn->peer);
		snprintf(why, sizeof(why),
			 "node %" PRIu64 " refused: node %" PRIu64
			 " is not a member of its configuration",
			 c->conf.id, conn->node_id);
		reply(conn, f->req, CLUSTER_E_FAILED, why);
		return;
	}
	if (ps.node != c->conf.id) {
		snprintf(why, sizeof(why),
			 "node %" PRIu64 " refused: the request names node "
			 "%" PRIu64,
			 c->conf.id, ps.node);
		reply(conn, f->req, CLUSTER_E_FAILED, why);
		return;
	}
	if (c->svc_fn == NULL) {
		snprintf(why, sizeof(why),
			 "node %" PRIu64 " refused: its control server does "
			 "not run",
			 c->conf.id);
		reply(conn, f->req, CLUSTER_E_FAILED, why);
		return;
	}
	log_info("forward: node %" PRIu64 " (%s) asks for %s service smtp",
		 conn->node_id, conn->peer,
		 ps.op == PEER_OP_SERVICE_SET ? "set" : "show");
	text = c->svc_fn(c->svc_arg, ps.op == PEER_OP_SERVICE_SET, ps.mask,
			 ps.values);
	if (text == NULL) {
		snprintf(why, sizeof(why), "node %" PRIu64 ": out of memory",
			 c->conf.id);
		reply(conn, f->req, CLUSTER_E_FAILED, why);
		return;
	}
	reply(conn, f->req, 0, text);
	free(text);
}
