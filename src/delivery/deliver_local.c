/*
 * deliver_local.c — the local groups of the delivery engine: every local
 * mailbox of one attempt goes through the node's one backend (local.h),
 *
 *   maildir — one job on the libuv thread pool writes the message into
 *     each mailbox in turn (local_maildir_deliver(), blocking: it never
 *     runs on the loop thread); the outcomes are settled back on the loop;
 *   lmtp — one LMTP session (smtp_client.c in LMTP mode) to lmtp_address,
 *     with a reply per recipient after the data.
 *
 * A mailbox named twice in one attempt is written once: the duplicates
 * take its outcome (group_done()).
 *
 * Owns: the group's Maildir jobs (their outcomes) and its LMTP session
 * while they run. Reads the delivery's body from the worker thread: the
 * delivery outlives the job (the group ends only in maildir_done()).
 *
 * Fails: no mail root, a bad lmtp_address, a job that cannot be queued or
 * a session that cannot start defer every recipient of the group (4.3.5,
 * 4.3.0, 4.4.1); a cancelled Maildir job settles nothing (the delivery's
 * cancel already deferred it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/cmd.h"
#include "src/delivery/deliver_impl.h"

/* ---- maildir ---- */

/* On a worker thread: write the message into each mailbox of the job. */
static void maildir_work(uv_work_t *w)
{
	struct group *g = w->data;
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;

	for (uint32_t k = 0; k < g->njobs; k++) {
		struct maildir_job *j = &g->jobs[k];
		const struct item *it = &dv->items[j->item];
		struct maildir_req m;

		m.root = d->s_root;
		m.user = it->lt.user;
		m.node = d->s_node;
		m.delivered_to = it->orig;
		m.return_path = dv->rec.sender;
		m.vms_from = dv->vms_from;
		m.msg = dv->body;
		m.len = dv->len;
		m.headers = (int)dv->cfg.num[CFG_OPT_HEADERS];
		j->outcome = local_maildir_deliver(&m, j->reply,
						   sizeof(j->reply), NULL, 0);
	}
}

static void maildir_done(uv_work_t *w, int status)
{
	struct group *g = w->data;
	struct delivery *dv = g->dv;

	if (status == 0 && !dv->cancelled)
		for (uint32_t k = 0; k < g->njobs; k++)
			delivery_settle(dv, g->jobs[k].item, g->jobs[k].outcome,
					g->jobs[k].reply, "local");
	group_done(g);
}

void maildir_group_start(struct group *g)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;

	if (d->s_root[0] == '\0') {
		group_settle_all(g, OUT_DEFERRED,
				 "451 4.3.5 no mail root configured", "local");
		return;
	}
	g->jobs = calloc(g->nit, sizeof(*g->jobs));
	if (g->jobs == NULL) {
		group_settle_all(g, OUT_DEFERRED, "451 4.3.0 out of memory",
				 "local");
		return;
	}
	for (uint32_t j = 0; j < g->nit; j++)
		g->jobs[j].item = g->it[j];
	g->njobs = g->nit;
	g->work.data = g;
	if (uv_queue_work(d->loop, &g->work, maildir_work, maildir_done) != 0) {
		group_settle_all(g, OUT_DEFERRED,
				 "451 4.3.0 cannot queue the delivery",
				 "local");
		return;
	}
	group_enter(g, GS_SENDING);
}

/* ---- lmtp ---- */

static void on_lmtp(void *arg, const struct smtp_client *c,
		    struct smtp_conn *keep)
{
	struct group *g = arg;
	struct delivery *dv = g->dv;

	if (!dv->cancelled)
		for (uint32_t k = 0; k < g->ncr; k++)
			delivery_settle(dv, g->cr_item[k], g->cr[k].outcome,
					g->cr[k].reply, "lmtp");
	group_done(g);
}

void lmtp_group_start(struct group *g)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;
	struct smtp_conn_target t;
	struct smtp_client_cfg cfg;
	char ip[DNS_IP_MAX];
	unsigned port;
	const char *path;
	int rc;

	memset(&t, 0, sizeof(t));
	if (local_lmtp_parse(d->s_lmtp, ip, sizeof(ip), &port, &path) != 0) {
		group_settle_all(g, OUT_DEFERRED, "451 4.3.5 bad lmtp_address",
				 "lmtp");
		return;
	}
	t.ip = path != NULL ? NULL : ip;
	t.port = port;
	t.unix_path = path;
	snprintf(g->peer, sizeof(g->peer), "lmtp[%s]", d->s_lmtp);
	group_build_rcpts(g, 1);
	group_client_cfg(g, &cfg, 1);
	group_enter(g, GS_SENDING);
	rc = smtp_conn_start(d->loop, &t, NULL, &cfg, g->cr, g->ncr, on_lmtp, g,
			     &g->conn);
	if (rc != 0) {
		group_settle_all(g, OUT_DEFERRED,
				 "451 4.4.1 cannot start the LMTP session",
				 "lmtp");
	}
}
