/*
 * symbiont_job.h — one claimed control file from grant to COMPLETE: the
 * symbiont job, a state machine.
 *
 *   WAIT_LOCAL --> DELIVERING --> COMPLETING <--> COMPLETE_RETRY
 *       |              |  \            |               |
 *       |              |   LOST        |               |
 *       v              v    v          v               v
 *      DONE <----------+----+----------+---------------+
 *
 * WAIT_LOCAL: granted; waiting for this node's spool to apply the claim
 * (so the record it delivers from is at least as new as the grant).
 * DELIVERING: the delivery engine has it; the lease is renewed when half
 * of (lease - margin) has passed, and again on every tick until a RENEW
 * succeeds. LOST: a RENEW was refused during the delivery, or none
 * succeeded before the local lease end (the monotonic time the CLAIM or
 * the last successful RENEW was sent, plus the lease, minus the margin:
 * "lease expired locally, aborting"); the delivery is being cancelled
 * (its SMTP/LMTP connections closed before the final dot is sent or
 * acknowledged) and its outcomes are not recorded. COMPLETING: the
 * outcomes (and the bounce) were proposed in one COMPLETE with the job's
 * fencing number. COMPLETE_RETRY: that COMPLETE was not answered; the
 * same bytes go again at the next tick while the lease lasts. DONE:
 * finished or given up (left to the lease); freed once nothing refers to
 * it.
 *
 * Besides the state, two references keep a job alive: the engine's
 * handle (h, until the engine's callback) and a RENEW in flight
 * (renew_inflight), which may outlive DELIVERING. A transition that is
 * not in the legal table is a bug and asserts.
 *
 * The job reaches the cluster, the engine and the symbiont only through
 * struct symbiont_job_ops, so a test can drive it with a fake cluster.
 *
 * Owns: the job, its record copy, its encoded COMPLETE. Does not own: the
 * spool, the env (the symbiont's; they outlive every job). Fails: every
 * failure is logged; the file is left to its lease (another claim
 * delivers it), and a refused RENEW or COMPLETE is counted as a possible
 * duplicate delivery. Nothing here stops the node.
 */
#ifndef SRC_DELIVERY_SYMBIONT_JOB_H
#define SRC_DELIVERY_SYMBIONT_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "spool/store/spool.h"
#include "src/cluster/cluster.h"
#include "src/delivery/deliver.h"
#include "src/delivery/symbiont.h"
#include "src/delivery/symbiont_bounce.h"

enum symbiont_job_state {
	SJ_WAIT_LOCAL = 0,
	SJ_DELIVERING,
	SJ_LOST,
	SJ_COMPLETING,
	SJ_COMPLETE_RETRY,
	SJ_DONE,
	SJ__COUNT
};

struct symbiont_job;

/* What a job asks of its symbiont. */
struct symbiont_job_ops {
	/* Propose an encoded command (cluster_propose): 0 and cb is called
	 * exactly once later, or negative and it is not. */
	int (*propose)(void *ctx, const void *cmd, size_t len,
		       cluster_propose_cb cb, void *cb_arg);
	/* Start the engine on j->ctl, setting j->h; the engine's outcomes
	 * come back through symbiont_job_delivered (not before the call
	 * returns). 0, or negative (logged; j->h NULL). */
	int (*deliver)(void *ctx, struct symbiont_job *j);
	/* Cancel j's delivery: symbiont_job_delivered follows (the engine
	 * calls it at once). */
	void (*cancel)(void *ctx, struct symbiont_job *j);
	uint64_t (*now)(void *ctx);	 /* monotonic ms */
	uint64_t (*max_body)(void *ctx); /* cluster body limit, 0 = none */
	void (*kick)(void *ctx);	 /* run the periodic work soon */
	/* One activity-log line for outcome o of j. */
	void (*activity)(void *ctx, const struct symbiont_job *j,
			 const struct deliver_outcome *o);
	/* j is about to be freed: forget it. */
	void (*gone)(void *ctx, struct symbiont_job *j);
};

/* The symbiont's side, shared by its jobs; outlives them. */
struct symbiont_job_env {
	const struct symbiont_job_ops *ops;
	void *ctx;
	struct spool *sp; /* the record and the claim, as applied here */
	uint64_t self;
	unsigned lease_ms;
	struct symbiont_bounce_env bounce;
	struct symbiont_stats *st; /* counters the jobs advance */
	int finished; /* the stop callback ran: no RENEW, no COMPLETE retry */
};

struct symbiont_job {
	const struct symbiont_job_env *env;
	LIST_ENTRY(symbiont_job) link; /* the symbiont's list */
	char name[SPOOL_NAME_MAX + 1];
	uint64_t fence;
	uint64_t prev_holder; /* expired holder seen before the claim */
	uint64_t lease_base;  /* monotonic ms the lease was last asked for */
	uint64_t wait_until;  /* SJ_WAIT_LOCAL: give up after (monotonic) */
	enum symbiont_job_state state; /* changed by enter_state only */
	int renew_inflight;	       /* a RENEW's callback is due */
	uint64_t renew_sent;	       /* monotonic ms of that RENEW */
	struct spool_ctl ctl;
	int have_ctl;
	struct delivery *h; /* valid until the engine's callback */
	uint8_t *cmd;	    /* encoded COMPLETE, kept for retries */
	size_t cmd_len;
	int has_bounce;
	double started_at; /* clock_mono_s() when the attempt began */
};

/* A job for a granted claim of name with fence, asked for at granted_ms
 * (monotonic), in SJ_WAIT_LOCAL. NULL when out of memory. */
struct symbiont_job *symbiont_job_new(const struct symbiont_job_env *env,
				      const char *name, uint64_t fence,
				      uint64_t prev_holder,
				      uint64_t granted_ms);

/* SJ_WAIT_LOCAL: start the delivery if our spool shows our claim; give
 * up when it does not in time. May free j. */
void symbiont_job_try_start(struct symbiont_job *j);

/* The engine's callback: the outcomes of the attempt (j->h is invalid
 * from now on). May free j. */
void symbiont_job_delivered(struct symbiont_job *j,
			    const struct deliver_outcome *out, uint32_t n);

/* Periodic work at monotonic now: start an applied claim, renew, retry a
 * COMPLETE; while stopping, give up waiting claims, and with cancel
 * (the stop deadline passed) cancel running deliveries. May free j. */
void symbiont_job_tick(struct symbiont_job *j, uint64_t now, int stopping,
		       int cancel);

const char *symbiont_job_state_name(enum symbiont_job_state st);

/* The holder enforces its lease on its own monotonic clock: the lease
 * is counted from when the CLAIM or RENEW was sent (before the leader
 * stamped it, so it never ends later here than on the leader), and the
 * margin covers what may make the leader's end come earlier in real
 * time: a new leader's stamp may run ahead of elapsed time by the stamp
 * allowance (cluster_stamp.h, 2 s), plus the time to close a
 * connection. Margin = min(2000 ms, lease / 3). */
#define SYMBIONT_LEASE_MARGIN_MS 2000u
unsigned symbiont_lease_margin(unsigned lease_ms);

/* 1 when a delivery whose lease was last granted or renewed at
 * granted_ms for lease_ms should renew now: half of (lease - margin) has
 * passed. */
int symbiont_should_renew(uint64_t granted_ms, uint64_t lease_ms,
			  uint64_t now_ms);

/* The monotonic ms at which j's delivery is aborted unless a RENEW
 * succeeds first: lease_base + lease - margin. */
uint64_t symbiont_job_deadline(const struct symbiont_job *j);

/* The monotonic ms of j's next timed step after now (its first RENEW,
 * else its deadline); 0 when it has none (not DELIVERING). The symbiont
 * wakes up for it, so the abort is not late by a scan period. */
uint64_t symbiont_job_next_due(const struct symbiont_job *j, uint64_t now);

#endif
