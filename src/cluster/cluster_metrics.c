/*
 * cluster_metrics.c — what the cluster gives the metrics endpoint: this
 * node's raft numbers (state, term, commit/applied/last indexes, FSM and
 * proposal counters) as a plain struct, and the snapshot observations
 * (duration, size) for the node's histograms.
 *
 * Owns: the reading of those fields. Does not own the text format or the
 * families' names (src/metrics/), or the status JSON (cluster_status.c).
 * Reads only; fails with -1 once raft is closed.
 */
#include "src/cluster/cluster_impl.h"

#include <string.h>

#include "src/metrics/metrics.h"

int cluster_numbers(const struct cluster *c, struct cluster_numbers *n)
{
	struct raft *r;
	raft_id lid = 0;
	const char *laddr = NULL;

	memset(n, 0, sizeof(*n));
	if (c == NULL || c->raft == NULL)
		return -1;
	r = c->raft;
	n->state = cluster_state_name(raft_state(r));
	n->term = raft_current_term(r);
	n->commit_index = raft_commit_index(r);
	n->applied_index = raft_last_applied(r);
	n->last_index = raft_last_index(r);
	raft_leader(r, &lid, &laddr);
	n->leader_id = lid;
	n->applied_entries = c->fsm.applied_entries;
	n->applied_commands = c->fsm.applied_cmds;
	n->malformed_entries = c->fsm.malformed_entries;
	n->snapshots = c->fsm.snapshots;
	n->restores = c->fsm.restores;
	n->pending_proposals = c->nlps;
	n->queued_commands = c->q_count;
	for (unsigned i = 0; i < r->configuration.n; i++)
		if (r->configuration.servers[i].role == RAFT_VOTER)
			n->voters++;
	return 0;
}

void cmx_on_snapshot(void *arg, uint64_t ms, size_t bytes)
{
	metrics_observe(MH_SNAPSHOT_SECONDS, (double)ms / 1000.0);
	metrics_observe(MH_SNAPSHOT_BYTES, (double)bytes);
}
