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
 * Ownership: the guard is embedded by its owner (raft/node.c) and must
 * outlive the raft_io; rsnapguard_install before raft_init. Everything
 * runs on the loop thread.
 */
#ifndef RAFT_SNAPGUARD_H
#define RAFT_SNAPGUARD_H

#include <raft.h>

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
	struct rsnapguard_held *head, *tail;
	unsigned long long held; /* installs held so far */
	struct rsnapguard *next; /* every installed guard */
};

/* Wrap io's recv, snapshot_put and close (after raft_uv_init, before
 * raft_init). 0, or -1 if io already has a guard. */
int rsnapguard_install(struct rsnapguard *g, struct raft_io *io,
		       struct raft *raft);

/* Forget the guard (after raft and its raft_io are closed). */
void rsnapguard_remove(struct rsnapguard *g);

/* InstallSnapshot messages held so far. */
unsigned long long rsnapguard_held(const struct rsnapguard *g);

#endif
