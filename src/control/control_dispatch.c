/*
 * control_dispatch.c — the control server's request envelope and the
 * handler API: parse one line, check the envelope ("v", "cmd", "args", no
 * other member), find the command in the production table
 * (control_commands.c) or a registered one (control_register_cmds: the
 * test hooks of a test build), check its admin flag and argument names,
 * make the request and call the handler; then the answers (ctl_req_ok,
 * ctl_req_fail*), the argument readers and small helpers the handlers
 * share (ctl_propose, scratch, user name, time).
 *
 * Owns: the life of a request from its line to its answer, and the list of
 * registered command tables. Does not own: the socket, framing or the
 * connection's buffers (control.c), credentials (control_cred.c), which
 * commands exist (control_commands.c) or what they do.
 *
 * Failures: anything a client can get wrong (bad JSON, an unknown version,
 * member, command or argument) is answered with an error and the
 * connection keeps serving; out of memory is answered "failed". An
 * unknown command is "usage" / "unknown command" whether or not it exists
 * in some other build.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/base/log.h"
#include "src/base/clock.h"
#include "src/control/control_conn.h"
#include "src/control/control_impl.h"

#define JSON_DEPTH 32
#define EXTRA_TABLES_MAX 4

/* Tables added at start-up by control_register_cmds(), searched after
 * control_cmds[]. */
static const struct control_cmd *extra_tables[EXTRA_TABLES_MAX];
static unsigned n_extra_tables;

int control_register_cmds(const struct control_cmd *table)
{
	if (table == NULL || n_extra_tables == EXTRA_TABLES_MAX)
		return -1;
	extra_tables[n_extra_tables++] = table;
	return 0;
}

/* An error response object. */
static json_object *error_obj(const char *code, const char *text)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "v",
			       json_object_new_int(CONTROL_PROTO_VERSION));
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "error", json_object_new_string(text));
	return o;
}

/* Answer an envelope error (no request was created). */
void ctl_conn_fail(struct ctl_conn *conn, const char *code, const char *fmt,
		   ...)
{
	char text[512];
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_debug("control: uid %ld pid %ld: %s: %s", (long)conn->uid,
		  (long)conn->pid, code, text);
	o = error_obj(code, text);
	ctl_conn_send(conn, o);
	json_object_put(o);
}

/* 1 if name is one of the comma-separated names in list. */
static int name_in_list(const char *name, const char *list)
{
	size_t n = strlen(name);

	for (const char *p = list; *p != '\0';) {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

/* name in a table ending with name NULL, or NULL. */
static const struct control_cmd *table_find(const struct control_cmd *t,
					    const char *name)
{
	for (const struct control_cmd *c = t; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* The command of that name: the production table first, then the
 * registered ones in their order. */
static const struct control_cmd *cmd_find(const char *name)
{
	const struct control_cmd *c = table_find(control_cmds, name);

	for (unsigned i = 0; c == NULL && i < n_extra_tables; i++)
		c = table_find(extra_tables[i], name);
	return c;
}

/* Check the envelope of one parsed request and start its command. */
static void conn_dispatch(struct ctl_conn *conn, json_object *obj)
{
	struct control *ctl = conn->ctl;
	json_object *v, *cmdv, *args = NULL;
	const struct control_cmd *cmd;
	struct ctl_req *req;
	const char *name;

	if (!json_object_is_type(obj, json_type_object)) {
		ctl_conn_fail(conn, "bad_request",
			      "request is not a JSON object");
		return;
	}
	if (!json_object_object_get_ex(obj, "v", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		ctl_conn_fail(conn, "bad_request",
			      "request has no protocol version \"v\"");
		return;
	}
	if (json_object_get_int64(v) != CONTROL_PROTO_VERSION) {
		ctl_conn_fail(conn, "bad_request",
			      "unsupported protocol version %lld (this node "
			      "speaks %d)",
			      (long long)json_object_get_int64(v),
			      CONTROL_PROTO_VERSION);
		return;
	}
	if (!json_object_object_get_ex(obj, "cmd", &cmdv) ||
	    !json_object_is_type(cmdv, json_type_string)) {
		ctl_conn_fail(conn, "bad_request",
			      "request has no \"cmd\" string");
		return;
	}
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		if (strcmp(key, "v") && strcmp(key, "cmd") &&
		    strcmp(key, "args")) {
			ctl_conn_fail(conn, "bad_request",
				      "unknown member \"%.64s\" in the request",
				      key);
			return;
		}
	}
	if (json_object_object_get_ex(obj, "args", &args) && args != NULL &&
	    !json_object_is_type(args, json_type_object)) {
		ctl_conn_fail(conn, "bad_request", "\"args\" is not an object");
		return;
	}
	name = json_object_get_string(cmdv);
	cmd = cmd_find(name);
	if (cmd == NULL) {
		ctl_conn_fail(conn, "usage", "unknown command \"%.100s\"",
			      name);
		return;
	}
	if (cmd->admin && !conn->admin) {
		log_info("control: uid %ld pid %ld: %s refused: not admin",
			 (long)conn->uid, (long)conn->pid, cmd->name);
		ctl_conn_fail(
		    conn, "not_admin",
		    "permission denied: \"%s\" needs admin (root or a "
		    "member of group %s)",
		    cmd->name, ctl->conf.admin_group);
		return;
	}
	if (args != NULL) {
		json_object_object_foreach(args, akey, aval)
		{
			(void)aval;
			if (!name_in_list(akey, cmd->args)) {
				ctl_conn_fail(conn, "usage",
					      "%s: unknown argument \"%.64s\"",
					      cmd->name, akey);
				return;
			}
		}
	}
	if (ctl->stopping) {
		ctl_conn_fail(conn, "failed", "node is stopping");
		return;
	}
	if (conn->scratch.p != NULL && conn->scratch.owner != cmd) {
		/* a multi-request command was abandoned */
		if (conn->scratch.free_fn != NULL)
			conn->scratch.free_fn(conn->scratch.p);
		conn->scratch.p = NULL;
	}
	req = calloc(1, sizeof(*req));
	if (req == NULL) {
		ctl_conn_fail(conn, "failed", "out of memory");
		return;
	}
	req->ctl = ctl;
	req->conn = conn;
	req->uid = conn->uid;
	req->gid = conn->gid;
	req->pid = conn->pid;
	req->admin = conn->admin;
	req->has_user = conn->has_user;
	memcpy(req->user, conn->user, sizeof(req->user));
	req->cmd = cmd;
	req->args =
	    args != NULL ? json_object_get(args) : json_object_new_object();
	ctl->reqs++;
	conn->req = req;
	log_debug("control: uid %ld pid %ld: %s", (long)conn->uid,
		  (long)conn->pid, cmd->name);
	cmd->fn(req);
}

/* Parse one request line (without its newline) and dispatch it. */
void ctl_dispatch_line(struct ctl_conn *conn, const char *line, size_t len)
{
	json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t end;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
			   line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return; /* blank lines are ignored */
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (tok == NULL) {
		ctl_conn_fail(conn, "failed", "out of memory");
		return;
	}
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (obj == NULL || jerr != json_tokener_success) {
		ctl_conn_fail(conn, "bad_request", "malformed JSON: %s",
			      jerr == json_tokener_continue
				  ? "incomplete object"
				  : json_tokener_error_desc(jerr));
		json_object_put(obj);
		return;
	}
	if (end != len) {
		ctl_conn_fail(conn, "bad_request",
			      "malformed JSON: bytes after the object");
		json_object_put(obj);
		return;
	}
	conn_dispatch(conn, obj);
	json_object_put(obj);
}

/* ---- answers ---- */

/* Send the answer of req (if its client is still there) and free it. */
static void req_finish(struct ctl_req *req, json_object *resp, const char *code)
{
	struct control *ctl = req->ctl;
	struct ctl_conn *conn = req->conn;

	if (req->cmd->audit)
		log_info("control: uid %ld pid %ld: %s -> %s", (long)req->uid,
			 (long)req->pid, req->cmd->name, code);
	else
		log_debug("control: uid %ld pid %ld: %s -> %s", (long)req->uid,
			  (long)req->pid, req->cmd->name, code);
	if (conn != NULL) {
		conn->req = NULL;
		ctl_conn_send(conn, resp);
	}
	json_object_put(resp);
	json_object_put(req->args);
	free(req);
	ctl->reqs--;
	if (conn != NULL)
		ctl_conn_process(conn);
	ctl_maybe_finish(ctl);
}

void ctl_req_ok(struct ctl_req *req, json_object *result)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "v",
			       json_object_new_int(CONTROL_PROTO_VERSION));
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(
	    o, "result", result != NULL ? result : json_object_new_object());
	req_finish(req, o, "ok");
}

void ctl_req_fail(struct ctl_req *req, const char *code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!req->cmd->audit)
		log_debug("control: uid %ld pid %ld: %s: %s", (long)req->uid,
			  (long)req->pid, req->cmd->name, text);
	else
		log_info("control: uid %ld pid %ld: %s: %s", (long)req->uid,
			 (long)req->pid, req->cmd->name, text);
	req_finish(req, error_obj(code, text), code);
}

void ctl_req_fail_cluster(struct ctl_req *req, int status, const char *msg)
{
	const char *m = msg != NULL && msg[0] != '\0' ? msg : NULL;

	switch (status) {
	case CLUSTER_E_NOQUORUM:
		ctl_req_fail(req, "no_quorum",
			     "no quorum: the cluster has no leader reachable "
			     "from this node");
		return;
	case CLUSTER_E_SHUTDOWN:
		ctl_req_fail(req, "failed", "node is stopping");
		return;
	case CLUSTER_E_TOOBIG:
		ctl_req_fail(req, "failed",
			     "command larger than the cluster's max_frame");
		return;
	case CLUSTER_E_INVAL:
		ctl_req_fail(req, "usage", "%s", m ? m : "invalid argument");
		return;
	default:
		ctl_req_fail(req, "failed", "%s (cluster error %d)",
			     m ? m : "the cluster refused", status);
		return;
	}
}

void ctl_req_fail_spool(struct ctl_req *req, int status, const char *what)
{
	const char *code = status == SPOOL_E_NOTFOUND ? "not_found" : "failed";

	ctl_req_fail(req, code, "%s: %s", what, spool_strerror(status));
}

struct ctl_scratch *ctl_req_scratch(struct ctl_req *req)
{
	return req->conn != NULL ? &req->conn->scratch : NULL;
}

int ctl_req_username(const struct ctl_req *req, char *buf, size_t size)
{
	size_t n = strlen(req->user);

	if (!req->has_user || n >= size)
		return -1;
	memcpy(buf, req->user, n + 1);
	return 0;
}

const char *ctl_fmt_time(uint64_t ms, char *buf, size_t size)
{
	if (clock_format(ms, CLOCK_FMT_UTC, buf, size) == NULL)
		snprintf(buf, size, "%llu ms", (unsigned long long)ms);
	return buf;
}

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

/* ---- arguments ---- */

/* The argument key of req in *v: 0; 1 when it is absent and not
 * required; -1 (answered "usage") when it is absent and required. */
static int arg_find(struct ctl_req *req, const char *key, int required,
		    json_object **v)
{
	if (json_object_object_get_ex(req->args, key, v) && *v != NULL)
		return 0;
	if (!required)
		return 1;
	ctl_req_fail(req, "usage", "%s: missing argument \"%s\"",
		     req->cmd->name, key);
	return -1;
}

int ctl_arg_u64(struct ctl_req *req, const char *key, int required,
		uint64_t min, uint64_t max, uint64_t *out)
{
	json_object *v;
	int64_t n;
	int rc;

	if ((rc = arg_find(req, key, required, &v)) != 0)
		return rc;
	errno = 0;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n < 0 || errno != 0 ||
	    (uint64_t)n < min || (uint64_t)n > max) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be an integer in "
			     "%llu..%llu",
			     req->cmd->name, key, (unsigned long long)min,
			     (unsigned long long)max);
		return -1;
	}
	*out = (uint64_t)n;
	return 0;
}

int ctl_arg_str(struct ctl_req *req, const char *key, int required,
		size_t maxlen, const char **out)
{
	json_object *v;
	const char *s;
	int rc;

	if ((rc = arg_find(req, key, required, &v)) != 0)
		return rc;
	if (!json_object_is_type(v, json_type_string)) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be a string",
			     req->cmd->name, key);
		return -1;
	}
	s = json_object_get_string(v);
	if (strlen(s) == 0 || strlen(s) > maxlen ||
	    (size_t)json_object_get_string_len(v) != strlen(s)) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be 1..%zu bytes",
			     req->cmd->name, key, maxlen);
		return -1;
	}
	*out = s;
	return 0;
}

int ctl_arg_bool(struct ctl_req *req, const char *key, int *out)
{
	json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(req->args, key, &v) || v == NULL)
		return 1;
	if (!json_object_is_type(v, json_type_boolean)) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be true or false",
			     req->cmd->name, key);
		return -1;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

int ctl_arg_strv(struct ctl_req *req, const char *key, int required,
		 size_t maxn, size_t maxlen, json_object **out)
{
	json_object *v;
	size_t n;
	int rc;

	if ((rc = arg_find(req, key, required, &v)) != 0)
		return rc;
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > maxn) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be a list of at most "
			     "%zu strings",
			     req->cmd->name, key, maxn);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		const char *s;
		if (!json_object_is_type(e, json_type_string) ||
		    (s = json_object_get_string(e)) == NULL || strlen(s) == 0 ||
		    strlen(s) > maxlen ||
		    (size_t)json_object_get_string_len(e) != strlen(s)) {
			ctl_req_fail(req, "usage",
				     "%s: item %zu of \"%s\" must be a string "
				     "of 1..%zu bytes",
				     req->cmd->name, i + 1, key, maxlen);
			return -1;
		}
	}
	*out = v;
	return 0;
}
