/*
 * test_symbiont_job.c — the symbiont job's lifecycle
 * (src/delivery/symbiont_job.c) against a fake cluster: proposals are
 * queued and the test answers each one (applied to a real throw-away
 * spool, refused, or not answered), the delivery engine is a stub the
 * test finishes by hand, and the clock is the test's. Each test checks
 * the states the job passes through and the proposals it makes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool_fixture.h"
#include "src/delivery/symbiont_job.h"

#define SELF 2
#define LEASE 120000u
#define MARGIN 2000u			/* min(2000, LEASE / 3) */
#define RENEW_AT ((LEASE - MARGIN) / 2) /* after the grant */
#define DEADLINE (LEASE - MARGIN)	/* after the grant: aborted */
#define QMAX 8

struct prop {
	uint8_t *cmd;
	size_t len;
	cluster_propose_cb cb;
	void *arg;
	uint8_t type;
};

struct fake {
	struct fx fx;
	char name[SPOOL_NAME_MAX + 1];
	uint64_t fence; /* granted by the spool */
	struct symbiont_stats st;
	struct symbiont_job_env env;
	uint64_t now;	/* the monotonic clock */
	uint64_t stamp; /* the leader's stamp for applied proposals */
	struct prop q[QMAX];
	int nq;
	int propose_rc;
	int deliver_rc;
	int deliveries, cancels, kicks, activities, gone;
	int cancel_at_once; /* like the real engine */
	int dummy;	    /* what the fake handle points at */
	struct symbiont_job *job;
};

static struct fake *F;

/* ---- the fake cluster and engine ---- */

static int f_propose(void *ctx, const void *cmd, size_t len,
		     cluster_propose_cb cb, void *cb_arg)
{
	struct fake *f = ctx;
	struct spool_cmd c;

	if (f->propose_rc != 0)
		return f->propose_rc;
	assert_true(f->nq < QMAX);
	assert_int_equal(spool_cmd_decode(&c, cmd, len), 0);
	f->q[f->nq].type = c.type;
	spool_cmd_free(&c);
	f->q[f->nq].cmd = malloc(len);
	assert_non_null(f->q[f->nq].cmd);
	memcpy(f->q[f->nq].cmd, cmd, len);
	f->q[f->nq].len = len;
	f->q[f->nq].cb = cb;
	f->q[f->nq].arg = cb_arg;
	f->nq++;
	return 0;
}

static int f_deliver(void *ctx, struct symbiont_job *j)
{
	struct fake *f = ctx;

	f->deliveries++;
	if (f->deliver_rc == 0)
		j->h = (struct delivery *)&f->dummy;
	return f->deliver_rc;
}

/* Every recipient of the job with outcome. */
static void finish(struct symbiont_job *j, int outcome)
{
	struct deliver_outcome out[2];

	memset(out, 0, sizeof(out));
	for (uint32_t i = 0; i < 2; i++) {
		out[i].rcpt = i;
		out[i].outcome = (uint8_t)outcome;
		snprintf(out[i].reply, sizeof(out[i].reply), "%s",
			 outcome == OUT_DELIVERED ? "250 ok"
			 : outcome == OUT_FAILED  ? "550 5.1.1 no such user"
						  : "451 4.3.2 cancelled");
		snprintf(out[i].relay, sizeof(out[i].relay),
			 "mx.remote.test"
			 "[192.0.2.1]:25");
	}
	symbiont_job_delivered(j, out, 2);
}

static void f_cancel(void *ctx, struct symbiont_job *j)
{
	struct fake *f = ctx;

	f->cancels++;
	if (f->cancel_at_once)
		finish(j, OUT_DEFERRED);
}

static uint64_t f_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static uint64_t f_max_body(void *ctx)
{
	return 0;
}

static void f_kick(void *ctx)
{
	((struct fake *)ctx)->kicks++;
}

static void f_activity(void *ctx, const struct symbiont_job *j,
		       const struct deliver_outcome *o)
{
	((struct fake *)ctx)->activities++;
}

static void f_gone(void *ctx, struct symbiont_job *j)
{
	struct fake *f = ctx;

	assert_ptr_equal(j, f->job);
	assert_int_equal(j->state, SJ_DONE);
	f->gone++;
	f->job = NULL;
}

static const struct symbiont_job_ops fake_ops = {
    .propose = f_propose,
    .deliver = f_deliver,
    .cancel = f_cancel,
    .now = f_now,
    .max_body = f_max_body,
    .kick = f_kick,
    .activity = f_activity,
    .gone = f_gone,
};

/* ---- answering proposals ---- */

/* Take the oldest proposal, which must be of type. */
static struct prop pop(struct fake *f, uint8_t type)
{
	struct prop p;

	assert_true(f->nq > 0);
	p = f->q[0];
	memmove(&f->q[0], &f->q[1], (size_t)(f->nq - 1) * sizeof(f->q[0]));
	f->nq--;
	assert_int_equal(p.type, type);
	return p;
}

/* Commit the oldest proposal: apply it to the spool as the FSM would. */
static int answer_apply(struct fake *f, uint8_t type)
{
	struct prop p = pop(f, type);
	struct spool_result res;
	struct spool_cmd c;
	int st;

	assert_int_equal(spool_cmd_decode(&c, p.cmd, p.len), 0);
	c.stamp = f->stamp;
	c.node = SELF;
	assert_int_equal(spool_apply_cmd(f->fx.sp, &c, &res), 0);
	spool_cmd_free(&c);
	free(p.cmd);
	st = res.status;
	p.cb(p.arg, 0, &res);
	spool_result_free(&res);
	return st;
}

/* The spool refuses the oldest proposal with status. */
static void answer_refused(struct fake *f, uint8_t type, int status)
{
	struct prop p = pop(f, type);
	struct spool_result res;

	memset(&res, 0, sizeof(res));
	res.status = status;
	free(p.cmd);
	p.cb(p.arg, 0, &res);
}

/* The oldest proposal has no answer (status < 0, e.g. no quorum). */
static void answer_none(struct fake *f, uint8_t type, int status)
{
	struct prop p = pop(f, type);

	free(p.cmd);
	p.cb(p.arg, status, NULL);
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fx_open(&f->fx);
	fx_name(f->name, sizeof(f->name), 1);
	assert_int_equal(fx_enqueue(f->fx.sp, f->name, T0, 2), 0);
	assert_int_equal(
	    fx_claim(f->fx.sp, f->name, SELF, T0 + 10, LEASE, &f->fence), 0);
	f->env.ops = &fake_ops;
	f->env.ctx = f;
	f->env.sp = f->fx.sp;
	f->env.self = SELF;
	f->env.lease_ms = LEASE;
	f->env.bounce.sp = f->fx.sp;
	f->env.bounce.self = SELF;
	f->env.bounce.node_name = "NODE2";
	f->env.bounce.node_domain = "node2.test";
	f->env.st = &f->st;
	f->now = 1000;
	f->stamp = T0 + 20;
	F = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	assert_int_equal(f->nq, 0); /* every proposal was answered */
	assert_null(f->job);	    /* and every job freed */
	fx_close(&f->fx);
	free(f);
	F = NULL;
	return 0;
}

/* A job for the fixture's grant with fence, asked for now. */
static struct symbiont_job *grant(struct fake *f, uint64_t fence)
{
	f->job = symbiont_job_new(&f->env, f->name, fence, 0, f->now);
	assert_non_null(f->job);
	assert_int_equal(f->job->state, SJ_WAIT_LOCAL);
	return f->job;
}

/* Granted, applied here, and delivering. */
static struct symbiont_job *delivering(struct fake *f)
{
	struct symbiont_job *j = grant(f, f->fence);

	symbiont_job_try_start(j);
	assert_int_equal(j->state, SJ_DELIVERING);
	assert_int_equal(f->deliveries, 1);
	assert_non_null(j->h);
	return j;
}

/* ---- tests ---- */

static void test_claim_deliver_renew_complete(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);
	struct spool_ctl c;

	/* before half of (lease - margin): nothing to do */
	f->now += RENEW_AT - 1;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(f->nq, 0);

	/* at half of it: one RENEW, not two */
	f->now += 1;
	symbiont_job_tick(j, f->now, 0, 0);
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(f->nq, 1);
	assert_int_equal(j->renew_inflight, 1);
	f->now += 5;
	assert_int_equal(answer_apply(f, CMD_RENEW), 0);
	assert_int_equal(f->st.renewals, 1);
	assert_int_equal(j->renew_inflight, 0);
	assert_int_equal(j->lease_base, f->now - 5); /* when it was asked */
	assert_int_equal(j->state, SJ_DELIVERING);

	finish(j, OUT_DELIVERED);
	assert_int_equal(j->state, SJ_COMPLETING);
	assert_int_equal(f->activities, 2);
	assert_int_equal(f->st.delivered, 2);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), 0);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->st.complete_errors, 0);
	assert_int_equal(f->st.lease_lost, 0);
	/* the spool recorded it: the control file is gone */
	assert_int_not_equal(spool_ctl_get(f->fx.sp, f->name, &c), 0);
}

static void test_renew_refused_loses_the_lease(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);

	f->now += LEASE / 2;
	symbiont_job_tick(j, f->now, 0, 0);
	answer_refused(f, CMD_RENEW, SPOOL_E_EXPIRED);
	assert_int_equal(j->state, SJ_LOST);
	assert_int_equal(f->cancels, 1);
	assert_int_equal(f->st.lease_lost, 1);
	/* no RENEW while the cancelled delivery ends */
	f->now += LEASE / 2;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(f->nq, 0);

	finish(j, OUT_DEFERRED);
	assert_int_equal(f->gone, 1); /* DONE, and no COMPLETE proposed */
	assert_int_equal(f->nq, 0);
	assert_int_equal(f->activities, 2);
	assert_int_equal(f->st.renewals, 0);
}

static void
test_renew_refused_with_an_engine_that_calls_back_at_once(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);

	f->cancel_at_once = 1;
	f->now += LEASE / 2;
	symbiont_job_tick(j, f->now, 0, 0);
	answer_refused(f, CMD_RENEW, SPOOL_E_STALE);
	/* the engine's callback ran inside the cancel; the job outlived
	 * it until the RENEW's answer was done with it */
	assert_int_equal(f->cancels, 1);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->nq, 0);
}

static void test_renew_not_answered_is_asked_again(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);

	f->now += LEASE / 2;
	symbiont_job_tick(j, f->now, 0, 0);
	answer_none(f, CMD_RENEW, CLUSTER_E_NOQUORUM);
	assert_int_equal(j->state, SJ_DELIVERING);
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(answer_apply(f, CMD_RENEW), 0);
	assert_int_equal(f->st.renewals, 1);
	finish(j, OUT_DELIVERED);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), 0);
	assert_int_equal(f->gone, 1);
}

static void test_complete_not_answered_is_retried(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);
	struct prop first;

	finish(j, OUT_DELIVERED);
	assert_int_equal(j->state, SJ_COMPLETING);
	first = f->q[0];
	first.cmd = malloc(first.len);
	assert_non_null(first.cmd);
	memcpy(first.cmd, f->q[0].cmd, first.len);
	answer_none(f, CMD_COMPLETE, CLUSTER_E_NOQUORUM);
	assert_int_equal(j->state, SJ_COMPLETE_RETRY);
	assert_true(f->kicks > 0);

	/* the next tick proposes the same bytes again */
	f->now += 20;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(j->state, SJ_COMPLETING);
	assert_int_equal(f->nq, 1);
	assert_int_equal(f->q[0].len, first.len);
	assert_memory_equal(f->q[0].cmd, first.cmd, first.len);
	free(first.cmd);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), 0);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->st.complete_errors, 0);
}

static void test_complete_not_answered_after_the_lease_is_given_up(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);

	finish(j, OUT_DELIVERED);
	f->now += LEASE;
	answer_none(f, CMD_COMPLETE, CLUSTER_E_NOQUORUM);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->st.complete_errors, 1);
}

static void test_complete_not_answered_at_shutdown_is_given_up(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);

	finish(j, OUT_DELIVERED);
	answer_none(f, CMD_COMPLETE, CLUSTER_E_SHUTDOWN);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->st.complete_errors, 1);
}

static void test_complete_refused_counts_a_lost_lease(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);

	finish(j, OUT_DELIVERED);
	answer_refused(f, CMD_COMPLETE, SPOOL_E_STALE);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->st.lease_lost, 1);
}

static void
test_complete_that_cannot_be_proposed_is_left_to_the_lease(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);

	f->propose_rc = CLUSTER_E_NOQUORUM;
	finish(j, OUT_DELIVERED);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->st.complete_errors, 1);
}

static void test_failed_recipients_bounce_in_the_complete(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);
	struct spool_cmd c;

	finish(j, OUT_FAILED);
	assert_int_equal(j->state, SJ_COMPLETING);
	assert_int_equal(f->st.failed, 2);
	assert_int_equal(spool_cmd_decode(&c, f->q[0].cmd, f->q[0].len), 0);
	assert_true(c.u.complete.has_bounce);
	assert_true(c.u.complete.flags & COMPLETE_BOUNCE_DONE);
	assert_int_equal(c.u.complete.bounce.rec.kind, KIND_BOUNCE);
	assert_int_equal(c.u.complete.bounce.rec.nrcpt, 1);
	assert_string_equal(c.u.complete.bounce.rec.rcpt[0].addr,
			    "alice@example.org");
	spool_cmd_free(&c);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), 0);
	assert_int_equal(f->st.bounces, 1);
	assert_int_equal(f->gone, 1);
}

/* A deferral past the delay warning time of a recipient that asked
 * NOTIFY=DELAY: the COMPLETE carries the warning (Action: delayed) and
 * says OUT_DEFERRED_WARNED for that recipient only, and applying it marks
 * the recipient, so the next holder does not warn again. */
static void test_delay_warning_rides_in_the_complete_once(void **state)
{
	struct fake *f = *state;
	struct spool_rcpt r[2];
	struct spool_cmd e, c;
	struct spool_ctl ctl;
	struct symbiont_job *j;
	char *body;

	/* a second file whose first recipient asked NOTIFY=DELAY; arrived
	 * at T0, long before the wall clock's now (4 h default) */
	memset(r, 0, sizeof(r));
	r[0].addr = "slow@remote.test";
	r[0].notify = DSN_NOTIFY_DELAY | DSN_NOTIFY_FAILURE;
	r[1].addr = "other@remote.test";
	r[0].orcpt = r[1].orcpt = r[0].reply = r[1].reply = "";
	fx_name(f->name, sizeof(f->name), 2);
	memset(&e, 0, sizeof(e));
	e.type = CMD_ENQUEUE;
	e.stamp = T0;
	e.node = 1;
	e.u.enqueue.name = f->name;
	e.u.enqueue.rec.user = "TCPIP$SMTP";
	e.u.enqueue.rec.sender = "alice@example.org";
	e.u.enqueue.rec.client = e.u.enqueue.rec.helo = "";
	e.u.enqueue.rec.envid = "";
	e.u.enqueue.rec.nrcpt = 2;
	e.u.enqueue.rec.rcpt = r;
	e.u.enqueue.body = "Subject: t\r\n\r\nx\r\n";
	e.u.enqueue.body_len = strlen(e.u.enqueue.body);
	assert_int_equal(fx_status(f->fx.sp, &e), 0);
	assert_int_equal(
	    fx_claim(f->fx.sp, f->name, SELF, T0 + 10, LEASE, &f->fence), 0);

	j = delivering(f);
	finish(j, OUT_DEFERRED);
	assert_int_equal(spool_cmd_decode(&c, f->q[0].cmd, f->q[0].len), 0);
	assert_true(c.u.complete.has_bounce);
	assert_int_equal(c.u.complete.n, 2);
	assert_int_equal(c.u.complete.items[0].outcome, OUT_DEFERRED_WARNED);
	assert_int_equal(c.u.complete.items[1].outcome, OUT_DEFERRED);
	body = calloc(1, c.u.complete.bounce.body_len + 1);
	assert_non_null(body);
	memcpy(body, c.u.complete.bounce.body, c.u.complete.bounce.body_len);
	assert_non_null(strstr(body, "Action: delayed\r\n"));
	assert_non_null(strstr(body, "Final-Recipient: rfc822; slow@"));
	assert_null(strstr(body, "other@remote.test"));
	free(body);
	spool_cmd_free(&c);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), 0);
	fx_get(f->fx.sp, f->name, &ctl);
	assert_true(ctl.rec.rcpt[0].flags & RCPT_F_DELAYED);
	assert_false(ctl.rec.rcpt[1].flags & RCPT_F_DELAYED);
	assert_int_equal(ctl.rec.rcpt[0].state, RCPT_PENDING);
	spool_ctl_free(&ctl);
	assert_int_equal(f->gone, 1);
}

static void test_claim_not_applied_here_waits_then_gives_up(void **state)
{
	struct fake *f = *state;
	/* our spool shows an older claim than the grant: it lags */
	struct symbiont_job *j = grant(f, f->fence + 1);

	symbiont_job_try_start(j);
	assert_int_equal(j->state, SJ_WAIT_LOCAL);
	assert_int_equal(f->kicks, 1);
	f->now += LEASE / 2 - 1;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(j->state, SJ_WAIT_LOCAL);
	f->now += 1;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->deliveries, 0);
	/* the claim is given back; this spool holds another fence: refused,
	 * and nothing waits for the answer */
	assert_int_equal(f->st.released, 1);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), SPOOL_E_STALE);
}

static void test_claimed_again_before_start_is_skipped(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = grant(f, f->fence - 1);

	symbiont_job_try_start(j);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->st.lease_lost, 1);
	assert_int_equal(f->deliveries, 0);
}

static void test_engine_that_cannot_start_leaves_it_to_the_lease(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = grant(f, f->fence);

	f->deliver_rc = SPOOL_E_NOMEM;
	symbiont_job_try_start(j);
	assert_int_equal(f->deliveries, 1);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->nq, 0);
}

static void test_stop_gives_up_a_waiting_claim(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = grant(f, f->fence);

	symbiont_job_tick(j, f->now, 1, 0);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->deliveries, 0);
}

static void test_stop_deadline_cancels_and_completes(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);

	f->cancel_at_once = 1;
	symbiont_job_tick(j, f->now, 1, 0); /* stopping, before deadline */
	assert_int_equal(f->cancels, 0);
	symbiont_job_tick(j, f->now, 1, 1);
	assert_int_equal(f->cancels, 1);
	assert_int_equal(j->state, SJ_COMPLETING); /* deferred outcomes */
	assert_int_equal(f->st.deferred, 2);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), 0);
	assert_int_equal(f->gone, 1);
}

static void test_no_renew_once_finished(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = delivering(f);

	f->env.finished = 1;
	f->now += DEADLINE - 1;
	symbiont_job_tick(j, f->now, 1, 0);
	assert_int_equal(f->nq, 0);
	f->env.finished = 0;
	finish(j, OUT_DELIVERED);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), 0);
}

/* ---- the lease on this node's own clock (issue #10 defect 1) ---- */

/* The holder is cut off: no RENEW is answered. At the local lease end
 * (grant sent + lease - margin) the delivery is aborted, before the far
 * end has acknowledged it; nothing is recorded (no COMPLETE). */
static void test_lease_expired_locally_aborts_the_delivery(void **state)
{
	struct fake *f = *state;
	uint64_t t0 = f->now;
	struct symbiont_job *j = delivering(f);

	f->now = t0 + RENEW_AT;
	symbiont_job_tick(j, f->now, 0, 0);
	answer_none(f, CMD_RENEW, CLUSTER_E_NOQUORUM);
	/* asked again on every tick; this one is never answered */
	f->now += 500;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(j->renew_inflight, 1);
	f->now = t0 + DEADLINE - 1;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(j->state, SJ_DELIVERING);
	assert_int_equal(f->cancels, 0);

	f->now = t0 + DEADLINE;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(j->state, SJ_LOST);
	assert_int_equal(f->cancels, 1);
	assert_int_equal(f->st.lease_expired, 1);

	/* the RENEW's late success changes nothing */
	assert_int_equal(answer_apply(f, CMD_RENEW), 0);
	assert_int_equal(j->state, SJ_LOST);
	finish(j, OUT_DEFERRED);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->nq, 0); /* no COMPLETE */
}

/* The same with an engine that calls back inside the cancel (the real
 * one does): the job is freed once the RENEW in flight has its answer. */
static void test_lease_expired_locally_engine_calls_back_at_once(void **state)
{
	struct fake *f = *state;
	uint64_t t0 = f->now;
	struct symbiont_job *j = delivering(f);

	f->cancel_at_once = 1;
	f->now = t0 + RENEW_AT;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(j->renew_inflight, 1);
	f->now = t0 + DEADLINE + 300; /* a late tick aborts as well */
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(f->cancels, 1);
	assert_int_equal(f->gone, 0); /* the RENEW still refers to it */
	answer_none(f, CMD_RENEW, CLUSTER_E_NOQUORUM);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->nq, 0);
}

/* The lease is counted from when the RENEW was sent, not from when it
 * was committed: a RENEW committed late moves the deadline to its own
 * sending time + lease - margin. */
static void test_lease_counted_from_when_the_renew_was_sent(void **state)
{
	struct fake *f = *state;
	uint64_t t0 = f->now, sent;
	struct symbiont_job *j = delivering(f);

	f->now = t0 + RENEW_AT;
	symbiont_job_tick(j, f->now, 0, 0);
	sent = f->now;
	f->now += 20000; /* committed 20 s later */
	assert_int_equal(answer_apply(f, CMD_RENEW), 0);
	assert_int_equal(symbiont_job_deadline(j), sent + DEADLINE);
	/* the old deadline passes: still delivering */
	f->now = t0 + DEADLINE;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(j->state, SJ_DELIVERING);
	/* the next RENEW is never answered: aborted at the new one */
	f->now = sent + DEADLINE - 1;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(j->state, SJ_DELIVERING);
	f->now = sent + DEADLINE;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(j->state, SJ_LOST);
	assert_int_equal(f->cancels, 1);
	answer_none(f, CMD_RENEW, CLUSTER_E_NOQUORUM);
	finish(j, OUT_DEFERRED);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->nq, 0);
}

/* A claim whose answer came after the local lease end does not start a
 * delivery (it could only outlive the lease). The claim is given back:
 * once applied the file is unclaimed, due at once, its attempt count
 * unchanged, so another node takes it now rather than after the lease
 * (issue #10). */
static void
test_claim_answered_after_the_local_lease_end_not_started(void **state)
{
	struct fake *f = *state;
	struct symbiont_job *j = grant(f, f->fence);
	struct spool_ctl ctl;

	f->now += DEADLINE;
	symbiont_job_try_start(j);
	assert_int_equal(f->deliveries, 0);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->nq, 1); /* the COMPLETE that gives it back */
	assert_int_equal(f->st.released, 1);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), 0);
	assert_int_equal(spool_ctl_get(f->fx.sp, f->name, &ctl), 0);
	assert_int_equal(ctl.rec.claim.node, 0);
	assert_int_equal(ctl.rec.attempts, 0);
	assert_int_equal(ctl.rec.next_ms, f->stamp);
	assert_int_equal(ctl.rec.last_fence, f->fence);
	spool_ctl_free(&ctl);
}

/* What the symbiont wakes up for: the first RENEW, then the deadline. */
static void test_next_due_and_margin(void **state)
{
	struct fake *f = *state;
	uint64_t t0 = f->now;
	struct symbiont_job *j = delivering(f);

	assert_int_equal(symbiont_lease_margin(LEASE), MARGIN);
	assert_int_equal(symbiont_lease_margin(3000), 1000);
	assert_int_equal(symbiont_lease_margin(7000), 2000);
	assert_int_equal(symbiont_job_next_due(j, f->now), t0 + RENEW_AT);
	f->now = t0 + RENEW_AT;
	symbiont_job_tick(j, f->now, 0, 0);
	assert_int_equal(symbiont_job_next_due(j, f->now), t0 + DEADLINE);
	assert_int_equal(answer_apply(f, CMD_RENEW), 0);
	assert_int_equal(symbiont_job_next_due(j, f->now),
			 t0 + RENEW_AT + RENEW_AT);
	finish(j, OUT_DELIVERED);
	assert_int_equal(symbiont_job_next_due(j, f->now), 0);
	assert_int_equal(answer_apply(f, CMD_COMPLETE), 0);
}

static void test_state_names(void **state)
{
	assert_string_equal(symbiont_job_state_name(SJ_WAIT_LOCAL),
			    "WAIT_LOCAL");
	assert_string_equal(symbiont_job_state_name(SJ_COMPLETE_RETRY),
			    "COMPLETE_RETRY");
	assert_string_equal(symbiont_job_state_name(SJ__COUNT), "?");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_claim_deliver_renew_complete),
	    T(test_renew_refused_loses_the_lease),
	    T(test_renew_refused_with_an_engine_that_calls_back_at_once),
	    T(test_renew_not_answered_is_asked_again),
	    T(test_complete_not_answered_is_retried),
	    T(test_complete_not_answered_after_the_lease_is_given_up),
	    T(test_complete_not_answered_at_shutdown_is_given_up),
	    T(test_complete_refused_counts_a_lost_lease),
	    T(test_complete_that_cannot_be_proposed_is_left_to_the_lease),
	    T(test_failed_recipients_bounce_in_the_complete),
	    T(test_delay_warning_rides_in_the_complete_once),
	    T(test_claim_not_applied_here_waits_then_gives_up),
	    T(test_claimed_again_before_start_is_skipped),
	    T(test_engine_that_cannot_start_leaves_it_to_the_lease),
	    T(test_stop_gives_up_a_waiting_claim),
	    T(test_stop_deadline_cancels_and_completes),
	    T(test_no_renew_once_finished),
	    T(test_lease_expired_locally_aborts_the_delivery),
	    T(test_lease_expired_locally_engine_calls_back_at_once),
	    T(test_lease_counted_from_when_the_renew_was_sent),
	    T(test_claim_answered_after_the_local_lease_end_not_started),
	    T(test_next_due_and_margin),
	    cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
