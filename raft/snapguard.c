/*
 * snapguard.c — holds an InstallSnapshot while this node takes its own
 * snapshot (snapguard.h says why: libraft 0.22.1 dereferences NULL when
 * it parks one itself).
 *
 * Also serializes a take in libuv's pool before its put (snapguard.h),
 * and restores an install's image in the pool while its put runs,
 * its take a state machine: IDLE -> FILLING (fill() in the pool) ->
 * PUTTING (the backend writes it) -> IDLE, or FILLING/PUTTING -> FAILED
 * (fill or the put failed; the node is being stopped) -> IDLE at close.
 *
 * Owns the held messages (their configuration and data until raft gets
 * them), not the take's buffers (fill()'s owner frees them). Finding a
 * guard: raft_io callbacks carry only io or the put request, so the
 * installed guards are kept in one list (a process has one raft node;
 * unit tests may have more).
 */
#include "raft/snapguard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/rlog.h"

struct rsnapguard_held {
	struct raft_message m;
	char address[256]; /* m.server_address points here */
	STAILQ_ENTRY(rsnapguard_held) next;
};

static SLIST_HEAD(rsnapguard_head,
		  rsnapguard) guards = SLIST_HEAD_INITIALIZER(guards);

static struct rsnapguard *by_io(struct raft_io *io)
{
	struct rsnapguard *g;

	SLIST_FOREACH (g, &guards, next) {
		if (g->io == io) {
			return g;
		}
	}
	return NULL;
}

static struct rsnapguard *by_put(struct raft_io_snapshot_put *req, int *slot)
{
	struct rsnapguard *g;

	SLIST_FOREACH (g, &guards, next) {
		for (int i = 0; i < RSNAPGUARD_PUTS; i++) {
			if (g->puts[i].req == req) {
				*slot = i;
				return g;
			}
		}
	}
	return NULL;
}

static void held_free(struct rsnapguard_held *h)
{
	raft_configuration_close(&h->m.install_snapshot.conf);
	raft_free(h->m.install_snapshot.data.base);
	free(h);
}

/* Hand the held installs to raft while it is not taking a snapshot. */
static void replay(struct rsnapguard *g)
{
	struct rsnapguard_held *h;

	while ((h = STAILQ_FIRST(&g->holding)) != NULL &&
	       !g->raft->legacy.snapshot_taking) {
		STAILQ_REMOVE_HEAD(&g->holding, next);
		rlog_info("raft: handing over the snapshot install from "
			  "server %llu held while this node took its own",
			  (unsigned long long)h->m.server_id);
		g->recv(g->io, &h->m); /* raft owns conf and data now */
		free(h);
	}
}

static void on_recv(struct raft_io *io, struct raft_message *m)
{
	struct rsnapguard *g = by_io(io);
	struct rsnapguard_held *h;

	if (g == NULL) {
		return; /* cannot happen: start installed the guard */
	}
	if (m->type != RAFT_INSTALL_SNAPSHOT || g->raft->legacy.closing ||
	    (!g->raft->legacy.snapshot_taking && STAILQ_EMPTY(&g->holding))) {
		g->recv(io, m);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		/* drop it (raft's own answer to an install it cannot take):
		 * the leader sends it again */
		raft_configuration_close(&m->install_snapshot.conf);
		raft_free(m->install_snapshot.data.base);
		return;
	}
	h->m = *m;
	snprintf(h->address, sizeof(h->address), "%s",
		 m->server_address != NULL ? m->server_address : "");
	h->m.server_address = h->address;
	STAILQ_INSERT_TAIL(&g->holding, h, next);
	g->held++;
	rlog_info("raft: holding a snapshot install from server %llu until "
		  "this node's own snapshot is written",
		  (unsigned long long)m->server_id);
}

static int w_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		   raft_io_recv_cb recv)
{
	struct rsnapguard *g = by_io(io);

	g->recv = recv;
	return g->start(io, msecs, tick, on_recv);
}

/* The take's one transition function: the legal moves and their log. */
static void take_enter(struct rsnapguard *g, int to)
{
	static const unsigned char legal[4][4] = {
	    /* from IDLE */ {[RSG_FILLING] = 1},
	    /* from FILLING */
	    {[RSG_PUTTING] = 1, [RSG_FAILED] = 1, [RSG_IDLE] = 1},
	    /* from PUTTING */ {[RSG_IDLE] = 1, [RSG_FAILED] = 1},
	    /* from FAILED */ {[RSG_IDLE] = 1},
	};

	if (!legal[g->take.state][to]) {
		rlog_error("raft: snapshot take: illegal move %d -> %d",
			   (int)g->take.state, to);
	}
	g->take.state = to;
	if (to == RSG_IDLE) {
		g->take.req = NULL;
		g->take.cb = NULL;
	}
}

/* The backend stored a snapshot: tell raft, then hand it what waited. */
static void on_put(struct raft_io_snapshot_put *req, int status)
{
	int slot;
	struct rsnapguard *g = by_put(req, &slot);
	raft_io_snapshot_put_cb cb;

	if (g == NULL) {
		return; /* cannot happen: w_put recorded it */
	}
	cb = g->puts[slot].cb;
	memset(&g->puts[slot], 0, sizeof(g->puts[slot]));
	if (g->take.state == RSG_PUTTING && g->take.req == req) {
		take_enter(g, RSG_IDLE);
	}
	if (g->inst.running && g->inst.req == req) {
		/* the image is still being restored: inst_after calls */
		g->inst.cb = cb;
		g->inst.put_done = 1;
		g->inst.put_status = status;
		return;
	}
	cb(req, status);
	replay(g);
}

/* Thread pool: the owner restores the install's image. */
static void inst_work(uv_work_t *work)
{
	struct rsnapguard *g = work->data;

	g->restore_run(g->restore_arg);
}

static void close_if_idle(struct rsnapguard *g);

/* Loop thread: the restore is done; raft's callback if the put is too. */
static void inst_after(uv_work_t *work, int status)
{
	struct rsnapguard *g = work->data;
	struct raft_io_snapshot_put *req = g->inst.req;

	(void)status; /* run even when the loop cancelled it: it ran or not */
	g->restore_end(g->restore_arg, 1);
	g->inst.running = 0;
	g->inst.req = NULL;
	g->prerestored++;
	if (g->inst.put_done) {
		raft_io_snapshot_put_cb cb = g->inst.cb;

		g->inst.put_done = 0;
		g->inst.cb = NULL;
		cb(req, g->inst.put_status);
		replay(g);
	}
	close_if_idle(g);
}

/* An install's put: start the owner's restore in the pool (0), or not. */
static int inst_start(struct rsnapguard *g, unsigned trailing,
		      struct raft_io_snapshot_put *req,
		      const struct raft_snapshot *snapshot)
{
	if (g->restore_run == NULL || g->loop == NULL || trailing != 0 ||
	    snapshot->n_bufs != 1 || g->inst.running || req == g->take.req ||
	    !g->raft->legacy.snapshot_install) {
		return -1;
	}
	g->restore_begin(g->restore_arg, &snapshot->bufs[0]);
	g->inst.work.data = g;
	if (uv_queue_work(g->loop, &g->inst.work, inst_work, inst_after) != 0) {
		g->restore_end(g->restore_arg, 0);
		return -1;
	}
	g->inst.running = 1;
	g->inst.req = req;
	g->inst.put_done = 0;
	return 0;
}

/* Hand a put to the backend, its callback through on_put. */
static int guarded_put(struct rsnapguard *g, struct raft_io *io,
		       unsigned trailing, struct raft_io_snapshot_put *req,
		       const struct raft_snapshot *snapshot,
		       raft_io_snapshot_put_cb cb)
{
	int slot = -1;
	int rv;

	for (int i = 0; i < RSNAPGUARD_PUTS; i++) {
		if (g->puts[i].req == NULL) {
			slot = i;
			break;
		}
	}
	if (slot < 0) {
		return g->put(io, trailing, req, snapshot, cb); /* unguarded */
	}
	g->puts[slot].req = req;
	g->puts[slot].cb = cb;
	inst_start(g, trailing, req, snapshot);
	rv = g->put(io, trailing, req, snapshot, on_put);
	if (rv != 0) {
		memset(&g->puts[slot], 0, sizeof(g->puts[slot]));
		if (g->inst.running && g->inst.req == req) {
			g->inst.req = NULL; /* raft gets rv; the pool ends it */
		}
	}
	return rv;
}

/* Raft is closing (or the take failed earlier): end the take as raft
 * expects while closing. raft's callback runs finalize, which frees
 * fill()'s buffers. */
static void take_cancel(struct rsnapguard *g)
{
	struct raft_io_snapshot_put *req = g->take.req;
	raft_io_snapshot_put_cb cb = g->take.cb;

	take_enter(g, RSG_IDLE);
	cb(req, RAFT_CANCELED);
}

/* fill() or the put after it failed: a take's put may not fail while
 * raft runs, so the owner stops the node; close cancels the put. */
static void take_fail(struct rsnapguard *g, int rv)
{
	rlog_error("raft: cannot write the snapshot at %llu: %s",
		   (unsigned long long)g->take.snap.index, raft_strerror(rv));
	take_enter(g, RSG_FAILED);
	if (g->fail != NULL) {
		g->fail(g->fill_arg, rv);
	}
}

static void take_put(struct rsnapguard *g)
{
	int rv;

	if (g->take.rv != 0) {
		take_fail(g, g->take.rv);
		return;
	}
	take_enter(g, RSG_PUTTING);
	g->filled++;
	rv = guarded_put(g, g->io, g->take.trailing, g->take.req, &g->take.snap,
			 g->take.cb);
	if (rv != 0) {
		take_fail(g, rv);
	}
}

/* Thread pool: serialize. Touches only the take's buffers and fill()'s
 * owner. */
static void take_work(uv_work_t *work)
{
	struct rsnapguard *g = work->data;

	g->take.rv =
	    g->fill(g->fill_arg, &g->take.snap.bufs, &g->take.snap.n_bufs);
}

/* Loop thread: fill() is done (or was cancelled with the loop). */
static void take_after(uv_work_t *work, int status)
{
	struct rsnapguard *g = work->data;

	if (status != 0 && g->take.rv == 0) {
		g->take.rv = RAFT_CANCELED;
	}
	if (g->close_pending) {
		take_cancel(g);
		close_if_idle(g);
		return;
	}
	take_put(g);
}

static int w_put(struct raft_io *io, unsigned trailing,
		 struct raft_io_snapshot_put *req,
		 const struct raft_snapshot *snapshot,
		 raft_io_snapshot_put_cb cb)
{
	struct rsnapguard *g = by_io(io);

	if (g->fill == NULL || snapshot->n_bufs != 0 ||
	    g->take.state != RSG_IDLE) {
		return guarded_put(g, io, trailing, req, snapshot, cb);
	}
	/* a take whose buffers are still to be made: raft keeps *snapshot
	 * until cb, so the copy's configuration is raft's too */
	take_enter(g, RSG_FILLING);
	g->take.req = req;
	g->take.cb = cb;
	g->take.snap = *snapshot;
	g->take.trailing = trailing;
	g->take.rv = 0;
	g->take.work.data = g;
	if (uv_queue_work(g->loop, &g->take.work, take_work, take_after) != 0) {
		/* no pool: serialize here, as libraft would */
		take_work(&g->take.work);
		take_put(g);
	}
	return 0;
}

static void w_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct rsnapguard *g = by_io(io);
	struct rsnapguard_held *h;

	while ((h = STAILQ_FIRST(&g->holding)) != NULL) {
		STAILQ_REMOVE_HEAD(&g->holding, next);
		held_free(h);
	}
	g->close_pending = 1;
	g->close_cb = cb;
	if (g->take.state == RSG_FAILED) {
		take_cancel(g);
	}
	/* fill() or a restore in the pool: their after callback closes */
	close_if_idle(g);
}

/* The close waiting for the pool, once nothing of the guard runs there. */
static void close_if_idle(struct rsnapguard *g)
{
	if (!g->close_pending || g->take.state == RSG_FILLING ||
	    g->inst.running) {
		return;
	}
	g->close_pending = 0;
	g->close(g->io, g->close_cb);
}

int rsnapguard_install(struct rsnapguard *g, struct raft_io *io,
		       struct raft *raft)
{
	if (by_io(io) != NULL) {
		return -1;
	}
	memset(g, 0, sizeof(*g));
	STAILQ_INIT(&g->holding);
	g->io = io;
	g->raft = raft;
	g->start = io->start;
	g->put = io->snapshot_put;
	g->close = io->close;
	io->start = w_start;
	io->snapshot_put = w_put;
	io->close = w_close;
	SLIST_INSERT_HEAD(&guards, g, next);
	return 0;
}

void rsnapguard_remove(struct rsnapguard *g)
{
	struct rsnapguard *h;

	SLIST_FOREACH (h, &guards, next) {
		if (h == g) {
			SLIST_REMOVE(&guards, g, rsnapguard, next);
			return;
		}
	}
}

void rsnapguard_set_fill(struct rsnapguard *g, uv_loop_t *loop,
			 int (*fill)(void *arg, struct raft_buffer **bufs,
				     unsigned *n_bufs),
			 void (*fail)(void *arg, int rv), void *arg)
{
	g->loop = loop;
	g->fill = fill;
	g->fail = fail;
	g->fill_arg = arg;
}

void rsnapguard_set_restore(struct rsnapguard *g,
			    void (*begin)(void *arg,
					  const struct raft_buffer *buf),
			    void (*run)(void *arg),
			    void (*end)(void *arg, int ran), void *arg)
{
	g->restore_begin = begin;
	g->restore_run = run;
	g->restore_end = end;
	g->restore_arg = arg;
}

unsigned long long rsnapguard_filled(const struct rsnapguard *g)
{
	return g->filled;
}

unsigned long long rsnapguard_held(const struct rsnapguard *g)
{
	return g->held;
}
