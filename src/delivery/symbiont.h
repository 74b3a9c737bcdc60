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
 * The pure decisions (which files this node prefers, the grace rule, when
 * to renew, where a bounce goes) are exported below for the unit tests.
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
	uint64_t complete_errors; /* COMPLETE without an answer (retried by
				     the lease) */
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

/* ---- pure decisions (unit-tested) ---- */

/* Rendezvous (highest random weight) hash: the id of the node, among the
 * n started nodes, that prefers control file name; 0 when n == 0. */
uint64_t symbiont_preferred(const char *name, const uint64_t *nodes, size_t n);

/* 1 when this node should try to claim a file due at due_ms: it is the
 * preferred node, or the file has waited past the grace period (so a dead
 * or stopped node's share is taken by the others). */
int symbiont_should_claim(uint64_t self, uint64_t preferred, uint64_t due_ms,
			  uint64_t now_ms, uint64_t grace_ms);

/* 1 when a delivery whose lease was last granted or renewed at
 * granted_ms for lease_ms should renew now: half the lease has passed. */
int symbiont_should_renew(uint64_t granted_ms, uint64_t lease_ms,
			  uint64_t now_ms);

/* Where the bounce of a control file goes (enum spool_kind of the bounce,
 * or -1: no bounce, log and drop). KIND_MAIL with a sender -> KIND_BOUNCE
 * to the sender; KIND_MAIL with sender "<>"/"" and KIND_BOUNCE ->
 * KIND_POSTMASTER to the postmaster; KIND_POSTMASTER -> -1. */
int symbiont_bounce_kind(int kind, const char *sender);

/* 1 when recipient r asked for no failure notice (NOTIFY given without
 * FAILURE, e.g. NOTIFY=NEVER). */
int symbiont_rcpt_wants_bounce(const struct spool_rcpt *r);

/* The postmaster address (seed 18.2.2), the From: of bounces and the
 * recipient of postmaster copies: the CFG_POSTMASTER_ALIAS when it holds
 * an '@'; else ALIAS or TCPIP$SMTP at the cluster domain, or at the node
 * domain when no cluster domain is set. */
void symbiont_postmaster(const char *alias, const char *cluster_domain,
			 const char *node_domain, char *buf, size_t size);

/* The recipient of a postmaster copy: the postmaster address, or only its
 * local part when its domain is this node's own domain (which the other
 * nodes do not take as local; a bare local part is local everywhere). */
void symbiont_postmaster_rcpt(const char *postmaster, const char *node_domain,
			      char *buf, size_t size);

#endif
