/*
 * control_change.c — what the service, configuration and table commands
 * share: a change proposed through raft and answered with one line
 * (struct ctl_change: the message when applied, the texts for "not found"
 * and for a value the spool refuses, extra result members), plus two
 * helpers of their show results and names.
 *
 * Owns: the answer of such a change, {"message", "value", "duplicate"} and
 * the extra members. Does not own the commands' arguments or texts (their
 * files: control_service.c, control_config.c, control_cluster.c) nor the
 * proposal path (ctl_propose, control_dispatch.c).
 *
 * Failures: a cluster error is answered by ctl_req_fail_cluster, a spool
 * status by the op's text or ctl_req_fail_spool; out of memory is answered
 * "failed". Every path answers exactly once and frees the op.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/control/control_impl.h"

/* Add "node" and "applied" (this node's applied count) to a show result. */
void ctl_add_applied(struct control *ctl, json_object *o)
{
	json_object_object_add(o, "node",
			       json_object_new_int64((int64_t)ctl->conf.id));
	json_object_object_add(
	    o, "applied",
	    json_object_new_int64((int64_t)spool_applied(ctl->sp)));
}

/* Lower-case s into out (size > strlen(s)), without a trailing root dot. */
void ctl_fold_name(char *out, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	if (n > 1 && out[n - 1] == '.')
		out[n - 1] = '\0';
}

/* ---- a change through the cluster with a one-line answer ---- */

void ctl_change_free(struct ctl_change *op)
{
	json_object_put(op->extra);
	free(op);
}

static void change_done(void *arg, int status, const struct spool_result *res)
{
	struct ctl_req *req = arg;
	struct ctl_change *op = req->priv;
	json_object *result;
	char msg[2 * CTL_CHANGE_MSG_MAX + 32];

	req->priv = NULL;
	if (status < 0) {
		ctl_change_free(op);
		ctl_req_fail_cluster(req, status, NULL);
		return;
	}
	if (res->status == SPOOL_E_NOTFOUND && op->notfound[0] != '\0') {
		ctl_req_fail(req, "not_found", "%s", op->notfound);
		ctl_change_free(op);
		return;
	}
	if (res->status == SPOOL_E_INVAL && op->inval[0] != '\0') {
		ctl_req_fail(req, "usage", "%s", op->inval);
		ctl_change_free(op);
		return;
	}
	if (res->status != 0) {
		ctl_change_free(op);
		ctl_req_fail_spool(req, res->status, req->cmd->name);
		return;
	}
	if (op->with_value)
		snprintf(msg, sizeof(msg), "%s%llu%s", op->ok,
			 (unsigned long long)res->value, op->ok_tail);
	else
		snprintf(msg, sizeof(msg), "%s", op->ok);
	result = json_object_new_object();
	if (op->extra != NULL) {
		json_object_object_foreach(op->extra, key, val)
		{
			json_object_object_add(result, key,
					       json_object_get(val));
		}
	}
	ctl_change_free(op);
	json_object_object_add(result, "message", json_object_new_string(msg));
	json_object_object_add(result, "value",
			       json_object_new_int64((int64_t)res->value));
	json_object_object_add(
	    result, "duplicate",
	    json_object_new_boolean((res->flags & RES_F_DUPLICATE) != 0));
	ctl_req_ok(req, result);
}

/* Propose cmd; the answer texts are in op (taken). */
void ctl_change_propose(struct ctl_req *req, const struct spool_cmd *cmd,
			struct ctl_change *op)
{
	int rc;

	req->priv = op;
	rc = ctl_propose(req, cmd, change_done, req);
	if (rc < 0) {
		req->priv = NULL;
		ctl_change_free(op);
		ctl_req_fail_cluster(req, rc, NULL);
	}
}

struct ctl_change *ctl_change_new(struct ctl_req *req)
{
	struct ctl_change *op = calloc(1, sizeof(*op));

	if (op == NULL)
		ctl_req_fail(req, "failed", "%s: out of memory",
			     req->cmd->name);
	return op;
}
