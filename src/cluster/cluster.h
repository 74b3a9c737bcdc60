/*
 * cluster.h — the daemon's view of the replicated spool: propose a spool
 * command from any node (forwarded to the leader when this node follows),
 * cluster status and membership. Implemented in src/cluster*.c over raft/.
 *
 * Callbacks run on the loop thread. A proposal's callback is called exactly
 * once: status 0 with the spool's result (res->status is the business
 * outcome), or a negative CLUSTER_E_* when the outcome is unknown or no
 * quorum could be reached before the deadline.
 */
#ifndef SRC_CLUSTER_H
#define SRC_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "spool/store/spool.h"
#include "src/base/nodeconf.h"

enum cluster_err {
	CLUSTER_E_NOQUORUM = -100,  /* no leader / no quorum before deadline */
	CLUSTER_E_SHUTDOWN = -101,  /* node is stopping */
	CLUSTER_E_TOOBIG = -102,    /* proposal larger than max_frame */
	CLUSTER_E_INVAL = -103,	    /* bad argument */
	CLUSTER_E_FAILED = -104,    /* raft refused (with a message) */
	CLUSTER_E_NOTMEMBER = -105, /* no such member (cluster_service_ask) */
	CLUSTER_E_UNREACHABLE = -106, /* no answer from the member asked */
};

struct cluster;

typedef void (*cluster_propose_cb)(void *arg, int status,
				   const struct spool_result *res);
typedef void (*cluster_done_cb)(void *arg, int status, const char *msg);

/* Route raft/'s log lines (rlog.h) to the daemon's log (log.h). Call once
 * after log_init(); until then raft/ writes to stderr. */
void cluster_log_init(void);

/* Create and start the node: open raft in conf->data_dir, bootstrap if
 * asked, listen for forwarded proposals. The spool is owned by the caller
 * and must outlive the cluster. */
int cluster_start(struct cluster **out, uv_loop_t *loop,
		  const struct nodeconf *conf, struct spool *sp);

/* Stop: a leader transfers leadership first; cb once everything is
 * closed. */
void cluster_stop(struct cluster *c, void (*cb)(void *arg), void *arg);

/* Release a stopped cluster (after cluster_stop's callback ran). */
void cluster_free(struct cluster *c);

/* Called (once, from the loop's check) when the spool environment failed
 * inside the FSM: the node must stop. */
void cluster_set_fatal_cb(struct cluster *c, void (*cb)(void *arg, int err),
			  void *arg);

/* Propose an encoded spool command (spool_cmd_encode). The cluster takes a
 * copy. The leader stamps the time; the proposer's node id and request id
 * are set here. Retries on leader change with the same request until
 * conf->propose_timeout_ms. */
int cluster_propose(struct cluster *c, const void *cmd, size_t len,
		    cluster_propose_cb cb, void *arg);

/* Membership and leadership, run on the leader (forwarded if needed). */
int cluster_add(struct cluster *c, uint64_t id, const char *address,
		cluster_done_cb cb, void *arg);
int cluster_remove(struct cluster *c, uint64_t id, cluster_done_cb cb,
		   void *arg);
int cluster_transfer(struct cluster *c, uint64_t id, cluster_done_cb cb,
		     void *arg); /* id 0: let raft choose */

/* Status as a JSON text (malloc'd, caller frees), with the shape of issue
 * #3: {"leader": {"id","address"}|null, "term", "members": [...]} plus
 * per-node log indexes. cb because a follower asks the leader for
 * reachability and match indexes. */
typedef void (*cluster_status_cb)(void *arg, int status, char *json);
int cluster_status(struct cluster *c, cluster_status_cb cb, void *arg);

/* The receiver listens at a new address (SET SERVICE SMTP): register it
 * in the replicated node table, as at start-up, retried until a leader
 * takes it. */
void cluster_set_smtp_address(struct cluster *c, const char *addr);

/* Cluster time as this node knows it, ms since the epoch: its wall clock
 * while that agrees with cluster time, else the highest stamp applied
 * here advanced by the monotonic clock since (the rule of the leader's
 * stamp, cluster_stamp.h). What the delivery scan compares due times and
 * grace with: a node whose clock is ahead would see every file past the
 * other nodes' grace and take them all, one behind would see nothing
 * due. */
uint64_t cluster_time_ms(const struct cluster *c);

/* The largest message body a proposal can carry: the cluster's frame
 * limit less room for the envelope (the receiver caps SIZE with it). */
uint64_t cluster_max_body(const struct cluster *c);

/* SIGHUP: load the cluster CA, certificate and key again; new
 * connections use them. 0, or CLUSTER_E_FAILED (logged; the ones in use
 * stay). */
int cluster_tls_reload(struct cluster *c);

/* SHOW SERVICE's "cluster" statistics (a control_stats_fn): tls (mutual
 * or off), peer_refused (forwarding connections refused), raft_refused. */
struct json_object;
int cluster_peer_stats(void *arg, struct json_object *o);

/* ---- another node's receiver settings (issue #14) ----
 *
 * SET / SHOW SERVICE SMTP --node N, N a member other than this node: the
 * request goes to N's forwarding port (mutual TLS, cluster_service.c) in
 * an ADMIN frame, and N runs it through its own hook (below), with the
 * checks, persistence and live change of a request on its own control
 * socket. values[k] is the text of bit 1 << k of mask (NODECONF_OV_*);
 * SHOW has mask 0. cb runs once, never from inside the call: status 0 and
 * N's answer (the hook's JSON text, valid during the call);
 * CLUSTER_E_UNREACHABLE when no connection could be made, it was lost or
 * refused before an answer, or no answer came in CLUSTER_SERVICE_MS (text
 * says which); CLUSTER_E_FAILED and N's reason when N refused the frame;
 * CLUSTER_E_SHUTDOWN when this node stops first. Returns 0, or
 * CLUSTER_E_NOTMEMBER (N is not in this node's raft configuration),
 * CLUSTER_E_INVAL (N is this node, a bad mask), CLUSTER_E_SHUTDOWN or
 * CLUSTER_E_FAILED (out of memory): then cb is never called. */
#define CLUSTER_SERVICE_VALUES 8
#define CLUSTER_SERVICE_MS 10000
typedef void (*cluster_service_cb)(void *arg, int status, const char *text);
int cluster_service_ask(struct cluster *c, uint64_t node, int set,
			unsigned mask,
			const char *const values[CLUSTER_SERVICE_VALUES],
			cluster_service_cb cb, void *arg);

/* The asked node's side: fn(arg, set, mask, values) runs the request as
 * the control server would and returns its answer (malloc'd JSON text,
 * freed by the cluster; NULL when out of memory). Only a request from a
 * current member of this node's configuration reaches it. fn NULL (the
 * default, or at stop): requests are refused. */
typedef char *(*cluster_service_fn)(
    void *arg, int set, unsigned mask,
    const char *const values[CLUSTER_SERVICE_VALUES]);
void cluster_set_service_hook(struct cluster *c, cluster_service_fn fn,
			      void *arg);

/* The id of the leader this node knows of, 0 while it knows none. */
uint64_t cluster_leader_id(const struct cluster *c);

/* This node's raft numbers for the metrics endpoint (cluster_metrics.c). */
struct cluster_numbers {
	const char *state; /* "leader", "follower", ... */
	uint64_t term, commit_index, applied_index, last_index, leader_id;
	uint64_t applied_entries, applied_commands, malformed_entries;
	uint64_t snapshots, restores, pending_proposals, queued_commands;
	int voters;
};
/* 0, or -1 once raft is closed. */
int cluster_numbers(const struct cluster *c, struct cluster_numbers *n);

/* 1 when this node is the leader and has applied its barrier. */
int cluster_is_ready_leader(const struct cluster *c);

/* The placement view (cluster_live.c): the members the leader hears from
 * (a member it has had no report from for longer than an election
 * timeout, at least 2 s, is left out), for the symbiont's placement.
 * Returns 1 and puts up to max ids in ids (*n of them) when this node
 * leads, or follows and has the current leader's view from less than 2 s
 * ago; 0 when it knows none (no leader, cut off from it, an old leader):
 * then nothing is known dead. */
int cluster_live_nodes(const struct cluster *c, uint64_t *ids, size_t max,
		       size_t *n);

#endif
