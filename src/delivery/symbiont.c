/*
 * symbiont.c — the node's delivery agent (see symbiont.h and
 * docs/symbiont.md): the scan loop and the symbiont's lifecycle.
 *
 * Every scan_interval_ms (and at once when a slot frees up) it looks at
 * the due index of its own copy of the spool and CLAIMs, in one batch,
 * the due files this node should take (symbiont_place.c). Each granted
 * file becomes a job (symbiont_job.c: wait for our spool to apply the
 * claim, deliver, renew, COMPLETE with the bounce of symbiont_bounce.c);
 * each recipient outcome is a line of the activity log
 * (symbiont_actlog.c). This file wires the jobs to the cluster, the
 * delivery engine and the timers (struct symbiont_job_ops), and stops:
 * no new claims, running deliveries finish or are cancelled, their
 * COMPLETEs are awaited until a deadline.
 *
 * Owns: the job list, the claim batch in flight, the timers, the
 * statistics. Does not own: the cluster, the spool, the delivery engine.
 * Fails: a CLAIM without an answer or refused is logged and the next scan
 * tries again; what a job fails is left to the lease (symbiont_job.h);
 * nothing here stops the node.
 */
#include "src/base/clock.h"
#include "src/delivery/symbiont.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "spool/codec/ctlname.h"
#include "src/base/log.h"
#include "src/delivery/symbiont_actlog.h"
#include "src/delivery/symbiont_job.h"
#include "src/delivery/symbiont_place.h"

#define DEF_LEASE_MS 120000
#define DEF_GRACE_MS 30000
#define DEF_SCAN_MS 500
#define DEF_BATCH 16
#define DUE_SCAN_MAX 256   /* names read from the due index per scan */
#define KICK_MS 20	   /* retry period while a claim is not applied */
#define STOP_DRAIN_MS 3000 /* deliveries may finish this long at stop */
#define STOP_FINAL_MS 6000 /* then their COMPLETEs this much longer */

struct claim_batch {
	struct symbiont *s;
	uint32_t n;
	char **names;
	uint64_t *prev; /* holder of an expired lease per name, 0 = none */
	uint64_t sent;	/* monotonic ms */
};

LIST_HEAD(job_list, symbiont_job);

struct symbiont {
	uv_loop_t *loop;
	struct cluster *cl;
	struct spool *sp;
	struct deliverer *dlv;
	uint64_t self;
	char node_name[CTLNAME_NODE_MAX + 1];
	char node_domain[256];
	unsigned lease_ms, grace_ms, scan_ms, batch;
	struct symbiont_actlog log;
	struct symbiont_job_env env; /* what the jobs see of us */
	uv_timer_t tick, kick;
	int kick_armed;
	uint64_t kick_due; /* monotonic ms the armed kick fires */
	struct job_list jobs;
	unsigned njobs;
	struct claim_batch *claim; /* the CLAIM in flight, or NULL */
	struct symbiont_stats st;
	uint64_t gone[SYMBIONT_NODES_MAX]; /* left out of the placement */
	size_t ngone;
	int stopping;
	int closing;
	uint64_t stop_at;
	void (*stop_cb)(void *);
	void *stop_arg;
};

static void on_kick(uv_timer_t *t);

/* ---- clocks ---- */

static uint64_t mono_ms(const struct symbiont *s)
{
	uv_update_time(s->loop);
	return uv_now(s->loop);
}

/* Run the periodic work in delay_ms (sooner if already armed sooner). */
static void arm_kick_in(struct symbiont *s, uint64_t delay_ms)
{
	uint64_t due = uv_now(s->loop) + delay_ms;

	if (s->closing || (s->kick_armed && s->kick_due <= due))
		return;
	s->kick_armed = 1;
	s->kick_due = due;
	uv_timer_start(&s->kick, on_kick, delay_ms, 0);
}

static void arm_kick(struct symbiont *s)
{
	arm_kick_in(s, KICK_MS);
}

/* At stop: wake the kick timer, whose callback (stop_check) finishes
 * the stop outside of any job loop. */
static void maybe_close(struct symbiont *s)
{
	if (s->stopping && !s->closing)
		arm_kick(s);
}

static int job_holds(void *arg, const char *name)
{
	const struct symbiont *s = arg;
	const struct symbiont_job *j;

	for (j = LIST_FIRST(&s->jobs); j != NULL; j = LIST_NEXT(j, link))
		if (strcmp(j->name, name) == 0)
			return 1;
	return 0;
}

/* ---- what the jobs ask of us (struct symbiont_job_ops) ---- */

static int op_propose(void *ctx, const void *cmd, size_t len,
		      cluster_propose_cb cb, void *cb_arg)
{
	struct symbiont *s = ctx;

	return cluster_propose(s->cl, cmd, len, cb, cb_arg);
}

static void delivered_cb(void *arg, const struct deliver_outcome *out,
			 uint32_t n)
{
	symbiont_job_delivered(arg, out, n);
}

/* The engine on j, with the body from our spool. */
static int op_deliver(void *ctx, struct symbiont_job *j)
{
	struct symbiont *s = ctx;
	void *body = NULL;
	size_t len = 0;
	int rc;

	rc = spool_body_get(s->sp, j->name, &body, &len);
	if (rc != 0) {
		log_error("symbiont: %s: no body in the spool (%s); left to "
			  "the lease",
			  j->name, spool_strerror(rc));
		return rc;
	}
	/* the engine owns body from here, started or not (deliver.h) */
	rc = deliver_start(s->dlv, &j->ctl, body, len, delivered_cb, j, &j->h);
	if (rc != 0) {
		log_error("symbiont: %s: cannot start the delivery (%d); left "
			  "to the lease",
			  j->name, rc);
		j->h = NULL;
	}
	return rc;
}

static void op_cancel(void *ctx, struct symbiont_job *j)
{
	deliver_cancel(j->h); /* calls delivered_cb */
}

static uint64_t op_now(void *ctx)
{
	return mono_ms(ctx);
}

static uint64_t op_max_body(void *ctx)
{
	struct symbiont *s = ctx;

	return s->cl != NULL ? cluster_max_body(s->cl) : 0;
}

static void op_kick(void *ctx)
{
	arm_kick(ctx);
}

static void op_activity(void *ctx, const struct symbiont_job *j,
			const struct deliver_outcome *o)
{
	struct symbiont *s = ctx;

	symbiont_actlog_write(&s->log, s->node_name, j->name, &j->ctl.rec,
			      j->fence, j->state != SJ_LOST, o);
}

static void op_gone(void *ctx, struct symbiont_job *j)
{
	struct symbiont *s = ctx;

	LIST_REMOVE(j, link);
	s->njobs--;
	s->st.in_flight = s->njobs;
	maybe_close(s);
}

static const struct symbiont_job_ops job_ops = {
    .propose = op_propose,
    .deliver = op_deliver,
    .cancel = op_cancel,
    .now = op_now,
    .max_body = op_max_body,
    .kick = op_kick,
    .activity = op_activity,
    .gone = op_gone,
};

/* ---- CLAIM ---- */

static void batch_free(struct claim_batch *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		free(b->names[i]);
	free(b->names);
	free(b->prev);
	free(b);
}

/* The granted names of b become jobs; those our spool has applied
 * start at once. */
static void claim_granted(struct symbiont *s, const struct claim_batch *b,
			  const struct spool_result *res)
{
	struct symbiont_job *j, *next;

	for (uint32_t i = 0; i < b->n; i++) {
		if (res->items[i].status != 0) {
			s->st.claims_refused++;
			continue;
		}
		s->st.claims++;
		j = symbiont_job_new(&s->env, b->names[i], res->items[i].fence,
				     b->prev[i], b->sent);
		if (j == NULL) {
			log_error("symbiont: out of memory; %s left "
				  "to its lease",
				  b->names[i]);
			continue;
		}
		LIST_INSERT_HEAD(&s->jobs, j, link);
		s->njobs++;
		log_debug("symbiont: claimed %s (fence %llu)", j->name,
			  (unsigned long long)j->fence);
	}
	s->st.in_flight = s->njobs;
	/* start what our spool has already applied */
	for (j = LIST_FIRST(&s->jobs); j != NULL; j = next) {
		next = LIST_NEXT(j, link);
		if (j->state == SJ_WAIT_LOCAL && j->lease_base == b->sent)
			symbiont_job_try_start(j);
	}
}

static void claim_cb(void *arg, int status, const struct spool_result *res)
{
	struct claim_batch *b = arg;
	struct symbiont *s = b->s;

	s->claim = NULL;
	if (status != 0) {
		log_debug("symbiont: CLAIM not answered (%d)", status);
	} else if (res->status != 0 || res->n != b->n) {
		log_warn("symbiont: CLAIM refused: %s",
			 spool_strerror(res->status));
	} else if (s->stopping) {
		log_info("symbiont: stopping; %u claim(s) left to their "
			 "leases",
			 (unsigned)res->value);
	} else {
		claim_granted(s, b, res);
	}
	batch_free(b);
	arm_kick(s);
}

/* 1 when id is among ids[0..n). */
static int id_in(uint64_t id, const uint64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* Leave out of the placement the started nodes the leader does not hear
 * from (symbiont_place.h), logging each change of that set. Without a
 * view (no leader, cut off from it) nothing is left out. */
static void keep_live(struct symbiont *s, struct symbiont_nodes *nodes)
{
	uint64_t live[SYMBIONT_NODES_MAX], gone[SYMBIONT_NODES_MAX];
	size_t nlive = 0, ngone = 0;

	if (cluster_live_nodes(s->cl, live, SYMBIONT_NODES_MAX, &nlive) == 1)
		ngone = symbiont_nodes_keep_live(nodes, s->self, live, nlive,
						 gone, SYMBIONT_NODES_MAX);
	if (ngone > SYMBIONT_NODES_MAX)
		ngone = SYMBIONT_NODES_MAX;
	for (size_t i = 0; i < ngone; i++)
		if (!id_in(gone[i], s->gone, s->ngone))
			log_info("symbiont: node %llu is gone (the leader does "
				 "not hear from it): its mail is taken now, "
				 "its claims when their lease ends",
				 (unsigned long long)gone[i]);
	for (size_t i = 0; i < s->ngone; i++)
		if (!id_in(s->gone[i], gone, ngone))
			log_info("symbiont: node %llu is back in the placement",
				 (unsigned long long)s->gone[i]);
	memcpy(s->gone, gone, ngone * sizeof(gone[0]));
	s->ngone = ngone;
}

/* Scan the due index and CLAIM what this node should take. */
static void scan(struct symbiont *s)
{
	struct spool_config cfg;
	struct symbiont_nodes nodes;
	struct symbiont_pick_in pick;
	struct claim_batch *b;
	struct spool_cmd cmd;
	struct wbuf wb;
	char *names[DUE_SCAN_MAX];
	uint64_t now = s->cl != NULL ? cluster_time_ms(s->cl) : clock_wall_ms();
	unsigned queues, room;
	int n, rc;

	if (s->claim != NULL || s->stopping)
		return;
	if (symbiont_nodes_load(s->sp, s->self, &nodes) != 0)
		return;
	s->st.claiming = nodes.self_started;
	if (!nodes.self_started)
		return; /* STOP MAIL: running deliveries finish */
	keep_live(s, &nodes);
	if (spool_config_load(s->sp, &cfg) != 0)
		return;
	symbiont_actlog_follow(&s->log, &cfg);
	queues = (unsigned)cfg.num[CFG_QUEUES];
	s->st.slots = queues;
	if (s->njobs >= queues)
		return;
	room = queues - s->njobs;
	if (room > s->batch)
		room = s->batch;

	n = spool_due_list(s->sp, now, names, DUE_SCAN_MAX);
	if (n <= 0)
		return;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		goto out_free_names;
	b->s = s;
	b->names = calloc(room, sizeof(*b->names));
	b->prev = calloc(room, sizeof(*b->prev));
	if (b->names == NULL || b->prev == NULL)
		goto out_free_batch;
	memset(&pick, 0, sizeof(pick));
	pick.sp = s->sp;
	pick.self = s->self;
	pick.now_ms = now;
	pick.grace_ms = s->grace_ms;
	pick.nodes = &nodes;
	pick.held = job_holds;
	pick.held_arg = s;
	b->n = symbiont_pick(&pick, names, n, b->names, b->prev, room);
	if (b->n == 0)
		goto out_free_batch;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_CLAIM;
	cmd.u.claim.node = s->self;
	cmd.u.claim.lease_ms = s->lease_ms;
	cmd.u.claim.n = b->n;
	cmd.u.claim.names = (const char **)b->names;
	wbuf_init(&wb);
	rc = spool_cmd_encode(&cmd, &wb);
	if (rc == 0) {
		b->sent = mono_ms(s);
		rc = cluster_propose(s->cl, wb.p, wb.len, claim_cb, b);
	}
	wbuf_free(&wb);
	if (rc != 0) {
		log_debug("symbiont: cannot propose CLAIM (%d)", rc);
		goto out_free_batch;
	}
	s->claim = b;
	b = NULL;

out_free_batch:
	if (b != NULL)
		batch_free(b);
out_free_names:
	for (int i = 0; i < n; i++)
		free(names[i]);
}

/* ---- timers, stop ---- */

/* Jobs' periodic work: start applied claims, renew, retry COMPLETE,
 * cancel at the stop deadline. Then, with scan, look for new work. */
static void tick_work(struct symbiont *s, int do_scan)
{
	uint64_t now = mono_ms(s);
	int cancel = s->stopping && now >= s->stop_at;
	struct symbiont_job *j, *next;
	uint64_t due, first = 0;

	for (j = LIST_FIRST(&s->jobs); j != NULL; j = next) {
		next = LIST_NEXT(j, link);
		symbiont_job_tick(j, now, s->stopping, cancel);
	}
	/* wake for the next RENEW or lease deadline, not a scan later */
	LIST_FOREACH (j, &s->jobs, link) {
		due = symbiont_job_next_due(j, now);
		if (due != 0 && (first == 0 || due < first))
			first = due;
	}
	if (first != 0 && first < now + s->scan_ms)
		arm_kick_in(s, first > now ? first - now : 0);
	if (do_scan && !s->stopping)
		scan(s);
}

static void stop_check(struct symbiont *s);

static void on_tick(uv_timer_t *t)
{
	struct symbiont *s = t->data;

	tick_work(s, 1);
	stop_check(s);
}

static void on_kick(uv_timer_t *t)
{
	struct symbiont *s = t->data;

	s->kick_armed = 0;
	tick_work(s, 1);
	stop_check(s);
}

static void closed_cb(uv_handle_t *h)
{
	struct symbiont *s = h->data;

	if (h == (uv_handle_t *)&s->tick) {
		uv_close((uv_handle_t *)&s->kick, closed_cb);
		return;
	}
	symbiont_actlog_close(&s->log);
	free(s);
}

/* At stop, from a timer callback only: call the stop callback once the
 * work is done (or the final deadline passed), and close and free
 * everything once nothing refers to the symbiont any more. */
static void stop_check(struct symbiont *s)
{
	int idle = LIST_EMPTY(&s->jobs) && s->claim == NULL;
	uint64_t now;

	if (!s->stopping || s->closing)
		return;
	now = mono_ms(s);
	if (!s->env.finished && (idle || now >= s->stop_at + STOP_FINAL_MS)) {
		s->env.finished = 1;
		if (!idle)
			log_warn("symbiont: stopping with %u job(s) not "
				 "completed (left to their leases)",
				 s->njobs);
		if (s->stop_cb != NULL)
			s->stop_cb(s->stop_arg);
	}
	if (s->env.finished && LIST_EMPTY(&s->jobs) && s->claim == NULL) {
		s->closing = 1;
		uv_timer_stop(&s->tick);
		uv_timer_stop(&s->kick);
		uv_close((uv_handle_t *)&s->tick, closed_cb);
	}
}

int symbiont_start(struct symbiont **out, uv_loop_t *loop,
		   const struct symbiont_opts *o, struct cluster *cl,
		   struct spool *sp, struct deliverer *d)
{
	struct symbiont *s;

	*out = NULL;
	if (o == NULL || o->node_id == 0 || o->node_name == NULL ||
	    !ctlname_node_ok(o->node_name) || cl == NULL || sp == NULL ||
	    d == NULL)
		return SPOOL_E_INVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return SPOOL_E_NOMEM;
	s->loop = loop;
	s->cl = cl;
	s->sp = sp;
	s->dlv = d;
	s->self = o->node_id;
	snprintf(s->node_name, sizeof(s->node_name), "%s", o->node_name);
	snprintf(s->node_domain, sizeof(s->node_domain), "%s",
		 o->node_domain != NULL && o->node_domain[0] != '\0'
		     ? o->node_domain
		     : "localhost");
	s->lease_ms = o->lease_ms ? o->lease_ms : DEF_LEASE_MS;
	s->grace_ms = o->grace_ms ? o->grace_ms : DEF_GRACE_MS;
	s->scan_ms = o->scan_interval_ms ? o->scan_interval_ms : DEF_SCAN_MS;
	s->batch = o->claim_batch ? o->claim_batch : DEF_BATCH;
	if (s->batch > SPOOL_CLAIM_MAX)
		s->batch = SPOOL_CLAIM_MAX;
	LIST_INIT(&s->jobs);
	s->env.ops = &job_ops;
	s->env.ctx = s;
	s->env.sp = sp;
	s->env.self = s->self;
	s->env.lease_ms = s->lease_ms;
	s->env.bounce.sp = sp;
	s->env.bounce.self = s->self;
	s->env.bounce.node_name = s->node_name;
	s->env.bounce.node_domain = s->node_domain;
	s->env.st = &s->st;
	symbiont_actlog_open(&s->log, o->activity_log, o->log_dir);
	s->st.claiming = 1;
	uv_timer_init(loop, &s->tick);
	uv_timer_init(loop, &s->kick);
	s->tick.data = s->kick.data = s;
	uv_timer_start(&s->tick, on_tick, s->scan_ms, s->scan_ms);
	log_info("symbiont: started (lease %u ms, grace %u ms, scan %u ms, "
		 "batch %u)",
		 s->lease_ms, s->grace_ms, s->scan_ms, s->batch);
	*out = s;
	return 0;
}

void symbiont_stop(struct symbiont *s, void (*cb)(void *arg), void *arg)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	s->stop_cb = cb;
	s->stop_arg = arg;
	s->stop_at = mono_ms(s) + STOP_DRAIN_MS;
	s->st.claiming = 0;
	log_info("symbiont: stopping (%u job(s) running)", s->njobs);
	arm_kick(s);
}

void symbiont_reopen_log(struct symbiont *s)
{
	symbiont_actlog_reopen(&s->log);
}

void symbiont_stats(const struct symbiont *s, struct symbiont_stats *out)
{
	*out = s->st;
	out->in_flight = s->njobs;
}
