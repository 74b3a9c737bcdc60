/*
 * symbiont_job.c — the symbiont job's state machine (see symbiont_job.h):
 * start once the claim is applied here, RENEW while the delivery runs,
 * the outcomes and the bounce in one COMPLETE, its retries, the lost
 * lease, and the lease enforced on this node's own monotonic clock (a
 * delivery still running at the local lease end minus the margin is
 * aborted, whatever the cluster can or cannot tell us).
 *
 * Owns: the jobs' memory and encoded COMPLETEs. Does not own: the spool,
 * the env, the engine (reached through env->ops). Fails: what the cluster
 * or the spool refuses is logged and counted, and the file is left to its
 * lease; a transition outside legal[] asserts.
 */
#include "src/delivery/symbiont_job.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/clock.h"
#include "src/base/log.h"
#include "src/metrics/metrics.h"

/* ---- state ---- */

static const char *const state_names[SJ__COUNT] = {
    [SJ_WAIT_LOCAL] = "WAIT_LOCAL",
    [SJ_DELIVERING] = "DELIVERING",
    [SJ_LOST] = "LOST",
    [SJ_COMPLETING] = "COMPLETING",
    [SJ_COMPLETE_RETRY] = "COMPLETE_RETRY",
    [SJ_DONE] = "DONE",
};

#define B(s) (1u << (s))
/* legal[old] = the states old may move to */
static const unsigned legal[SJ__COUNT] = {
    [SJ_WAIT_LOCAL] = B(SJ_DELIVERING) | B(SJ_DONE),
    [SJ_DELIVERING] = B(SJ_COMPLETING) | B(SJ_LOST) | B(SJ_DONE),
    [SJ_LOST] = B(SJ_DONE),
    [SJ_COMPLETING] = B(SJ_COMPLETE_RETRY) | B(SJ_DONE),
    [SJ_COMPLETE_RETRY] = B(SJ_COMPLETING) | B(SJ_DONE),
    [SJ_DONE] = 0,
};

const char *symbiont_job_state_name(enum symbiont_job_state st)
{
	return (unsigned)st < SJ__COUNT ? state_names[st] : "?";
}

/* The one place the state changes. */
static void enter_state(struct symbiont_job *j, enum symbiont_job_state next)
{
	assert((unsigned)next < SJ__COUNT);
	assert(legal[j->state] & B(next));
	log_debug("symbiont: %s: %s -> %s", j->name, state_names[j->state],
		  state_names[next]);
	j->state = next;
}

unsigned symbiont_lease_margin(unsigned lease_ms)
{
	unsigned third = lease_ms / 3;

	return third < SYMBIONT_LEASE_MARGIN_MS ? third
						: SYMBIONT_LEASE_MARGIN_MS;
}

int symbiont_should_renew(uint64_t granted_ms, uint64_t lease_ms,
			  uint64_t now_ms)
{
	uint64_t margin = symbiont_lease_margin((unsigned)lease_ms);

	return now_ms >= granted_ms &&
	       now_ms - granted_ms >= (lease_ms - margin) / 2;
}

uint64_t symbiont_job_deadline(const struct symbiont_job *j)
{
	unsigned lease = j->env->lease_ms;

	return j->lease_base + lease - symbiont_lease_margin(lease);
}

uint64_t symbiont_job_next_due(const struct symbiont_job *j, uint64_t now)
{
	unsigned lease = j->env->lease_ms;
	uint64_t renew_at =
	    j->lease_base + (lease - symbiont_lease_margin(lease)) / 2;

	if (j->state != SJ_DELIVERING)
		return 0;
	if (!j->renew_inflight && renew_at > now)
		return renew_at; /* a RENEW not sent yet */
	/* a RENEW in flight, or due again (sent by the periodic tick) */
	return symbiont_job_deadline(j);
}

/* ---- life ---- */

struct symbiont_job *symbiont_job_new(const struct symbiont_job_env *env,
				      const char *name, uint64_t fence,
				      uint64_t prev_holder, uint64_t granted_ms)
{
	struct symbiont_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->env = env;
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->fence = fence;
	j->prev_holder = prev_holder;
	j->lease_base = granted_ms;
	j->wait_until = granted_ms + env->lease_ms / 2;
	j->state = SJ_WAIT_LOCAL;
	return j;
}

/* Free a finished job once nothing refers to it any more. */
static void job_maybe_free(struct symbiont_job *j)
{
	const struct symbiont_job_env *env = j->env;

	if (j->state != SJ_DONE || j->renew_inflight || j->h != NULL)
		return;
	env->ops->gone(env->ctx, j);
	if (j->have_ctl)
		spool_ctl_free(&j->ctl);
	free(j->cmd);
	free(j);
}

/* Give up: finished, or left to the lease. May free j. */
static void job_done(struct symbiont_job *j)
{
	enter_state(j, SJ_DONE);
	job_maybe_free(j);
}

/* ---- COMPLETE ---- */

static void complete_cb(void *arg, int status, const struct spool_result *res)
{
	struct symbiont_job *j = arg;
	const struct symbiont_job_env *env = j->env;
	struct symbiont_stats *st = env->st;
	uint64_t now = env->ops->now(env->ctx);

	assert(j->state == SJ_COMPLETING);
	if (status != 0) {
		/* outcome unknown: the same COMPLETE again while the lease
		 * lasts (a repeat is answered as a duplicate) */
		if (!env->finished && status != CLUSTER_E_SHUTDOWN &&
		    now - j->lease_base < env->lease_ms) {
			log_info("symbiont: %s: COMPLETE not answered (%d), "
				 "retrying",
				 j->name, status);
			enter_state(j, SJ_COMPLETE_RETRY);
			env->ops->kick(env->ctx);
			return;
		}
		log_warn(
		    "symbiont: possible duplicate delivery of %s (COMPLETE "
		    "not recorded: %d)",
		    j->name, status);
		st->complete_errors++;
	} else if (res->status == SPOOL_E_STALE ||
		   res->status == SPOOL_E_EXPIRED ||
		   res->status == SPOOL_E_NOCLAIM) {
		log_warn("symbiont: possible duplicate delivery of %s (lease "
			 "lost: %s)",
			 j->name, spool_strerror(res->status));
		st->lease_lost++;
	} else if (res->status != 0) {
		log_error("symbiont: %s: COMPLETE refused: %s", j->name,
			  spool_strerror(res->status));
		st->complete_errors++;
	} else if (res->flags & RES_F_DUPLICATE) {
		log_debug("symbiont: %s: COMPLETE was already recorded",
			  j->name);
	} else if (j->has_bounce) {
		st->bounces++;
	}
	job_done(j);
	env->ops->kick(env->ctx); /* a slot is free */
}

/* Propose the job's encoded COMPLETE (again). May free j. */
static void complete_send(struct symbiont_job *j)
{
	const struct symbiont_job_env *env = j->env;
	int rc;

	enter_state(j, SJ_COMPLETING);
	rc = env->ops->propose(env->ctx, j->cmd, j->cmd_len, complete_cb, j);
	if (rc != 0) {
		log_warn("symbiont: %s: cannot propose COMPLETE (%d); possible "
			 "duplicate delivery of %s (lease will expire)",
			 j->name, rc, j->name);
		env->st->complete_errors++;
		job_done(j);
	}
}

/* The outcomes of one attempt (out may be empty): activity log, counters,
 * bounce, and the COMPLETE proposal. May free j. */
static void job_complete(struct symbiont_job *j,
			 const struct deliver_outcome *out, uint32_t n)
{
	const struct symbiont_job_env *env = j->env;
	struct symbiont_stats *st = env->st;
	const struct spool_rec *rec = &j->ctl.rec;
	struct spool_cmd cmd;
	struct spool_cmd_complete *cp = &cmd.u.complete;
	struct spool_outcome_item *items = NULL;
	struct symbiont_bounce_req req;
	struct symbiont_bounce b;
	struct wbuf wb;
	int rc;

	memset(&req, 0, sizeof(req));
	req.env = &env->bounce;
	req.name = j->name;
	req.rec = rec;
	req.out = out;
	req.n = n;
	req.max_body = env->ops->max_body(env->ctx);
	wbuf_init(&wb);
	memset(&cmd, 0, sizeof(cmd));
	items = calloc(n + 1, sizeof(*items));
	rc = symbiont_bounce_init(&b, &req);
	if (items == NULL || rc != 0)
		goto err_nomem;
	for (uint32_t i = 0; i < n; i++) {
		items[i].rcpt = out[i].rcpt;
		items[i].outcome = out[i].outcome;
		items[i].reply = out[i].reply;
		if (out[i].rcpt < rec->nrcpt)
			env->ops->activity(env->ctx, j, &out[i]);
		if (out[i].outcome == OUT_DELIVERED)
			st->delivered++;
		else if (out[i].outcome == OUT_FAILED)
			st->failed++;
		else
			st->deferred++;
	}
	cmd.type = CMD_COMPLETE;
	cp->name = j->name;
	cp->node = env->self;
	cp->fence = j->fence;
	cp->n = n;
	cp->items = items;
	if (symbiont_bounce_collect(&b, &req) > 0) {
		rc = symbiont_bounce_attach(&b, &req, cp);
		if (b.dropped)
			st->bounces_dropped++;
		if (rc < 0) {
			log_error("symbiont: %s: cannot build the bounce: %s",
				  j->name, spool_strerror(rc));
			if (rc == SPOOL_E_NOMEM)
				goto err_nomem;
			/* the failed recipients stay FAILED: retried later */
		} else {
			j->has_bounce = rc == 1;
			cp->flags |= COMPLETE_BOUNCE_DONE;
			if (rc == 1 &&
			    symbiont_bounce_mark(&b, rec, items, n) != 0)
				goto err_nomem;
		}
	}
	rc = spool_cmd_encode(&cmd, &wb);
	if (rc != 0) {
		log_error("symbiont: %s: cannot encode COMPLETE: %s", j->name,
			  spool_strerror(rc));
		goto err_nomem;
	}
	j->cmd = wbuf_take(&wb, &j->cmd_len);
	free(items);
	symbiont_bounce_free(&b);
	complete_send(j);
	return;

err_nomem:
	free(items);
	symbiont_bounce_free(&b);
	wbuf_free(&wb);
	st->complete_errors++;
	log_warn("symbiont: possible duplicate delivery of %s (COMPLETE not "
		 "made)",
		 j->name);
	job_done(j);
}

/* The answer to a claim given back: nothing waits for it (the file is
 * due at once, or the lease ends as before when the release is refused). */
static void release_cb(void *arg, int status, const struct spool_result *res)
{
	(void)arg;
	if (status == 0 && res != NULL && res->status != 0)
		log_debug("symbiont: a claim given back was refused: %s",
			  spool_strerror(res->status));
}

/* No delivery was started: give the claim back (COMPLETE_UNTRIED), so
 * the file is due at once rather than after the lease, then finish. Only
 * the holder with this fence can give it back (the spool checks). May
 * free j. */
static void job_release(struct symbiont_job *j)
{
	const struct symbiont_job_env *env = j->env;
	struct spool_cmd cmd;
	struct wbuf wb;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_COMPLETE;
	cmd.u.complete.name = j->name;
	cmd.u.complete.node = env->self;
	cmd.u.complete.fence = j->fence;
	cmd.u.complete.flags = COMPLETE_UNTRIED;
	wbuf_init(&wb);
	if (j->fence != 0 && spool_cmd_encode(&cmd, &wb) == 0 &&
	    env->ops->propose(env->ctx, wb.p, wb.len, release_cb, NULL) == 0)
		env->st->released++;
	wbuf_free(&wb);
	job_done(j);
}

/* ---- delivery ---- */

void symbiont_job_delivered(struct symbiont_job *j,
			    const struct deliver_outcome *out, uint32_t n)
{
	const struct symbiont_job_env *env = j->env;

	assert(j->state == SJ_DELIVERING || j->state == SJ_LOST);
	j->h = NULL; /* invalid from now on */
	metrics_observe(MH_DELIVERY_SECONDS, clock_mono_s() - j->started_at);
	if (j->state == SJ_LOST) {
		log_warn("symbiont: possible duplicate delivery of %s (lease "
			 "lost during delivery; outcomes not recorded)",
			 j->name);
		for (uint32_t i = 0; i < n; i++)
			if (out[i].rcpt < j->ctl.rec.nrcpt)
				env->ops->activity(env->ctx, j, &out[i]);
		job_done(j);
		env->ops->kick(env->ctx);
		return;
	}
	job_complete(j, out, n);
}

void symbiont_job_try_start(struct symbiont_job *j)
{
	const struct symbiont_job_env *env = j->env;
	int rc;

	assert(j->state == SJ_WAIT_LOCAL);
	if (j->have_ctl) {
		spool_ctl_free(&j->ctl);
		j->have_ctl = 0;
	}
	rc = spool_ctl_get(env->sp, j->name, &j->ctl);
	if (rc == 0)
		j->have_ctl = 1;
	if (rc == 0 && j->ctl.rec.claim.fence > j->fence) {
		log_warn("symbiont: %s: claimed again by node %llu before we "
			 "started; skipped",
			 j->name, (unsigned long long)j->ctl.rec.claim.node);
		env->st->lease_lost++;
		job_done(j);
		return;
	}
	if (rc != 0 || j->ctl.rec.claim.node != env->self ||
	    j->ctl.rec.claim.fence != j->fence) {
		if (env->ops->now(env->ctx) >= j->wait_until) {
			log_warn("symbiont: %s: this node's spool has not "
				 "applied our claim in time; given back",
				 j->name);
			job_release(j);
			return;
		}
		env->ops->kick(env->ctx);
		return; /* our spool lags: try again shortly */
	}
	if (env->ops->now(env->ctx) >= symbiont_job_deadline(j)) {
		/* no transaction starts that would outlive the lease */
		log_warn("symbiont: %s: lease ends on this node's clock "
			 "before a delivery could start; given back",
			 j->name);
		job_release(j);
		return;
	}
	if (j->prev_holder != 0)
		log_warn(
		    "symbiont: possible duplicate delivery of %s (lease of "
		    "node %llu expired without COMPLETE; taken over)",
		    j->name, (unsigned long long)j->prev_holder);
	enter_state(j, SJ_DELIVERING);
	if (spool_rec_count(&j->ctl.rec, RCPT_PENDING) == 0) {
		/* only recipients failed by the retry limit: bounce them */
		job_complete(j, NULL, 0);
		return;
	}
	j->started_at = clock_mono_s();
	rc = env->ops->deliver(env->ctx, j);
	if (rc != 0) {
		j->h = NULL;
		job_done(j);
	}
}

/* ---- RENEW ---- */

static void renew_cb(void *arg, int status, const struct spool_result *res)
{
	struct symbiont_job *j = arg;
	const struct symbiont_job_env *env = j->env;

	/* renew_inflight stays set until the end: the cancel below runs
	 * symbiont_job_delivered at once, which must not free the job */
	if (status != 0) {
		log_info("symbiont: %s: RENEW not answered (%d); retrying",
			 j->name, status);
	} else if (res->status == 0) {
		j->lease_base = j->renew_sent;
		env->st->renewals++;
	} else if (res->status == SPOOL_E_STALE ||
		   res->status == SPOOL_E_EXPIRED ||
		   res->status == SPOOL_E_NOCLAIM ||
		   res->status == SPOOL_E_NOTFOUND) {
		log_warn("symbiont: possible duplicate delivery of %s (lease "
			 "lost: RENEW refused: %s)",
			 j->name, spool_strerror(res->status));
		env->st->lease_lost++;
		/* once the delivery has ended, the COMPLETE finds out */
		if (j->state == SJ_DELIVERING) {
			enter_state(j, SJ_LOST);
			if (j->h != NULL)
				env->ops->cancel(env->ctx, j);
		}
	} else {
		log_error("symbiont: %s: RENEW refused: %s", j->name,
			  spool_strerror(res->status));
	}
	j->renew_inflight = 0;
	job_maybe_free(j);
}

static void job_renew(struct symbiont_job *j)
{
	const struct symbiont_job_env *env = j->env;
	struct spool_cmd cmd;
	struct wbuf wb;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_RENEW;
	cmd.u.renew.name = j->name;
	cmd.u.renew.node = env->self;
	cmd.u.renew.fence = j->fence;
	cmd.u.renew.lease_ms = env->lease_ms;
	wbuf_init(&wb);
	if (spool_cmd_encode(&cmd, &wb) != 0) {
		wbuf_free(&wb);
		return;
	}
	j->renew_sent = env->ops->now(env->ctx);
	rc = env->ops->propose(env->ctx, wb.p, wb.len, renew_cb, j);
	wbuf_free(&wb);
	if (rc == 0)
		j->renew_inflight = 1;
}

/* ---- periodic work ---- */

void symbiont_job_tick(struct symbiont_job *j, uint64_t now, int stopping,
		       int cancel)
{
	const struct symbiont_job_env *env = j->env;

	switch (j->state) {
	case SJ_WAIT_LOCAL:
		if (stopping)
			job_done(j); /* left to the lease */
		else
			symbiont_job_try_start(j);
		break;
	case SJ_DELIVERING:
		if (cancel && j->h != NULL) {
			log_info("symbiont: %s: stopping; delivery cancelled",
				 j->name);
			env->ops->cancel(env->ctx, j); /* -> delivered */
			break;
		}
		if (now >= symbiont_job_deadline(j)) {
			/* no RENEW succeeded in time: another node may be
			 * granted the file soon; stop before the far end
			 * acknowledges (or is sent) the final dot */
			log_warn("symbiont: lease expired locally, aborting %s "
				 "(fence %llu; possible duplicate delivery)",
				 j->name, (unsigned long long)j->fence);
			env->st->lease_expired++;
			enter_state(j, SJ_LOST);
			if (j->h != NULL)
				env->ops->cancel(env->ctx,
						 j); /* -> delivered */
			break;
		}
		if (!j->renew_inflight && !env->finished &&
		    symbiont_should_renew(j->lease_base, env->lease_ms, now))
			job_renew(j);
		break;
	case SJ_COMPLETE_RETRY:
		complete_send(j);
		break;
	case SJ_LOST:
	case SJ_COMPLETING:
	case SJ_DONE:
	case SJ__COUNT:
		break;
	}
}
