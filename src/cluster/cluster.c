/*
 * cluster.c — the node's raft life: start (raft, FSM, forwarding port),
 * the per-iteration check (state and leader changes, the new leader's
 * barrier, group-commit flush), the tick (deadlines; the node's periodic
 * duties are in cluster_duties.c) and stop (a leader hands leadership over
 * first).
 *
 * Owns struct cluster and its libuv handles, and is the top of
 * src/cluster/ (see cluster_impl.h): proposals live in cluster_propose.c,
 * membership in cluster_members.c, the status JSON in cluster_status.c,
 * the watchdog, reports and self-registration in cluster_duties.c, the
 * forwarding port in cluster_server.c, the connection to the leader in
 * cluster_client.c; this file wires what they hand up (struct
 * cluster_up). Failures at start are returned; a spool environment
 * failure in the FSM is fatal for the node (fatal_cb), since the spool is
 * rebuilt from the raft log at the next start.
 */
#include "src/cluster/cluster_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "raft/rlog.h"
#include "src/base/clock.h"
#include "src/base/log.h"

static void stop_close(struct cluster *c);
static void maybe_finished(struct cluster *c);

/* raft/'s sink: one daemon log line per raft/ line, same text. */
static void raft_log_sink(enum rlog_level level, const char *fmt, va_list ap)
{
	char line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	switch (level) {
	case RLOG_DEBUG:
		log_debug("%s", line);
		break;
	case RLOG_INFO:
		log_info("%s", line);
		break;
	case RLOG_WARN:
		log_warn("%s", line);
		break;
	default:
		log_error("%s", line);
		break;
	}
}

void cluster_log_init(void)
{
	rlog_set_sink(raft_log_sink);
}

uint64_t cluster_max_body(const struct cluster *c)
{
	const uint64_t envelope = 1024 * 1024; /* recipients, Received: */

	return c->conf.max_frame > 2 * envelope ? c->conf.max_frame - envelope
						: c->conf.max_frame / 2;
}

void cluster_set_fatal_cb(struct cluster *c, void (*cb)(void *arg, int err),
			  void *arg)
{
	c->fatal_cb = cb;
	c->fatal_arg = arg;
}

/* FSM: the spool environment failed inside apply (never stop from here). */
static void on_fsm_fatal(void *arg, int err)
{
	struct cluster *c = arg;
	if (!c->fatal) {
		c->fatal = err != 0 ? err : -1;
	}
}

static void barrier_cb(struct raft_barrier *req, int status)
{
	struct cluster *c = req->data;

	c->barrier_inflight = 0;
	if (c->stopping || c->raft == NULL) {
		return;
	}
	if (status == 0 && raft_state(c->raft) == RAFT_LEADER &&
	    raft_current_term(c->raft) == c->barrier_term) {
		c->ready = 1;
		c->lead_since = cluster_now(c);
		log_info("raft: leader ready in term %llu (barrier applied at "
			 "%llu)",
			 (unsigned long long)c->barrier_term,
			 (unsigned long long)raft_last_applied(c->raft));
		cp_became_ready(c);
		return;
	}
	if (raft_state(c->raft) == RAFT_LEADER) {
		c->barrier_needed = 1;
	}
}

/* A new leader proves its log is current before it serves. */
static void issue_barrier(struct cluster *c)
{
	int rv;

	c->barrier_req.data = c;
	c->barrier_term = raft_current_term(c->raft);
	rv = raft_barrier(c->raft, &c->barrier_req, barrier_cb);
	if (rv != 0) {
		log_warn("raft: barrier refused: %s", raft_strerror(rv));
		return; /* retried at the next check */
	}
	c->barrier_needed = 0;
	c->barrier_inflight = 1;
}

/* Notice state, term and leader changes since the last iteration. */
static void track_state(struct cluster *c)
{
	struct raft *r = c->raft;
	unsigned short state = (unsigned short)raft_state(r);
	raft_term term = raft_current_term(r);
	raft_id lid = 0;
	const char *laddr = NULL;

	if (state != c->last_state || term != c->last_term) {
		int was_leader = c->last_state == RAFT_LEADER;
		if (state != c->last_state) {
			log_info("raft: %s -> %s in term %llu",
				 cluster_state_name(c->last_state),
				 cluster_state_name(state),
				 (unsigned long long)term);
		}
		if (was_leader &&
		    (state != RAFT_LEADER || term != c->last_term)) {
			c->ready = 0;
			cp_lost_leadership(c);
		}
		if (state == RAFT_LEADER &&
		    (!was_leader || term != c->last_term)) {
			c->ready = 0;
			c->barrier_needed = 1;
		}
		c->last_state = state;
		c->last_term = term;
	}
	raft_leader(r, &lid, &laddr);
	if (lid != c->last_leader_id) {
		if (lid != 0) {
			log_info("raft: leader is %llu at %s",
				 (unsigned long long)lid, laddr ? laddr : "?");
		} else {
			log_info("raft: no known leader");
		}
		c->last_leader_id = lid;
	}
}

/* Runs after every loop iteration's I/O: react to what raft did. */
static void check_cb(uv_check_t *h)
{
	struct cluster *c = h->data;

	if (c->raft == NULL || c->stop_phase == 2) {
		return;
	}
	if (c->fatal && c->fatal_cb != NULL) {
		void (*cb)(void *, int) = c->fatal_cb;
		c->fatal_cb = NULL;
		log_error("cluster: the spool failed (%d); stopping the node, "
			  "the spool is rebuilt from the raft log at restart",
			  c->fatal);
		cb(c->fatal_arg, c->fatal);
	}
	track_state(c);
	if (c->last_state == RAFT_LEADER && c->barrier_needed &&
	    !c->barrier_inflight && !c->stopping && !c->disk_failed) {
		issue_barrier(c);
	}
	if (!c->stopping) {
		cm_check(c);
		ccl_check(c);
	}
	cp_flush(c);
}

static void tick_cb(uv_timer_t *t)
{
	struct cluster *c = t->data;
	uint64_t now = cluster_now(c);

	if (c->raft == NULL || c->stop_phase == 2) {
		return;
	}
	cp_tick(c);
	cm_tick(c);
	cs_tick(c);
	csv_tick(c);
	if (c->stopping) {
		return;
	}
	ct_duties(c, now);
}

/* ---- what the lower files hand up ---- */

static void up_leader_connected(struct cluster *c)
{
	cp_leader_connected(c); /* cm_check sends the operations that wait */
}

static void up_leader_lost(struct cluster *c)
{
	cp_leader_lost(c);
	cm_leader_lost(c);
}

static void stop_progress(struct cluster *c);

/* An ADMIN frame: a receiver-settings request, or an admin operation. */
static void up_admin(struct cluster *c, struct peer_conn *conn,
		     struct peer_frame *f)
{
	if (peer_admin_is_service(f->payload, f->len))
		csv_remote(c, conn, f);
	else
		cm_remote_admin(c, conn, f);
}

static const struct cluster_up cluster_up = {
    .proposal = cp_enqueue_remote,
    .admin = up_admin,
    .result = cp_result,
    .admin_result = cm_admin_result,
    .leader_connected = up_leader_connected,
    .leader_lost = up_leader_lost,
    .conn_closed = stop_progress,
    .disk_error = ct_disk_error,
};

int cluster_start(struct cluster **out, uv_loop_t *loop,
		  const struct nodeconf *conf, struct spool *sp)
{
	struct rnode_peer peers[NODECONF_PEERS_MAX];
	struct rnode_opts o;
	struct cluster *c;
	char dir[NODECONF_STR + 16];
	char err[512] = "";
	int rv;

	*out = NULL;
	if (conf == NULL || sp == NULL || conf->id == 0) {
		return CLUSTER_E_INVAL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return CLUSTER_E_FAILED;
	}
	c->up = &cluster_up;
	TAILQ_INIT(&c->lps);
	TAILQ_INIT(&c->queue);
	TAILQ_INIT(&c->aops);
	c->loop = loop;
	c->conf = *conf;
	c->sp = sp;
	c->max_payload = conf->max_frame + PEER_HEADROOM;
	c->next_req = cluster_realtime_ms() * 1000u;
	c->last_state = RAFT_UNAVAILABLE;
	rfsm_init(&c->fsm, sp, clock_mono_ms, on_fsm_fatal, c);
	c->fsm.on_snapshot = cmx_on_snapshot; /* cluster_metrics.c */

	snprintf(dir, sizeof(dir), "%s/raft", conf->data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("cluster: cannot create %s: %s", dir,
			  strerror(errno));
		free(c);
		return CLUSTER_E_FAILED;
	}
	memset(&o, 0, sizeof(o));
	o.id = conf->id;
	o.address = conf->cluster_address;
	o.dir = dir;
	o.election_timeout_ms = conf->election_timeout_ms;
	o.heartbeat_timeout_ms = conf->heartbeat_timeout_ms;
	o.snapshot_threshold = conf->snapshot_threshold;
	o.snapshot_trailing = conf->snapshot_trailing;
	o.install_snapshot_timeout_ms = 120000;
	o.bootstrap = conf->bootstrap;
	for (unsigned i = 0; i < conf->npeers && i < NODECONF_PEERS_MAX; i++) {
		peers[i].id = conf->peers[i].id;
		peers[i].address = conf->peers[i].address;
	}
	o.npeers = conf->npeers;
	o.peers = peers;
	if (ctls_start(c) != 0) {
		free(c);
		return CLUSTER_E_FAILED;
	}
	o.wrap = c->rtls != NULL ? rtls_wrap(c->rtls) : NULL;
	/* serialize snapshots in the pool, not on the loop (raft/fsm.h) */
	rfsm_set_deferred(&c->fsm);
	o.mono_ms = clock_mono_ms;
	o.snapshot_fill = rfsm_fill;
	o.snapshot_fail = rfsm_fill_failed;
	o.snapshot_arg = &c->fsm;
	/* restore an installed snapshot in the pool, not on the loop */
	o.restore_begin = rfsm_restore_begin;
	o.restore_run = rfsm_restore_run;
	o.restore_end = rfsm_restore_end;
	rv = rnode_start(&c->node, loop, &o, &c->fsm.fsm, err, sizeof(err));
	if (rv != 0) {
		log_error("cluster: cannot start raft: %s", err);
		/* the node frees itself once the loop runs; its transport
		 * may still cancel through the wrap then, so the wrap's
		 * memory stays (the process stops on this error) */
		free(c);
		return CLUSTER_E_FAILED;
	}
	c->raft = rnode_raft(c->node);
	rfsm_set_raft(&c->fsm, c->raft);
	rfsm_set_threshold_base(&c->fsm, conf->snapshot_threshold);
	log_info("raft: node %llu at %s started (%s), data in %s",
		 (unsigned long long)conf->id, conf->cluster_address,
		 rnode_bootstrapped(c->node)
		     ? "bootstrapped a new configuration"
		     : (c->raft->configuration.n > 0
			    ? "existing log"
			    : "joiner: waiting to be added"),
		 dir);
	if (cs_listen(c) != 0) {
		/* logged; the node still works, only forwarding to it fails */
	}
	uv_check_init(loop, &c->check);
	c->check.data = c;
	uv_check_start(&c->check, check_cb);
	uv_timer_init(loop, &c->tick);
	c->tick.data = c;
	uv_timer_start(&c->tick, tick_cb, CLUSTER_TICK_MS, CLUSTER_TICK_MS);
	uv_timer_init(loop, &c->stop_timer);
	c->stop_timer.data = c;
	c->wd_since = cluster_now(c);
	*out = c;
	return 0;
}

/* ---- stop ---- */

static void maybe_finished(struct cluster *c)
{
	void (*cb)(void *);

	if (c->stop_phase != 2 || c->node != NULL || c->closes_pending > 0 ||
	    !LIST_EMPTY(&c->sconns) || c->client != NULL || c->listening ||
	    c->conns_open > 0) {
		return;
	}
	cb = c->stop_cb;
	c->stop_cb = NULL;
	c->stop_phase = 3;
	log_info("cluster: stopped");
	if (cb != NULL) {
		cb(c->stop_arg);
	}
}

/* A connection or handle closed during stop: finish when all are. */
static void stop_progress(struct cluster *c)
{
	maybe_finished(c);
}

static void handle_closed(uv_handle_t *h)
{
	struct cluster *c = h->data;
	c->closes_pending--;
	maybe_finished(c);
}

static void node_closed(void *arg)
{
	struct cluster *c = arg;

	c->node = NULL;
	rfsm_close(&c->fsm);
	c->closes_pending += 3;
	uv_close((uv_handle_t *)&c->check, handle_closed);
	uv_close((uv_handle_t *)&c->tick, handle_closed);
	uv_close((uv_handle_t *)&c->stop_timer, handle_closed);
	maybe_finished(c);
}

/* Final phase: fail what is pending, close the port, close raft. */
static void stop_close(struct cluster *c)
{
	struct rnode *n = c->node;

	if (c->stop_phase == 2) {
		return;
	}
	c->stop_phase = 2;
	uv_timer_stop(&c->stop_timer);
	cp_fail_all(c, CLUSTER_E_SHUTDOWN);
	cm_fail_all(c, CLUSTER_E_SHUTDOWN, "the node is stopping");
	csv_fail_all(c);
	cs_close_all(c);
	ccl_close(c);
	c->raft = NULL;
	rnode_close(n, node_closed, c);
}

static void stop_timer_cb(uv_timer_t *t)
{
	struct cluster *c = t->data;

	if (c->stop_phase == 1 && c->raft != NULL && c->stop_transferring) {
		raft_id lid = 0;
		const char *laddr = NULL;
		raft_leader(c->raft, &lid, &laddr);
		if (raft_state(c->raft) == RAFT_LEADER &&
		    !c->transfer_inflight) {
			log_warn("cluster: leadership did not move before "
				 "stopping");
		} else if (lid != 0 && lid != c->conf.id) {
			log_info("cluster: leadership moved to %llu",
				 (unsigned long long)lid);
		} else if (raft_state(c->raft) == RAFT_LEADER) {
			log_warn("cluster: leadership transfer still running "
				 "after %u ms; stopping anyway",
				 CLUSTER_STOP_TRANSFER_MS);
		}
	}
	stop_close(c);
}

static void stop_transfer_cb(struct raft_transfer *req)
{
	struct cluster *c = req->data;

	c->transfer_inflight = 0;
	/* never close raft from inside its own callback */
	if (c->stop_phase == 1) {
		uv_timer_start(&c->stop_timer, stop_timer_cb, 0, 0);
	}
}

/* The voter (other than this node) with the highest match index. */
static raft_id best_transferee(struct cluster *c)
{
	const struct raft_configuration *cf = &c->raft->configuration;
	raft_id best = 0;
	raft_index best_match = 0;

	for (unsigned i = 0; i < cf->n; i++) {
		raft_index m = 0;
		if (cf->servers[i].id == c->conf.id ||
		    cf->servers[i].role != RAFT_VOTER) {
			continue;
		}
		if (raft_match_index(c->raft, cf->servers[i].id, &m) != 0) {
			continue;
		}
		if (best == 0 || m > best_match) {
			best = cf->servers[i].id;
			best_match = m;
		}
	}
	return best;
}

void cluster_stop(struct cluster *c, void (*cb)(void *arg), void *arg)
{
	raft_id target;

	if (c == NULL) {
		if (cb != NULL) {
			cb(arg);
		}
		return;
	}
	if (c->stopping) {
		return;
	}
	c->stopping = 1;
	c->stop_cb = cb;
	c->stop_arg = arg;
	c->stop_phase = 1;
	if (c->raft != NULL && raft_state(c->raft) == RAFT_LEADER &&
	    (target = best_transferee(c)) != 0) {
		int rv = 0;
		if (!c->transfer_inflight) {
			c->transfer_req.data = c;
			rv = raft_transfer(c->raft, &c->transfer_req, target,
					   stop_transfer_cb);
			if (rv == 0) {
				c->transfer_inflight = 1;
			}
		}
		if (rv == 0) {
			c->stop_transferring = 1;
			log_info("cluster: stopping: handing leadership to "
				 "%llu",
				 (unsigned long long)target);
			uv_timer_start(&c->stop_timer, stop_timer_cb,
				       CLUSTER_STOP_TRANSFER_MS, 0);
			return;
		}
		log_warn("cluster: leadership transfer refused: %s",
			 raft_strerror(rv));
	}
	uv_timer_start(&c->stop_timer, stop_timer_cb, 0, 0);
}

void cluster_free(struct cluster *c)
{
	if (c == NULL) {
		return;
	}
	/* an entry still in flight when raft closed never got its callback */
	for (unsigned i = 0; i < c->ninflight; i++) {
		if (c->inflight[i] != NULL) {
			free(c->inflight[i]->owned);
			free(c->inflight[i]);
		}
	}
	free(c->inflight);
	ctls_free(c);
	free(c);
}
