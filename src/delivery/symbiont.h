/*
 * symbiont.h — the node's delivery agent (the seed's SMTP symbiont, issue
 * #5): claims due control files from the shared spool with a lease, hands
 * each to the delivery engine (deliver.h), renews the lease while a
 * delivery runs longer than half of it, and reports the outcomes with
 * COMPLETE, carrying its fencing number and, when recipients failed, the
 * bounce (dsn.h) in the same entry. See docs/symbiont.md.
 *
 * Runs on the loop thread. The cluster, the spool and the deliverer belong
 * to the caller and must outlive the symbiont (until the stop callback).
 * The options' strings are copied at start.
 *
 * The symbiont is a family of files of one concern each:
 *   symbiont.c         the scan loop, the CLAIM batch, the timers, stop
 *   symbiont_place.h   placement: which node claims which file (pure)
 *   symbiont_job.h     one claim's state machine: deliver, RENEW, COMPLETE
 *   symbiont_bounce.h  the bounce a COMPLETE carries, the postmaster
 *   symbiont_actlog.h  the activity log
 * Their pure decisions are exported there for the unit tests.
 */
#ifndef SRC_SYMBIONT_H
#define SRC_SYMBIONT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "spool/store/spool.h"
#include "src/cluster/cluster.h"
#include "src/delivery/deliver.h"

struct symbiont_opts {
	uint64_t node_id;
	const char *node_name;	   /* SCSNODE: bounce control-file names */
	const char *node_domain;   /* postmaster address, Reporting-MTA */
	unsigned lease_ms;	   /* claim lease; 0 = 120000 */
	unsigned grace_ms;	   /* take any due file after this; 30000 */
	unsigned scan_interval_ms; /* due scan period; 0 = 500 */
	unsigned claim_batch;	   /* names per CLAIM at most; 0 = 16 */
	const char *activity_log;  /* path; "" or "none" = no log */
	const char *log_dir;	   /* where /LOG may write; "" = nowhere */
};

struct symbiont_stats {
	int claiming;	    /* 1 when this node's mail is started */
	uint64_t slots;	    /* /QUEUES now */
	uint64_t in_flight; /* deliveries running */
	uint64_t claims;    /* names granted */
	uint64_t claims_refused;
	uint64_t delivered; /* recipient outcomes */
	uint64_t deferred;
	uint64_t failed;
	uint64_t bounces;	  /* bounce control files enqueued */
	uint64_t bounces_dropped; /* failed postmaster bounces dropped */
	uint64_t renewals;
	uint64_t lease_lost;	  /* COMPLETE refused: possible duplicate */
	uint64_t lease_expired;	  /* deliveries aborted at the local lease
				     end (no RENEW in time) */
	uint64_t complete_errors; /* COMPLETE without an answer (retried by
				     the lease) */
	uint64_t released;	  /* claims given back before any attempt
				     (COMPLETE_UNTRIED) */
};

struct symbiont;

/* Start the scan timer. 0, or SPOOL_E_INVAL / SPOOL_E_NOMEM. */
int symbiont_start(struct symbiont **out, uv_loop_t *loop,
		   const struct symbiont_opts *o, struct cluster *cl,
		   struct spool *sp, struct deliverer *d);

/* Stop claiming; let the running deliveries finish and complete (at most
 * until their lease would end), then call cb(arg) and free the
 * symbiont. */
void symbiont_stop(struct symbiont *s, void (*cb)(void *arg), void *arg);

void symbiont_stats(const struct symbiont *s, struct symbiont_stats *out);

/* SIGHUP: open the activity log again (after logrotate moved it). */
void symbiont_reopen_log(struct symbiont *s);

#endif
