/*
 * control_config.c — the cluster-wide configuration and local table
 * commands of seed Table 18-3: set/show configuration smtp (`config`),
 * the local MX database (show/set/remove mx), the local hosts database
 * (show/set/remove host) and MAIL SET FORWARD (show/set/remove forward).
 *
 * Owns: the arguments each command takes on the wire and their checks,
 * the mapping of spool outcomes to answers ("not_found", "usage" for a
 * value the spool refuses), and the shapes of the show results. Does not
 * own the tables' rules (spool/store/apply_tables.c), the syntax smtpctl
 * accepts (cli/grammar_table.c) or the change's answer (control_change.c).
 *
 * Changes go through raft (ctl_change_propose) and are answered once
 * applied on the leader; shows read this node's copy ("applied" tells how
 * far it is). Every handler answers exactly once (control_impl.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/aliases.h"
#include "spool/codec/ctlname.h"
#include "src/control/control_impl.h"
#include "src/base/log.h"
#include "src/base/logdir.h"

#define HOSTNAME_MAX 253
#define HOST_ADDRS_MAX 64
#define ADDR_TEXT_MAX 64
#define CTL_CHANGE_MSG_MAX 600

/* ---- set / show configuration smtp ---- */

/* The smtpctl option of key k ("--interval-initial", "--options"). */
static void cfg_option_name(int k, char *buf, size_t size)
{
	const char *name = spool_cfg_defs[k].name;
	size_t i;

	if (strncmp(name, "opt_", 4) == 0) {
		snprintf(buf, size, "--options");
		return;
	}
	snprintf(buf, size, "--%s", name);
	for (i = 2; buf[i] != '\0'; i++)
		if (buf[i] == '_')
			buf[i] = '-';
}

/* A duration in ms as text: "3d", "60m", "90s". */
static void duration_text(uint64_t ms, char *buf, size_t size)
{
	if (ms != 0 && ms % 86400000 == 0)
		snprintf(buf, size, "%llud",
			 (unsigned long long)(ms / 86400000));
	else if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, size, "%lluh",
			 (unsigned long long)(ms / 3600000));
	else if (ms % 60000 == 0)
		snprintf(buf, size, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, size, "%llums", (unsigned long long)ms);
}

/* The value of key k as shown. */
static void cfg_text(int k, uint64_t num, const char *str, char *buf,
		     size_t size)
{
	const struct spool_cfg_def *d = &spool_cfg_defs[k];

	switch (k) {
	case CFG_OPT_RELAY:
		snprintf(buf, size, "%s", num ? "relay" : "norelay");
		return;
	case CFG_OPT_EIGHT_BIT:
		snprintf(buf, size, "%s", num ? "eight-bit" : "noeight-bit");
		return;
	case CFG_OPT_HEADERS:
		snprintf(buf, size, "%s",
			 num == CFG_HEADERS_TOP	   ? "top-headers"
			 : num == CFG_HEADERS_NONE ? "noheaders"
						   : "headers");
		return;
	case CFG_MAX_MESSAGE_SIZE:
		snprintf(buf, size, "%llu bytes", (unsigned long long)num);
		return;
	case CFG_DELAY_WARNING:
		if (num == 0) {
			snprintf(buf, size, "0 (no delay warnings)");
			return;
		}
		break;
	case CFG_LOG:
		snprintf(buf, size, "%s", str[0] ? str : "(node log file)");
		return;
	case CFG_ZONE:
		snprintf(buf, size, "%s",
			 str[0] == '\0'		 ? "(the local domain)"
			 : strcmp(str, ".") == 0 ? "(one level above the local "
						   "domain)"
						 : str);
		return;
	default:
		break;
	}
	if (d->kind == CFG_KIND_STR)
		snprintf(buf, size, "%s", str[0] ? str : "(none)");
	else if (d->is_time)
		duration_text(num, buf, size);
	else
		snprintf(buf, size, "%llu", (unsigned long long)num);
}

void ctl_show_config(struct ctl_req *req)
{
	struct control *ctl = req->ctl;
	struct spool_config *cfg = malloc(sizeof(*cfg));
	json_object *result, *list;
	char text[SPOOL_CFG_STR_MAX + 32], opt[64];
	int rc;

	if (cfg == NULL) {
		ctl_req_fail(req, "failed",
			     "show configuration: out of memory");
		return;
	}
	rc = spool_config_load(ctl->sp, cfg);
	if (rc < 0) {
		free(cfg);
		ctl_req_fail(req, "failed", "show configuration smtp: %s",
			     spool_strerror(rc));
		return;
	}
	list = json_object_new_array();
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct spool_cfg_def *d = &spool_cfg_defs[k];
		json_object *o = json_object_new_object();
		int is_def;
		if (d->kind == CFG_KIND_NUM)
			is_def = cfg->num[k] == d->def_num;
		else
			is_def = strcmp(cfg->str[k],
					d->def_str ? d->def_str : "") == 0;
		cfg_option_name(k, opt, sizeof(opt));
		json_object_object_add(o, "key",
				       json_object_new_string(d->name));
		json_object_object_add(o, "option",
				       json_object_new_string(opt));
		json_object_object_add(o, "vms",
				       json_object_new_string(d->vms));
		if (d->kind == CFG_KIND_NUM) {
			json_object_object_add(
			    o, "value",
			    json_object_new_int64((int64_t)cfg->num[k]));
			json_object_object_add(
			    o, "default_value",
			    json_object_new_int64((int64_t)d->def_num));
		} else {
			json_object_object_add(
			    o, "value", json_object_new_string(cfg->str[k]));
			json_object_object_add(
			    o, "default_value",
			    json_object_new_string(d->def_str ? d->def_str
							      : ""));
		}
		json_object_object_add(
		    o, "unit",
		    json_object_new_string(d->is_time		       ? "ms"
					   : k == CFG_MAX_MESSAGE_SIZE ? "bytes"
								       : ""));
		cfg_text(k, cfg->num[k], cfg->str[k], text, sizeof(text));
		json_object_object_add(o, "text", json_object_new_string(text));
		json_object_object_add(o, "default",
				       json_object_new_boolean(is_def));
		json_object_object_add(o, "set",
				       json_object_new_boolean(cfg->is_set[k]));
		json_object_array_add(list, o);
	}
	free(cfg);
	result = json_object_new_object();
	json_object_object_add(result, "settings", list);
	ctl_add_applied(ctl, result);
	ctl_req_ok(req, result);
}

void ctl_set_config(struct ctl_req *req)
{
	struct spool_cfg_item items[CFG__COUNT];
	struct spool_cmd cmd;
	struct ctl_change *op;
	json_object *list, *changed;
	uint8_t seen[CFG__COUNT];
	char why[512];
	size_t n, off = 0;

	if (!json_object_object_get_ex(req->args, "items", &list) ||
	    !json_object_is_type(list, json_type_array) ||
	    (n = json_object_array_length(list)) == 0 || n > CFG__COUNT) {
		ctl_req_fail(req, "usage",
			     "set configuration smtp: \"items\" must be a list "
			     "of 1..%d settings",
			     CFG__COUNT);
		return;
	}
	memset(items, 0, sizeof(items));
	memset(seen, 0, sizeof(seen));
	if ((op = ctl_change_new(req)) == NULL)
		return;
	op->extra = json_object_new_object();
	changed = json_object_new_array();
	json_object_object_add(op->extra, "changed", changed);
	off = (size_t)snprintf(op->ok, sizeof(op->ok), "configuration set:");
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(list, i), *k;
		const struct spool_cfg_def *d;
		int key, nval = 0;
		if (!json_object_is_type(it, json_type_object) ||
		    !json_object_object_get_ex(it, "key", &k) ||
		    !json_object_is_type(k, json_type_string) ||
		    (key = spool_cfg_lookup(json_object_get_string(k))) < 0) {
			ctl_change_free(op);
			ctl_req_fail(req, "usage",
				     "set configuration smtp: item %zu has no "
				     "known \"key\"",
				     i + 1);
			return;
		}
		d = &spool_cfg_defs[key];
		if (seen[key]++) {
			ctl_change_free(op);
			ctl_req_fail(req, "usage",
				     "set configuration smtp: %s given twice",
				     d->name);
			return;
		}
		items[i].key = (uint16_t)key;
		json_object_object_foreach(it, ik, iv)
		{
			if (strcmp(ik, "key") == 0)
				continue;
			nval++;
			if (strcmp(ik, "reset") == 0 &&
			    json_object_is_type(iv, json_type_boolean) &&
			    json_object_get_boolean(iv))
				items[i].reset = 1;
			else if (strcmp(ik, "num") == 0 &&
				 d->kind == CFG_KIND_NUM &&
				 json_object_is_type(iv, json_type_int) &&
				 json_object_get_int64(iv) >= 0)
				items[i].num =
				    (uint64_t)json_object_get_int64(iv);
			else if (strcmp(ik, "str") == 0 &&
				 d->kind == CFG_KIND_STR &&
				 json_object_is_type(iv, json_type_string))
				items[i].str = json_object_get_string(iv);
			else
				nval = 99;
		}
		if (nval != 1) {
			ctl_change_free(op);
			ctl_req_fail(req, "usage",
				     "set configuration smtp: %s needs one of "
				     "\"%s\" or \"reset\": true",
				     d->name,
				     d->kind == CFG_KIND_NUM ? "num" : "str");
			return;
		}
		if (!items[i].reset &&
		    spool_cfg_check(key, items[i].num, items[i].str) != 0) {
			ctl_change_free(op);
			if (d->kind == CFG_KIND_NUM)
				ctl_req_fail(req, "usage",
					     "set configuration smtp: %s must "
					     "be %llu..%llu%s",
					     d->name,
					     (unsigned long long)d->min,
					     (unsigned long long)d->max,
					     d->is_time ? " ms" : "");
			else
				ctl_req_fail(req, "usage",
					     "set configuration smtp: \"%s\" "
					     "is not a valid %s",
					     items[i].str, d->name);
			return;
		}
		if (key == CFG_LOG && !items[i].reset &&
		    items[i].str[0] != '\0' &&
		    logdir_verify(req->ctl->conf.log_dir, items[i].str, why,
				  sizeof(why)) != 0) {
			ctl_change_free(op);
			ctl_req_fail(req, "usage",
				     "set configuration smtp: /LOG=%s refused: "
				     "%s",
				     items[i].str, why);
			return;
		}
		json_object_array_add(changed, json_object_new_string(d->name));
		if (off < sizeof(op->ok))
			off += (size_t)snprintf(
			    op->ok + off, sizeof(op->ok) - off, " %s%s",
			    d->name, items[i].reset ? " (default)" : "");
	}
	snprintf(op->inval, sizeof(op->inval),
		 "set configuration smtp: a value was refused");
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_SET_CONFIG;
	cmd.u.set_config.n = (uint32_t)n;
	cmd.u.set_config.items = items;
	ctl_change_propose(req, &cmd, op);
}

/* ---- local MX database ---- */

static int mx_visit(const char *a, const char *b, uint64_t n, void *arg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "domain", json_object_new_string(a));
	json_object_object_add(o, "preference",
			       json_object_new_int64((int64_t)n));
	json_object_object_add(o, "gateway", json_object_new_string(b));
	json_object_array_add(arg, o);
	return 0;
}

void ctl_show_mx(struct ctl_req *req)
{
	char dom[HOSTNAME_MAX + 1];
	const char *d = NULL;
	json_object *arr, *result;
	int rc;

	if (ctl_arg_str(req, "domain", 0, HOSTNAME_MAX, &d) < 0)
		return;
	if (d != NULL)
		ctl_fold_name(dom, d);
	arr = json_object_new_array();
	rc = spool_mx_foreach(req->ctl->sp, d != NULL ? dom : NULL, mx_visit,
			      arr);
	if (rc < 0) {
		json_object_put(arr);
		ctl_req_fail(req, "failed", "show mx: %s", spool_strerror(rc));
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "mx", arr);
	ctl_add_applied(req->ctl, result);
	ctl_req_ok(req, result);
}

void ctl_set_mx(struct ctl_req *req)
{
	const char *d, *gw;
	uint64_t pref;
	struct spool_cmd cmd;
	struct ctl_change *op;

	if (ctl_arg_str(req, "domain", 1, HOSTNAME_MAX, &d) != 0 ||
	    ctl_arg_str(req, "gateway", 1, HOSTNAME_MAX, &gw) != 0 ||
	    ctl_arg_u64(req, "pref", 1, 0, 65535, &pref) != 0)
		return;
	if ((op = ctl_change_new(req)) == NULL)
		return;
	snprintf(op->ok, sizeof(op->ok),
		 "mx %s: gateway %s, preference %llu: added", d, gw,
		 (unsigned long long)pref);
	snprintf(op->inval, sizeof(op->inval),
		 "set mx: \"%s\" is not a domain or \"%s\" not a host name or "
		 "IP address",
		 d, gw);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_MX_ADD;
	cmd.u.mx.domain = d;
	cmd.u.mx.gateway = gw;
	cmd.u.mx.pref = (uint16_t)pref;
	ctl_change_propose(req, &cmd, op);
}

void ctl_remove_mx(struct ctl_req *req)
{
	const char *d, *gw = NULL;
	struct spool_cmd cmd;
	struct ctl_change *op;

	if (ctl_arg_str(req, "domain", 1, HOSTNAME_MAX, &d) != 0 ||
	    ctl_arg_str(req, "gateway", 0, HOSTNAME_MAX, &gw) < 0)
		return;
	if ((op = ctl_change_new(req)) == NULL)
		return;
	op->with_value = 1;
	snprintf(op->ok, sizeof(op->ok), "mx %s: removed ", d);
	snprintf(op->ok_tail, sizeof(op->ok_tail), " record(s)%s%s",
		 gw ? " to " : "", gw ? gw : "");
	snprintf(op->notfound, sizeof(op->notfound),
		 "remove mx: no MX record for %s%s%s", d, gw ? " to " : "",
		 gw ? gw : "");
	snprintf(op->inval, sizeof(op->inval),
		 "remove mx: \"%s\" is not a domain name", d);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_MX_REMOVE;
	cmd.u.mx.domain = d;
	cmd.u.mx.gateway = gw != NULL ? gw : "";
	ctl_change_propose(req, &cmd, op);
}

/* ---- local hosts database ---- */

/* {"name", "addresses": [...]} from the table's space-separated value. */
static json_object *host_json(const char *name, const char *addrs)
{
	json_object *o = json_object_new_object(), *arr;
	const char *p = addrs;

	json_object_object_add(o, "name", json_object_new_string(name));
	arr = json_object_new_array();
	while (*p != '\0') {
		size_t len = strcspn(p, " ");
		if (len > 0)
			json_object_array_add(
			    arr, json_object_new_string_len(p, (int)len));
		p += len;
		while (*p == ' ')
			p++;
	}
	json_object_object_add(o, "addresses", arr);
	return o;
}

static int host_visit(const char *a, const char *b, uint64_t n, void *arg)
{
	(void)n;
	json_object_array_add(arg, host_json(a, b));
	return 0;
}

void ctl_show_host(struct ctl_req *req)
{
	char low[HOSTNAME_MAX + 1], buf[HOST_ADDRS_MAX * (ADDR_TEXT_MAX + 1)];
	const char *name = NULL;
	json_object *arr = json_object_new_array(), *result;
	int rc;

	if (ctl_arg_str(req, "name", 0, HOSTNAME_MAX, &name) < 0) {
		json_object_put(arr);
		return;
	}
	if (name != NULL) {
		ctl_fold_name(low, name);
		rc = spool_host_get(req->ctl->sp, low, buf, sizeof(buf));
		if (rc == SPOOL_E_NOTFOUND) {
			json_object_put(arr);
			ctl_req_fail(req, "not_found",
				     "show host: no host %s in the local "
				     "hosts database",
				     name);
			return;
		}
		if (rc == 0)
			json_object_array_add(arr, host_json(low, buf));
	} else {
		rc = spool_host_foreach(req->ctl->sp, host_visit, arr);
	}
	if (rc < 0) {
		json_object_put(arr);
		ctl_req_fail(req, "failed", "show host: %s",
			     spool_strerror(rc));
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "hosts", arr);
	ctl_add_applied(req->ctl, result);
	ctl_req_ok(req, result);
}

void ctl_set_host(struct ctl_req *req)
{
	const char *name, *addrs[HOST_ADDRS_MAX];
	json_object *list;
	struct spool_cmd cmd;
	struct ctl_change *op;
	size_t n, off;

	if (ctl_arg_str(req, "name", 1, HOSTNAME_MAX, &name) != 0 ||
	    ctl_arg_strv(req, "addresses", 1, HOST_ADDRS_MAX, ADDR_TEXT_MAX,
			 &list) != 0)
		return;
	n = json_object_array_length(list);
	if (n == 0) {
		ctl_req_fail(req, "usage",
			     "set host: give at least one address");
		return;
	}
	if ((op = ctl_change_new(req)) == NULL)
		return;
	off = (size_t)snprintf(op->ok, sizeof(op->ok), "host %s:", name);
	for (size_t i = 0; i < n; i++) {
		addrs[i] =
		    json_object_get_string(json_object_array_get_idx(list, i));
		if (off < sizeof(op->ok))
			off +=
			    (size_t)snprintf(op->ok + off, sizeof(op->ok) - off,
					     " %s", addrs[i]);
	}
	snprintf(op->inval, sizeof(op->inval),
		 "set host: \"%s\" is not a host name, or an address is not an "
		 "IPv4 or IPv6 address",
		 name);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_HOST_ADD;
	cmd.u.host.name = name;
	cmd.u.host.n = (uint32_t)n;
	cmd.u.host.addrs = addrs;
	ctl_change_propose(req, &cmd, op);
}

void ctl_remove_host(struct ctl_req *req)
{
	const char *name;
	struct spool_cmd cmd;
	struct ctl_change *op;

	if (ctl_arg_str(req, "name", 1, HOSTNAME_MAX, &name) != 0)
		return;
	if ((op = ctl_change_new(req)) == NULL)
		return;
	snprintf(op->ok, sizeof(op->ok), "host %s: removed", name);
	snprintf(op->notfound, sizeof(op->notfound),
		 "remove host: no host %s in the local hosts database", name);
	snprintf(op->inval, sizeof(op->inval),
		 "remove host: \"%s\" is not a host name", name);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_HOST_REMOVE;
	cmd.u.host.name = name;
	ctl_change_propose(req, &cmd, op);
}

/* ---- MAIL SET FORWARD ---- */

static int forward_visit(const char *a, const char *b, uint64_t n, void *arg)
{
	json_object *o = json_object_new_object();

	(void)n;
	json_object_object_add(o, "user", json_object_new_string(a));
	json_object_object_add(o, "target", json_object_new_string(b));
	json_object_array_add(arg, o);
	return 0;
}

void ctl_show_forward(struct ctl_req *req)
{
	json_object *arr = json_object_new_array(), *result;
	int rc;

	rc = spool_forward_foreach(req->ctl->sp, forward_visit, arr);
	if (rc < 0) {
		json_object_put(arr);
		ctl_req_fail(req, "failed", "show forward: %s",
			     spool_strerror(rc));
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "forward", arr);
	ctl_add_applied(req->ctl, result);
	ctl_req_ok(req, result);
}

void ctl_set_forward(struct ctl_req *req)
{
	const char *user, *target;
	struct spool_cmd cmd;
	struct ctl_change *op;

	if (ctl_arg_str(req, "user", 1, 64, &user) != 0 ||
	    ctl_arg_str(req, "target", 1, 255, &target) != 0)
		return;
	if ((op = ctl_change_new(req)) == NULL)
		return;
	snprintf(op->ok, sizeof(op->ok), "mail for %s is forwarded to %s", user,
		 target);
	snprintf(op->inval, sizeof(op->inval),
		 "set forward: cannot forward \"%s\" to \"%s\" (a user name "
		 "and a target without blanks, not the user itself)",
		 user, target);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_FORWARD_SET;
	cmd.u.forward.user = user;
	cmd.u.forward.target = target;
	ctl_change_propose(req, &cmd, op);
}

void ctl_remove_forward(struct ctl_req *req)
{
	const char *user;
	struct spool_cmd cmd;
	struct ctl_change *op;

	if (ctl_arg_str(req, "user", 1, 64, &user) != 0)
		return;
	if ((op = ctl_change_new(req)) == NULL)
		return;
	snprintf(op->ok, sizeof(op->ok), "mail for %s is no longer forwarded",
		 user);
	snprintf(op->notfound, sizeof(op->notfound),
		 "remove forward: user %s is not forwarded", user);
	snprintf(op->inval, sizeof(op->inval),
		 "remove forward: \"%s\" is not a user name", user);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_FORWARD_CLEAR;
	cmd.u.forward.user = user;
	cmd.u.forward.target = "";
	ctl_change_propose(req, &cmd, op);
}
