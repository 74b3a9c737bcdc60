/*
 * cluster_impl.h — the inside of struct cluster, shared by src/cluster/
 * cluster*.c (not for other modules; they use cluster.h).
 *
 * The files, top to bottom; each calls only the ones below it:
 *
 *   cluster.c          start/stop, the per-iteration check (state changes,
 *                      leader barrier, flush), the tick, stop; wires
 *                      struct cluster_up
 *   cluster_duties.c   per tick: log-disk watchdog, report to the leader,
 *                      self-registration (NODE_SET)
 *   cluster_propose.c  local proposals, the leader's group-commit queue,
 *                      the entry in flight and its results
 *   cluster_members.c  add/remove/transfer/status operations, run on the
 *                      leader or forwarded to it
 *   cluster_service.c  another node's receiver settings: the asking side's
 *                      connection to that node, the asked side's checks
 *   cluster_live.c     the placement view: the members the leader hears
 *                      from, sent to followers in answer to their reports
 *   cluster_status.c   the status JSON and the followers' reports
 *   cluster_server.c   the forwarding port: frames from other nodes
 *   cluster_client.c   a follower's connection to the leader's port
 *   peer_conn.c, peer_frame.c   node-to-node frames (peer.h)
 *   cluster_rafttls.c  the raft port's TLS proxy (a raft/transport.h wrap)
 *   cluster_tls.c      the mutual TLS credentials, reload, refusals
 *
 * Calls go down only. What goes up — a frame from the server or client
 * side, a connection event, a closed handle, a log-disk failure — goes
 * through struct cluster_up, which cluster.c fills with the functions of
 * cluster_propose.c, cluster_members.c and its own. The one remaining
 * direction is the accessors at the top of cluster.c (cluster_now,
 * cluster_realtime_ms, cluster_is_leader, cluster_is_ready_leader), which
 * every file reads: they only read struct cluster and call nothing.
 * Every file reads and writes fields of struct cluster directly; the
 * owner of each group of fields is named beside it.
 *
 * Everything runs on the loop thread.
 */
#ifndef SRC_CLUSTER_IMPL_H
#define SRC_CLUSTER_IMPL_H

#include <raft.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "raft/fsm.h"
#include "raft/node.h"
#include "src/cluster/cluster.h"
#include "src/cluster/peer.h"

#define CLUSTER_BATCH_CAP (4u << 20)   /* bytes of commands per entry */
#define CLUSTER_QUEUE_CAP (512u << 20) /* bytes queued on the leader */
#define CLUSTER_TRY_MS 2000	       /* per-try timeout of a forward */
#define CLUSTER_RETRY_MS 50	       /* pause after a RETRY answer */
#define CLUSTER_TICK_MS 50
#define CLUSTER_PRUNE_MS 1000	    /* leader: node table vs configuration */
#define CLUSTER_REMOVE_WAIT_MS 5000 /* remove: answer once pruned, or then */
#define CLUSTER_REPORT_MS 500	    /* follower -> leader report period */
#define CLUSTER_REACHABLE_MS 2000   /* a report younger than this */
#define CLUSTER_LIVE_STALE_MS                                                  \
	2000 /* follower: the leader's view is used
				       this long after it came */
#define CLUSTER_LIVE_MAX (NODECONF_PEERS_MAX * 4) /* ids in the view */
#define CLUSTER_ADMIN_MS 60000 /* deadline of add/remove/transfer */
#define CLUSTER_STATUS_ASK_MS 1500
#define CLUSTER_STOP_TRANSFER_MS 3000
#define CLUSTER_DISK_STALL_MS 5000
#define CLUSTER_HASH 4096
#define CLUSTER_FRAME_IDLE_MS 10000 /* a partial frame may pause this long */
#define CLUSTER_CONNS_MAX 128	    /* open forwarding connections */

enum lp_state {
	LP_WAITING = 0, /* needs a leader: retried from the tick */
	LP_QUEUED,	/* in this leader's queue or in flight */
	LP_SENT,	/* forwarded, waiting for a RESULT frame */
};

/* A proposal made on this node. */
struct lprop {
	uint64_t req;
	uint8_t *cmd;
	size_t len;
	cluster_propose_cb cb;
	void *arg;
	uint64_t deadline;     /* uv_now() ms */
	uint64_t try_deadline; /* LP_SENT: resend after this */
	uint64_t retry_at;     /* LP_WAITING: not before this */
	enum lp_state state;
	unsigned tries;
	struct qitem *qi;	 /* LP_QUEUED */
	TAILQ_ENTRY(lprop) next; /* in c->lps, oldest first */
	struct lprop *hnext;
};

/* A command in the leader's queue or in the entry in flight. */
struct qitem {
	const uint8_t *cmd;
	size_t len;
	uint8_t *owned;	  /* forwarded commands own their bytes */
	struct lprop *lp; /* local origin (NULL when detached or remote) */
	uint64_t conn_id; /* remote origin: server connection id */
	uint64_t req;	  /* remote origin: the frame's request id */
	int in_flight;	  /* part of the entry being applied */
	TAILQ_ENTRY(qitem) next; /* in c->queue */
};

enum aop_kind {
	AOP_ADD = PEER_OP_ADD,
	AOP_REMOVE = PEER_OP_REMOVE,
	AOP_TRANSFER = PEER_OP_TRANSFER,
	AOP_STATUS = PEER_OP_STATUS,
};

/* An admin operation: membership change, transfer or status. Run on the
 * leader, or forwarded to it. */
struct aop {
	enum aop_kind kind;
	uint64_t id;
	char address[256];
	uint64_t req;
	uint64_t deadline;
	int sent;    /* forwarded, waiting for ADMIN_RESULT */
	int running; /* being executed on this (leader) node */
	/* origin: a local caller, or a remote one (server connection) */
	cluster_done_cb done;
	cluster_status_cb status_cb;
	void *arg;
	uint64_t conn_id;
	uint64_t conn_req;
	TAILQ_ENTRY(aop) next; /* in c->aops */
};

/* What a follower told the leader about itself. */
struct report {
	uint64_t id;
	uint64_t applied, last, commit;
	uint64_t at; /* uv_now() ms */
};

/* What the lower files hand up (see the header comment). */
struct cluster_up {
	/* cluster_server.c: a PROPOSE frame's command, which decodes; 0 when
	 * taken (cmd is then owned), else the PEER_R_* answer to send */
	int (*proposal)(struct cluster *c, uint64_t conn_id, uint64_t req,
			uint8_t *cmd, size_t len);
	/* cluster_server.c: an ADMIN frame (the callee decodes it) */
	void (*admin)(struct cluster *c, struct peer_conn *conn,
		      struct peer_frame *f);
	/* cluster_client.c: a RESULT frame (decoded) / an ADMIN_RESULT */
	void (*result)(struct cluster *c, uint64_t req, int32_t status,
		       const uint8_t *body, size_t blen);
	void (*admin_result)(struct cluster *c, struct peer_frame *f);
	/* cluster_client.c: connected to the leader / connection gone */
	void (*leader_connected)(struct cluster *c);
	void (*leader_lost)(struct cluster *c);
	/* server or client: a connection or the listener closed (stop may
	 * now finish) */
	void (*conn_closed)(struct cluster *c);
	/* cluster_propose.c: raft refused an append for a disk reason */
	void (*disk_error)(struct cluster *c, int rv);
};

struct cluster {
	const struct cluster_up *up; /* set by cluster.c */
	uv_loop_t *loop;
	struct nodeconf conf;
	struct spool *sp;
	struct rnode *node;
	struct raft *raft; /* NULL once closed */
	struct rfsm fsm;
	uint64_t max_payload; /* frame payload limit */

	/* local proposals */
	TAILQ_HEAD(lprop_head, lprop) lps;
	struct lprop *lp_hash[CLUSTER_HASH];
	unsigned nlps;
	uint64_t next_req;

	/* leader queue and the entry in flight */
	TAILQ_HEAD(qitem_head, qitem) queue;
	size_t q_bytes;
	unsigned q_count;
	struct qitem **inflight;
	unsigned ninflight, inflight_cap;
	int apply_inflight;
	struct raft_apply apply_req;
	uint64_t last_stamp;
	int stamp_skewed; /* the wall clock is not followed (next_stamp) */

	/* leadership */
	unsigned short last_state;
	raft_term last_term;
	uint64_t last_leader_id;
	int ready; /* leader and barrier applied */
	int barrier_inflight;
	int barrier_needed;
	struct raft_barrier barrier_req;
	raft_term barrier_term;

	/* membership and transfer */
	TAILQ_HEAD(aop_head, aop) aops;
	struct aop *change_op; /* the op owning change_req */
	struct raft_change change_req;
	int change_inflight;
	uint64_t promote_id; /* added spare to promote (0: none) */
	int promote_pending;
	int remove_wait;	    /* removed: waiting for the node table */
	uint64_t remove_wait_until; /* ... at most until then */
	struct aop *transfer_op;
	struct raft_transfer transfer_req;
	int transfer_inflight;

	/* mutual TLS: credentials (cluster_tls.c), raft proxy
	 * (cluster_rafttls.c) */
	struct peer_tls ptls;
	struct rafttls *rtls; /* NULL in plaintext mode */

	/* forwarding: server side (cluster_server.c) */
	uv_tcp_t listener;
	int listening;
	LIST_HEAD(peer_conn_head, peer_conn) sconns;
	unsigned conns_open; /* accepted or connecting, not yet closed */
	/* forwarding: client side, to the leader (cluster_client.c) */
	struct peer_conn *client;
	uint64_t client_leader_id;
	uint64_t client_connect_at; /* not before (backoff) */
	unsigned client_failures;   /* connects failed in a row */
	uint64_t last_report_sent;
	uint64_t last_report_applied;
	struct report reports[NODECONF_PEERS_MAX * 4]; /* cluster_status.c */
	unsigned nreports;

	/* the placement view (cluster_live.c) */
	uint64_t lead_since; /* cluster_now() when this node became the ready
				leader (cluster.c) */
	uint64_t live_ids[CLUSTER_LIVE_MAX]; /* follower: the leader's view */
	unsigned nlive;
	uint64_t live_at;   /* when it came (0: none) */
	uint64_t live_from; /* the leader that sent it */
	int live_bad_logged;

	/* another node's receiver settings (cluster_service.c) */
	LIST_HEAD(csv_head, csv) svc; /* asks in flight */
	cluster_service_fn svc_fn;
	void *svc_arg;

	/* self-registration (NODE_SET) */
	int node_set_done;
	int node_set_inflight;
	int node_set_again; /* the address changed while one was in flight */
	uint64_t node_set_retry_at;
	int prune_inflight; /* NODE_REMOVE of a non-member in flight */
	uint64_t prune_at;  /* next look at the node table (leader) */

	/* disk watchdog */
	unsigned long long wd_stored;
	uint64_t wd_since;
	int disk_failed;
	uint64_t disk_transfer_at;

	/* fatal FSM failure */
	int fatal;
	void (*fatal_cb)(void *arg, int err);
	void *fatal_arg;

	/* handles and stop */
	uv_check_t check;
	uv_timer_t tick;
	uv_timer_t stop_timer;
	int stopping;
	int stop_phase;	       /* 0 running, 1 transferring, 2 closing */
	int stop_transferring; /* a transfer was started at stop */
	int closes_pending;
	void (*stop_cb)(void *arg);
	void *stop_arg;
};

/* cluster_tls.c */
int ctls_start(struct cluster *c);
void ctls_free(struct cluster *c);

/* cluster_rafttls.c */
struct rafttls;
struct rafttls *rtls_new(uv_loop_t *loop, struct peer_tls *tls);
const struct rtransport_wrap *rtls_wrap(struct rafttls *rt);
unsigned long long rtls_refused(const struct rafttls *rt);
/* Close every pump now; the memory goes with the last one. */
void rtls_free(struct rafttls *rt);

/* cluster.c: accessors (read only, call nothing) */
uint64_t cluster_now(const struct cluster *c);
uint64_t cluster_realtime_ms(void);
int cluster_is_leader(const struct cluster *c);

/* cluster_duties.c */
void ct_duties(struct cluster *c, uint64_t now);
/* struct cluster_up */
void ct_disk_error(struct cluster *c, int rv);

/* cluster_propose.c */
void cp_flush(struct cluster *c);
void cp_tick(struct cluster *c);
void cp_lost_leadership(struct cluster *c);
void cp_became_ready(struct cluster *c);
void cp_fail_all(struct cluster *c, int status);
int cp_propose_internal(struct cluster *c, const void *cmd, size_t len,
			cluster_propose_cb cb, void *arg);
/* 1 when this leader's queue takes len more bytes: the one cap
 * (CLUSTER_QUEUE_CAP, and no failed disk) of local and forwarded
 * proposals alike. */
int cp_queue_has_room(const struct cluster *c, size_t len);
/* struct cluster_up */
int cp_enqueue_remote(struct cluster *c, uint64_t conn_id, uint64_t req,
		      uint8_t *cmd, size_t len);
void cp_result(struct cluster *c, uint64_t req, int32_t st, const uint8_t *body,
	       size_t blen);
void cp_leader_connected(struct cluster *c);
void cp_leader_lost(struct cluster *c);

/* cluster_members.c */
void cm_tick(struct cluster *c);
void cm_check(struct cluster *c);
void cm_fail_all(struct cluster *c, int status, const char *msg);
/* struct cluster_up */
void cm_leader_lost(struct cluster *c);
void cm_admin_result(struct cluster *c, struct peer_frame *f);
void cm_remote_admin(struct cluster *c, struct peer_conn *conn,
		     struct peer_frame *f);

/* cluster_service.c: deadlines (tick); fail every ask and close its
 * connection (stop); an ADMIN frame with a SERVICE_* op (up->admin). */
struct csv;
void csv_tick(struct cluster *c);
void csv_fail_all(struct cluster *c);
void csv_remote(struct cluster *c, struct peer_conn *conn,
		struct peer_frame *f);

/* cluster_live.c: the leader answers a REPORT on conn with its view; a
 * follower takes the view from an ADMIN_RESULT with request id 0; and
 * forgets it when the connection to the leader goes. */
void clv_answer_report(struct cluster *c, struct peer_conn *conn);
void clv_on_view(struct cluster *c, const struct peer_frame *f);
void clv_reset(struct cluster *c);

/* cluster_status.c */
char *cst_json(struct cluster *c, int leader_view);
/* A follower's answer: the leader's JSON with this node's own fields. */
char *cst_merge_leader(struct cluster *c, const char *leader_json);
struct report *cst_report_find(struct cluster *c, uint64_t id);

/* cluster_server.c */
int cs_listen(struct cluster *c);
void cs_close_all(struct cluster *c);
struct peer_conn *cs_find_conn(struct cluster *c, uint64_t id);
void cs_send_result(struct cluster *c, uint64_t conn_id, uint64_t req,
		    int32_t status, const void *body, size_t blen);
void cs_tick(struct cluster *c);

/* cluster_client.c */
void ccl_check(struct cluster *c);
void ccl_close(struct cluster *c);

/* The name of a raft state as logs and the status JSON show it
 * (cluster_state.c). */
const char *cluster_state_name(int state);

/* rfsm.on_snapshot: the snapshot histograms (cluster_metrics.c). */
void cmx_on_snapshot(void *arg, uint64_t ms, size_t bytes);

#endif
