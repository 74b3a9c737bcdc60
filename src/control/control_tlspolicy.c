/*
 * control_tlspolicy.c — the outbound TLS policy commands (set / show /
 * remove tls-policy): the per-domain levels none, may, encrypt, verify
 * of the replicated `tlspolicy` table (spool/codec/tlspolicy.h,
 * docs/delivery.md).
 *
 * Owns: the arguments on the wire ("domain", "level") and their checks,
 * and the shape of the show result: every entry, and with a domain the
 * policy its mail gets (the key that matched, or the default). Does not
 * own the table's rules (spool/store/tlspol.c) nor what a level does
 * (src/delivery).
 *
 * Changes go through raft (ctl_change_propose) and are answered once
 * applied on the leader; shows read this node's copy. Every handler
 * answers exactly once (control_impl.h).
 */
#include <stdio.h>
#include <string.h>

#include "spool/codec/tlspolicy.h"
#include "src/control/control_impl.h"

static int pol_visit(const char *a, const char *b, uint64_t n, void *arg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "domain", json_object_new_string(a));
	json_object_object_add(o, "level", json_object_new_string(b));
	json_object_array_add(arg, o);
	return 0;
}

/* The "domain" argument, which must be a policy key; 0 or answered. */
static int arg_key(struct ctl_req *req, const char *what, const char **d)
{
	if (ctl_arg_str(req, "domain", 1, TLSPOL_KEY_MAX, d) != 0)
		return -1;
	if (!tlspol_key_ok(*d)) {
		ctl_req_fail(req, "usage",
			     "%s: \"%s\" is not a domain (example.com) or a "
			     "parent domain (.example.com)",
			     what, *d);
		return -1;
	}
	return 0;
}

void ctl_show_tls_policy(struct ctl_req *req)
{
	char matched[TLSPOL_KEY_MAX + 1];
	const char *d = NULL;
	json_object *arr, *result, *lk;
	int rc;

	if (ctl_arg_str(req, "domain", 0, TLSPOL_KEY_MAX, &d) < 0)
		return;
	if (d != NULL && !tlspol_key_ok(d)) {
		ctl_req_fail(req, "usage",
			     "show tls-policy: \"%s\" is not a "
			     "domain name",
			     d);
		return;
	}
	arr = json_object_new_array();
	rc = spool_tlspol_foreach(req->ctl->sp, pol_visit, arr);
	if (rc < 0) {
		json_object_put(arr);
		ctl_req_fail(req, "failed", "show tls-policy: %s",
			     spool_strerror(rc));
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "policies", arr);
	if (d != NULL && d[0] != '.') {
		rc = spool_tlspol_lookup(req->ctl->sp, d, matched,
					 sizeof(matched));
		if (rc < 0) {
			json_object_put(result);
			ctl_req_fail(req, "failed", "show tls-policy: %s",
				     spool_strerror(rc));
			return;
		}
		lk = json_object_new_object();
		json_object_object_add(lk, "domain", json_object_new_string(d));
		json_object_object_add(
		    lk, "level",
		    json_object_new_string(tlspol_level_name(
			rc == TLSPOL_DEFAULT ? TLSPOL_MAY : rc)));
		json_object_object_add(lk, "matched",
				       json_object_new_string(matched));
		json_object_object_add(result, "lookup", lk);
	}
	ctl_add_applied(req->ctl, result);
	ctl_req_ok(req, result);
}

void ctl_set_tls_policy(struct ctl_req *req)
{
	const char *d, *lv;
	struct spool_cmd cmd;
	struct ctl_change *op;
	int level;

	if (arg_key(req, "set tls-policy", &d) != 0 ||
	    ctl_arg_str(req, "level", 1, 16, &lv) != 0)
		return;
	level = tlspol_level_parse(lv);
	if (level < 0) {
		ctl_req_fail(req, "usage",
			     "set tls-policy: level \"%s\" is not none, may, "
			     "encrypt or verify",
			     lv);
		return;
	}
	if ((op = ctl_change_new(req)) == NULL)
		return;
	snprintf(op->ok, sizeof(op->ok), "tls-policy %s: %s", d,
		 tlspol_level_name(level));
	snprintf(op->inval, sizeof(op->inval),
		 "set tls-policy: \"%s\" %s refused", d, lv);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_TLSPOL_SET;
	cmd.u.tlspol.domain = d;
	cmd.u.tlspol.level = (uint8_t)level;
	ctl_change_propose(req, &cmd, op);
}

void ctl_remove_tls_policy(struct ctl_req *req)
{
	const char *d;
	struct spool_cmd cmd;
	struct ctl_change *op;

	if (arg_key(req, "remove tls-policy", &d) != 0)
		return;
	if ((op = ctl_change_new(req)) == NULL)
		return;
	snprintf(op->ok, sizeof(op->ok),
		 "tls-policy %s: removed (its mail gets the default, may)", d);
	snprintf(op->notfound, sizeof(op->notfound),
		 "remove tls-policy: no policy for %s", d);
	snprintf(op->inval, sizeof(op->inval),
		 "remove tls-policy: \"%s\" is not a domain name", d);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_TLSPOL_REMOVE;
	cmd.u.tlspol.domain = d;
	ctl_change_propose(req, &cmd, op);
}
