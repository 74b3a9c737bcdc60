/*
 * cluster_members.c — the admin operations (struct aop): membership (add:
 * spare, then voter once caught up; remove), leadership transfer and the
 * status request. Each runs on the leader; a follower forwards it in an
 * ADMIN frame and waits for the ADMIN_RESULT. Operations never call back
 * from inside the cluster_* call that made them: they run from the check.
 *
 * Owns the operations and raft's change/transfer requests; the status
 * JSON is cluster_status.c's. A change whose outcome is unknown
 * (connection to the leader lost) is reported as such, not retried: a
 * membership change is not idempotent.
 */
#include "src/cluster/cluster_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"

/* ---- operations list ---- */

static void aop_link(struct cluster *c, struct aop *op)
{
	TAILQ_INSERT_TAIL(&c->aops, op, next);
}

static void aop_unlink(struct cluster *c, struct aop *op)
{
	TAILQ_REMOVE(&c->aops, op, next);
}

static void send_admin_result(struct cluster *c, struct aop *op, int status,
			      const char *msg)
{
	struct peer_conn *conn = cs_find_conn(c, op->conn_id);
	uint8_t *p;
	size_t len;

	if (conn == NULL) {
		return;
	}
	p = peer_status_encode(status, msg, 0, 1, &len);
	if (p != NULL) {
		peer_conn_send(conn, PEER_ADMIN_RESULT, op->conn_req, p, len);
		free(p);
	}
}

/* Report the outcome and forget the operation. For STATUS, msg is the
 * JSON text, which the local caller then owns. */
static void aop_finish(struct cluster *c, struct aop *op, int status, char *msg)
{
	aop_unlink(c, op);
	if (c->change_op == op) {
		c->change_op = NULL;
	}
	if (c->transfer_op == op) {
		c->transfer_op = NULL;
	}
	if (op->conn_id != 0) {
		send_admin_result(c, op, status, msg ? msg : "");
		free(msg);
	} else if (op->kind == AOP_STATUS) {
		if (op->status_cb != NULL) {
			op->status_cb(op->arg, status, msg);
		} else {
			free(msg);
		}
	} else {
		if (op->done != NULL) {
			op->done(op->arg, status, msg ? msg : "");
		}
		free(msg);
	}
	free(op);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0) {
		s = NULL;
	}
	va_end(ap);
	return s;
}

static const char *raft_msg(struct cluster *c, int rv)
{
	const char *m = c->raft != NULL ? raft_errmsg(c->raft) : NULL;
	return m != NULL && m[0] != '\0' ? m : raft_strerror(rv);
}

/* ---- running operations on the leader ---- */

static void change_cb(struct raft_change *req, int status);

static const struct raft_server *config_get(struct cluster *c, uint64_t id)
{
	for (unsigned i = 0; i < c->raft->configuration.n; i++) {
		if (c->raft->configuration.servers[i].id == id) {
			return &c->raft->configuration.servers[i];
		}
	}
	return NULL;
}

static void transfer_cb(struct raft_transfer *req)
{
	struct cluster *c = req->data;
	struct aop *op = c->transfer_op;
	raft_id lid = 0;
	const char *laddr = NULL;

	c->transfer_inflight = 0;
	c->transfer_op = NULL;
	if (op == NULL || c->raft == NULL) {
		return;
	}
	raft_leader(c->raft, &lid, &laddr);
	if (lid != 0 && lid != c->conf.id && (op->id == 0 || lid == op->id)) {
		aop_finish(c, op, 0,
			   fmt("leadership transferred to %llu",
			       (unsigned long long)lid));
	} else if (raft_state(c->raft) != RAFT_LEADER) {
		aop_finish(c, op, 0,
			   fmt("this node no longer leads (leader: %llu)",
			       (unsigned long long)lid));
	} else {
		aop_finish(c, op, CLUSTER_E_FAILED,
			   fmt("leadership did not move"));
	}
}

static void run_local(struct cluster *c, struct aop *op)
{
	struct raft *r = c->raft;
	const struct raft_server *s;
	int rv;

	switch (op->kind) {
	case AOP_STATUS:
		aop_finish(c, op, 0, cst_json(c, 1));
		return;
	case AOP_ADD:
	case AOP_REMOVE:
		if (c->change_inflight || c->promote_pending ||
		    c->remove_wait) {
			aop_finish(c, op, CLUSTER_E_FAILED,
				   fmt("another membership change is in "
				       "progress"));
			return;
		}
		s = config_get(c, op->id);
		c->change_req.data = c;
		if (op->kind == AOP_REMOVE) {
			if (s == NULL) {
				aop_finish(c, op, CLUSTER_E_FAILED,
					   fmt("%llu is not a member",
					       (unsigned long long)op->id));
				return;
			}
			rv = raft_remove(r, &c->change_req, op->id, change_cb);
		} else if (s != NULL && s->role == RAFT_VOTER) {
			aop_finish(c, op, 0,
				   fmt("%llu is already a voter",
				       (unsigned long long)op->id));
			return;
		} else if (s != NULL) {
			/* added before but not promoted: promote now */
			c->change_op = op;
			op->running = 1;
			c->promote_id = op->id;
			c->promote_pending = 1;
			return;
		} else {
			rv = raft_add(r, &c->change_req, op->id, op->address,
				      change_cb);
		}
		if (rv != 0) {
			aop_finish(c, op, CLUSTER_E_FAILED,
				   fmt("%s", raft_msg(c, rv)));
			return;
		}
		c->change_inflight = 1;
		c->change_op = op;
		op->running = 1;
		log_info("cluster: %s %llu %s",
			 op->kind == AOP_ADD ? "adding" : "removing",
			 (unsigned long long)op->id, op->address);
		return;
	case AOP_TRANSFER:
		if (c->transfer_inflight) {
			aop_finish(c, op, CLUSTER_E_FAILED,
				   fmt("a leadership transfer is running"));
			return;
		}
		c->transfer_req.data = c;
		rv = raft_transfer(r, &c->transfer_req, op->id, transfer_cb);
		if (rv != 0) {
			aop_finish(c, op, CLUSTER_E_FAILED,
				   fmt("%s", raft_msg(c, rv)));
			return;
		}
		c->transfer_inflight = 1;
		c->transfer_op = op;
		op->running = 1;
		log_info("cluster: transferring leadership to %llu",
			 (unsigned long long)raft_transferee(r));
		return;
	}
}

static void change_cb(struct raft_change *req, int status)
{
	struct cluster *c = req->data;
	struct aop *op = c->change_op;

	c->change_inflight = 0;
	if (op == NULL || c->raft == NULL) {
		c->promote_pending = 0;
		return;
	}
	if (status != 0) {
		c->promote_pending = 0;
		aop_finish(c, op, CLUSTER_E_FAILED,
			   fmt("%s of %llu failed: %s",
			       op->kind == AOP_ADD ? "adding" : "removing",
			       (unsigned long long)op->id,
			       raft_strerror(status)));
		return;
	}
	if (op->kind == AOP_REMOVE) {
		/* answer once the leader pruned the node table too (see
		 * cluster_duties.c), so placement and SHOW SERVICE forget
		 * the node before the admin is told it is gone */
		c->remove_wait = 1;
		c->remove_wait_until = cluster_now(c) + CLUSTER_REMOVE_WAIT_MS;
		c->prune_at = 0;
		return;
	}
	if (c->promote_id == op->id && !c->promote_pending) {
		/* the promotion itself completed */
		c->promote_id = 0;
		aop_finish(
		    c, op, 0,
		    fmt("%llu added as a voter", (unsigned long long)op->id));
		return;
	}
	/* added as a spare: promote from the next check, not from here */
	c->promote_id = op->id;
	c->promote_pending = 1;
}

/* Promote the spare added last, once nothing else is changing. raft
 * catches it up first and fails the change if it cannot. */
static void promote(struct cluster *c)
{
	struct aop *op = c->change_op;
	int rv;

	if (op == NULL) {
		c->promote_pending = 0;
		return;
	}
	if (raft_state(c->raft) != RAFT_LEADER) {
		c->promote_pending = 0;
		aop_finish(c, op, CLUSTER_E_FAILED,
			   fmt("leadership lost before %llu was promoted; "
			       "run the add again",
			       (unsigned long long)op->id));
		return;
	}
	c->change_req.data = c;
	rv =
	    raft_assign(c->raft, &c->change_req, op->id, RAFT_VOTER, change_cb);
	if (rv == RAFT_CANTCHANGE) {
		return; /* the add is not committed yet: next check */
	}
	c->promote_pending = 0;
	if (rv != 0) {
		aop_finish(c, op, CLUSTER_E_FAILED,
			   fmt("%llu added as a spare; promotion refused: %s",
			       (unsigned long long)op->id, raft_msg(c, rv)));
		return;
	}
	c->change_inflight = 1;
	log_info("cluster: promoting %llu to voter once it caught up",
		 (unsigned long long)op->id);
}

/* ---- forwarding to the leader ---- */

static int send_to_leader(struct cluster *c, struct aop *op)
{
	struct peer_admin a;
	uint8_t *p;
	size_t len;
	int rv;

	memset(&a, 0, sizeof(a));
	a.op = (uint8_t)op->kind;
	a.id = op->id;
	a.address = op->address;
	p = peer_admin_encode(&a, &len);
	if (p == NULL) {
		return -1;
	}
	rv = peer_conn_send(c->client, PEER_ADMIN, op->req, p, len);
	free(p);
	if (rv == 0) {
		op->sent = 1;
	}
	return rv;
}

/* Start what can start: on the leader run it, else forward it. */
void cm_check(struct cluster *c)
{
	struct aop *op = TAILQ_FIRST(&c->aops);
	int leader = raft_state(c->raft) == RAFT_LEADER;
	int connected = c->client != NULL && c->client->connected;

	if (c->promote_pending && !c->change_inflight) {
		promote(c);
	}
	while (op != NULL) {
		struct aop *next = TAILQ_NEXT(op, next);
		if (!op->running && !op->sent) {
			if (leader) {
				run_local(c, op);
			} else if (op->conn_id != 0) {
				aop_finish(c, op, CLUSTER_E_NOQUORUM,
					   fmt("not the leader"));
			} else if (connected) {
				send_to_leader(c, op);
			} else if (op->kind == AOP_STATUS &&
				   c->last_leader_id == 0) {
				aop_finish(c, op, 0, cst_json(c, 0));
			}
		}
		op = next;
	}
}

/* A finished raft removal waits for the node table's NODE_REMOVE. */
static void remove_wait_check(struct cluster *c, uint64_t now)
{
	struct aop *op = c->change_op;
	struct spool_node n;

	if (!c->remove_wait) {
		return;
	}
	if (op == NULL || op->kind != AOP_REMOVE) {
		c->remove_wait = 0;
		return;
	}
	if (spool_node_get(c->sp, op->id, &n) == SPOOL_E_NOTFOUND) {
		c->remove_wait = 0;
		aop_finish(c, op, 0,
			   fmt("%llu removed from the configuration and the "
			       "node table",
			       (unsigned long long)op->id));
	} else if (now >= c->remove_wait_until || !c->ready) {
		c->remove_wait = 0;
		aop_finish(c, op, 0,
			   fmt("%llu removed from the configuration; the "
			       "leader removes it from the node table",
			       (unsigned long long)op->id));
	}
}

void cm_tick(struct cluster *c)
{
	uint64_t now = cluster_now(c);
	struct aop *op = TAILQ_FIRST(&c->aops);

	remove_wait_check(c, now);
	op = TAILQ_FIRST(&c->aops);

	while (op != NULL) {
		struct aop *next = TAILQ_NEXT(op, next);
		if (now >= op->deadline && !op->running) {
			if (op->kind == AOP_STATUS && op->conn_id == 0) {
				aop_finish(c, op, 0, cst_json(c, 0));
			} else {
				aop_finish(c, op, CLUSTER_E_NOQUORUM,
					   fmt("no answer from a leader "
					       "in time"));
			}
		}
		op = next;
	}
}

void cm_fail_all(struct cluster *c, int status, const char *msg)
{
	while (!TAILQ_EMPTY(&c->aops)) {
		aop_finish(c, TAILQ_FIRST(&c->aops), status,
			   TAILQ_FIRST(&c->aops)->kind == AOP_STATUS
			       ? NULL
			       : fmt("%s", msg));
	}
	c->promote_pending = 0;
	c->remove_wait = 0;
}

void cm_leader_lost(struct cluster *c)
{
	struct aop *op = TAILQ_FIRST(&c->aops);

	clv_reset(c);
	while (op != NULL) {
		struct aop *next = TAILQ_NEXT(op, next);
		if (op->sent) {
			raft_id lid = 0;
			const char *laddr = NULL;
			if (c->raft != NULL) {
				raft_leader(c->raft, &lid, &laddr);
			}
			if (op->kind == AOP_STATUS) {
				aop_finish(c, op, 0, cst_json(c, 0));
			} else if (op->kind == AOP_TRANSFER && lid != 0 &&
				   (op->id != 0 ? lid == op->id
						: lid != c->client_leader_id)) {
				/* the transfer made the leader drop us */
				aop_finish(c, op, 0,
					   fmt("leadership transferred to %llu",
					       (unsigned long long)lid));
			} else {
				aop_finish(c, op, CLUSTER_E_NOQUORUM,
					   fmt("connection to the leader lost; "
					       "the change may or may not have "
					       "been made"));
			}
		}
		op = next;
	}
}

void cm_admin_result(struct cluster *c, struct peer_frame *f)
{
	struct aop *op;
	const char *msg;
	int32_t st;

	if (f->req == 0) {
		clv_on_view(c, f); /* the answer to a REPORT */
		return;
	}
	TAILQ_FOREACH (op, &c->aops, next) {
		if (op->sent && op->req == f->req) {
			break;
		}
	}
	if (op == NULL) {
		return;
	}
	if (peer_admin_result_decode(f->payload, f->len, &st, &msg) != 0) {
		aop_finish(c, op, CLUSTER_E_FAILED,
			   fmt("malformed answer from the leader"));
		return;
	}
	if (op->kind == AOP_STATUS) {
		aop_finish(c, op, 0,
			   st == 0 ? cst_merge_leader(c, msg) : cst_json(c, 0));
		return;
	}
	aop_finish(c, op, st, fmt("%s", msg));
}

/* An ADMIN frame from another node. */
void cm_remote_admin(struct cluster *c, struct peer_conn *conn,
		     struct peer_frame *f)
{
	struct peer_admin a;
	struct aop *op;

	if (peer_admin_decode(&a, f->payload, f->len) != 0) {
		log_warn("forward: malformed admin frame from %s; dropping "
			 "the connection",
			 conn->peer);
		peer_conn_close(conn, NULL);
		return;
	}
	if (a.op == PEER_OP_REPORT) {
		struct report *r = cst_report_find(c, a.id);
		if (r != NULL) {
			r->applied = a.a;
			r->last = a.b;
			r->commit = a.c;
			r->at = cluster_now(c);
		}
		clv_answer_report(c, conn);
		return;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		return;
	}
	op->kind = (enum aop_kind)a.op;
	op->id = a.id;
	snprintf(op->address, sizeof(op->address), "%s", a.address);
	op->conn_id = conn->id;
	op->conn_req = f->req;
	op->deadline = cluster_now(c) + CLUSTER_ADMIN_MS;
	aop_link(c, op);
}

/* ---- public API ---- */

static struct aop *aop_new(struct cluster *c, enum aop_kind kind, uint64_t id,
			   const char *address)
{
	struct aop *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		return NULL;
	}
	op->kind = kind;
	op->id = id;
	if (address != NULL) {
		snprintf(op->address, sizeof(op->address), "%s", address);
	}
	op->req = ++c->next_req;
	op->deadline =
	    cluster_now(c) +
	    (kind == AOP_STATUS ? CLUSTER_STATUS_ASK_MS : CLUSTER_ADMIN_MS);
	aop_link(c, op);
	return op;
}

int cluster_add(struct cluster *c, uint64_t id, const char *address,
		cluster_done_cb cb, void *arg)
{
	char host[NODECONF_STR];
	int port;
	struct aop *op;

	if (c == NULL || cb == NULL || id == 0 || address == NULL ||
	    strlen(address) >= sizeof(op->address) ||
	    nodeconf_split_addr(address, host, sizeof(host), &port) != 0) {
		return CLUSTER_E_INVAL;
	}
	if (c->stopping) {
		return CLUSTER_E_SHUTDOWN;
	}
	op = aop_new(c, AOP_ADD, id, address);
	if (op == NULL) {
		return CLUSTER_E_FAILED;
	}
	op->done = cb;
	op->arg = arg;
	return 0;
}

int cluster_remove(struct cluster *c, uint64_t id, cluster_done_cb cb,
		   void *arg)
{
	struct aop *op;

	if (c == NULL || cb == NULL || id == 0) {
		return CLUSTER_E_INVAL;
	}
	if (c->stopping) {
		return CLUSTER_E_SHUTDOWN;
	}
	op = aop_new(c, AOP_REMOVE, id, NULL);
	if (op == NULL) {
		return CLUSTER_E_FAILED;
	}
	op->done = cb;
	op->arg = arg;
	return 0;
}

int cluster_transfer(struct cluster *c, uint64_t id, cluster_done_cb cb,
		     void *arg)
{
	struct aop *op;

	if (c == NULL || cb == NULL) {
		return CLUSTER_E_INVAL;
	}
	if (c->stopping) {
		return CLUSTER_E_SHUTDOWN;
	}
	op = aop_new(c, AOP_TRANSFER, id, NULL);
	if (op == NULL) {
		return CLUSTER_E_FAILED;
	}
	op->done = cb;
	op->arg = arg;
	return 0;
}

int cluster_status(struct cluster *c, cluster_status_cb cb, void *arg)
{
	struct aop *op;

	if (c == NULL || cb == NULL) {
		return CLUSTER_E_INVAL;
	}
	if (c->stopping || c->raft == NULL) {
		return CLUSTER_E_SHUTDOWN;
	}
	op = aop_new(c, AOP_STATUS, 0, NULL);
	if (op == NULL) {
		return CLUSTER_E_FAILED;
	}
	op->status_cb = cb;
	op->arg = arg;
	return 0;
}
