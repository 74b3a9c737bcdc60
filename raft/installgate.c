/*
 * installgate.c — one copy of a snapshot image on its way at a time
 * (installgate.h says why and how).
 *
 * Owns the image metadata it caches, the marker table and its pending
 * callbacks (struct rigate_job, freed when run). Does not own the
 * backend's snapshots or libraft's requests. Finding a gate: raft_io
 * callbacks carry only io or the request, so the installed gates are
 * kept in one list (a process has one raft node; unit tests may have
 * more). Fails open: no room in a table, or no pool to run a callback
 * later, and the request goes to the backend as it came.
 */
#include "raft/installgate.h"

#include <stdlib.h>
#include <string.h>

#include "raft/rlog.h"

static SLIST_HEAD(rigate_head, rigate) gates = SLIST_HEAD_INITIALIZER(gates);

struct rigate_job {
	uv_work_t work;
	struct rigate *g;
	struct raft_io_snapshot_get *get_req;
	raft_io_snapshot_get_cb get_cb;
	struct raft_snapshot *snap; /* a marker for get_req */
	struct raft_io_send *send_req;
	raft_io_send_cb send_cb;
};

static struct rigate *by_io(struct raft_io *io)
{
	struct rigate *g;

	SLIST_FOREACH (g, &gates, next_gate)
		if (g->io == io)
			return g;
	return NULL;
}

static struct rigate *by_load(struct raft_io_snapshot_get *req)
{
	struct rigate *g;

	SLIST_FOREACH (g, &gates, next_gate)
		if (g->load.active && g->load.req == req)
			return g;
	return NULL;
}

static struct rigate *by_send(struct raft_io_send *req, int *slot)
{
	struct rigate *g;

	SLIST_FOREACH (g, &gates, next_gate)
		for (int i = 0; i < RIGATE_SERVERS; i++)
			if (g->sent[i].inflight && g->sent[i].req == req) {
				*slot = i;
				return g;
			}
	return NULL;
}

/* Copy a configuration (raft's API has no copy). */
static int conf_copy(struct raft_configuration *dst,
		     const struct raft_configuration *src)
{
	raft_configuration_init(dst);
	for (unsigned i = 0; i < src->n; i++) {
		const struct raft_server *s = &src->servers[i];

		if (raft_configuration_add(dst, s->id, s->address, s->role) !=
		    0) {
			raft_configuration_close(dst);
			return -1;
		}
	}
	return 0;
}

static int marker_slot(const struct rigate *g, const void *base)
{
	if (base == NULL)
		return -1;
	for (int i = 0; i < RIGATE_MARKERS; i++)
		if (g->markers[i] == base)
			return i;
	return -1;
}

/* A marker snapshot of the cached image, or NULL (no room, no memory). */
static struct raft_snapshot *marker_new(struct rigate *g)
{
	struct raft_snapshot *s;
	int slot = -1;

	for (int i = 0; i < RIGATE_MARKERS && slot < 0; i++)
		if (g->markers[i] == NULL)
			slot = i;
	if (slot < 0)
		return NULL;
	s = raft_calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->bufs = raft_malloc(sizeof(*s->bufs));
	if (s->bufs == NULL)
		goto err_after_snap;
	s->bufs[0].base = raft_malloc(1);
	s->bufs[0].len = 0;
	if (s->bufs[0].base == NULL)
		goto err_after_bufs;
	if (conf_copy(&s->configuration, &g->img.conf) != 0)
		goto err_after_base;
	s->n_bufs = 1;
	s->index = g->img.index;
	s->term = g->img.term;
	s->configuration_index = g->img.conf_index;
	g->markers[slot] = s->bufs[0].base;
	return s;

err_after_base:
	raft_free(s->bufs[0].base);
err_after_bufs:
	raft_free(s->bufs);
err_after_snap:
	raft_free(s);
	return NULL;
}

static void marker_free(struct raft_snapshot *s)
{
	raft_configuration_close(&s->configuration);
	raft_free(s->bufs[0].base);
	raft_free(s->bufs);
	raft_free(s);
}

static void marker_forget(struct rigate *g, const void *base)
{
	int i = marker_slot(g, base);

	if (i >= 0)
		g->markers[i] = NULL;
}

/* 1 while an image of the cached snapshot is on its way to a server. */
static int image_on_its_way(const struct rigate *g)
{
	uint64_t now = g->now_ms();

	if (!g->img.valid || g->img.index < g->put_index)
		return 0;
	for (int i = 0; i < RIGATE_SERVERS; i++) {
		if (g->sent[i].id == 0 || g->sent[i].index != g->img.index)
			continue;
		if (g->sent[i].inflight ||
		    (g->sent[i].done_ms != 0 &&
		     now - g->sent[i].done_ms < RIGATE_RECENT_MS))
			return 1;
	}
	return 0;
}

/* ---- callbacks run later (one loop turn): markers ---- */

static void job_nop(uv_work_t *w)
{
	(void)w;
}

static void job_done(uv_work_t *w, int status)
{
	struct rigate_job *j = w->data;
	struct rigate *g = j->g;

	(void)status; /* cancelled with the loop: run the callback anyway */
	if (j->get_cb != NULL) {
		j->get_cb(j->get_req, j->snap, 0); /* raft owns the marker */
	} else {
		/* libraft frees the marker in its send callback */
		j->send_cb(j->send_req, g->closing ? RAFT_CANCELED : 0);
	}
	free(j);
	if (--g->pending == 0 && g->close_waiting) {
		g->close_waiting = 0;
		g->close(g->io, g->close_cb);
	}
}

static int job_queue(struct rigate *g, struct rigate_job *j)
{
	j->g = g;
	j->work.data = j;
	if (uv_queue_work(g->loop, &j->work, job_nop, job_done) != 0)
		return -1;
	g->pending++;
	return 0;
}

/* ---- snapshot_get ---- */

static void remember_image(struct rigate *g, const struct raft_snapshot *s)
{
	struct raft_configuration conf;

	if (conf_copy(&conf, &s->configuration) != 0)
		return;
	if (g->img.valid)
		raft_configuration_close(&g->img.conf);
	g->img.conf = conf;
	g->img.index = s->index;
	g->img.term = s->term;
	g->img.conf_index = s->configuration_index;
	g->img.valid = 1;
}

/* A waiter gets a marker, or its own load when there is none. */
static void serve_waiter(struct rigate *g, struct raft_io_snapshot_get *req,
			 raft_io_snapshot_get_cb cb)
{
	struct raft_snapshot *m = NULL;
	int rv;

	if (g->img.valid && g->img.index >= g->put_index)
		m = marker_new(g);
	if (m != NULL) {
		g->coalesced++;
		cb(req, m, 0);
		return;
	}
	g->loads++;
	rv = g->get(g->io, req, cb);
	if (rv != 0)
		cb(req, NULL, rv); /* what the backend does when a load fails */
}

static void on_load(struct raft_io_snapshot_get *req,
		    struct raft_snapshot *snapshot, int status)
{
	struct rigate *g = by_load(req);
	raft_io_snapshot_get_cb cb;
	unsigned n;

	if (g == NULL)
		return; /* cannot happen: w_get recorded it */
	cb = g->load.cb;
	memset(&g->load, 0, sizeof(g->load));
	if (status == 0 && snapshot != NULL)
		remember_image(g, snapshot);
	cb(req, snapshot, status);
	n = g->nwaiters;
	g->nwaiters = 0;
	for (unsigned i = 0; i < n; i++)
		serve_waiter(g, g->waiters[i].req, g->waiters[i].cb);
}

static int w_get(struct raft_io *io, struct raft_io_snapshot_get *req,
		 raft_io_snapshot_get_cb cb)
{
	struct rigate *g = by_io(io);
	struct rigate_job *j;
	int rv;

	if (!g->closing && g->load.active && g->nwaiters < RIGATE_WAITERS) {
		g->waiters[g->nwaiters].req = req;
		g->waiters[g->nwaiters].cb = cb;
		g->nwaiters++;
		return 0;
	}
	if (!g->closing && !g->load.active && image_on_its_way(g)) {
		j = calloc(1, sizeof(*j));
		if (j != NULL) {
			j->snap = marker_new(g);
			j->get_req = req;
			j->get_cb = cb;
		}
		if (j != NULL && j->snap != NULL && job_queue(g, j) == 0) {
			g->coalesced++;
			return 0;
		}
		if (j != NULL && j->snap != NULL) {
			marker_forget(g, j->snap->bufs[0].base);
			marker_free(j->snap);
		}
		free(j);
	}
	g->loads++;
	if (g->load.active)
		return g->get(io, req, cb); /* no room to wait: its own */
	g->load.active = 1;
	g->load.req = req;
	g->load.cb = cb;
	rv = g->get(io, req, on_load);
	if (rv != 0)
		memset(&g->load, 0, sizeof(g->load));
	return rv;
}

/* ---- send ---- */

static int sent_slot(struct rigate *g, raft_id id)
{
	int free_slot = -1;

	for (int i = 0; i < RIGATE_SERVERS; i++) {
		if (g->sent[i].id == id)
			return i;
		if (free_slot < 0 && g->sent[i].id == 0)
			free_slot = i;
	}
	return free_slot;
}

static void on_sent(struct raft_io_send *req, int status)
{
	int i;
	struct rigate *g = by_send(req, &i);
	raft_io_send_cb cb;

	if (g == NULL)
		return; /* cannot happen: w_send recorded it */
	cb = g->sent[i].cb;
	g->sent[i].inflight = 0;
	g->sent[i].req = NULL;
	g->sent[i].cb = NULL;
	if (status == 0) {
		g->sent[i].done_ms = g->now_ms();
		if (g->sent[i].done_ms == 0)
			g->sent[i].done_ms = 1;
	} else {
		/* not delivered: the next request loads and sends it */
		g->sent[i].index = 0;
		g->sent[i].done_ms = 0;
	}
	cb(req, status);
}

/* An InstallSnapshot carrying a marker: complete it unsent. */
static int drop_install(struct rigate *g, struct raft_io_send *req,
			const struct raft_message *m, raft_io_send_cb cb)
{
	const struct raft_install_snapshot *is = &m->install_snapshot;
	struct rigate_job *j;
	int i = sent_slot(g, m->server_id);

	if (g->closing || (j = calloc(1, sizeof(*j))) == NULL) {
		marker_forget(g, is->data.base); /* raft frees it */
		return RAFT_CANCELED;
	}
	j->send_req = req;
	j->send_cb = cb;
	if (job_queue(g, j) != 0) {
		free(j);
		marker_forget(g, is->data.base);
		return RAFT_NOMEM;
	}
	marker_forget(g, is->data.base);
	g->dropped++;
	if (i >= 0 && g->sent[i].id == m->server_id &&
	    g->sent[i].index == is->last_index) {
		if (!g->sent[i].told) {
			g->sent[i].told = 1;
			rlog_info("raft: snapshot %llu is on its way to server "
				  "%llu: not loading or sending it again",
				  (unsigned long long)is->last_index,
				  (unsigned long long)m->server_id);
		}
	}
	return 0;
}

static int w_send(struct raft_io *io, struct raft_io_send *req,
		  const struct raft_message *m, raft_io_send_cb cb)
{
	struct rigate *g = by_io(io);
	int i;
	int rv;

	if (m->type != RAFT_INSTALL_SNAPSHOT)
		return g->send(io, req, m, cb);
	if (marker_slot(g, m->install_snapshot.data.base) >= 0)
		return drop_install(g, req, m, cb);
	i = sent_slot(g, m->server_id);
	if (i < 0 || g->sent[i].inflight)
		return g->send(io, req, m, cb); /* not remembered */
	g->sent[i].id = m->server_id;
	g->sent[i].index = m->install_snapshot.last_index;
	g->sent[i].inflight = 1;
	g->sent[i].told = 0;
	g->sent[i].done_ms = 0;
	g->sent[i].req = req;
	g->sent[i].cb = cb;
	rv = g->send(io, req, m, on_sent);
	if (rv != 0) {
		memset(&g->sent[i], 0, sizeof(g->sent[i]));
	}
	return rv;
}

/* ---- snapshot_put, close ---- */

static int w_put(struct raft_io *io, unsigned trailing,
		 struct raft_io_snapshot_put *req,
		 const struct raft_snapshot *snapshot,
		 raft_io_snapshot_put_cb cb)
{
	struct rigate *g = by_io(io);

	if (snapshot->index > g->put_index)
		g->put_index = snapshot->index;
	return g->put(io, trailing, req, snapshot, cb);
}

static void w_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct rigate *g = by_io(io);

	g->closing = 1;
	if (g->pending > 0) {
		g->close_cb = cb; /* job_done closes after the last one */
		g->close_waiting = 1;
		return;
	}
	g->close(io, cb);
}

void rigate_install(struct rigate *g, struct raft_io *io, uv_loop_t *loop,
		    uint64_t (*now_ms)(void))
{
	memset(g, 0, sizeof(*g));
	g->io = io;
	g->loop = loop;
	g->now_ms = now_ms;
	g->send = io->send;
	g->get = io->snapshot_get;
	g->put = io->snapshot_put;
	g->close = io->close;
	io->send = w_send;
	io->snapshot_get = w_get;
	io->snapshot_put = w_put;
	io->close = w_close;
	SLIST_INSERT_HEAD(&gates, g, next_gate);
}

void rigate_remove(struct rigate *g)
{
	struct rigate *k;

	SLIST_FOREACH (k, &gates, next_gate) {
		if (k == g) {
			SLIST_REMOVE(&gates, g, rigate, next_gate);
			break;
		}
	}
	if (g->img.valid) {
		raft_configuration_close(&g->img.conf);
		g->img.valid = 0;
	}
}
