/*
 * fuzz_control.c — libFuzzer target for the control socket's request
 * parsing (src/control/control_dispatch.c): what any local user may write
 * to the socket (mode 0666). The input is split into lines; each is handed
 * to ctl_dispatch_line() on a fake connection, with a table of test
 * commands that read their arguments through the handler API (integer,
 * string, list, boolean) and answer. The first octet sets the
 * connection's admin flag. Invariants that abort when broken:
 *   - every line that is not blank gets exactly one answer;
 *   - every answer is a JSON object {"v": 1, "ok": bool, ...}, with a
 *     "code" and an "error" string when "ok" is false;
 *   - a command marked admin never runs on a connection without admin;
 *   - no request is left open (ctl->reqs back to 0).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/clock.c"
#include "src/base/log.c"
#include "src/control/control_dispatch.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned answers, admin_runs;
static int quiet;

/* ---- the parts of control.c and the cluster dispatch needs ---- */

void ctl_conn_send(struct ctl_conn *conn, json_object *obj)
{
	const char *text;
	json_object *again, *v, *ok, *s;

	(void)conn;
	answers++;
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	again = json_tokener_parse(text);
	if (again == NULL || !json_object_is_type(again, json_type_object) ||
	    !json_object_object_get_ex(again, "v", &v) ||
	    json_object_get_int(v) != CONTROL_PROTO_VERSION ||
	    !json_object_object_get_ex(again, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean))
		abort();
	if (!json_object_get_boolean(ok) &&
	    (!json_object_object_get_ex(again, "code", &s) ||
	     !json_object_is_type(s, json_type_string) ||
	     !json_object_object_get_ex(again, "error", &s) ||
	     !json_object_is_type(s, json_type_string)))
		abort();
	json_object_put(again);
}

void ctl_conn_process(struct ctl_conn *conn)
{
	(void)conn;
}

void ctl_maybe_finish(struct control *ctl)
{
	(void)ctl;
}

int cluster_propose(struct cluster *c, const void *cmd, size_t len,
		    cluster_propose_cb cb, void *arg)
{
	(void)c, (void)cmd, (void)len, (void)cb, (void)arg;
	return CLUSTER_E_SHUTDOWN;
}

/* ---- test commands ---- */

static void cmd_args(struct ctl_req *req)
{
	json_object *list;
	const char *s;
	uint64_t n;
	int b;

	if (ctl_arg_u64(req, "n", 1, 1, 1000, &n) < 0 ||
	    ctl_arg_str(req, "s", 0, 64, &s) < 0 ||
	    ctl_arg_strv(req, "l", 0, 8, 32, &list) < 0 ||
	    ctl_arg_bool(req, "b", &b) < 0)
		return;
	ctl_req_ok(req, json_object_new_int64((int64_t)n));
}

static void cmd_admin(struct ctl_req *req)
{
	if (!req->admin)
		abort();
	admin_runs++;
	ctl_req_fail(req, "failed", "admin %s", req->cmd->name);
}

static void cmd_spool(struct ctl_req *req)
{
	ctl_req_fail_spool(req, SPOOL_E_NOTFOUND, "spool");
}

static void cmd_cluster(struct ctl_req *req)
{
	uint64_t n = 0;

	if (ctl_arg_u64(req, "n", 0, 0, 10, &n) < 0)
		return;
	ctl_req_fail_cluster(req, -(int)n, "");
}

const struct control_cmd control_cmds[] = {
    {"args", 0, 0, "n,s,l,b", cmd_args},
    {"admin", 1, 1, "", cmd_admin},
    {"spool", 0, 0, "", cmd_spool},
    {"cluster", 0, 1, "n", cmd_cluster},
    {NULL, 0, 0, NULL, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct control ctl;
	struct ctl_conn conn;
	size_t off = 1;

	if (size == 0)
		return 0;
	if (!quiet) {
		log_init("FUZZ", "error", NULL);
		quiet = 1;
	}
	admin_runs = 0;
	memset(&ctl, 0, sizeof(ctl));
	snprintf(ctl.conf.admin_group, sizeof(ctl.conf.admin_group), "adm");
	memset(&conn, 0, sizeof(conn));
	conn.ctl = &ctl;
	conn.admin = data[0] & 1;
	conn.uid = 1000;
	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
		size_t t = len;
		unsigned before = answers;
		/* a copy of exactly the line, so ASan sees any overread */
		char *line = malloc(len > 0 ? len : 1);
		if (line == NULL)
			abort();
		memcpy(line, data + off, len);
		while (t > 0 && (line[t - 1] == '\r' || line[t - 1] == ' ' ||
				 line[t - 1] == '\t'))
			t--;
		ctl_dispatch_line(&conn, line, len);
		if (answers != before + (t > 0 ? 1u : 0u))
			abort();
		if (ctl.reqs != 0)
			abort();
		free(line);
		off += len + 1;
	}
	if (!conn.admin && admin_runs != 0)
		abort();
	return 0;
}
