/*
 * control_analyze.c — ANALYZE MAIL on the node: the check of this node's
 * spool (spool_analyze) with the seed's kind of summary, /REPAIR (one
 * replicated REPAIR, then a bounded wait until this node has applied it,
 * to report what it repaired here), /DELETE=BEFORE|SINCE (REMOVE with
 * force) and /HOLD (HOLD) of the control files selected by creation time.
 *
 * Owns: the stages of one analyze mail request (report, repair, delete,
 * hold, answer) and its poll timer. Every path answers the request
 * exactly once; the timer is closed before the state is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/ctlname.h"
#include "src/control/control_impl.h"
#include "src/base/log.h"

#define PROBLEM_LIST_MAX 100
#define TIME_MAX_MS (4102444800000ull) /* year 2100 */

/* ---- analyze mail ---- */

struct analyze_op {
	struct ctl_req *req;
	json_object *result;
	json_object *failed;
	size_t nfailed;
	char user[CTLNAME_USER_MAX + 1];
	int repair;
	int has_before, has_since, has_hold;
	uint64_t before, since, hold;
	int stage;
	/* --repair: waiting for this node to apply the REPAIR */
	uint64_t found;	   /* problems this node's ANALYZE found */
	uint64_t seen;	   /* spool_applied() when last analyzed */
	uint64_t deadline; /* ms on the loop's clock */
	uv_timer_t timer;
	int timer_open;
};

static void analyze_next(struct analyze_op *op);

static void analyze_timer_closed(uv_handle_t *h)
{
	struct analyze_op *op = h->data;

	json_object_put(op->result);
	json_object_put(op->failed);
	free(op);
}

/* Free op (once its timer, if any, is closed). */
static void analyze_free(struct analyze_op *op)
{
	if (op->timer_open) {
		op->timer_open = 0;
		uv_close((uv_handle_t *)&op->timer, analyze_timer_closed);
		return;
	}
	json_object_put(op->result);
	json_object_put(op->failed);
	free(op);
}

/* Fail the whole command (no quorum, node stopping, out of memory). */
static void analyze_fail_cluster(struct analyze_op *op, int status)
{
	struct ctl_req *req = op->req;

	analyze_free(op);
	ctl_req_fail_cluster(req, status, NULL);
}

static int pred_delete(const struct spool_rec *rec, void *arg)
{
	const struct analyze_op *op = arg;

	return (!op->has_before || rec->created_ms < op->before) &&
	       (!op->has_since || rec->created_ms >= op->since);
}

static int pred_hold(const struct spool_rec *rec, void *arg)
{
	const struct analyze_op *op = arg;

	return !rec->hold && rec->created_ms < op->hold;
}

static void analyze_batch_done(struct ctl_batch *b)
{
	struct analyze_op *op = b->ctx;

	if (b->n > 0 && b->nok == 0 && b->nquorum == b->nfail) {
		ctl_batch_free(b);
		analyze_fail_cluster(op, CLUSTER_E_NOQUORUM);
		return;
	}
	json_object_object_add(op->result,
			       b->type == CMD_REMOVE ? "deleted" : "held",
			       json_object_new_int64((int64_t)b->nok));
	ctl_batch_failures(b, op->failed);
	op->nfailed += b->nfail;
	ctl_batch_free(b);
	analyze_next(op);
}

/* Problems this node's spool has now; -1 if the analysis failed. */
static int64_t analyze_count(struct control *ctl)
{
	struct spool_report rep;
	uint64_t total;

	if (spool_analyze(ctl->sp, &rep) < 0)
		return -1;
	total = spool_report_total(&rep);
	spool_report_free(&rep);
	return (int64_t)total;
}

/*
 * The REPAIR is applied on the leader; each node repairs its own copy when
 * it applies the entry. Wait (bounded by REPAIR_WAIT_MS) until this node's
 * spool has nothing left to repair, re-analyzing whenever it applied more
 * commands, then report what this node repaired.
 */
#define REPAIR_WAIT_MS 5000
#define REPAIR_POLL_MS 20

static void analyze_repair_poll(uv_timer_t *t)
{
	struct analyze_op *op = t->data;
	struct control *ctl = op->req->ctl;
	int64_t left = -1;

	if (ctl->stopping) {
		analyze_fail_cluster(op, CLUSTER_E_SHUTDOWN);
		return;
	}
	if (spool_applied(ctl->sp) != op->seen) {
		op->seen = spool_applied(ctl->sp);
		left = analyze_count(ctl);
		if (left == 0)
			goto done;
	}
	if (uv_now(ctl->loop) < op->deadline) {
		uv_timer_start(&op->timer, analyze_repair_poll, REPAIR_POLL_MS,
			       0);
		return;
	}
	left = analyze_count(ctl);
done:
	if (left < 0)
		left = (int64_t)op->found;
	json_object_object_add(
	    op->result, "repaired",
	    json_object_new_int64(left >= 0 && (uint64_t)left < op->found
				      ? (int64_t)op->found - left
				      : 0));
	json_object_object_add(op->result, "remaining",
			       json_object_new_int64(left));
	log_info("control: analyze mail --repair: %lld of %llu problems "
		 "repaired on this node",
		 (long long)((uint64_t)left < op->found
				 ? (int64_t)op->found - left
				 : 0),
		 (unsigned long long)op->found);
	analyze_next(op);
}

static void analyze_repair_done(void *arg, int status,
				const struct spool_result *res)
{
	struct analyze_op *op = arg;
	struct control *ctl = op->req->ctl;

	if (status < 0) {
		analyze_fail_cluster(op, status);
		return;
	}
	if (res->status != 0) {
		struct ctl_req *req = op->req;
		analyze_free(op);
		ctl_req_fail_spool(req, res->status, "analyze mail --repair");
		return;
	}
	json_object_object_add(op->result, "repaired_on_leader",
			       json_object_new_int64((int64_t)res->value));
	if (ctl->stopping) {
		analyze_fail_cluster(op, CLUSTER_E_SHUTDOWN);
		return;
	}
	if (!op->timer_open) {
		uv_timer_init(ctl->loop, &op->timer);
		op->timer.data = op;
		op->timer_open = 1;
	}
	op->seen = spool_applied(ctl->sp) - 1; /* analyze at once */
	op->deadline = uv_now(ctl->loop) + REPAIR_WAIT_MS;
	analyze_repair_poll(&op->timer);
}

/* The report of spool_analyze() into op->result. 0 or -1 (answered). */
static int analyze_report(struct analyze_op *op)
{
	struct control *ctl = op->req->ctl;
	struct spool_report rep;
	json_object *probs, *list;
	int rc;

	rc = spool_analyze(ctl->sp, &rep);
	if (rc < 0) {
		struct ctl_req *req = op->req;
		analyze_free(op);
		ctl_req_fail(req, "failed", "analyze mail: %s",
			     spool_strerror(rc));
		return -1;
	}
	json_object_object_add(op->result, "node",
			       json_object_new_int64((int64_t)ctl->conf.id));
	json_object_object_add(
	    op->result, "files_checked",
	    json_object_new_int64((int64_t)rep.files_checked));
	probs = json_object_new_object();
	for (int k = PROB_DUE_MISSING; k <= PROB_CTL_DONE; k++)
		json_object_object_add(
		    probs, spool_problem_name(k),
		    json_object_new_int64((int64_t)rep.counts[k]));
	json_object_object_add(op->result, "problems", probs);
	op->found = spool_report_total(&rep);
	json_object_object_add(op->result, "total",
			       json_object_new_int64((int64_t)op->found));
	list = json_object_new_array();
	for (uint32_t i = 0; i < rep.n && i < PROBLEM_LIST_MAX; i++) {
		json_object *p = json_object_new_object();
		json_object_object_add(
		    p, "kind",
		    json_object_new_string(
			spool_problem_name(rep.list[i].kind)));
		json_object_object_add(
		    p, "name", json_object_new_string(rep.list[i].name));
		json_object_array_add(list, p);
	}
	json_object_object_add(op->result, "list", list);
	log_info("control: analyze mail: %llu control files checked, %llu "
		 "problems",
		 (unsigned long long)rep.files_checked,
		 (unsigned long long)spool_report_total(&rep));
	spool_report_free(&rep);
	return 0;
}

/* Select the files of stage delete or hold and start the batch. */
static void analyze_batch(struct analyze_op *op, int type)
{
	struct ctl_mail_sel sel;
	struct ctl_req *req = op->req;

	memset(&sel, 0, sizeof(sel));
	memcpy(sel.user, op->user, sizeof(sel.user));
	sel.pred = type == CMD_REMOVE ? pred_delete : pred_hold;
	sel.pred_arg = op;
	if (ctl_sel_collect(req, &sel) != 0) {
		op->req = NULL; /* answered */
		analyze_free(op);
		return;
	}
	if (ctl_batch_start(req, &sel, type, 0, 1, analyze_batch_done, op) !=
	    0) {
		ctl_sel_free(&sel);
		analyze_free(op);
		ctl_req_fail(req, "failed", "analyze mail: out of memory");
	}
}

/* Run the stages: report, repair, delete, hold, answer. */
static void analyze_next(struct analyze_op *op)
{
	struct ctl_req *req = op->req;
	struct spool_cmd cmd;
	int rc;

	if (req->ctl->stopping && op->stage > 0 && op->stage < 4) {
		analyze_fail_cluster(op, CLUSTER_E_SHUTDOWN);
		return;
	}
	switch (op->stage++) {
	case 0:
		if (analyze_report(op) == 0)
			analyze_next(op);
		return;
	case 1:
		if (!op->repair) {
			analyze_next(op);
			return;
		}
		memset(&cmd, 0, sizeof(cmd));
		cmd.type = CMD_REPAIR;
		rc = ctl_propose(req, &cmd, analyze_repair_done, op);
		if (rc < 0)
			analyze_fail_cluster(op, rc);
		return;
	case 2:
		if (!op->has_before && !op->has_since) {
			analyze_next(op);
			return;
		}
		analyze_batch(op, CMD_REMOVE);
		return;
	case 3:
		if (!op->has_hold) {
			analyze_next(op);
			return;
		}
		analyze_batch(op, CMD_HOLD);
		return;
	default: {
		json_object *result = op->result;
		json_object_object_add(result, "failed", op->failed);
		json_object_object_add(
		    result, "failed_count",
		    json_object_new_int64((int64_t)op->nfailed));
		op->failed = NULL;
		op->result = NULL;
		analyze_free(op);
		ctl_req_ok(req, result);
		return;
	}
	}
}

void ctl_analyze_mail(struct ctl_req *req)
{
	struct analyze_op *op;
	const char *user = NULL;
	int repair;
	uint64_t before = 0, since = 0, hold = 0;
	int hb, hs, hh;

	if (ctl_arg_str(req, "user", 0, CTLNAME_USER_MAX, &user) < 0 ||
	    ctl_arg_bool(req, "repair", &repair) < 0 ||
	    (hb = ctl_arg_u64(req, "delete_before", 0, 0, TIME_MAX_MS,
			      &before)) < 0 ||
	    (hs = ctl_arg_u64(req, "delete_since", 0, 0, TIME_MAX_MS, &since)) <
		0 ||
	    (hh = ctl_arg_u64(req, "hold", 0, 0, TIME_MAX_MS, &hold)) < 0)
		return;
	if (user != NULL && !ctlname_user_ok(user)) {
		ctl_req_fail(req, "usage",
			     "analyze mail: \"%s\" is not a user name", user);
		return;
	}
	if (hb == 0 && hs == 0 && since >= before) {
		ctl_req_fail(req, "usage",
			     "analyze mail: --delete-since is not before "
			     "--delete-before: nothing would be deleted");
		return;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		ctl_req_fail(req, "failed", "analyze mail: out of memory");
		return;
	}
	op->req = req;
	op->result = json_object_new_object();
	op->failed = json_object_new_array();
	if (user != NULL)
		memcpy(op->user, user, strlen(user) + 1);
	op->repair = repair;
	op->has_before = hb == 0;
	op->has_since = hs == 0;
	op->has_hold = hh == 0;
	op->before = before;
	op->since = since;
	op->hold = hold;
	analyze_next(op);
}
