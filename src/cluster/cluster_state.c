/*
 * cluster_state.c — what every file of the cluster reads of the node's
 * state: the loop's clock, the wall clock for stamps, the raft role, the
 * leader this node knows of. The bottom of src/cluster/: it reads struct
 * cluster's fields and calls nothing of the other cluster files, so those
 * (propose, server, client, members, duties) call it without a circle.
 * Owns nothing; cannot fail.
 */
#include "src/base/clock.h"
#include "src/cluster/cluster_impl.h"

uint64_t cluster_now(const struct cluster *c)
{
	return uv_now(c->loop);
}

/* Wall-clock milliseconds since the epoch: the stamp the leader puts in
 * every command (uv_now is monotonic, not a date). */
uint64_t cluster_realtime_ms(void)
{
	return clock_wall_ms();
}

int cluster_is_leader(const struct cluster *c)
{
	return c->raft != NULL && !c->stopping &&
	       raft_state(c->raft) == RAFT_LEADER;
}

int cluster_is_ready_leader(const struct cluster *c)
{
	return cluster_is_leader(c) && c->ready;
}

uint64_t cluster_leader_id(const struct cluster *c)
{
	return c->last_leader_id;
}

const char *cluster_state_name(int state)
{
	switch (state) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	default:
		return "unavailable";
	}
}
