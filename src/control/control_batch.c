/*
 * control_batch.c — one replicated command per selected control file
 * (REQUEUE for send mail, REMOVE for remove mail and analyze mail
 * --delete-*, HOLD for --hold), at most BATCH_WINDOW proposals in flight,
 * and the messages for the files that could not be changed.
 *
 * Owns: a batch's progress and per-file outcome (control_impl.h, struct
 * ctl_batch). Does not own the selection (control_mail.c) or the answer
 * (the batch's done callback). If the node starts stopping, no new
 * proposal is made and the files not yet proposed count as failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/control/control_impl.h"
#include "src/base/log.h"

#define BATCH_WINDOW 64	    /* proposals in flight at once */
#define FAILED_LIST_MAX 100 /* failures listed in an answer */

/* ---- proposing a command per selected file ---- */

void ctl_batch_free(struct ctl_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->items[i].name);
	free(b->items);
	free(b->slots);
	free(b->status);
	free(b);
}

static void batch_fill(struct ctl_batch *b);

static void batch_record(struct ctl_batch *b, size_t i, int status)
{
	b->status[i] = status;
	if (status == 0) {
		b->nok++;
		return;
	}
	b->nfail++;
	if (status == CLUSTER_E_NOQUORUM)
		b->nquorum++;
}

static void batch_cb(void *arg, int status, const struct spool_result *res)
{
	struct ctl_batch_slot *s = arg;
	struct ctl_batch *b = s->b;

	b->inflight--;
	batch_record(b, s->i, status < 0 ? status : res->status);
	batch_fill(b);
}

/* Propose item i. */
static int batch_propose(struct ctl_batch *b, size_t i)
{
	struct spool_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = b->type;
	switch (b->type) {
	case CMD_REQUEUE:
		cmd.u.requeue.name = b->items[i].name;
		cmd.u.requeue.after_ms = b->after_ms;
		break;
	case CMD_REMOVE:
		cmd.u.remove.name = b->items[i].name;
		cmd.u.remove.force = b->force;
		break;
	default:
		cmd.u.hold.name = b->items[i].name;
		break;
	}
	b->slots[i].b = b;
	b->slots[i].i = i;
	return ctl_propose(b->req, &cmd, batch_cb, &b->slots[i]);
}

/* Keep up to BATCH_WINDOW proposals in flight; call done at the end. */
static void batch_fill(struct ctl_batch *b)
{
	int stopping;

	if (b->filling)
		return;
	b->filling = 1;
	for (;;) {
		stopping = b->req->ctl->stopping;
		while (b->next < b->n && b->inflight < BATCH_WINDOW &&
		       !stopping) {
			size_t i = b->next++;
			int rc;
			b->inflight++;
			rc = batch_propose(b, i);
			if (rc < 0) {
				b->inflight--;
				batch_record(b, i, rc);
			}
			if (b->next % 10000 == 0)
				log_info("control: %s: %zu of %zu proposed",
					 b->req->cmd->name, b->next, b->n);
		}
		if (b->inflight > 0)
			break;
		while (b->next < b->n) /* stopping: the rest is not done */
			batch_record(b, b->next++, CLUSTER_E_SHUTDOWN);
		b->filling = 0;
		b->done(b);
		return;
	}
	b->filling = 0;
}

/* Start proposing type for every item of sel (the items are taken); done
 * is called once, possibly before this returns. -1 if out of memory
 * (nothing started, sel unchanged). */
int ctl_batch_start(struct ctl_req *req, struct ctl_mail_sel *sel, int type,
		    uint64_t after_ms, int force, ctl_batch_done_fn done,
		    void *ctx)
{
	struct ctl_batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -1;
	b->slots = calloc(sel->n ? sel->n : 1, sizeof(*b->slots));
	b->status = calloc(sel->n ? sel->n : 1, sizeof(*b->status));
	if (b->slots == NULL || b->status == NULL) {
		free(b->slots);
		free(b->status);
		free(b);
		return -1;
	}
	b->req = req;
	b->type = (uint8_t)type;
	b->after_ms = after_ms;
	b->force = (uint8_t)force;
	b->items = sel->items;
	b->n = sel->n;
	b->done = done;
	b->ctx = ctx;
	sel->items = NULL;
	sel->n = sel->cap = 0;
	if (b->n >= 1000)
		log_info("control: %s: %zu control files", req->cmd->name,
			 b->n);
	batch_fill(b);
	return 0;
}

/* The message for a failed item. */
void ctl_batch_error(struct control *ctl, const char *name, int status,
		     char *buf, size_t size)
{
	char t[64];
	struct spool_ctl c;
	int have = 0;

	if (status == SPOOL_E_CLAIMED || status == SPOOL_E_CLAIM_STALE)
		have =
		    ctl->stopping ? 0 : spool_ctl_get(ctl->sp, name, &c) == 0;
	switch (status) {
	case SPOOL_E_CLAIMED:
		if (have && c.rec.claim.node != 0)
			snprintf(
			    buf, size,
			    "control file %s is being delivered by node "
			    "%llu (lease until %s); try again later",
			    name, (unsigned long long)c.rec.claim.node,
			    ctl_fmt_time(c.rec.claim.lease_end, t, sizeof(t)));
		else
			snprintf(buf, size,
				 "control file %s is being delivered; try "
				 "again later",
				 name);
		break;
	case SPOOL_E_CLAIM_STALE:
		snprintf(
		    buf, size,
		    "control file %s was claimed by node %llu, whose "
		    "lease ended at %s; give --force to remove it",
		    name, have ? (unsigned long long)c.rec.claim.node : 0ull,
		    have ? ctl_fmt_time(c.rec.claim.lease_end, t, sizeof(t))
			 : "?");
		break;
	case SPOOL_E_NOTFOUND:
		snprintf(buf, size, "control file %s is no longer queued",
			 name);
		break;
	case CLUSTER_E_NOQUORUM:
		snprintf(buf, size,
			 "%s: no quorum: the cluster has no leader reachable "
			 "from this node",
			 name);
		break;
	case CLUSTER_E_SHUTDOWN:
		snprintf(buf, size, "%s: not done: the node is stopping", name);
		break;
	default:
		snprintf(buf, size, "%s: %s", name,
			 status <= CLUSTER_E_NOQUORUM
			     ? "the cluster refused the change"
			     : spool_strerror(status));
		break;
	}
	if (have)
		spool_ctl_free(&c);
}

const char *ctl_batch_code(int status)
{
	if (status == SPOOL_E_NOTFOUND)
		return "not_found";
	if (status == CLUSTER_E_NOQUORUM)
		return "no_quorum";
	return "failed";
}

/* Append b's failures to list (at most FAILED_LIST_MAX in all). */
void ctl_batch_failures(struct ctl_batch *b, json_object *list)
{
	char text[512];

	for (size_t i = 0; i < b->n; i++) {
		json_object *f;
		if (b->status[i] == 0)
			continue;
		if (json_object_array_length(list) >= FAILED_LIST_MAX)
			break;
		ctl_batch_error(b->req->ctl, b->items[i].name, b->status[i],
				text, sizeof(text));
		f = json_object_new_object();
		json_object_object_add(
		    f, "name", json_object_new_string(b->items[i].name));
		json_object_object_add(
		    f, "code",
		    json_object_new_string(ctl_batch_code(b->status[i])));
		json_object_object_add(f, "error",
				       json_object_new_string(text));
		json_object_array_add(list, f);
	}
}
