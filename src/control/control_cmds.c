/*
 * control_cmds.c — the control server's command table and the handlers of
 * the cluster and alias commands: cluster status/add/remove/transfer,
 * set/remove alias, show aliases. The mail commands are in
 * control_mail.c, the node, service, configuration and other table
 * commands in control_tables.c, submit in control_submit.c, the debug
 * commands in control_debug.c.
 *
 * Owns: which commands exist on the wire, which need admin, which argument
 * names each accepts, and how each maps to the cluster (cluster.h) or to
 * the local spool (show commands read this node's copy, which may trail
 * the leader by the entries it has not applied yet). Does not own: the
 * socket, framing or credentials (control.c).
 *
 * Every handler answers exactly once (control_impl.h). Errors a client can
 * cause are "usage"; outcomes of the spool ("not_found", "failed") and of
 * the cluster ("no_quorum") are mapped by control.c's helpers.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/aliases.h"
#include "src/control/control_impl.h"

#define ADDR_MAX 255
#define ID_MAX ((uint64_t)INT64_MAX)

/* Encode cmd and propose it through the cluster (see control_impl.h). */
int ctl_propose(struct ctl_req *req, const struct spool_cmd *cmd,
		cluster_propose_cb cb, void *arg)
{
	struct wbuf wb;
	int rc;

	if (req->ctl->cl == NULL)
		return CLUSTER_E_SHUTDOWN;
	wbuf_init(&wb);
	rc = spool_cmd_encode(cmd, &wb);
	if (rc == 0 && wb.err != 0)
		rc = wb.err;
	if (rc == 0)
		rc = cluster_propose(req->ctl->cl, wb.p, wb.len, cb, arg);
	wbuf_free(&wb);
	return rc;
}

/* ---- cluster ---- */

static void status_done(void *arg, int status, char *json)
{
	struct ctl_req *req = arg;
	json_object *o = NULL;

	if (status < 0) {
		free(json);
		ctl_req_fail_cluster(req, status, NULL);
		return;
	}
	if (json != NULL)
		o = json_tokener_parse(json);
	free(json);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		ctl_req_fail(req, "failed",
			     "cluster status: the cluster returned no status");
		return;
	}
	ctl_req_ok(req, o);
}

static void cmd_cluster_status(struct ctl_req *req)
{
	int rc;

	if (req->ctl->cl == NULL) {
		ctl_req_fail_cluster(req, CLUSTER_E_SHUTDOWN, NULL);
		return;
	}
	rc = cluster_status(req->ctl->cl, status_done, req);
	if (rc < 0)
		ctl_req_fail_cluster(req, rc, NULL);
}

/* Membership change done: answer with what was asked. */
static void membership_done(void *arg, int status, const char *msg)
{
	struct ctl_req *req = arg;
	json_object *result;

	if (status < 0) {
		ctl_req_fail_cluster(req, status, msg);
		return;
	}
	result = json_object_new_object();
	json_object_object_foreach(req->args, key, val)
	{
		json_object_object_add(result, key, json_object_get(val));
	}
	if (msg != NULL && msg[0] != '\0')
		json_object_object_add(result, "message",
				       json_object_new_string(msg));
	ctl_req_ok(req, result);
}

static void cmd_cluster_add(struct ctl_req *req)
{
	char host[ADDR_MAX + 1];
	const char *addr;
	uint64_t id;
	int port, rc;

	if (ctl_arg_u64(req, "id", 1, 1, ID_MAX, &id) != 0 ||
	    ctl_arg_str(req, "address", 1, ADDR_MAX, &addr) != 0)
		return;
	if (nodeconf_split_addr(addr, host, sizeof(host), &port) != 0) {
		ctl_req_fail(req, "usage",
			     "cluster add: \"%s\" is not HOST:PORT", addr);
		return;
	}
	if (req->ctl->cl == NULL) {
		ctl_req_fail_cluster(req, CLUSTER_E_SHUTDOWN, NULL);
		return;
	}
	rc = cluster_add(req->ctl->cl, id, addr, membership_done, req);
	if (rc < 0)
		ctl_req_fail_cluster(req, rc, NULL);
}

static void cmd_cluster_remove(struct ctl_req *req)
{
	uint64_t id;
	int rc;

	if (ctl_arg_u64(req, "id", 1, 1, ID_MAX, &id) != 0)
		return;
	if (req->ctl->cl == NULL) {
		ctl_req_fail_cluster(req, CLUSTER_E_SHUTDOWN, NULL);
		return;
	}
	rc = cluster_remove(req->ctl->cl, id, membership_done, req);
	if (rc < 0)
		ctl_req_fail_cluster(req, rc, NULL);
}

static void cmd_cluster_transfer(struct ctl_req *req)
{
	uint64_t id = 0;
	int rc;

	if (ctl_arg_u64(req, "id", 0, 1, ID_MAX, &id) < 0)
		return;
	if (req->ctl->cl == NULL) {
		ctl_req_fail_cluster(req, CLUSTER_E_SHUTDOWN, NULL);
		return;
	}
	rc = cluster_transfer(req->ctl->cl, id, membership_done, req);
	if (rc < 0)
		ctl_req_fail_cluster(req, rc, NULL);
}

/* ---- aliases ---- */

struct alias_op {
	char domain[ALIASES_NAME_MAX + 1];
};

static void alias_done(void *arg, int status, const struct spool_result *res)
{
	struct ctl_req *req = arg;
	struct alias_op *op = req->priv;
	char domain[sizeof(op->domain)];
	json_object *result;

	memcpy(domain, op->domain, sizeof(domain));
	free(op);
	req->priv = NULL;
	if (status < 0) {
		ctl_req_fail_cluster(req, status, NULL);
		return;
	}
	if (res->status == SPOOL_E_NOTFOUND) {
		ctl_req_fail(req, "not_found", "%s: no alias %s",
			     req->cmd->name, domain);
		return;
	}
	if (res->status != 0) {
		ctl_req_fail_spool(req, res->status, req->cmd->name);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "domain",
			       json_object_new_string(domain));
	json_object_object_add(
	    result, "changed",
	    json_object_new_boolean(!(res->flags & RES_F_DUPLICATE)));
	ctl_req_ok(req, result);
}

/* set alias / remove alias: one domain, through the cluster. */
static void alias_change(struct ctl_req *req, int type)
{
	struct spool_cmd cmd;
	struct alias_op *op;
	const char *d;
	size_t n;
	int rc;

	if (ctl_arg_str(req, "domain", 1, ALIASES_NAME_MAX, &d) != 0)
		return;
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		ctl_req_fail(req, "failed", "out of memory");
		return;
	}
	n = strlen(d);
	for (size_t i = 0; i < n; i++)
		op->domain[i] = (char)tolower((unsigned char)d[i]);
	if (n > 1 && op->domain[n - 1] == '.')
		op->domain[n - 1] = '\0'; /* the DNS root dot is not kept */
	if (!aliases_domain_ok(op->domain)) {
		free(op);
		ctl_req_fail(req, "usage", "%s: \"%s\" is not a domain name",
			     req->cmd->name, d);
		return;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = (uint8_t)type;
	cmd.u.alias.domain = op->domain;
	req->priv = op;
	rc = ctl_propose(req, &cmd, alias_done, req);
	if (rc < 0) {
		free(op);
		req->priv = NULL;
		ctl_req_fail_cluster(req, rc, NULL);
	}
}

static void cmd_set_alias(struct ctl_req *req)
{
	alias_change(req, CMD_ALIAS_ADD);
}

static void cmd_remove_alias(struct ctl_req *req)
{
	alias_change(req, CMD_ALIAS_REMOVE);
}

static int alias_visit(const char *a, const char *b, uint64_t n, void *arg)
{
	(void)b;
	(void)n;
	json_object_array_add(arg, json_object_new_string(a));
	return 0;
}

static void cmd_show_aliases(struct ctl_req *req)
{
	json_object *arr = json_object_new_array();
	json_object *result;
	int rc;

	rc = spool_alias_foreach(req->ctl->sp, alias_visit, arr);
	if (rc < 0) {
		json_object_put(arr);
		ctl_req_fail(req, "failed", "show aliases: %s",
			     spool_strerror(rc));
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "aliases", arr);
	json_object_object_add(
	    result, "applied",
	    json_object_new_int64((int64_t)spool_applied(req->ctl->sp)));
	ctl_req_ok(req, result);
}

/* The command table: name on the wire, admin, audit, argument names,
 * handler (struct control_cmd). smtpctl's grammar (cli/grammar.c) has the
 * matching words. */
const struct control_cmd control_cmds[] = {
    {"cluster status", 1, 0, "", cmd_cluster_status},
    {"cluster add", 1, 1, "id,address", cmd_cluster_add},
    {"cluster remove", 1, 1, "id", cmd_cluster_remove},
    {"cluster transfer", 1, 1, "id", cmd_cluster_transfer},
    {"set alias", 1, 1, "domain", cmd_set_alias},
    {"remove alias", 1, 1, "domain", cmd_remove_alias},
    {"show aliases", 1, 0, "", cmd_show_aliases},
    {"show mail", 0, 0, "user,entry,name,full,recipient", ctl_show_mail},
    {"send mail", 0, 1, "user,entry,name,after", ctl_send_mail},
    {"remove mail", 0, 1, "user,entry,name,force,all", ctl_remove_mail},
    {"analyze mail", 1, 1, "user,repair,delete_before,delete_since,hold",
     ctl_analyze_mail},
    {"start mail", 1, 1, "node", ctl_start_mail},
    {"stop mail", 1, 1, "node", ctl_stop_mail},
    {"enable service", 1, 1, "node", ctl_enable_service},
    {"disable service", 1, 1, "node", ctl_disable_service},
    {"show service smtp", 0, 0, "", ctl_show_service},
    {"set configuration smtp", 1, 1, "items", ctl_set_config},
    {"show configuration smtp", 0, 0, "", ctl_show_config},
    {"show mx", 1, 0, "domain", ctl_show_mx},
    {"set mx", 1, 1, "domain,gateway,pref", ctl_set_mx},
    {"remove mx", 1, 1, "domain,gateway", ctl_remove_mx},
    {"show host", 1, 0, "name", ctl_show_host},
    {"set host", 1, 1, "name,addresses", ctl_set_host},
    {"remove host", 1, 1, "name", ctl_remove_host},
    {"import aliases", 1, 1, "domains,source", ctl_import_aliases},
    {"show forward", 1, 0, "", ctl_show_forward},
    {"set forward", 1, 1, "user,target", ctl_set_forward},
    {"remove forward", 1, 1, "user", ctl_remove_forward},
    {"submit", 0, 0, "body,more,sender,recipients", ctl_submit},
    {"debug noop", 1, 0, "", ctl_debug_noop},
    {"debug snapshot-hash", 1, 0, "", ctl_debug_snapshot_hash},
    {"debug enqueue", 1, 1, "count,size", ctl_debug_enqueue},
    {"debug damage", 1, 1, "kind,name", ctl_debug_damage},
    {"debug claim", 1, 1, "name,lease", ctl_debug_claim},
    {NULL, 0, 0, NULL, NULL},
};
