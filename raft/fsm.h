/*
 * fsm.h — the raft state machine over the spool (libraft FSM version 3).
 *
 * A raft entry is a batch of spool commands (batch.h). apply() hands each
 * command to spool_apply() in order. Business outcomes and malformed
 * entries never fail the apply (they are logged); only a spool environment
 * failure does, and that failure is sticky: every later apply fails too,
 * so a half-applied batch is never applied twice, and on_fatal is called
 * once so the owner can stop the node (the spool is rebuilt from the raft
 * log at the next start).
 *
 * Results: libraft hands apply's *result only to the raft_apply() request
 * of that index, and drops it otherwise. So the FSM builds a results array
 * (struct rbatch_results, freed by the receiver with rbatch_results_free)
 * only for the entry at want_index while this node leads; every other
 * apply gives back NULL.
 *
 * Snapshot threshold: libraft snapshots every `threshold` entries. A
 * fixed count makes each snapshot's cost (the whole spool) grow with the
 * backlog while the work between two snapshots does not, so the cost per
 * accepted message grows too. After each snapshot the FSM sets the
 * threshold so that the next one comes when the log written since this
 * one reaches 1/RFSM_LOG_RATIO_DIV of this image (in entries of the
 * average size seen since the previous snapshot), never below the
 * configured threshold (rfsm_set_threshold_base) nor above
 * RFSM_THRESHOLD_MAX: serialization then costs a bounded number of times
 * each accepted byte, whatever the backlog.
 *
 * Snapshots (async): snapshot() opens the spool read transaction on the
 * loop; snapshot_async() serializes it into one malloc'd buffer;
 * snapshot_finalize() (loop, always after a successful snapshot()) ends
 * the transaction and frees the buffer — with finalize set, raft owns
 * none of the snapshot buffers. libraft 0.22.1 calls snapshot_async() on
 * the loop thread, right after snapshot(), so with rfsm_set_deferred()
 * snapshot_async() leaves the buffers empty and rfsm_fill() does the
 * serializing instead, from the snapshot guard in libuv's pool
 * (snapguard.h); its image stays the FSM's (f->img) until finalize. restore() replaces the spool and, on
 * success only, frees the buffer with raft_free() (raft frees it on
 * failure).
 *
 * max_stamp: the highest command stamp applied, the leader's stamp floor
 * (src/cluster/cluster_stamp.h). apply raises it; rfsm_init and restore
 * raise it to the spool's own record (spool_max_stamp, in every image), so
 * a node that starts from a snapshot or installs one keeps the floor, with
 * max_stamp_mono = now.
 */
#ifndef RAFT_FSM_H
#define RAFT_FSM_H

#include <raft.h>
#include <stdint.h>

#include "spool/store/spool.h"

struct rfsm {
	struct raft_fsm fsm; /* fsm.data points back here */
	struct spool *sp;
	struct raft *raft;	       /* set once raft_init ran */
	struct spool_snap *snap;       /* open snapshot read transaction */
	unsigned long long want_index; /* index whose results are wanted */
	int failed;		       /* sticky spool environment failure */
	uint64_t max_stamp;	       /* highest command stamp applied */
	uint64_t max_stamp_mono;       /* mono_ms() when it was applied */
	uint64_t (*mono_ms)(void);     /* the daemon's monotonic clock, in ms */
	void (*on_fatal)(void *arg, int err);
	void *fatal_arg;
	/* counters, for status and tests */
	uint64_t applied_entries;
	uint64_t applied_cmds;
	uint64_t malformed_entries;
	uint64_t snapshots;
	uint64_t restores;
	uint64_t snap_started_ms; /* monotonic, for the log line */
	size_t snap_bytes;
	uint64_t snap_serialize_ms;
	int deferred;		/* rfsm_fill() serializes, in the pool */
	struct raft_buffer img; /* rfsm_fill()'s image, until finalize */
	/* the growing snapshot threshold (see above) */
	unsigned threshold_base; /* configured; 0 = leave libraft's */
	unsigned threshold;	 /* the one set last */
	uint64_t log_bytes;	 /* entry bytes applied since snapshot() */
	uint64_t log_entries;	 /* entries applied since snapshot() */
	uint64_t snap_log_bytes; /* the same, before the snapshot in hand */
	uint64_t snap_log_entries;
	/* after each snapshot stored: its time (ms) and size (metrics) */
	void (*on_snapshot)(void *arg, uint64_t ms, size_t bytes);
	void *snapshot_arg;
	/* an installed image restored in the pool (rfsm_restore_begin) */
	struct {
		enum { RFSM_PRE_NONE, RFSM_PRE_RUNNING, RFSM_PRE_DONE } state;
		const void *base; /* the buffer restore() will be given */
		size_t len;
		int rv;		 /* spool_restore's */
		uint64_t ms;	 /* how long it took */
		int failed_then; /* f->failed when it began */
	} pre;
	uint64_t skipped_entries; /* not applied: the spool was replaced */
};

#define RFSM_LOG_RATIO_DIV 2
#define RFSM_THRESHOLD_MAX 1000000u

/* Prepare f over sp. mono_ms is the daemon's monotonic clock (raft has no
 * clock of its own: src/base/clock.h is above this layer). The raft pointer
 * is set later with rfsm_set_raft. */
void rfsm_init(struct rfsm *f, struct spool *sp, uint64_t (*mono_ms)(void),
	       void (*on_fatal)(void *arg, int err), void *fatal_arg);
void rfsm_set_raft(struct rfsm *f, struct raft *r);
/* Restore an installed image in the thread pool (snapguard.h,
 * rsnapguard_set_restore), f as arg: begin on the loop, run in the pool
 * (spool_restore of buf, the only thing that touches the spool there),
 * end on the loop. restore() of that same buffer afterwards only takes
 * the result. Meanwhile apply() applies nothing and returns 0: whatever
 * it would apply is replaced by the image anyway, as when restore() runs
 * on the loop after it. */
void rfsm_restore_begin(void *arg, const struct raft_buffer *buf);
void rfsm_restore_run(void *arg);
void rfsm_restore_end(void *arg, int ran);
/* The configured snapshot threshold, the floor of the growing one (0:
 * libraft's own, never changed). Call after rfsm_set_raft. */
void rfsm_set_threshold_base(struct rfsm *f, unsigned base);
/* The threshold for the next snapshot after an image of snap_bytes, when
 * log_entries entries of log_bytes were applied between the two last
 * snapshots (pure; see above). */
unsigned rfsm_next_threshold(unsigned base, size_t snap_bytes,
			     uint64_t log_bytes, uint64_t log_entries);

/* Leave serializing to rfsm_fill() (see above). */
void rfsm_set_deferred(struct rfsm *f);
/* Thread pool (arg: the rfsm): serialize the transaction snapshot()
 * opened into f->img; *bufs = &f->img. 0 or a RAFT_* code. Touches only
 * f->snap, f->img and f->snap_serialize_ms, which the loop leaves alone
 * while a take is in flight. */
int rfsm_fill(void *arg, struct raft_buffer **bufs, unsigned *n_bufs);
/* Loop thread: rfsm_fill() or the put after it failed (fatal). */
void rfsm_fill_failed(void *arg, int rv);

/* Release an open snapshot transaction, if any (at close). */
void rfsm_close(struct rfsm *f);

#endif
