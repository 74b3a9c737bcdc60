/*
 * cluster_status.c — the status report of cluster_status() as JSON: this
 * node's raft state, the members with what the leader knows of each
 * (reachability, match index, the applied indexes its followers report),
 * FSM and queue statistics; and the merge of the leader's report with a
 * follower's own fields. Owns the table of follower reports.
 *
 * Does not own the status operation itself (cluster_members.c runs it on
 * the leader or forwards it) and changes nothing in raft. Reads only; a
 * failed allocation gives a NULL text, which the caller reports.
 */
#include "src/cluster/cluster_impl.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* The report of follower id: found, or a new zeroed one (NULL when the
 * table is full). */
struct report *cst_report_find(struct cluster *c, uint64_t id)
{
	unsigned cap = sizeof(c->reports) / sizeof(c->reports[0]);

	for (unsigned i = 0; i < c->nreports; i++) {
		if (c->reports[i].id == id) {
			return &c->reports[i];
		}
	}
	if (c->nreports < cap) {
		struct report *r = &c->reports[c->nreports++];
		memset(r, 0, sizeof(*r));
		r->id = id;
		return r;
	}
	return NULL;
}

static const char *role_name(int role)
{
	switch (role) {
	case RAFT_VOTER:
		return "voter";
	case RAFT_STANDBY:
		return "standby";
	case RAFT_SPARE:
		return "spare";
	default:
		return "unknown";
	}
}

static void put_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

/* The node's own fields, at the top level and in its member entry. */
static void put_self(struct cluster *c, json_object *o)
{
	struct raft *r = c->raft;
	put_u64(o, "applied_index", raft_last_applied(r));
	put_u64(o, "last_log_index", raft_last_index(r));
	put_u64(o, "commit_index", raft_commit_index(r));
}

static json_object *member_json(struct cluster *c, const struct raft_server *s,
				raft_id leader_id, int leader_view)
{
	json_object *m = json_object_new_object();
	struct spool_node sn;
	uint64_t now = cluster_now(c);

	memset(&sn, 0, sizeof(sn));
	if (spool_node_get(c->sp, s->id, &sn) != 0) {
		memset(&sn, 0, sizeof(sn));
	}
	put_u64(m, "id", s->id);
	json_object_object_add(m, "name", json_object_new_string(sn.name));
	json_object_object_add(m, "address",
			       json_object_new_string(s->address));
	json_object_object_add(m, "smtp", json_object_new_string(sn.smtp));
	json_object_object_add(m, "role",
			       json_object_new_string(role_name(s->role)));
	if (s->id == c->conf.id) {
		json_object_object_add(
		    m, "state",
		    json_object_new_string(
			cluster_state_name(raft_state(c->raft))));
		json_object_object_add(m, "reachable",
				       json_object_new_boolean(1));
		put_self(c, m);
	} else if (leader_view) {
		struct report *rep = cst_report_find(c, s->id);
		int fresh = rep != NULL && rep->at != 0 &&
			    now - rep->at < CLUSTER_REACHABLE_MS;
		raft_index match = 0;
		json_object_object_add(
		    m, "state",
		    json_object_new_string(fresh ? "follower" : "unavailable"));
		json_object_object_add(m, "reachable",
				       json_object_new_boolean(fresh));
		if (rep != NULL && rep->at != 0) {
			put_u64(m, "applied_index", rep->applied);
			put_u64(m, "last_log_index", rep->last);
			put_u64(m, "commit_index", rep->commit);
			put_u64(m, "report_age_ms", now - rep->at);
		} else {
			json_object_object_add(m, "applied_index", NULL);
		}
		if (raft_match_index(c->raft, s->id, &match) == 0) {
			put_u64(m, "match_index", match);
		}
	} else {
		json_object_object_add(
		    m, "state",
		    json_object_new_string(s->id == leader_id ? "leader"
							      : "unavailable"));
		json_object_object_add(m, "reachable",
				       json_object_new_boolean(0));
		json_object_object_add(m, "applied_index", NULL);
	}
	return m;
}

/* Status as seen from here; leader_view adds what only the leader knows
 * (reachability, match indexes, reported applied indexes). */
static json_object *status_object(struct cluster *c, int leader_view)
{
	struct raft *r = c->raft;
	json_object *o = json_object_new_object();
	json_object *members = json_object_new_array();
	json_object *stats = json_object_new_object();
	raft_id lid = 0;
	const char *laddr = NULL;

	leader_view = leader_view && raft_state(r) == RAFT_LEADER;
	raft_leader(r, &lid, &laddr);
	put_u64(o, "self", c->conf.id);
	json_object_object_add(o, "name", json_object_new_string(c->conf.name));
	if (lid != 0 && laddr != NULL) {
		json_object *l = json_object_new_object();
		put_u64(l, "id", lid);
		json_object_object_add(l, "address",
				       json_object_new_string(laddr));
		json_object_object_add(o, "leader", l);
	} else {
		json_object_object_add(o, "leader", NULL);
	}
	put_u64(o, "term", raft_current_term(r));
	json_object_object_add(
	    o, "state",
	    json_object_new_string(cluster_state_name(raft_state(r))));
	json_object_object_add(
	    o, "ready", json_object_new_boolean(cluster_is_ready_leader(c)));
	put_self(c, o);
	json_object_object_add(
	    o, "source",
	    json_object_new_string(leader_view ? "leader" : "local"));
	for (unsigned i = 0; i < r->configuration.n; i++) {
		json_object_array_add(
		    members, member_json(c, &r->configuration.servers[i], lid,
					 leader_view));
	}
	json_object_object_add(o, "members", members);
	put_u64(stats, "applied_entries", c->fsm.applied_entries);
	put_u64(stats, "applied_commands", c->fsm.applied_cmds);
	put_u64(stats, "malformed_entries", c->fsm.malformed_entries);
	put_u64(stats, "snapshots_taken", c->fsm.snapshots);
	put_u64(stats, "snapshots_restored", c->fsm.restores);
	put_u64(stats, "pending_proposals", c->nlps);
	put_u64(stats, "queued_commands", c->q_count);
	put_u64(stats, "last_stored", c->raft->last_stored);
	put_u64(stats, "raft_handshakes_refused",
		c->node != NULL ? rnode_refused_handshakes(c->node) : 0);
	json_object_object_add(stats, "disk_failed",
			       json_object_new_boolean(c->disk_failed));
	json_object_object_add(o, "stats", stats);
	return o;
}

static char *json_text(json_object *o)
{
	char *s =
	    strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

char *cst_json(struct cluster *c, int leader_view)
{
	return json_text(status_object(c, leader_view));
}

/* A follower's answer: the leader's view, with this node's own fields. */
char *cst_merge_leader(struct cluster *c, const char *leader_json)
{
	json_object *o = json_tokener_parse(leader_json);
	json_object *mine = status_object(c, 0);
	json_object *members, *v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "members", &members) ||
	    !json_object_is_type(members, json_type_array)) {
		json_object_put(o);
		return json_text(mine);
	}
	/* top-level fields describe this node */
	static const char *const self_keys[] = {
	    "self",	     "name",	       "state",	       "ready",
	    "applied_index", "last_log_index", "commit_index", "stats"};
	for (size_t i = 0; i < sizeof(self_keys) / sizeof(self_keys[0]); i++) {
		if (json_object_object_get_ex(mine, self_keys[i], &v)) {
			json_object_object_add(o, self_keys[i],
					       json_object_get(v));
		}
	}
	for (size_t i = 0; i < json_object_array_length(members); i++) {
		json_object *m = json_object_array_get_idx(members, i);
		json_object *id;
		if (json_object_object_get_ex(m, "id", &id) &&
		    json_object_get_uint64(id) == c->conf.id) {
			json_object_object_add(
			    m, "state",
			    json_object_new_string(
				cluster_state_name(raft_state(c->raft))));
			json_object_object_add(m, "reachable",
					       json_object_new_boolean(1));
			put_self(c, m);
		}
	}
	json_object_object_add(o, "source", json_object_new_string("leader"));
	json_object_put(mine);
	return json_text(o);
}
