/*
 * snapguard.h — works around a libraft 0.22.1 crash: an InstallSnapshot
 * that arrives while this node is taking a snapshot of its own.
 *
 * libraft's compatibility layer (src/legacy.c) parks such an install in
 * r->legacy.snapshot_pending and starts it when its own snapshot is
 * written; takeSnapshotCb clears the pointer before reading it and then
 * dereferences NULL (legacyPersistSnapshotStart(NULL), SEGV at 0x48).
 * Upstream's code still reads that way. The guard wraps three methods of
 * the node's struct raft_io: recv holds an InstallSnapshot while
 * r->legacy.snapshot_taking is set, snapshot_put's callback hands the
 * held ones to raft once the take is done (raft then persists them
 * directly, the path that works), close releases what is still held.
 * Raft tolerates the reordering (any network may reorder messages).
 *
 * Second limitation of the same path: legacyTakeSnapshot calls the FSM's
 * snapshot() and then snapshot_async() back to back on the loop thread,
 * so serializing the spool there stalls every connection for as long as
 * the image takes to write (67-91 ms p99 at a 100k backlog). With a fill
 * set (rsnapguard_set_fill), a put that arrives with no buffers (the
 * FSM's snapshot_async left them empty on purpose) is held while fill()
 * runs in libuv's thread pool; its buffers are then handed to the
 * backend's put, and raft's callback runs when the backend is done, as
 * before. snapshot_taking stays set meanwhile, so installs are held and
 * no second take starts. A close while fill() runs waits for it, then
 * cancels the put (raft is closing: RAFT_CANCELED is what it expects)
 * before the backend is closed. fill()'s buffers stay its owner's (the
 * FSM frees them in snapshot_finalize). If fill() or the backend's put
 * fails, fail() is told (the FSM stops the node: raft asserts that a
 * take's put fails only while closing) and the put stays pending until
 * close cancels it.
 *
 * Third: an installed snapshot is restored by libraft on the loop
 * thread, right after the backend stored it (fsm->restore, 0.4-3.7 s for
 * 175-416 MB). With a restore set (rsnapguard_set_restore), an install's
 * put (trailing 0, one buffer) starts the owner's restore in the pool at
 * the same time as the backend's put, and raft's callback runs only when
 * both are done; the owner's restore() then only takes the result.
 *
 * Ownership: the guard is embedded by its owner (raft/node.c) and must
 * outlive the raft_io; rsnapguard_install before raft_init. Everything
 * runs on the loop thread but fill(), which runs in the pool and must
 * touch nothing the loop uses meanwhile.
 */
#ifndef RAFT_SNAPGUARD_H
#define RAFT_SNAPGUARD_H

#include <raft.h>
#include <sys/queue.h>
#include <uv.h>

#define RSNAPGUARD_PUTS 4 /* snapshot puts in flight at once (libraft: 2) */

struct rsnapguard_held;

struct rsnapguard {
	struct raft_io *io;
	struct raft *raft;
	int (*start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		     raft_io_recv_cb recv);
	int (*put)(struct raft_io *io, unsigned trailing,
		   struct raft_io_snapshot_put *req,
		   const struct raft_snapshot *snapshot,
		   raft_io_snapshot_put_cb cb);
	void (*close)(struct raft_io *io, raft_io_close_cb cb);
	raft_io_recv_cb recv;
	struct {
		struct raft_io_snapshot_put *req;
		raft_io_snapshot_put_cb cb;
		int status;
	} puts[RSNAPGUARD_PUTS];
	/* the take whose buffers fill() makes in the pool */
	int (*fill)(void *arg, struct raft_buffer **bufs, unsigned *n_bufs);
	void (*fail)(void *arg, int rv);
	void *fill_arg;
	uv_loop_t *loop;
	struct {
		enum { RSG_IDLE, RSG_FILLING, RSG_PUTTING, RSG_FAILED } state;
		uv_work_t work;
		struct raft_io_snapshot_put *req;
		raft_io_snapshot_put_cb cb;
		struct raft_snapshot snap; /* raft's, with fill()'s buffers */
		unsigned trailing;
		int rv; /* fill()'s */
	} take;
	/* an install's image restored in the pool while the backend
	 * stores it (rsnapguard_set_restore) */
	void (*restore_begin)(void *arg, const struct raft_buffer *buf);
	void (*restore_run)(void *arg);
	void (*restore_end)(void *arg, int ran);
	void *restore_arg;
	struct {
		int running; /* restore_run is in the pool */
		uv_work_t work;
		struct raft_io_snapshot_put *req;
		raft_io_snapshot_put_cb cb; /* raft's, once the put is done */
		int put_done;
		int put_status;
	} inst;
	unsigned long long prerestored; /* installs restored in the pool */
	raft_io_close_cb close_cb;	/* a close waiting for the pool */
	int close_pending;
	unsigned long long filled; /* takes serialized in the pool */
	STAILQ_HEAD(rsnapguard_held_head, rsnapguard_held)
	holding;		      /* installs, oldest first */
	unsigned long long held;      /* installs held so far */
	SLIST_ENTRY(rsnapguard) next; /* every installed guard */
};

/* Wrap io's recv, snapshot_put and close (after raft_uv_init, before
 * raft_init). 0, or -1 if io already has a guard. */
int rsnapguard_install(struct rsnapguard *g, struct raft_io *io,
		       struct raft *raft);

/* Serialize takes in loop's thread pool with fill (see above); fail is
 * called on the loop thread when fill or the put after it fails. */
void rsnapguard_set_fill(struct rsnapguard *g, uv_loop_t *loop,
			 int (*fill)(void *arg, struct raft_buffer **bufs,
				     unsigned *n_bufs),
			 void (*fail)(void *arg, int rv), void *arg);

/* Restore an install's image in loop's thread pool while the backend
 * stores it: begin(arg, buf) on the loop before, run(arg) in the pool,
 * end(arg, ran) on the loop after (ran 0: run was not called); raft's put
 * callback, and so its restore(), only after end. A close waits for run.
 * The owner makes restore() cheap for that buffer (rfsm_restore_begin). */
void rsnapguard_set_restore(struct rsnapguard *g,
			    void (*begin)(void *arg,
					  const struct raft_buffer *buf),
			    void (*run)(void *arg),
			    void (*end)(void *arg, int ran), void *arg);
/* Forget the guard (after raft and its raft_io are closed). */
void rsnapguard_remove(struct rsnapguard *g);

/* InstallSnapshot messages held so far. */
unsigned long long rsnapguard_held(const struct rsnapguard *g);

/* Takes serialized in the thread pool so far. */
unsigned long long rsnapguard_filled(const struct rsnapguard *g);

#endif
