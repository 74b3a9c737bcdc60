/*
 * cluster_live.c — the placement view: which members the leader hears
 * from, for the symbionts' placement (src/delivery/symbiont_place.h), so
 * that a dead node's preferred mail is taken at once instead of after the
 * grace period.
 *
 * The leader's view: itself, and every member of the raft configuration
 * whose last REPORT (cluster_status.c's table, CLUSTER_REPORT_MS apart) is
 * at most an election timeout old (never less than CLUSTER_REACHABLE_MS)
 * — or, for a member not heard from since this node became the ready
 * leader, that leadership is younger than that (a new leader gives every
 * member the benefit of the doubt). libraft
 * 0.22 keeps its own contact times private, so the reports are what the
 * leader knows; `cluster status` shows the same judgement as "reachable".
 *
 * Followers: the leader answers each REPORT with its view (an
 * ADMIN_RESULT frame with request id 0, peer.h; older nodes ignore it, no
 * request has id 0). A follower uses the view while it is at most
 * CLUSTER_LIVE_STALE_MS old and from the leader it is connected to; else
 * it has none, and placement falls back to the grace rule alone.
 *
 * Owns: the follower's copy of the view. Does not own the reports
 * (cluster_status.c) or the connections. Fails: a malformed view is logged
 * and ignored (the connection stays); no view means the old behaviour.
 */
#include "src/cluster/cluster_live.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"
#include "src/cluster/cluster_impl.h"

int cluster_live_judge(uint64_t now, uint64_t lead_since, uint64_t report_at,
		       uint64_t gone_ms)
{
	uint64_t last = report_at > lead_since ? report_at : lead_since;

	return now < last || now - last <= gone_ms;
}

size_t cluster_live_format(const uint64_t *ids, size_t n, char *buf,
			   size_t size)
{
	size_t off = 0;

	if (size == 0) {
		return 0;
	}
	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + off, size - off, "%s%" PRIu64,
				 i ? " " : "", ids[i]);

		if (w < 0 || (size_t)w >= size - off) {
			buf[off] = 0;
			return off; /* what fits, whole ids only */
		}
		off += (size_t)w;
	}
	return off;
}

int cluster_live_parse(const char *s, uint64_t *ids, unsigned max)
{
	unsigned n = 0;

	while (*s != 0) {
		uint64_t v = 0;
		const char *start;

		if (n > 0 && *s++ != ' ') {
			return -1;
		}
		start = s;
		while (*s >= '0' && *s <= '9') {
			uint64_t d = (uint64_t)(*s++ - '0');

			if (v > (UINT64_MAX - d) / 10) {
				return -1;
			}
			v = v * 10 + d;
		}
		if (s == start || v == 0 || n == max) {
			return -1;
		}
		ids[n++] = v;
	}
	return (int)n;
}

/* How long without a report before the leader counts a member as gone:
 * an election timeout, and never less than the status's "reachable". */
static uint64_t gone_ms(const struct cluster *c)
{
	uint64_t t = c->conf.election_timeout_ms;

	return t > CLUSTER_REACHABLE_MS ? t : CLUSTER_REACHABLE_MS;
}

/* The report of id, without creating one (NULL: none). */
static const struct report *report_of(const struct cluster *c, uint64_t id)
{
	for (unsigned i = 0; i < c->nreports; i++) {
		if (c->reports[i].id == id) {
			return &c->reports[i];
		}
	}
	return NULL;
}

/* The ready leader's view into ids (at most max); the count. */
static size_t leader_view(const struct cluster *c, uint64_t *ids, size_t max)
{
	const struct raft_configuration *cf = &c->raft->configuration;
	uint64_t now = cluster_now(c);
	size_t n = 0;

	for (unsigned i = 0; i < cf->n && n < max; i++) {
		uint64_t id = cf->servers[i].id;
		const struct report *r = report_of(c, id);

		if (id == c->conf.id ||
		    cluster_live_judge(now, c->lead_since,
				       r != NULL ? r->at : 0, gone_ms(c))) {
			ids[n++] = id;
		}
	}
	return n;
}

int cluster_live_nodes(const struct cluster *c, uint64_t *ids, size_t max,
		       size_t *n)
{
	*n = 0;
	if (c == NULL || c->raft == NULL || c->stopping) {
		return 0;
	}
	if (raft_state(c->raft) == RAFT_LEADER) {
		if (!c->ready) {
			return 0;
		}
		*n = leader_view(c, ids, max);
		return 1;
	}
	if (c->live_at == 0 || c->client == NULL || !c->client->connected ||
	    c->live_from != c->client_leader_id ||
	    cluster_now(c) - c->live_at > CLUSTER_LIVE_STALE_MS) {
		return 0;
	}
	for (unsigned i = 0; i < c->nlive && *n < max; i++) {
		ids[(*n)++] = c->live_ids[i];
	}
	return 1;
}

void clv_answer_report(struct cluster *c, struct peer_conn *conn)
{
	uint64_t ids[CLUSTER_LIVE_MAX];
	char text[CLUSTER_LIVE_MAX * 21 + 1];
	size_t n, len;
	uint8_t *p;

	if (c->raft == NULL || raft_state(c->raft) != RAFT_LEADER ||
	    !c->ready) {
		return;
	}
	n = leader_view(c, ids, CLUSTER_LIVE_MAX);
	cluster_live_format(ids, n, text, sizeof(text));
	p = peer_status_encode(0, text, 0, 1, &len);
	if (p != NULL) {
		peer_conn_send(conn, PEER_ADMIN_RESULT, 0, p, len);
		free(p);
	}
}

void clv_on_view(struct cluster *c, const struct peer_frame *f)
{
	const char *msg;
	int32_t st;
	int n;

	if (peer_admin_result_decode(f->payload, f->len, &st, &msg) != 0 ||
	    st != 0 ||
	    (n = cluster_live_parse(msg, c->live_ids, CLUSTER_LIVE_MAX)) < 0) {
		if (c->live_at != 0 || !c->live_bad_logged) {
			log_warn("forward: malformed placement view from the "
				 "leader; ignored");
			c->live_bad_logged = 1;
		}
		c->nlive = 0;
		c->live_at = 0;
		return;
	}
	c->nlive = (unsigned)n;
	c->live_at = cluster_now(c);
	c->live_from = c->client_leader_id;
}

void clv_reset(struct cluster *c)
{
	c->nlive = 0;
	c->live_at = 0;
	c->live_from = 0;
}
