/*
 * cluster_duties.c — what a running node does on every tick besides
 * deadlines: the log-disk watchdog (entries appended but never stored: stop
 * serving as leader and hand leadership over), the follower's progress
 * report to the leader (read by cluster_status.c there), and this node's
 * self-registration in the spool's node table (NODE_SET, proposed like
 * any command), and, on the leader, the node table's pruning: a node the
 * raft configuration no longer has (`cluster remove`) leaves the table
 * (NODE_REMOVE), so placement and SHOW SERVICE forget it.
 *
 * Owns the watchdog and registration fields of struct cluster. Calls down
 * into cluster_propose.c and the peer layer only. Failures are logged
 * and retried from a later tick; a disk failure is sticky until the log
 * is written again.
 */
#include "src/cluster/cluster_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/wire.h"
#include "src/base/log.h"

static void disk_transfer_cb(struct raft_transfer *req)
{
	struct cluster *c = req->data;
	c->transfer_inflight = 0;
}

/* The log-disk watchdog: entries appended but never stored. */
static void disk_watchdog(struct cluster *c, uint64_t now)
{
	struct raft *r = c->raft;
	unsigned long long last = raft_last_index(r);
	unsigned long long stored = r->last_stored;

	if (stored >= last) {
		if (c->disk_failed) {
			log_warn("raft: the log is being written again "
				 "(index %llu)",
				 stored);
		}
		c->disk_failed = 0;
		c->wd_stored = stored;
		c->wd_since = now;
	} else if (stored != c->wd_stored) {
		c->wd_stored = stored;
		c->wd_since = now;
	} else if (!c->disk_failed &&
		   now - c->wd_since > CLUSTER_DISK_STALL_MS) {
		c->disk_failed = 1;
		log_error("raft: CANNOT WRITE THE RAFT LOG in %s: entries up "
			  "to %llu are stuck after %llu for %u ms; this node "
			  "stops serving as leader",
			  c->conf.data_dir, last, stored,
			  CLUSTER_DISK_STALL_MS);
	}
	if (c->disk_failed && raft_state(r) == RAFT_LEADER &&
	    now >= c->disk_transfer_at && !c->transfer_inflight) {
		c->disk_transfer_at = now + 5000;
		if (c->ready) {
			c->ready = 0;
			cp_lost_leadership(c);
		}
		c->transfer_req.data = c;
		if (raft_transfer(r, &c->transfer_req, 0, disk_transfer_cb) ==
		    0) {
			c->transfer_inflight = 1;
			log_warn("raft: handing leadership over (log disk "
				 "failed)");
		}
	}
}

/* raft refused an append for a disk reason: stop serving as leader. */
void ct_disk_error(struct cluster *c, int rv)
{
	if (!c->disk_failed) {
		c->disk_failed = 1;
		log_error("raft: CANNOT WRITE THE RAFT LOG in %s: %s; this "
			  "node stops serving as leader",
			  c->conf.data_dir, raft_strerror(rv));
	}
}

static void node_set_cb(void *arg, int status, const struct spool_result *res)
{
	struct cluster *c = arg;

	c->node_set_inflight = 0;
	if (c->node_set_again) {
		c->node_set_again = 0; /* register the newer address */
		return;
	}
	if (status == 0 && res != NULL && res->status == 0) {
		c->node_set_done = 1;
		log_info("cluster: registered %s (smtp %s, cluster %s) in the "
			 "spool",
			 c->conf.name, c->conf.smtp_listen,
			 c->conf.cluster_address);
		return;
	}
	if (c->stopping) {
		return;
	}
	log_warn("cluster: registering this node failed (%d/%d); retrying",
		 status, res != NULL ? res->status : 0);
	c->node_set_retry_at = cluster_now(c) + 2000;
}

/* 1 when id is in this node's raft configuration (any role). */
static int in_configuration(const struct cluster *c, uint64_t id)
{
	const struct raft_configuration *cf = &c->raft->configuration;

	for (unsigned i = 0; i < cf->n; i++) {
		if (cf->servers[i].id == id) {
			return 1;
		}
	}
	return 0;
}

/* Propose NODE_SET with this node's name, addresses and mail domain (every
 * node treats every registered domain as local), once a leader can take
 * it. */
static void self_register(struct cluster *c, uint64_t now)
{
	struct spool_cmd cmd;
	struct wbuf wb;
	raft_id lid = 0;
	const char *laddr = NULL;

	if (c->node_set_done || c->node_set_inflight ||
	    now < c->node_set_retry_at) {
		return;
	}
	if (!in_configuration(c, c->conf.id)) {
		return; /* removed, or not added yet: the table is not ours */
	}
	raft_leader(c->raft, &lid, &laddr);
	if (lid == 0) {
		return;
	}
	if (lid == c->conf.id ? !c->ready
			      : (c->client == NULL || !c->client->connected)) {
		return;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_NODE_SET;
	cmd.u.node_set.id = c->conf.id;
	cmd.u.node_set.mask =
	    NODE_F_NAME | NODE_F_SMTP | NODE_F_CLUSTER | NODE_F_DOMAIN;
	cmd.u.node_set.name = c->conf.name;
	cmd.u.node_set.domain = c->conf.domain;
	cmd.u.node_set.smtp = c->conf.smtp_listen;
	cmd.u.node_set.cluster = c->conf.cluster_address;
	wbuf_init(&wb);
	if (spool_cmd_encode(&cmd, &wb) != 0) {
		log_error("cluster: cannot encode NODE_SET");
		c->node_set_done = 1;
		wbuf_free(&wb);
		return;
	}
	if (cp_propose_internal(c, wb.p, wb.len, node_set_cb, c) == 0) {
		c->node_set_inflight = 1;
	} else {
		c->node_set_retry_at = now + 2000;
	}
	wbuf_free(&wb);
}

void cluster_set_smtp_address(struct cluster *c, const char *addr)
{
	if (c == NULL || strlen(addr) >= sizeof(c->conf.smtp_listen))
		return;
	memcpy(c->conf.smtp_listen, addr, strlen(addr) + 1);
	c->node_set_done = 0;
	c->node_set_retry_at = 0;
	if (c->node_set_inflight)
		c->node_set_again = 1;
}

/* The first registered node that is no longer a member. */
struct prune_find {
	const struct cluster *c;
	uint64_t id;
	char name[64];
};

static int prune_visit(const struct spool_node *n, void *arg)
{
	struct prune_find *f = arg;

	if (in_configuration(f->c, n->id)) {
		return 0;
	}
	f->id = n->id;
	snprintf(f->name, sizeof(f->name), "%s", n->name);
	return 1; /* stop */
}

static void prune_cb(void *arg, int status, const struct spool_result *res)
{
	struct cluster *c = arg;

	c->prune_inflight = 0;
	if (status != 0 || res == NULL ||
	    (res->status != 0 && res->status != SPOOL_E_NOTFOUND)) {
		c->prune_at = cluster_now(c) + 2000; /* try again later */
	}
}

/* On the ready leader, once a second: NODE_REMOVE for a node the
 * configuration no longer has. The rule is convergent: a NODE_SET of a
 * removed node that arrives late is pruned again. */
static void prune_node_table(struct cluster *c, uint64_t now)
{
	struct prune_find f = {.c = c};
	struct spool_cmd cmd;
	struct wbuf wb;

	if (!c->ready || c->prune_inflight || now < c->prune_at) {
		return;
	}
	c->prune_at = now + CLUSTER_PRUNE_MS;
	if (spool_node_foreach(c->sp, prune_visit, &f) < 0 || f.id == 0) {
		return;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_NODE_REMOVE;
	cmd.u.node_set.id = f.id;
	wbuf_init(&wb);
	if (spool_cmd_encode(&cmd, &wb) == 0 &&
	    cp_propose_internal(c, wb.p, wb.len, prune_cb, c) == 0) {
		c->prune_inflight = 1;
		log_info("cluster: node %llu (%s) is no longer a member; "
			 "removing it from the node table",
			 (unsigned long long)f.id, f.name);
	}
	wbuf_free(&wb);
}

static void report_to_leader(struct cluster *c, uint64_t now)
{
	struct peer_admin a;
	uint8_t *p;
	size_t len;

	if (c->client == NULL || !c->client->connected) {
		return;
	}
	/* every CLUSTER_REPORT_MS, and soon after this node applied more */
	if (now - c->last_report_sent < CLUSTER_REPORT_MS &&
	    (raft_last_applied(c->raft) == c->last_report_applied ||
	     now - c->last_report_sent < 100)) {
		return;
	}
	memset(&a, 0, sizeof(a));
	a.op = PEER_OP_REPORT;
	a.id = c->conf.id;
	a.address = c->conf.cluster_address;
	a.a = raft_last_applied(c->raft);
	a.b = raft_last_index(c->raft);
	a.c = raft_commit_index(c->raft);
	p = peer_admin_encode(&a, &len);
	if (p != NULL) {
		peer_conn_send(c->client, PEER_ADMIN, 0, p, len);
		free(p);
	}
	c->last_report_sent = now;
	c->last_report_applied = a.a;
}

/* One tick's duties (not while stopping). */
void ct_duties(struct cluster *c, uint64_t now)
{
	disk_watchdog(c, now);
	report_to_leader(c, now);
	self_register(c, now);
	prune_node_table(c, now);
}
