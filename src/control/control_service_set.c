/*
 * control_service_set.c — SET SERVICE SMTP (seed Table 18-3, issue #14):
 * change this node's receiver settings (listen address, session and
 * per-address limits, trusted networks, STARTTLS files) on the running
 * node, and the "settings" part of SHOW SERVICE SMTP.
 *
 * Owns: the command's arguments and their checks (with node.conf's own
 * rules, nodeconf_override_set), the refusal of another node's id, the
 * answer's shape, and control_set_service (the daemon's hook). Does not own
 * applying the settings to the receiver or writing them to the override
 * file (the hook: src/daemon/main.c, src/smtpd/smtp_server_reconf.c,
 * src/base/nodeconf_override.c).
 *
 * The settings are one node's, not the cluster's: nothing here goes
 * through raft. The control protocol reaches only the node whose socket it
 * is connected to, so --node names this node or is refused.
 *
 * Failures: bad values are "usage" (nothing changed); a receiver that
 * refuses the change (port in use, unreadable certificate) or a file that
 * cannot be written is "failed" with its reason, the old settings kept.
 * Every handler answers exactly once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

json_object *ctl_service_settings(struct control *ctl, uint64_t node)
{
	json_object *o = json_object_new_object(), *from;
	char path[NODECONF_STR + 32];

	if (node != ctl->conf.id) {
		char msg[200];

		snprintf(msg, sizeof(msg),
			 "node %" PRIu64 "'s receiver settings: ask its own "
			 "control socket (smtpctl -s)",
			 node);
		json_object_object_add(o, "status",
				       json_object_new_string(msg));
		return o;
	}
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

/* Read the settings of the request into next; their bits in *mask. 0, or
 * -1 after answering. */
static int read_settings(struct ctl_req *req, struct nodeconf *next,
			 unsigned *mask)
{
	char why[400], num[32];

	*mask = 0;
	for (size_t i = 0; i < NSETTINGS; i++) {
		const char *v = NULL;
		uint64_t n = 0;
		int rc;

		if (settings[i].num) {
			rc = ctl_arg_u64(req, settings[i].arg, 0, 0, UINT32_MAX,
					 &n);
			if (rc == 0) {
				snprintf(num, sizeof(num), "%" PRIu64, n);
				v = num;
			}
		} else {
			rc = ctl_arg_str(req, settings[i].arg, 0, SETTING_MAX,
					 &v);
		}
		if (rc < 0)
			return -1;
		if (rc == 1)
			continue;
		if (nodeconf_override_set(next, settings[i].bit, v, why,
					  sizeof(why)) != 0) {
			ctl_req_fail(req, "usage", "%s: %s", req->cmd->name,
				     why);
			return -1;
		}
		*mask |= settings[i].bit;
	}
	if (*mask == 0) {
		ctl_req_fail(req, "usage",
			     "%s: nothing to change (give --listen, "
			     "--max-sessions, --max-per-ip, --trusted, or "
			     "--tls-cert with --tls-key)",
			     req->cmd->name);
		return -1;
	}
	if (!(*mask & NODECONF_OV_TLS_CERT) != !(*mask & NODECONF_OV_TLS_KEY)) {
		ctl_req_fail(req, "usage",
			     "%s: --tls-cert and --tls-key go together (a "
			     "certificate with its own key)",
			     req->cmd->name);
		return -1;
	}
	return 0;
}

void ctl_set_service(struct ctl_req *req)
{
	struct control *ctl = req->ctl;
	struct nodeconf *next;
	json_object *result, *changed;
	uint64_t id = ctl->conf.id;
	char err[512];
	unsigned mask;

	if (ctl_arg_u64(req, "node", 0, 1, (uint64_t)INT64_MAX, &id) < 0)
		return;
	if (id != ctl->conf.id) {
		ctl_req_fail(req, "not_here",
			     "%s: node %" PRIu64 " is not this node (%" PRIu64
			     ", %s): a node's receiver settings are its own, "
			     "not replicated; run the command on node "
			     "%" PRIu64 "'s control socket (smtpctl -s SOCKET)",
			     req->cmd->name, id, ctl->conf.id, ctl->conf.name,
			     id);
		return;
	}
	/* struct nodeconf is large: not on the loop's stack */
	if ((next = malloc(sizeof(*next))) == NULL) {
		ctl_req_fail(req, "failed", "%s: out of memory",
			     req->cmd->name);
		return;
	}
	*next = ctl->conf;
	if (read_settings(req, next, &mask) != 0)
		goto free_next;
	if (ctl->service_fn == NULL) {
		ctl_req_fail(req, "not_running",
			     "%s: the SMTP receiver does not run on this node",
			     req->cmd->name);
		goto free_next;
	}
	if (ctl->service_fn(ctl->service_arg, next, mask, err, sizeof(err)) !=
	    0) {
		ctl_req_fail(req, "failed",
			     "%s: %s (nothing changed: the old settings stay "
			     "in force)",
			     req->cmd->name, err);
		goto free_next;
	}
	nodeconf_override_copy(&ctl->conf, next, mask);
	result = json_object_new_object();
	changed = json_object_new_array();
	for (size_t i = 0; i < NSETTINGS; i++)
		if (mask & settings[i].bit)
			json_object_array_add(
			    changed, json_object_new_string(settings[i].arg));
	json_object_object_add(result, "name",
			       json_object_new_string(ctl->conf.name));
	json_object_object_add(
	    result, "message",
	    json_object_new_string("receiver settings changed without a "
				   "restart, kept in the override file"));
	json_object_object_add(result, "changed", changed);
	json_object_object_add(result, "settings",
			       ctl_service_settings(ctl, ctl->conf.id));
	ctl_add_applied(ctl, result);
	ctl_req_ok(req, result);

free_next:
	free(next);
}
