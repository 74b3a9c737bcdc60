/*
 * metrics_collect.c — the families of the node's Prometheus endpoint,
 * each read from its subsystem when scraped: the receiver's and the
 * symbiont's counters (the numbers of SHOW SERVICE SMTP), the raft
 * numbers (cluster_numbers), the queue depth by state (one read pass over
 * the control files), and the node's histograms (metrics.c).
 *
 * Owns: the family names (smtpcluster_...), types, help texts and
 * labels. Does not own the values (each subsystem counts its own), the
 * text format (metrics.c) or HTTP (metrics_http.c).
 *
 * Fails softly: a subsystem that is not running leaves its families out;
 * a spool read that fails leaves the queue families out; allocation
 * failure is in t->err.
 */
#include "src/metrics/metrics_collect.h"

#include <stdio.h>
#include <string.h>

#include "spool/store/spool.h"
#include "src/base/looplag.h"
#include "src/cluster/cluster.h"
#include "src/delivery/symbiont.h"
#include "src/smtpd/smtp_server.h"

#define P "smtpcluster_"

static void counter(struct mtext *t, const char *name, const char *help,
		    uint64_t v)
{
	mt_family(t, name, "counter", help);
	mt_sample_u64(t, name, NULL, NULL, v);
}

static void gauge(struct mtext *t, const char *name, const char *help,
		  uint64_t v)
{
	mt_family(t, name, "gauge", help);
	mt_sample_u64(t, name, NULL, NULL, v);
}

static void receiver(struct mtext *t, const struct smtp_server *s)
{
	struct smtp_stats st;

	smtp_server_stats(s, &st);
	counter(t, P "smtp_connections_total",
		"SMTP connections accepted since start.", st.connections);
	gauge(t, P "smtp_sessions_active", "SMTP sessions open now.",
	      st.active);
	counter(t, P "smtp_messages_total",
		"Messages queued by the receiver (250 sent).", st.messages);
	counter(t, P "smtp_bytes_total", "Octets of the messages queued.",
		st.bytes);
	counter(t, P "smtp_discarded_total",
		"Partial messages dropped (disconnect, timeout).",
		st.discarded);
	counter(t, P "smtp_tls_sessions_total", "Completed TLS handshakes.",
		st.tls_sessions);
	mt_family(t, P "smtp_rejected_total", "counter",
		  "Commands or messages the receiver refused, by reason.");
	for (int i = 0; i < SMTP_REJ__COUNT; i++)
		mt_sample_u64(t, P "smtp_rejected_total", "reason",
			      smtp_reject_name(i), st.rejected[i]);
}

static void symbiont(struct mtext *t, const struct symbiont *y)
{
	struct symbiont_stats st;

	symbiont_stats(y, &st);
	gauge(t, P "mail_started",
	      "1 when this node's mail (the sender) is started.",
	      (uint64_t)(st.claiming != 0));
	gauge(t, P "delivery_slots", "Delivery slots (/QUEUES).", st.slots);
	gauge(t, P "deliveries_in_flight", "Deliveries running now.",
	      st.in_flight);
	counter(t, P "claims_total", "Control-file names claimed.", st.claims);
	counter(t, P "claims_refused_total", "Claims the leader refused.",
		st.claims_refused);
	mt_family(t, P "delivery_outcomes_total", "counter",
		  "Recipient delivery outcomes of this node, by outcome.");
	mt_sample_u64(t, P "delivery_outcomes_total", "outcome", "delivered",
		      st.delivered);
	mt_sample_u64(t, P "delivery_outcomes_total", "outcome", "deferred",
		      st.deferred);
	mt_sample_u64(t, P "delivery_outcomes_total", "outcome", "failed",
		      st.failed);
	counter(t, P "bounces_total",
		"DSN report control files enqueued (bounces, delay warnings, "
		"success reports).",
		st.bounces);
	counter(t, P "bounces_dropped_total",
		"Failed postmaster bounces dropped.", st.bounces_dropped);
	counter(t, P "lease_renewals_total", "Claim leases renewed.",
		st.renewals);
	counter(t, P "lease_lost_total",
		"COMPLETE refused because the lease was lost.", st.lease_lost);
	counter(t, P "lease_expired_total",
		"Deliveries aborted at the local lease end.", st.lease_expired);
	counter(t, P "complete_errors_total",
		"COMPLETE proposals without an answer.", st.complete_errors);
	counter(t, P "claims_released_total",
		"Claims given back before any delivery attempt.", st.released);
}

static void raft_numbers(struct mtext *t, const struct cluster *c)
{
	static const char *states[] = {"follower", "candidate", "leader",
				       "unavailable"};
	struct cluster_numbers n;

	if (cluster_numbers(c, &n) != 0)
		return;
	mt_family(t, P "raft_state", "gauge",
		  "This node's raft state: 1 for the current one.");
	for (unsigned i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		mt_sample_u64(t, P "raft_state", "state", states[i],
			      (uint64_t)(strcmp(n.state, states[i]) == 0));
	gauge(t, P "raft_term", "Current raft term.", n.term);
	gauge(t, P "raft_commit_index", "Raft commit index.", n.commit_index);
	gauge(t, P "raft_applied_index", "Last raft index applied here.",
	      n.applied_index);
	gauge(t, P "raft_last_index", "Last index in this node's raft log.",
	      n.last_index);
	gauge(t, P "raft_leader_id", "Node id of the leader (0: none known).",
	      n.leader_id);
	gauge(t, P "raft_voters", "Voters in the raft configuration.",
	      (uint64_t)n.voters);
	counter(t, P "raft_applied_entries_total", "Raft entries applied.",
		n.applied_entries);
	counter(t, P "raft_applied_commands_total", "Spool commands applied.",
		n.applied_commands);
	counter(t, P "raft_malformed_entries_total",
		"Raft entries that did not decode.", n.malformed_entries);
	counter(t, P "raft_snapshots_total", "Raft snapshots taken.",
		n.snapshots);
	counter(t, P "raft_snapshots_restored_total",
		"Raft snapshots restored.", n.restores);
	gauge(t, P "raft_pending_proposals", "Proposals waiting for raft.",
	      n.pending_proposals);
	gauge(t, P "raft_queued_commands",
	      "Commands waiting for the next group commit.", n.queued_commands);
}

/* Queue depth: control files by state, recipients by state. */
struct qcount {
	uint64_t files[4]; /* new, deferred, claimed, held */
	uint64_t rcpt[4];  /* enum spool_rcpt_state */
};

static int count_one(const struct spool_ctl *ctl, void *arg)
{
	struct qcount *q = arg;
	const struct spool_rec *r = &ctl->rec;

	if (r->hold)
		q->files[3]++;
	else if (r->claim.node != 0)
		q->files[2]++;
	else if (r->attempts > 0)
		q->files[1]++;
	else
		q->files[0]++;
	for (uint32_t i = 0; i < r->nrcpt; i++)
		if (r->rcpt[i].state < 4)
			q->rcpt[r->rcpt[i].state]++;
	return 0;
}

static void queue(struct mtext *t, struct spool *sp)
{
	static const char *fstates[] = {"new", "deferred", "claimed", "held"};
	static const char *rstates[] = {"pending", "delivered", "failed",
					"bounced"};
	struct qcount q;

	memset(&q, 0, sizeof(q));
	if (spool_ctl_foreach(sp, NULL, count_one, &q) != 0)
		return;
	mt_family(t, P "queue_files", "gauge",
		  "Control files in the replicated queue, by state (claimed: "
		  "a node holds its claim).");
	for (unsigned i = 0; i < 4; i++)
		mt_sample_u64(t, P "queue_files", "state", fstates[i],
			      q.files[i]);
	mt_family(t, P "queue_recipients", "gauge",
		  "Recipients of the queued control files, by state.");
	for (unsigned i = 0; i < 4; i++)
		mt_sample_u64(t, P "queue_recipients", "state", rstates[i],
			      q.rcpt[i]);
}

void metrics_collect(void *arg, struct mtext *t)
{
	const struct metrics_refs *r = arg;

	mt_family(t, P "node_info", "gauge",
		  "The node this endpoint belongs to (always 1).");
	mt_sample(t, P "node_info", "name", r->node_name, 1);
	gauge(t, P "node_id", "This node's id.", r->node_id);
	mt_family(t, P "loop_block_worst_seconds", "gauge",
		  "Longest time the event loop was blocked.");
	mt_sample(t, P "loop_block_worst_seconds", NULL, NULL,
		  (double)looplag_worst_ms() / 1000.0);
	counter(t, P "loop_blocks_total",
		"Event loop blocks of at least 100 ms.", looplag_blocks());
	if (r->smtp != NULL && *r->smtp != NULL)
		receiver(t, *r->smtp);
	if (r->sym != NULL && *r->sym != NULL)
		symbiont(t, *r->sym);
	if (r->cl != NULL && *r->cl != NULL)
		raft_numbers(t, *r->cl);
	if (r->sp != NULL && *r->sp != NULL)
		queue(t, *r->sp);
	metrics_hists_text(t);
}
