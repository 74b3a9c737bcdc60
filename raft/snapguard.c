/*
 * snapguard.c — holds an InstallSnapshot while this node takes its own
 * snapshot (snapguard.h says why: libraft 0.22.1 dereferences NULL when
 * it parks one itself).
 *
 * Owns the held messages (their configuration and data until raft gets
 * them). Finding a
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
	struct rsnapguard_held *next;
};

static struct rsnapguard *guards;

static struct rsnapguard *by_io(struct raft_io *io)
{
	for (struct rsnapguard *g = guards; g != NULL; g = g->next) {
		if (g->io == io) {
			return g;
		}
	}
	return NULL;
}

static struct rsnapguard *by_put(struct raft_io_snapshot_put *req, int *slot)
{
	for (struct rsnapguard *g = guards; g != NULL; g = g->next) {
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
	while (g->head != NULL && !g->raft->legacy.snapshot_taking) {
		struct rsnapguard_held *h = g->head;

		g->head = h->next;
		if (g->head == NULL) {
			g->tail = NULL;
		}
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
	    (!g->raft->legacy.snapshot_taking && g->head == NULL)) {
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
	if (g->tail != NULL) {
		g->tail->next = h;
	} else {
		g->head = h;
	}
	g->tail = h;
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
	cb(req, status);
	replay(g);
}

static int w_put(struct raft_io *io, unsigned trailing,
		 struct raft_io_snapshot_put *req,
		 const struct raft_snapshot *snapshot,
		 raft_io_snapshot_put_cb cb)
{
	struct rsnapguard *g = by_io(io);
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
	rv = g->put(io, trailing, req, snapshot, on_put);
	if (rv != 0) {
		memset(&g->puts[slot], 0, sizeof(g->puts[slot]));
	}
	return rv;
}

static void w_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct rsnapguard *g = by_io(io);

	while (g->head != NULL) {
		struct rsnapguard_held *h = g->head;

		g->head = h->next;
		held_free(h);
	}
	g->tail = NULL;
	g->close(io, cb);
}

int rsnapguard_install(struct rsnapguard *g, struct raft_io *io,
		       struct raft *raft)
{
	if (by_io(io) != NULL) {
		return -1;
	}
	memset(g, 0, sizeof(*g));
	g->io = io;
	g->raft = raft;
	g->start = io->start;
	g->put = io->snapshot_put;
	g->close = io->close;
	io->start = w_start;
	io->snapshot_put = w_put;
	io->close = w_close;
	g->next = guards;
	guards = g;
	return 0;
}

void rsnapguard_remove(struct rsnapguard *g)
{
	for (struct rsnapguard **p = &guards; *p != NULL; p = &(*p)->next) {
		if (*p == g) {
			*p = g->next;
			return;
		}
	}
}

unsigned long long rsnapguard_held(const struct rsnapguard *g)
{
	return g->held;
}
