/*
 * control_service_set.c — SET SERVICE SMTP (seed Table 18-3, issue #14):
 * change a node's receiver settings (listen address, session and
 * per-address limits, trusted networks, STARTTLS files) on the running
 * node, and the "settings" part of SHOW SERVICE SMTP.
 *
 * Owns: the command's arguments, their checks (with node.conf's own
 * rules, nodeconf_override_set), the answer's shape, control_set_service
 * (the daemon's hook) and control_service_remote (the same command asked
 * by another node). Does not own applying the settings to the receiver or
 * writing them to the override file (the hook: src/daemon/main.c,
 * src/smtpd/smtp_server_reconf.c, src/base/nodeconf_override.c), nor the
 * way to another node (src/cluster/cluster_service.c).
 *
 * The settings are one node's, not the cluster's: nothing here goes
 * through raft. --node naming another member sends the request, as given
 * (its values unchecked here: only their types and sizes), to that node's
 * forwarding port (mutual TLS; the node refuses a sender that is not a
 * member); that node runs it through apply_settings with its own
 * configuration, exactly as a request on its own control socket, and its
 * answer is relayed. The asking node waits without blocking the loop, at
 * most CLUSTER_SERVICE_MS. The admin check stays the control socket's:
 * only an admin of the asking node reaches the request.
 *
 * Failures: bad values are "usage" (nothing changed); a receiver that
 * refuses the change (port in use, unreadable certificate) or a file that
 * cannot be written is "failed" with its reason, the old settings kept;
 * for another node its own code and reason, prefixed with its id. A
 * --node that is not a member is "not_found"; a member that cannot be
 * reached or does not answer in time is "unreachable" (nothing is known
 * to have changed; smtpctl exits 75). Every handler answers exactly once.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"
#include "src/control/control_impl.h"

#define SETTING_MAX 255 /* a string setting's bytes (NODECONF_STR - 1) */

/* The command's settings: argument name, node.conf key bit, number. */
static const struct {
	const char *arg;
	unsigned bit;
	int num;
} settings[] = {
    {"listen", NODECONF_OV_LISTEN, 0},
    {"max_sessions", NODECONF_OV_MAX_SESSIONS, 1},
    {"max_per_ip", NODECONF_OV_MAX_PER_IP, 1},
    {"trusted", NODECONF_OV_TRUSTED, 0},
    {"tls_cert", NODECONF_OV_TLS_CERT, 0},
    {"tls_key", NODECONF_OV_TLS_KEY, 0},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

void control_set_service(struct control *ctl, control_service_fn fn, void *arg)
{
	if (ctl == NULL)
		return;
	ctl->service_fn = fn;
	ctl->service_arg = fn != NULL ? arg : NULL;
}

/* The value of setting i in c as JSON. */
static json_object *setting_value(const struct nodeconf *c, size_t i)
{
	switch (settings[i].bit) {
	case NODECONF_OV_LISTEN:
		return json_object_new_string(c->smtp_listen);
	case NODECONF_OV_MAX_SESSIONS:
		return json_object_new_int64(c->smtp_max_sessions);
	case NODECONF_OV_MAX_PER_IP:
		return json_object_new_int64(c->smtp_max_per_ip);
	case NODECONF_OV_TRUSTED:
		return json_object_new_string(c->smtp_trusted);
	case NODECONF_OV_TLS_CERT:
		return json_object_new_string(c->smtp_tls_cert);
	default:
		return json_object_new_string(c->smtp_tls_key);
	}
}

json_object *ctl_service_settings(struct control *ctl)
{
	json_object *o = json_object_new_object(), *from;
	char path[NODECONF_STR + 32];

	json_object_object_add(o, "node",
			       json_object_new_int64((int64_t)ctl->conf.id));
	from = json_object_new_object();
	for (size_t i = 0; i < NSETTINGS; i++) {
		json_object_object_add(o, settings[i].arg,
				       setting_value(&ctl->conf, i));
		json_object_object_add(
		    from, settings[i].arg,
		    json_object_new_string(ctl->conf.smtp_override &
						   settings[i].bit
					       ? "service.conf"
					       : "node.conf"));
	}
	json_object_object_add(o, "from", from);
	if (nodeconf_override_path(&ctl->conf, path, sizeof(path)) == 0)
		json_object_object_add(o, "override_file",
				       json_object_new_string(path));
	json_object_object_add(o, "config_file",
			       json_object_new_string(ctl->conf.path));
	return o;
}

/* The bit position of a NODECONF_OV_* bit: its index in values[]. */
static unsigned bitpos(unsigned bit)
{
	unsigned k = 0;

	while (k < 31 && !(bit & 1u << k))
		k++;
	return k;
}

/* A request's settings as text, by bit position (numbers in num[]). */
struct svc_vals {
	unsigned mask;
	const char *v[CLUSTER_SERVICE_VALUES];
	char num[CLUSTER_SERVICE_VALUES][24];
};

/* Read the request's settings into vals: only their types and sizes (the
 * node they are for checks the values). 0, or -1 after answering. */
static int read_args(struct ctl_req *req, struct svc_vals *vals)
{
	memset(vals, 0, sizeof(*vals));
	for (size_t i = 0; i < NSETTINGS; i++) {
		unsigned k = bitpos(settings[i].bit);
		const char *v = NULL;
		uint64_t n = 0;
		int rc;

		if (settings[i].num) {
			rc = ctl_arg_u64(req, settings[i].arg, 0, 0, UINT32_MAX,
					 &n);
			if (rc == 0) {
				snprintf(vals->num[k], sizeof(vals->num[k]),
					 "%" PRIu64, n);
				v = vals->num[k];
			}
		} else {
			rc = ctl_arg_str(req, settings[i].arg, 0, SETTING_MAX,
					 &v);
		}
		if (rc < 0)
			return -1;
		if (rc == 1)
			continue;
		vals->v[k] = v;
		vals->mask |= settings[i].bit;
	}
	return 0;
}

/* What apply_settings refused: a protocol code and a message. */
struct svc_err {
	const char *code;
	char msg[700];
};

static int refuse(struct svc_err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct svc_err *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Check the settings against this node's configuration and apply them
 * (the one path of a local and a forwarded request). 0 and *result, or -1
 * and *e, nothing changed. */
static int apply_settings(struct control *ctl, unsigned mask,
			  const char *const v[CLUSTER_SERVICE_VALUES],
			  json_object **result, struct svc_err *e)
{
	static const char name[] = "set service smtp";
	struct nodeconf *next;
	json_object *changed;
	unsigned known = 0;
	char why[400], err[512];
	int rc = -1;

	for (size_t i = 0; i < NSETTINGS; i++)
		known |= settings[i].bit;
	if (mask & ~known)
		return refuse(e, "usage", "%s: unknown setting (mask %#x)",
			      name, mask & ~known);
	if (mask == 0)
		return refuse(e, "usage",
			      "%s: nothing to change (give --listen, "
			      "--max-sessions, --max-per-ip, --trusted, or "
			      "--tls-cert with --tls-key)",
			      name);
	if (!(mask & NODECONF_OV_TLS_CERT) != !(mask & NODECONF_OV_TLS_KEY))
		return refuse(e, "usage",
			      "%s: --tls-cert and --tls-key go together (a "
			      "certificate with its own key)",
			      name);
	/* struct nodeconf is large: not on the loop's stack */
	if ((next = malloc(sizeof(*next))) == NULL)
		return refuse(e, "failed", "%s: out of memory", name);
	*next = ctl->conf;
	for (size_t i = 0; i < NSETTINGS; i++) {
		const char *val = v[bitpos(settings[i].bit)];

		if (!(mask & settings[i].bit))
			continue;
		if (val == NULL ||
		    nodeconf_override_set(next, settings[i].bit, val, why,
					  sizeof(why)) != 0) {
			refuse(e, "usage", "%s: %s", name,
			       val == NULL ? "a setting without a value" : why);
			goto free_next;
		}
	}
	if (ctl->service_fn == NULL) {
		refuse(e, "not_running",
		       "%s: the SMTP receiver does not run on this node", name);
		goto free_next;
	}
	if (ctl->service_fn(ctl->service_arg, next, mask, err, sizeof(err)) !=
	    0) {
		refuse(e, "failed",
		       "%s: %s (nothing changed: the old settings stay in "
		       "force)",
		       name, err);
		goto free_next;
	}
	nodeconf_override_copy(&ctl->conf, next, mask);
	*result = json_object_new_object();
	changed = json_object_new_array();
	for (size_t i = 0; i < NSETTINGS; i++)
		if (mask & settings[i].bit)
			json_object_array_add(
			    changed, json_object_new_string(settings[i].arg));
	json_object_object_add(*result, "node",
			       json_object_new_int64((int64_t)ctl->conf.id));
	json_object_object_add(*result, "name",
			       json_object_new_string(ctl->conf.name));
	json_object_object_add(
	    *result, "message",
	    json_object_new_string("receiver settings changed without a "
				   "restart, kept in the override file"));
	json_object_object_add(*result, "changed", changed);
	json_object_object_add(*result, "settings", ctl_service_settings(ctl));
	ctl_add_applied(ctl, *result);
	rc = 0;

free_next:
	free(next);
	return rc;
}

char *control_service_remote(void *arg, int set, unsigned mask,
			     const char *const values[])
{
	struct control *ctl = arg;
	json_object *ans = json_object_new_object(), *result = NULL;
	struct svc_err e;
	char *text;

	if (!set) {
		json_object_object_add(ans, "result",
				       ctl_service_settings(ctl));
	} else if (apply_settings(ctl, mask, values, &result, &e) == 0) {
		log_info("control: set service smtp asked by another node: "
			 "done");
		json_object_object_add(ans, "result", result);
	} else {
		log_info("control: set service smtp asked by another node: "
			 "%s",
			 e.msg);
		json_object_object_add(ans, "error",
				       json_object_new_string(e.code));
		json_object_object_add(ans, "message",
				       json_object_new_string(e.msg));
	}
	text =
	    strdup(json_object_to_json_string_ext(ans, JSON_C_TO_STRING_PLAIN));
	json_object_put(ans);
	return text;
}

/* ---- another node's settings: asked through the cluster ---- */

/* What the request waits with (req->priv). */
struct svc_ask {
	uint64_t node;
	json_object *show; /* show: the result built here, or NULL */
};

/* Answer req with the error of a failed ask. */
static void ask_fail(struct ctl_req *req, uint64_t node, int status,
		     const char *text)
{
	switch (status) {
	case CLUSTER_E_NOTMEMBER:
		ctl_req_fail(req, "not_found",
			     "%s: node %" PRIu64 " is not a member of the "
			     "cluster (see cluster status)",
			     req->cmd->name, node);
		return;
	case CLUSTER_E_UNREACHABLE:
		ctl_req_fail(req, "unreachable",
			     "%s: node %" PRIu64 " could not be asked: %s "
			     "(nothing is known to have changed)",
			     req->cmd->name, node, text);
		return;
	case CLUSTER_E_SHUTDOWN:
		ctl_req_fail(req, "failed", "%s: the node is stopping",
			     req->cmd->name);
		return;
	default:
		ctl_req_fail(req, "failed", "%s: node %" PRIu64 ": %s",
			     req->cmd->name, node,
			     text != NULL && text[0] ? text : "refused");
		return;
	}
}

static void ask_done(void *arg, int status, const char *text)
{
	struct ctl_req *req = arg;
	struct svc_ask *a = req->priv;
	uint64_t node = a->node;
	json_object *show = a->show, *ans = NULL, *v = NULL;

	free(a);
	req->priv = NULL;
	if (status != 0) {
		json_object_put(show);
		ask_fail(req, node, status, text);
		return;
	}
	ans = json_tokener_parse(text);
	if (ans != NULL && json_object_object_get_ex(ans, "error", &v)) {
		json_object *m = NULL;
		const char *code = json_object_get_string(v);

		json_object_object_get_ex(ans, "message", &m);
		ctl_req_fail(req,
			     code != NULL && code[0] != '\0' &&
				     strlen(code) < 32
				 ? code
				 : "failed",
			     "node %" PRIu64 " refused: %s", node,
			     m != NULL ? json_object_get_string(m) : "");
	} else if (ans != NULL &&
		   json_object_object_get_ex(ans, "result", &v) &&
		   json_object_is_type(v, json_type_object)) {
		if (show != NULL) {
			json_object_object_add(show, "settings",
					       json_object_get(v));
			ctl_req_ok(req, show);
			show = NULL;
		} else {
			ctl_req_ok(req, json_object_get(v));
		}
	} else {
		ctl_req_fail(req, "failed",
			     "%s: node %" PRIu64 " sent an answer that is not "
			     "one",
			     req->cmd->name, node);
	}
	json_object_put(ans);
	json_object_put(show);
}

/* Send the request to node (not this one); show: the result to complete
 * with its settings (taken). The request is answered later, or now on a
 * failure. */
static void ask_node(struct ctl_req *req, uint64_t node, int set,
		     const struct svc_vals *vals, json_object *show)
{
	struct svc_ask *a;
	int rc;

	if (req->ctl->cl == NULL) {
		json_object_put(show);
		ctl_req_fail_cluster(req, CLUSTER_E_SHUTDOWN, NULL);
		return;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		json_object_put(show);
		ctl_req_fail(req, "failed", "%s: out of memory",
			     req->cmd->name);
		return;
	}
	a->node = node;
	a->show = show;
	req->priv = a;
	rc = cluster_service_ask(req->ctl->cl, node, set,
				 vals != NULL ? vals->mask : 0,
				 vals != NULL ? vals->v : NULL, ask_done, req);
	if (rc < 0) {
		req->priv = NULL;
		free(a);
		json_object_put(show);
		ask_fail(req, node, rc, "");
	}
}

void ctl_service_settings_of(struct ctl_req *req, uint64_t node,
			     json_object *show)
{
	if (node == req->ctl->conf.id) {
		json_object_object_add(show, "settings",
				       ctl_service_settings(req->ctl));
		ctl_req_ok(req, show);
		return;
	}
	ask_node(req, node, 0, NULL, show);
}

void ctl_set_service(struct ctl_req *req)
{
	struct control *ctl = req->ctl;
	struct svc_vals vals;
	json_object *result = NULL;
	struct svc_err e;
	uint64_t id = ctl->conf.id;

	if (ctl_arg_u64(req, "node", 0, 1, (uint64_t)INT64_MAX, &id) < 0)
		return;
	if (read_args(req, &vals) != 0)
		return;
	if (id != ctl->conf.id) {
		ask_node(req, id, 1, &vals, NULL);
		return;
	}
	if (apply_settings(ctl, vals.mask, vals.v, &result, &e) != 0) {
		ctl_req_fail(req, e.code, "%s", e.msg);
		return;
	}
	ctl_req_ok(req, result);
}
