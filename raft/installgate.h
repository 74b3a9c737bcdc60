/*
 * installgate.h — one copy of a snapshot image on its way to a follower
 * at a time (libraft 0.22.1 sends it again on every heartbeat while it
 * loads it).
 *
 * What libraft does: to catch up a follower whose entries are gone, the
 * leader loads its snapshot file into memory (raft_io snapshot_get, in
 * the pool) and then sends it. Meanwhile it sends heartbeats anchored at
 * the snapshot's index; the follower, which has not got the image yet,
 * rejects them, and each rejection at the snapshot index makes the leader
 * abort the install and start another one: another load of the whole
 * file into fresh memory and another copy on the wire. Measured on a
 * 20,000-message backlog: 18 loads of a 79 MB image for one catch-up; at
 * 40,000 four loads of 185 MB ran at once for 4.5 s, which took both
 * cores and blocked every node's loop (docs/performance.md).
 *
 * The gate wraps four methods of the node's struct raft_io:
 * - snapshot_get: while a load is in flight, a second request waits for
 *   it; while an image of the latest snapshot is on its way to some
 *   server (its send not yet completed, or completed less than
 *   RIGATE_RECENT_MS ago), a request is answered, asynchronously, with a
 *   marker: the image's metadata and an empty buffer that only this gate
 *   knows;
 * - send: an InstallSnapshot that carries a marker is not sent, its
 *   callback runs (asynchronously, status 0: libraft ignores it) and
 *   libraft's progress for that server stays as it was; a real one is
 *   passed on and remembered per server until its callback;
 * - snapshot_put: the highest snapshot index put, so that a marker never
 *   carries an image older than the latest snapshot (libraft asserts it);
 * - close: waits for the gate's own pending callbacks.
 * A follower whose install was lost gets the next one once the copy's
 * window ends; a second follower that needs the same image while it is
 * on its way to a first one waits for that window too (libraft's
 * rejection or its install timeout asks again).
 *
 * Ownership: embedded by its owner (raft/node.c), outlives the raft_io;
 * rigate_install after rsnapguard_install, before raft_init. Markers are
 * raft_malloc'd like the backend's snapshots; libraft frees them.
 * Everything runs on the loop thread. Fails open: when the gate has no
 * room (tables full, no pool) a request goes to the backend unchanged.
 */
#ifndef RAFT_INSTALLGATE_H
#define RAFT_INSTALLGATE_H

#include <raft.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#define RIGATE_RECENT_MS 5000u /* an install's window after its send */
#define RIGATE_WAITERS 16      /* gets waiting for the load in flight */
#define RIGATE_SERVERS 16      /* servers with an install remembered */
#define RIGATE_MARKERS 64      /* markers handed out, not yet sent */

struct rigate {
	struct raft_io *io;
	uv_loop_t *loop;
	uint64_t (*now_ms)(void); /* the daemon's monotonic clock, ms */
	/* the backend's methods */
	int (*send)(struct raft_io *io, struct raft_io_send *req,
		    const struct raft_message *message, raft_io_send_cb cb);
	int (*get)(struct raft_io *io, struct raft_io_snapshot_get *req,
		   raft_io_snapshot_get_cb cb);
	int (*put)(struct raft_io *io, unsigned trailing,
		   struct raft_io_snapshot_put *req,
		   const struct raft_snapshot *snapshot,
		   raft_io_snapshot_put_cb cb);
	void (*close)(struct raft_io *io, raft_io_close_cb cb);
	/* the load in flight and who waits for it */
	struct {
		int active;
		struct raft_io_snapshot_get *req;
		raft_io_snapshot_get_cb cb;
	} load;
	struct {
		struct raft_io_snapshot_get *req;
		raft_io_snapshot_get_cb cb;
	} waiters[RIGATE_WAITERS];
	unsigned nwaiters;
	/* the image last loaded: what a marker carries */
	struct {
		int valid;
		raft_index index;
		raft_term term;
		raft_index conf_index;
		struct raft_configuration conf;
	} img;
	raft_index put_index; /* highest snapshot index put */
	/* the last real install sent to each server */
	struct {
		raft_id id;
		raft_index index;
		int inflight;
		int told; /* a drop was logged for this install */
		uint64_t done_ms;
		struct raft_io_send *req;
		raft_io_send_cb cb;
	} sent[RIGATE_SERVERS];
	void *markers[RIGATE_MARKERS]; /* buffer bases handed out */
	unsigned pending;	       /* the gate's callbacks not yet run */
	int closing;
	int close_waiting;	       /* a close waits for them */
	raft_io_close_cb close_cb;     /* its callback */
	unsigned long long loads;      /* loads passed to the backend */
	unsigned long long coalesced;  /* gets answered without a load */
	unsigned long long dropped;    /* installs not sent again */
	SLIST_ENTRY(rigate) next_gate; /* every installed gate */
};

/* Wrap io's send, snapshot_get, snapshot_put and close. now_ms is the
 * daemon's monotonic clock (raft has none of its own). */
void rigate_install(struct rigate *g, struct raft_io *io, uv_loop_t *loop,
		    uint64_t (*now_ms)(void));
/* Forget the gate (after raft and its raft_io are closed). */
void rigate_remove(struct rigate *g);

#endif
