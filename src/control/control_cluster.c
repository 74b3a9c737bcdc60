/*
 * control_cluster.c — the handlers of the cluster and alias commands:
 * cluster status/add/remove/transfer (membership, through cluster.h) and
 * set/remove alias, import aliases, show aliases (the local alias domains,
 * through raft; shows read this node's copy).
 *
 * Owns: these commands' argument checks and the shapes of their results.
 * Does not own: membership itself (src/cluster/), the alias rules
 * (spool/codec/aliases.c, spool/store/), the command table
 * (control_commands.c) or the socket and dispatch (control.c,
 * control_dispatch.c).
 *
 * Every handler answers exactly once (control_impl.h). Errors a client can
 * cause are "usage"; outcomes of the spool ("not_found", "failed") and of
 * the cluster ("no_quorum") are mapped by control_dispatch.c's helpers.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/aliases.h"
#include "src/base/log.h"
#include "src/control/control_impl.h"

#define ADDR_MAX 255
#define ID_MAX ((uint64_t)INT64_MAX)

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

void ctl_cluster_status(struct ctl_req *req)
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

void ctl_cluster_add(struct ctl_req *req)
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

void ctl_cluster_remove(struct ctl_req *req)
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

void ctl_cluster_transfer(struct ctl_req *req)
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

void ctl_set_alias(struct ctl_req *req)
{
	alias_change(req, CMD_ALIAS_ADD);
}

void ctl_remove_alias(struct ctl_req *req)
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

void ctl_show_aliases(struct ctl_req *req)
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

/* ---- import aliases ---- */

void ctl_import_aliases(struct ctl_req *req)
{
	const char *domains[ALIASES_COUNT_MAX], *source = NULL;
	json_object *list;
	struct spool_cmd cmd;
	struct ctl_change *op;
	size_t n;

	if (ctl_arg_strv(req, "domains", 1, ALIASES_COUNT_MAX,
			 ALIASES_NAME_MAX + 1, &list) != 0 ||
	    ctl_arg_str(req, "source", 0, 4096, &source) < 0)
		return;
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		domains[i] =
		    json_object_get_string(json_object_array_get_idx(list, i));
		if (!aliases_domain_ok(domains[i])) {
			ctl_req_fail(req, "usage",
				     "import aliases: \"%s\" is not a domain "
				     "name",
				     domains[i]);
			return;
		}
	}
	if ((op = ctl_change_new(req)) == NULL)
		return;
	snprintf(
	    op->ok, sizeof(op->ok), "alias domains replaced: %zu domain%s%s%s",
	    n, n == 1 ? "" : "s", source ? " from " : "", source ? source : "");
	snprintf(op->inval, sizeof(op->inval),
		 "import aliases: a domain was refused (at most %d characters "
		 "each)",
		 ALIASES_NAME_MAX);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_ALIAS_REPLACE;
	cmd.u.alias.domain = "";
	cmd.u.alias.n = (uint32_t)n;
	cmd.u.alias.domains = domains;
	log_info("control: uid %ld: import aliases: %zu domains%s%s",
		 (long)req->uid, n, source ? " from " : "",
		 source ? source : "");
	ctl_change_propose(req, &cmd, op);
}
