/*
 * cluster_stamp.h — the leader's stamp: the only clock of the replicated
 * state machine (leases, retries, /INTERVAL MAXIMUM all compare against
 * it), so DESIGN.md promises it "never goes back and never jumps ahead of
 * elapsed time: a skewed clock on one node cannot end live leases".
 *
 * The rule (pure, here; cluster_propose.c calls it for every entry):
 *   base      the highest stamp this node has applied, and base_mono its
 *             monotonic clock when it applied it (0/0: nothing applied);
 *   expect    base + (mono - base_mono): cluster time advanced by this
 *             node's own monotonic clock since;
 *   stamp     this node's wall clock when it lies within expect +- the
 *             allowance, else expect (a clock that is ahead or behind by
 *             more than the allowance is not followed);
 *   and never below the last stamp this node proposed or base.
 * A fresh cluster (nothing applied) takes the wall clock as it is.
 *
 * Owns nothing. Pure: no clock read here.
 */
#ifndef SRC_CLUSTER_STAMP_H
#define SRC_CLUSTER_STAMP_H

#include <stdint.h>

/* How far the leader's wall clock may lie from cluster time before it is
 * not followed (ms). */
#define CLUSTER_STAMP_ALLOWANCE_MS 2000

struct cluster_stamp_in {
	uint64_t wall;	    /* this node's wall clock, ms since the epoch */
	uint64_t mono;	    /* this node's monotonic clock, ms */
	uint64_t base;	    /* highest stamp applied here (0: none) */
	uint64_t base_mono; /* mono when base was applied */
	uint64_t last;	    /* last stamp this node proposed (0: none) */
	uint64_t allowance; /* CLUSTER_STAMP_ALLOWANCE_MS */
};

/* The stamp of the next entry; *skewed = 1 when the wall clock was not
 * followed (for one log line per change). */
uint64_t cluster_stamp_next(const struct cluster_stamp_in *in, int *skewed);

#endif
