/*
 * control_service.c — the commands of the `nodes` table and of SHOW SERVICE
 * SMTP: start/stop mail (a node's sender), enable/disable service (a
 * node's SMTP receiver), both through raft, and show service smtp (the
 * nodes table plus the receiver settings of the node asked, this one's or
 * another member's (control_service_set.c), and this node's receiver and
 * symbiont statistics); also the
 * statistics providers' registry (control_set_stats, control.h).
 *
 * Owns: these commands' argument checks and the shapes of their results,
 * the providers' table (struct control's stats[]). Does not own the nodes
 * table's rules (spool/store/), what a provider counts (the receiver, the
 * symbiont) or the change's answer (control_change.c).
 *
 * Failures: a node not in the nodes table is "not_found"; a provider that
 * fails shows its section as "statistics unavailable", a section without
 * one as "not running on this node". Every handler answers exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"
#include "src/control/control_impl.h"

/* ---- start/stop mail, enable/disable service ---- */

static void node_change(struct ctl_req *req, uint32_t mask, int on)
{
	struct control *ctl = req->ctl;
	struct spool_node node;
	struct spool_cmd cmd;
	struct ctl_change *op;
	uint64_t id = ctl->conf.id;
	const char *what = mask == NODE_F_MAIL ? "mail (the sender)"
					       : "the SMTP service (receiver)";
	int was;

	if (ctl_arg_u64(req, "node", 0, 1, (uint64_t)INT64_MAX, &id) < 0)
		return;
	if (spool_node_get(ctl->sp, id, &node) != 0) {
		ctl_req_fail(req, "not_found",
			     "%s: node %llu is not in the cluster's node table "
			     "(see cluster status)",
			     req->cmd->name, (unsigned long long)id);
		return;
	}
	was = mask == NODE_F_MAIL ? node.mail_started : node.service_enabled;
	if ((op = ctl_change_new(req)) == NULL)
		return;
	snprintf(op->ok, sizeof(op->ok), "%s %s%s", what,
		 mask == NODE_F_MAIL ? (on ? "started" : "stopped")
				     : (on ? "enabled" : "disabled"),
		 was == on ? " (it already was)" : "");
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_NODE_SET;
	cmd.u.node_set.id = id;
	cmd.u.node_set.mask = mask;
	cmd.u.node_set.name = "";
	cmd.u.node_set.smtp = "";
	cmd.u.node_set.cluster = "";
	cmd.u.node_set.mail_started = (uint8_t)on;
	cmd.u.node_set.service_enabled = (uint8_t)on;
	op->extra = json_object_new_object();
	json_object_object_add(op->extra, "node",
			       json_object_new_int64((int64_t)id));
	json_object_object_add(op->extra, "name",
			       json_object_new_string(node.name));
	json_object_object_add(
	    op->extra, mask == NODE_F_MAIL ? "mail" : "service",
	    json_object_new_string(mask == NODE_F_MAIL
				       ? (on ? "started" : "stopped")
				       : (on ? "enabled" : "disabled")));
	ctl_change_propose(req, &cmd, op);
}

void ctl_start_mail(struct ctl_req *req)
{
	node_change(req, NODE_F_MAIL, 1);
}

void ctl_stop_mail(struct ctl_req *req)
{
	node_change(req, NODE_F_MAIL, 0);
}

void ctl_enable_service(struct ctl_req *req)
{
	node_change(req, NODE_F_SERVICE, 1);
}

void ctl_disable_service(struct ctl_req *req)
{
	node_change(req, NODE_F_SERVICE, 0);
}

/* ---- show service smtp ---- */

static int node_visit(const struct spool_node *n, void *arg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64((int64_t)n->id));
	json_object_object_add(o, "name", json_object_new_string(n->name));
	json_object_object_add(o, "smtp", json_object_new_string(n->smtp));
	json_object_object_add(o, "cluster",
			       json_object_new_string(n->cluster));
	json_object_object_add(
	    o, "mail",
	    json_object_new_string(n->mail_started ? "started" : "stopped"));
	json_object_object_add(o, "service",
			       json_object_new_string(n->service_enabled
							  ? "enabled"
							  : "disabled"));
	json_object_array_add(arg, o);
	return 0;
}

/* One statistics section from its provider, or "not running". */
static json_object *stats_section(struct control *ctl, const char *section)
{
	json_object *o = json_object_new_object();

	for (unsigned i = 0; i < ctl->nstats; i++) {
		if (strcmp(ctl->stats[i].section, section) != 0)
			continue;
		if (ctl->stats[i].fn(ctl->stats[i].arg, o) < 0) {
			json_object_put(o);
			o = json_object_new_object();
			json_object_object_add(
			    o, "status",
			    json_object_new_string("statistics unavailable"));
		}
		return o;
	}
	json_object_object_add(
	    o, "status", json_object_new_string("not running on this node"));
	return o;
}

void ctl_show_service(struct ctl_req *req)
{
	static const char *const sections[] = {"receiver", "symbiont"};
	struct control *ctl = req->ctl;
	json_object *result, *nodes, *stats;
	uint64_t id = ctl->conf.id;
	int rc;

	if (ctl_arg_u64(req, "node", 0, 1, (uint64_t)INT64_MAX, &id) < 0)
		return;
	nodes = json_object_new_array();
	rc = spool_node_foreach(ctl->sp, node_visit, nodes);
	if (rc < 0) {
		json_object_put(nodes);
		ctl_req_fail(req, "failed", "show service smtp: %s",
			     spool_strerror(rc));
		return;
	}
	stats = json_object_new_object();
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		json_object_object_add(stats, sections[i],
				       stats_section(ctl, sections[i]));
	for (unsigned i = 0; i < ctl->nstats; i++)
		if (!json_object_object_get_ex(stats, ctl->stats[i].section,
					       NULL))
			json_object_object_add(
			    stats, ctl->stats[i].section,
			    stats_section(ctl, ctl->stats[i].section));
	result = json_object_new_object();
	json_object_object_add(result, "nodes", nodes);
	json_object_object_add(result, "statistics", stats);
	ctl_add_applied(ctl, result);
	ctl_service_settings_of(req, id, result);
}

/* ---- statistics providers ---- */

void control_set_stats(struct control *ctl, const char *section,
		       control_stats_fn fn, void *arg)
{
	unsigned i;

	if (ctl == NULL || section == NULL ||
	    strlen(section) >= sizeof(ctl->stats[0].section))
		return;
	for (i = 0; i < ctl->nstats; i++)
		if (strcmp(ctl->stats[i].section, section) == 0)
			break;
	if (fn == NULL) {
		if (i < ctl->nstats) {
			ctl->nstats--;
			memmove(&ctl->stats[i], &ctl->stats[i + 1],
				(ctl->nstats - i) * sizeof(ctl->stats[0]));
		}
		return;
	}
	if (i == ctl->nstats) {
		if (ctl->nstats == CTL_STATS_MAX) {
			log_warn("control: no room for statistics section %s",
				 section);
			return;
		}
		ctl->nstats++;
		snprintf(ctl->stats[i].section, sizeof(ctl->stats[i].section),
			 "%s", section);
	}
	ctl->stats[i].fn = fn;
	ctl->stats[i].arg = arg;
}
