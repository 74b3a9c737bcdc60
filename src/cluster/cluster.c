/*
 * cluster.c — the node's raft life: start (raft, FSM, forwarding port),
 * the per-iteration check (state and leader changes, the new leader's
 * barrier, group-commit flush), the tick (deadlines, reports to the leader,
 * the log-disk watchdog, self-registration in the spool's node table) and
 * stop (a leader hands leadership over first).
 *
 * Owns struct cluster and its libuv handles; proposals live in
 * cluster_propose.c, the forwarding port in cluster_server.c, membership
 * and status in cluster_admin.c. Failures at start are returned; a spool
 * environment failure in the FSM is fatal for the node (fatal_cb), since
 * the spool is rebuilt from the raft log at the next start.
 */
#include "src/cluster/cluster_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "raft/rlog.h"
#include "spool/codec/wire.h"
#include "src/base/log.h"

static void stop_close(struct cluster *c);

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

uint64_t cluster_now(const struct cluster *c)
{
	return uv_now(c->loop);
}

/* Wall-clock milliseconds since the epoch: the stamp the leader puts in
 * every command (uv_now is monotonic, not a date). */
uint64_t cluster_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cluster_is_leader(const struct cluster *c)
{
	return c->raft != NULL && !c->stopping &&
	       raft_state(c->raft) == RAFT_LEADER;
}

uint64_t cluster_max_body(const struct cluster *c)
{
	const uint64_t envelope = 1024 * 1024; /* recipients, Received: */

	return c->conf.max_frame > 2 * envelope ? c->conf.max_frame - envelope
						: c->conf.max_frame / 2;
}

int cluster_is_ready_leader(const struct cluster *c)
{
	return cluster_is_leader(c) && c->ready;
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

static const char *state_name(unsigned short s)
{
	switch (s) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	default:
		return "unavailable";
	}
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
				 state_name(c->last_state), state_name(state),
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
		ca_check(c);
		cp_client_check(c);
	}
	cp_flush(c);
}

static void disk_transfer_cb(struct raft_transfer *req)
{
	struct cluster *c = req->data;
	c->transfer_inflight = 0;
}

/* The log-disk watchdog: entries appended but never stored. */
static void disk_watchdog(struct cluster *c, uint64_t now)
{
	struct raft *r = c->raft;
	unsigned long long last = raft_last_index(r);
	unsigned long long stored = r->last_stored;

	if (stored >= last) {
		if (c->disk_failed) {
			log_warn("raft: the log is being written again "
				 "(index %llu)",
				 stored);
		}
		c->disk_failed = 0;
		c->wd_stored = stored;
		c->wd_since = now;
	} else if (stored != c->wd_stored) {
		c->wd_stored = stored;
		c->wd_since = now;
	} else if (!c->disk_failed &&
		   now - c->wd_since > CLUSTER_DISK_STALL_MS) {
		c->disk_failed = 1;
		log_error("raft: CANNOT WRITE THE RAFT LOG in %s: entries up "
			  "to %llu are stuck after %llu for %u ms; this node "
			  "stops serving as leader",
			  c->conf.data_dir, last, stored,
			  CLUSTER_DISK_STALL_MS);
	}
	if (c->disk_failed && raft_state(r) == RAFT_LEADER &&
	    now >= c->disk_transfer_at && !c->transfer_inflight) {
		c->disk_transfer_at = now + 5000;
		if (c->ready) {
			c->ready = 0;
			cp_lost_leadership(c);
		}
		c->transfer_req.data = c;
		if (raft_transfer(r, &c->transfer_req, 0, disk_transfer_cb) ==
		    0) {
			c->transfer_inflight = 1;
			log_warn("raft: handing leadership over (log disk "
				 "failed)");
		}
	}
}

void cluster_note_disk_error(struct cluster *c, int rv)
{
	if (!c->disk_failed) {
		c->disk_failed = 1;
		log_error("raft: CANNOT WRITE THE RAFT LOG in %s: %s; this "
			  "node stops serving as leader",
			  c->conf.data_dir, raft_strerror(rv));
	}
}

static void node_set_cb(void *arg, int status, const struct spool_result *res)
{
	struct cluster *c = arg;

	c->node_set_inflight = 0;
	if (status == 0 && res != NULL && res->status == 0) {
		c->node_set_done = 1;
		log_info("cluster: registered %s (smtp %s, cluster %s) in the "
			 "spool",
			 c->conf.name, c->conf.smtp_listen,
			 c->conf.cluster_address);
		return;
	}
	if (c->stopping) {
		return;
	}
	log_warn("cluster: registering this node failed (%d/%d); retrying",
		 status, res != NULL ? res->status : 0);
	c->node_set_retry_at = cluster_now(c) + 2000;
}

/* Propose NODE_SET with this node's name, addresses and mail domain (every
 * node treats every registered domain as local), once a leader can take
 * it. */
static void self_register(struct cluster *c, uint64_t now)
{
	struct spool_cmd cmd;
	struct wbuf wb;
	raft_id lid = 0;
	const char *laddr = NULL;

	if (c->node_set_done || c->node_set_inflight ||
	    now < c->node_set_retry_at) {
		return;
	}
	raft_leader(c->raft, &lid, &laddr);
	if (lid == 0) {
		return;
	}
	if (lid == c->conf.id ? !c->ready
			      : (c->client == NULL || !c->client->connected)) {
		return;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_NODE_SET;
	cmd.u.node_set.id = c->conf.id;
	cmd.u.node_set.mask =
	    NODE_F_NAME | NODE_F_SMTP | NODE_F_CLUSTER | NODE_F_DOMAIN;
	cmd.u.node_set.name = c->conf.name;
	cmd.u.node_set.domain = c->conf.domain;
	cmd.u.node_set.smtp = c->conf.smtp_listen;
	cmd.u.node_set.cluster = c->conf.cluster_address;
	wbuf_init(&wb);
	if (spool_cmd_encode(&cmd, &wb) != 0) {
		log_error("cluster: cannot encode NODE_SET");
		c->node_set_done = 1;
		wbuf_free(&wb);
		return;
	}
	if (cp_propose_internal(c, wb.p, wb.len, node_set_cb, c) == 0) {
		c->node_set_inflight = 1;
	} else {
		c->node_set_retry_at = now + 2000;
	}
	wbuf_free(&wb);
}

static void report_to_leader(struct cluster *c, uint64_t now)
{
	struct peer_admin a;
	uint8_t *p;
	size_t len;

	if (c->client == NULL || !c->client->connected) {
		return;
	}
	/* every CLUSTER_REPORT_MS, and soon after this node applied more */
	if (now - c->last_report_sent < CLUSTER_REPORT_MS &&
	    (raft_last_applied(c->raft) == c->last_report_applied ||
	     now - c->last_report_sent < 100)) {
		return;
	}
	memset(&a, 0, sizeof(a));
	a.op = PEER_OP_REPORT;
	a.id = c->conf.id;
	a.address = c->conf.cluster_address;
	a.a = raft_last_applied(c->raft);
	a.b = raft_last_index(c->raft);
	a.c = raft_commit_index(c->raft);
	p = peer_admin_encode(&a, &len);
	if (p != NULL) {
		peer_conn_send(c->client, PEER_ADMIN, 0, p, len);
		free(p);
	}
	c->last_report_sent = now;
	c->last_report_applied = a.a;
}

static void tick_cb(uv_timer_t *t)
{
	struct cluster *c = t->data;
	uint64_t now = cluster_now(c);

	if (c->raft == NULL || c->stop_phase == 2) {
		return;
	}
	cp_tick(c);
	ca_tick(c);
	cs_tick(c);
	if (c->stopping) {
		return;
	}
	disk_watchdog(c, now);
	report_to_leader(c, now);
	self_register(c, now);
}

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
	c->loop = loop;
	c->conf = *conf;
	c->sp = sp;
	c->max_payload = conf->max_frame + PEER_HEADROOM;
	c->next_req = cluster_realtime_ms() * 1000u;
	c->last_state = RAFT_UNAVAILABLE;
	rfsm_init(&c->fsm, sp, on_fsm_fatal, c);

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
	rv = rnode_start(&c->node, loop, &o, &c->fsm.fsm, err, sizeof(err));
	if (rv != 0) {
		log_error("cluster: cannot start raft: %s", err);
		free(c); /* the node frees itself once the loop runs */
		return CLUSTER_E_FAILED;
	}
	c->raft = rnode_raft(c->node);
	rfsm_set_raft(&c->fsm, c->raft);
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
	    c->sconns != NULL || c->client != NULL || c->listening ||
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

void cluster_stop_progress(struct cluster *c)
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
	ca_fail_all(c, CLUSTER_E_SHUTDOWN, "the node is stopping");
	cs_close_all(c);
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
	free(c);
}
