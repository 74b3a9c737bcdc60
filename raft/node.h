/*
 * node.h — one raft server on libuv: its log directory, its TCP transport,
 * timeouts and snapshot policy, first-start bootstrap, and close.
 *
 * Knows consensus only: the state machine is any struct raft_fsm (fsm.h
 * provides the spool's). Everything runs on the loop thread.
 *
 * Ownership: rnode_start allocates the node (stable address: struct raft
 * must not move); rnode_close releases it and calls cb afterwards. The
 * fsm must outlive the node.
 */
#ifndef RAFT_NODE_H
#define RAFT_NODE_H

#include <raft.h>
#include <raft/uv.h>
#include <stdint.h>
#include <uv.h>

#include "raft/transport.h"

struct rnode_peer {
	uint64_t id;
	const char *address; /* HOST:PORT */
};

struct rnode_opts {
	uint64_t id;
	const char *address; /* this server's HOST:PORT */
	const char *dir;     /* raft log and snapshots (must exist) */
	unsigned election_timeout_ms;
	unsigned heartbeat_timeout_ms;
	unsigned snapshot_threshold;
	unsigned snapshot_trailing;
	unsigned install_snapshot_timeout_ms;
	int bootstrap;	 /* first start: a one-node configuration of itself */
	unsigned npeers; /* first start: all of them as voters */
	const struct rnode_peer *peers;
	/* NULL: plain TCP; else the secure channel (transport.h) */
	const struct rtransport_wrap *wrap;
	/* NULL: the FSM serializes snapshots where libraft asks it to (the
	 * loop thread, in 0.22.1); else the snapshot guard runs this in the
	 * thread pool first (snapguard.h, rfsm_fill) */
	int (*snapshot_fill)(void *arg, struct raft_buffer **bufs,
			     unsigned *n_bufs);
	void (*snapshot_fail)(void *arg, int rv);
	void *snapshot_arg;
	/* NULL: an installed snapshot is restored on the loop thread; else
	 * in the thread pool while libraft stores it (snapguard.h,
	 * rfsm_restore_begin), with snapshot_arg; needs snapshot_fill */
	void (*restore_begin)(void *arg, const struct raft_buffer *buf);
	void (*restore_run)(void *arg);
	void (*restore_end)(void *arg, int ran);
	/* the daemon's monotonic clock in ms (raft has no clock of its
	 * own): the install gate's timing; required */
	uint64_t (*mono_ms)(void);
};

struct rnode;

/* Initialize raft over o->dir, bootstrap on first start when asked, and
 * start it. 0, or a RAFT_* code with a message in err. */
int rnode_start(struct rnode **out, uv_loop_t *loop, const struct rnode_opts *o,
		struct raft_fsm *fsm, char *err, size_t errsize);

struct raft *rnode_raft(struct rnode *n);

/* 1 when the first start bootstrapped a configuration, 0 when the log
 * already existed or this node joins with an empty configuration. */
int rnode_bootstrapped(const struct rnode *n);

/* Incoming raft connections refused at the handshake so far. */
unsigned long long rnode_refused_handshakes(const struct rnode *n);

/* Close raft, then its I/O backend and transport; cb(arg) once done and
 * the node is freed. Never call from inside a raft callback that runs
 * under raft_step (apply, barrier, change). */
void rnode_close(struct rnode *n, void (*cb)(void *arg), void *arg);

#endif
