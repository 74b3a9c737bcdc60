/*
 * cluster_propose.c — proposals: the ones made on this node (struct
 * lprop, retried until their deadline), the leader's group-commit queue
 * (struct qitem, local or forwarded), the one raft entry in flight and
 * the fan-out of its results. Forwarded commands arrive from
 * cluster_server.c and answers from the leader from cluster_client.c,
 * both through struct cluster_up (cluster_impl.h); this file calls down
 * into cluster_server.c (cs_send_result) and the peer layer only.
 *
 * Durability: a proposer is told "done" only from the raft_apply callback,
 * i.e. once the entry is committed on a quorum and applied here. When the
 * outcome is unknown (leadership lost, connection lost, no answer within
 * CLUSTER_TRY_MS) the same encoded command — same node id and request id
 * — is sent again to whoever leads, until the deadline; the spool makes a
 * repeated command harmless (an ENQUEUE of an existing name is flagged
 * RES_F_DUPLICATE). Callbacks are never called from inside
 * cluster_propose().
 */
#include "src/cluster/cluster_stamp.h"
#include "src/base/clock.h"
#include "src/cluster/cluster_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/batch.h"
#include "spool/codec/cmd.h"
#include "src/base/log.h"

/* ---- local proposals: list and hash by request id ---- */

static void lp_link(struct cluster *c, struct lprop *lp)
{
	unsigned b = (unsigned)(lp->req % CLUSTER_HASH);

	TAILQ_INSERT_TAIL(&c->lps, lp, next);
	lp->hnext = c->lp_hash[b];
	c->lp_hash[b] = lp;
	c->nlps++;
}

static void lp_unlink(struct cluster *c, struct lprop *lp)
{
	struct lprop **pp = &c->lp_hash[lp->req % CLUSTER_HASH];

	while (*pp != NULL && *pp != lp) {
		pp = &(*pp)->hnext;
	}
	if (*pp == lp) {
		*pp = lp->hnext;
	}
	TAILQ_REMOVE(&c->lps, lp, next);
	c->nlps--;
}

static struct lprop *lp_find(struct cluster *c, uint64_t req)
{
	struct lprop *lp = c->lp_hash[req % CLUSTER_HASH];
	while (lp != NULL && lp->req != req) {
		lp = lp->hnext;
	}
	return lp;
}

/* ---- the leader's queue ---- */

static void q_append(struct cluster *c, struct qitem *qi)
{
	TAILQ_INSERT_TAIL(&c->queue, qi, next);
	c->q_bytes += qi->len;
	c->q_count++;
}

static void q_remove(struct cluster *c, struct qitem *qi)
{
	TAILQ_REMOVE(&c->queue, qi, next);
	c->q_bytes -= qi->len;
	c->q_count--;
}

static void qi_free(struct qitem *qi)
{
	if (qi->lp != NULL) {
		qi->lp->qi = NULL;
	}
	free(qi->owned);
	free(qi);
}

int cp_queue_has_room(const struct cluster *c, size_t len)
{
	return !c->disk_failed && c->q_bytes <= CLUSTER_QUEUE_CAP &&
	       len <= CLUSTER_QUEUE_CAP - c->q_bytes;
}

/* Tell a local proposer the outcome and forget the proposal. */
static void lp_finish(struct cluster *c, struct lprop *lp, int status,
		      const struct spool_result *res)
{
	cluster_propose_cb cb = lp->cb;
	void *arg = lp->arg;

	lp_unlink(c, lp);
	if (lp->qi != NULL) {
		struct qitem *qi = lp->qi;
		qi->lp = NULL;
		lp->qi = NULL;
		if (!qi->in_flight) {
			q_remove(c, qi);
			qi_free(qi);
		}
	}
	free(lp->cmd);
	free(lp);
	cb(arg, status, res);
}

/* Give a local proposal to whoever leads: this node's queue, or the
 * leader's forwarding port; else it waits for the next tick. */
static void lp_submit(struct cluster *c, struct lprop *lp)
{
	uint64_t now = cluster_now(c);

	if (c->raft == NULL || c->stopping) {
		lp->state = LP_WAITING;
		return;
	}
	if (raft_state(c->raft) == RAFT_LEADER) {
		struct qitem *qi;
		if (!cp_queue_has_room(c, lp->len)) {
			/* the same cap as forwarded commands: wait as they
			 * would after a RETRY answer */
			lp->state = LP_WAITING;
			lp->retry_at = now + CLUSTER_RETRY_MS;
			return;
		}
		qi = calloc(1, sizeof(*qi));
		if (qi == NULL) {
			lp->state = LP_WAITING;
			lp->retry_at = now + CLUSTER_RETRY_MS;
			return;
		}
		qi->cmd = lp->cmd;
		qi->len = lp->len;
		qi->lp = lp;
		lp->qi = qi;
		lp->state = LP_QUEUED;
		lp->tries++;
		q_append(c, qi);
		return;
	}
	if (c->client != NULL && c->client->connected &&
	    c->client_leader_id == c->last_leader_id &&
	    peer_conn_send(c->client, PEER_PROPOSE, lp->req, lp->cmd,
			   lp->len) == 0) {
		lp->state = LP_SENT;
		lp->try_deadline = now + CLUSTER_TRY_MS;
		lp->tries++;
		return;
	}
	lp->state = LP_WAITING;
}

int cluster_propose(struct cluster *c, const void *cmd, size_t len,
		    cluster_propose_cb cb, void *arg)
{
	struct lprop *lp;

	if (c == NULL || cmd == NULL || cb == NULL || len < SPOOL_CMD_HDR_LEN) {
		return CLUSTER_E_INVAL;
	}
	if (c->stopping) {
		return CLUSTER_E_SHUTDOWN;
	}
	if (len > c->conf.max_frame) {
		return CLUSTER_E_TOOBIG;
	}
	/* a local caller's bytes; the leader checks forwarded ones again
	 * (cluster_server.c) since they come from another process */
	if (spool_cmd_check(cmd, len) != 0) {
		return CLUSTER_E_INVAL;
	}
	lp = calloc(1, sizeof(*lp));
	if (lp == NULL) {
		return CLUSTER_E_FAILED;
	}
	lp->cmd = malloc(len);
	if (lp->cmd == NULL) {
		free(lp);
		return CLUSTER_E_FAILED;
	}
	memcpy(lp->cmd, cmd, len);
	lp->len = len;
	lp->req = ++c->next_req;
	/* cannot fail: len >= SPOOL_CMD_HDR_LEN was checked above */
	spool_cmd_set_origin(lp->cmd, lp->len, c->conf.id, lp->req);
	lp->cb = cb;
	lp->arg = arg;
	lp->deadline = cluster_now(c) + c->conf.propose_timeout_ms;
	lp_link(c, lp);
	lp_submit(c, lp);
	return 0;
}

int cp_propose_internal(struct cluster *c, const void *cmd, size_t len,
			cluster_propose_cb cb, void *arg)
{
	return cluster_propose(c, cmd, len, cb, arg);
}

/* ---- results of the entry in flight ---- */

static void deliver_ok(struct cluster *c, struct qitem *qi, const void *p,
		       size_t len)
{
	if (qi->lp != NULL) {
		struct spool_result sr;
		struct lprop *lp = qi->lp;
		qi->lp = NULL;
		lp->qi = NULL;
		if (spool_result_decode(&sr, p, len) != 0) {
			lp_finish(c, lp, CLUSTER_E_FAILED, NULL);
			return;
		}
		lp_finish(c, lp, 0, &sr);
		spool_result_free(&sr);
	} else if (qi->conn_id != 0) {
		cs_send_result(c, qi->conn_id, qi->req, PEER_R_OK, p, len);
	}
}

/* The outcome is unknown: the proposer must try again. */
static void deliver_retry(struct cluster *c, struct qitem *qi)
{
	if (qi->lp != NULL) {
		struct lprop *lp = qi->lp;
		qi->lp = NULL;
		lp->qi = NULL;
		if (c->stopping) {
			lp_finish(c, lp, CLUSTER_E_SHUTDOWN, NULL);
			return;
		}
		lp->state = LP_WAITING;
		lp->retry_at = 0;
	} else if (qi->conn_id != 0) {
		cs_send_result(c, qi->conn_id, qi->req, PEER_R_RETRY, NULL, 0);
	}
}

static void deliver_fail(struct cluster *c, struct qitem *qi, int status)
{
	if (qi->lp != NULL) {
		struct lprop *lp = qi->lp;
		qi->lp = NULL;
		lp->qi = NULL;
		lp_finish(c, lp, status, NULL);
	} else if (qi->conn_id != 0) {
		cs_send_result(c, qi->conn_id, qi->req,
			       status == CLUSTER_E_TOOBIG ? PEER_R_TOOBIG
							  : PEER_R_FAILED,
			       NULL, 0);
	}
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct cluster *c = req->data;
	struct rbatch_results *res = result;
	unsigned n = c->ninflight;

	c->apply_inflight = 0;
	c->fsm.want_index = 0;
	c->ninflight = 0;
	if (status != 0 && status != RAFT_SHUTDOWN) {
		log_info("raft: entry of %u proposals lost (%s); they are "
			 "retried",
			 n, raft_strerror(status));
	} else if (status == 0 && (res == NULL || res->filled != n)) {
		log_error("raft: entry of %u proposals applied without its "
			  "results",
			  n);
	}
	for (unsigned i = 0; i < n; i++) {
		struct qitem *qi = c->inflight[i];
		const void *p;
		size_t len;

		c->inflight[i] = NULL;
		if (status == 0 && res != NULL &&
		    rbatch_results_get(res, i, &p, &len) == 0 && len > 0) {
			deliver_ok(c, qi, p, len);
		} else if (status == 0) {
			deliver_fail(c, qi, CLUSTER_E_FAILED);
		} else {
			deliver_retry(c, qi);
		}
		qi_free(qi);
	}
	rbatch_results_free(res);
}

/* The stamp of the next entry (cluster_stamp.h): this node's wall clock
 * while it agrees with cluster time, else cluster time advanced by this
 * node's monotonic clock; never below what was proposed or applied. A
 * change of whether the wall clock is followed is logged once. */
static uint64_t next_stamp(struct cluster *c)
{
	struct cluster_stamp_in in = {
	    .wall = cluster_realtime_ms(),
	    .mono = clock_mono_ms(),
	    .base = c->fsm.max_stamp,
	    .base_mono = c->fsm.max_stamp_mono,
	    .last = c->last_stamp,
	    .allowance = CLUSTER_STAMP_ALLOWANCE_MS,
	};
	int skewed;
	uint64_t stamp = cluster_stamp_next(&in, &skewed);

	if (skewed != c->stamp_skewed) {
		if (skewed)
			log_warn("cluster: this node's wall clock is %lld ms "
				 "off cluster time; stamping with cluster "
				 "time instead",
				 (long long)(in.wall - stamp));
		else
			log_info("cluster: wall clock agrees with cluster "
				 "time again");
		c->stamp_skewed = skewed;
	}
	c->last_stamp = stamp;
	return stamp;
}

uint64_t cluster_time_ms(const struct cluster *c)
{
	struct cluster_stamp_in in = {
	    .wall = cluster_realtime_ms(),
	    .mono = clock_mono_ms(),
	    .base = c->fsm.max_stamp,
	    .base_mono = c->fsm.max_stamp_mono,
	    .last = 0,
	    .allowance = CLUSTER_STAMP_ALLOWANCE_MS,
	};
	int skewed;

	return cluster_stamp_next(&in, &skewed);
}

/* Send everything queued as one entry, when nothing is in flight. */
void cp_flush(struct cluster *c)
{
	struct rbatch_cmd *cmds;
	struct raft_buffer buf;
	size_t bytes = RBATCH_HDR_LEN;
	uint64_t stamp;
	unsigned n = 0;
	void *entry;
	size_t elen;
	int rv;

	if (c->raft == NULL || c->apply_inflight || TAILQ_EMPTY(&c->queue) ||
	    !cluster_is_ready_leader(c) || c->disk_failed || c->fatal ||
	    raft_transferee(c->raft) != 0) {
		return;
	}
	while (!TAILQ_EMPTY(&c->queue) &&
	       (n == 0 ||
		bytes + 4 + TAILQ_FIRST(&c->queue)->len <= CLUSTER_BATCH_CAP)) {
		struct qitem *qi = TAILQ_FIRST(&c->queue);
		if (n == c->inflight_cap) {
			unsigned cap =
			    c->inflight_cap ? c->inflight_cap * 2 : 64;
			struct qitem **a =
			    realloc(c->inflight, cap * sizeof(*a));
			if (a == NULL) {
				break;
			}
			c->inflight = a;
			c->inflight_cap = cap;
		}
		q_remove(c, qi);
		qi->in_flight = 1;
		c->inflight[n++] = qi;
		bytes += 4 + qi->len;
	}
	if (n == 0) {
		return;
	}
	c->ninflight = n;
	cmds = malloc(n * sizeof(*cmds));
	stamp = next_stamp(c);
	if (cmds == NULL) {
		rv = RAFT_NOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		cmds[i].p = c->inflight[i]->cmd;
		cmds[i].len = c->inflight[i]->len;
	}
	rv = rbatch_encode(cmds, n, stamp, &entry, &elen);
	free(cmds);
	if (rv != 0) {
		rv = RAFT_NOMEM;
		goto fail;
	}
	buf.base = entry;
	buf.len = elen;
	c->apply_req.data = c;
	rv = raft_apply(c->raft, &c->apply_req, &buf, 1, apply_cb);
	if (rv != 0) {
		/* NOTLEADER and NOSPACE are refused before anything is
		 * appended: the buffer is still ours. Any later failure
		 * (the log append) has freed it and leaves raft unusable. */
		if (rv == RAFT_NOTLEADER || rv == RAFT_NOSPACE) {
			raft_free(entry);
		} else {
			log_error("raft: appending to the log failed: %s (%s)",
				  raft_strerror(rv), raft_errmsg(c->raft));
			c->up->disk_error(c, rv);
			if (!c->fatal) {
				c->fatal = rv;
			}
		}
		goto fail;
	}
	c->apply_inflight = 1;
	c->fsm.want_index = c->apply_req.index;
	log_debug("raft: entry %llu with %u proposals (%zu bytes)",
		  (unsigned long long)c->apply_req.index, n, elen);
	return;

fail:
	log_warn("raft: cannot append an entry of %u proposals: %s", n,
		 raft_strerror(rv));
	c->ninflight = 0;
	for (unsigned i = 0; i < n; i++) {
		struct qitem *qi = c->inflight[i];
		c->inflight[i] = NULL;
		deliver_retry(c, qi);
		qi_free(qi);
	}
}

/* Forwarded command for this leader's queue: 0, or the PEER_R_* answer
 * to send back now. Takes cmd on success. */
int cp_enqueue_remote(struct cluster *c, uint64_t conn_id, uint64_t req,
		      uint8_t *cmd, size_t len)
{
	struct qitem *qi;

	if (len < SPOOL_CMD_HDR_LEN) {
		return PEER_R_FAILED;
	}
	if (len > c->conf.max_frame) {
		return PEER_R_TOOBIG;
	}
	if (!cluster_is_leader(c) || !cp_queue_has_room(c, len)) {
		return PEER_R_RETRY;
	}
	qi = calloc(1, sizeof(*qi));
	if (qi == NULL) {
		return PEER_R_RETRY;
	}
	qi->owned = cmd;
	qi->cmd = cmd;
	qi->len = len;
	qi->conn_id = conn_id;
	qi->req = req;
	q_append(c, qi);
	return 0;
}

/* Queued (not in flight) commands go back to their proposers. */
void cp_lost_leadership(struct cluster *c)
{
	unsigned n = c->q_count;

	while (!TAILQ_EMPTY(&c->queue)) {
		struct qitem *qi = TAILQ_FIRST(&c->queue);
		q_remove(c, qi);
		deliver_retry(c, qi);
		qi_free(qi);
	}
	if (n > 0) {
		log_info("raft: no longer leading; %u queued proposals go to "
			 "the next leader",
			 n);
	}
}

void cp_became_ready(struct cluster *c)
{
	for (struct lprop *lp = TAILQ_FIRST(&c->lps); lp != NULL;
	     lp = TAILQ_NEXT(lp, next)) {
		if (lp->state == LP_WAITING) {
			lp_submit(c, lp);
		}
	}
}

/* Deadlines and resends. */
void cp_tick(struct cluster *c)
{
	uint64_t now = cluster_now(c);
	struct lprop *lp = TAILQ_FIRST(&c->lps);

	while (lp != NULL) {
		struct lprop *next = TAILQ_NEXT(lp, next);
		if (now >= lp->deadline) {
			static const char *const st[] = {
			    [LP_WAITING] = "waiting for a leader",
			    [LP_QUEUED] = "queued here",
			    [LP_SENT] = "forwarded"};
			log_warn("cluster: proposal %llu got no outcome within "
				 "%u ms (%u tries, %s; leader %llu, forward "
				 "connection %s)",
				 (unsigned long long)lp->req,
				 c->conf.propose_timeout_ms, lp->tries,
				 st[lp->state],
				 (unsigned long long)c->last_leader_id,
				 c->client == NULL	? "none"
				 : c->client->connected ? "up"
							: "connecting");
			lp_finish(c, lp, CLUSTER_E_NOQUORUM, NULL);
		} else if (lp->state == LP_SENT && now >= lp->try_deadline) {
			log_debug(
			    "cluster: proposal %llu unanswered, resending",
			    (unsigned long long)lp->req);
			lp_submit(c, lp);
		} else if (lp->state == LP_WAITING && now >= lp->retry_at) {
			lp_submit(c, lp);
		}
		lp = next;
	}
}

void cp_fail_all(struct cluster *c, int status)
{
	while (!TAILQ_EMPTY(&c->lps)) {
		lp_finish(c, TAILQ_FIRST(&c->lps), status, NULL);
	}
	while (!TAILQ_EMPTY(&c->queue)) {
		struct qitem *qi = TAILQ_FIRST(&c->queue);
		q_remove(c, qi);
		qi_free(qi);
	}
}

/* ---- what the connection to the leader hands up (cluster_client.c) ---- */

/* The connection is up: send what waits for a leader. */
void cp_leader_connected(struct cluster *c)
{
	for (struct lprop *lp = TAILQ_FIRST(&c->lps); lp != NULL;
	     lp = TAILQ_NEXT(lp, next)) {
		if (lp->state == LP_WAITING) {
			lp_submit(c, lp);
		}
	}
}

/* The connection is gone: what was sent there has an unknown outcome and
 * is sent again. */
void cp_leader_lost(struct cluster *c)
{
	for (struct lprop *lp = TAILQ_FIRST(&c->lps); lp != NULL;
	     lp = TAILQ_NEXT(lp, next)) {
		if (lp->state == LP_SENT) {
			lp->state = LP_WAITING;
			lp->retry_at = 0;
		}
	}
}

/* A RESULT frame from the leader for request req. */
void cp_result(struct cluster *c, uint64_t req, int32_t st, const uint8_t *body,
	       size_t blen)
{
	struct lprop *lp = lp_find(c, req);

	if (lp == NULL || lp->state != LP_SENT) {
		return; /* answer to an earlier try, already settled */
	}
	switch (st) {
	case PEER_R_OK: {
		struct spool_result sr;
		if (spool_result_decode(&sr, body, blen) != 0) {
			lp_finish(c, lp, CLUSTER_E_FAILED, NULL);
			break;
		}
		lp_finish(c, lp, 0, &sr);
		spool_result_free(&sr);
		break;
	}
	case PEER_R_RETRY:
		lp->state = LP_WAITING;
		lp->retry_at = cluster_now(c) + CLUSTER_RETRY_MS;
		break;
	case PEER_R_TOOBIG:
		lp_finish(c, lp, CLUSTER_E_TOOBIG, NULL);
		break;
	default:
		lp_finish(c, lp, CLUSTER_E_FAILED, NULL);
		break;
	}
}
