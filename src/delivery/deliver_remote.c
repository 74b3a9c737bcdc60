/*
 * deliver_remote.c — the remote groups of the delivery engine: recipients
 * bound for one route target (their domain, or the alternate gateway).
 *
 * A group is routed once (route.c over deliver_resolve.c; one seed per
 * delivery so that domains sharing their mail hosts get the same order).
 * Once every route of the delivery is known, groups whose routes are the
 * same list of addresses merge (one MAIL transaction per destination, RFC
 * 5321 3.3). Each group then tries its addresses in order, one SMTP
 * transaction each, the next address taking the recipients still
 * deferred; under the TLS policy may (the default) a TLS failure retries
 * the same address in clear once; under encrypt and verify nothing goes
 * in clear (the client defers 4.7.4 / 4.7.5, the next address is tried),
 * verify needs a host name to check and the verifying context, and a
 * connection handed over from the cache must meet the group's level. A
 * recipient refused with a 5xx by every address tried fails, else it is
 * deferred with the last reply. Each connection holds a place of
 * deliver_hostcap.c's per-host cap, or the group waits for one. A group
 * takes an idle connection of deliver_conncache.c before it opens one,
 * and leaves its own there when its message is done; a cached
 * connection that turns out stale (its RSET unanswered) is not counted
 * as an address tried: the group tries the same address again.
 *
 * Owns: the group's route request, its hops and its session while they
 * run. Does not settle local recipients nor free the group.
 *
 * Fails: out of memory or a session that cannot start defers (the latter
 * counts as an address tried).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "spool/codec/tlspolicy.h"
#include "src/base/log.h"
#include "src/delivery/deliver_impl.h"

static void connect_hop(struct group *g);
static void try_next(struct group *g);

/* Give the connection place g holds back. */
static void drop_held(struct group *g)
{
	struct host_slot *h = g->held;

	g->held = NULL;
	if (h != NULL)
		hostcap_release(&g->dv->d->hc, h);
}

/* The place g holds goes with keep, a connection done with g's message
 * and still open, into the cache (or to a waiter); none: given back. */
static void leave_conn(struct group *g, struct smtp_conn *keep)
{
	struct host_slot *h = g->held;

	if (keep == NULL || h == NULL) {
		drop_held(g);
		return;
	}
	g->held = NULL;
	conncache_put(g->dv->d, h, keep);
}

/* An SMTP transaction of the group ended (keep: its connection, open). */
static void on_session(void *arg, const struct smtp_client *c,
		       struct smtp_conn *keep)
{
	struct group *g = arg;
	struct delivery *dv = g->dv;

	leave_conn(g, keep);
	if (dv->cancelled) {
		group_done(g);
		return;
	}
	if (smtp_client_reuse_failed(c)) {
		/* a stale cached connection: nothing was sent, same address */
		log_debug("smtp %s: cached connection gone, reconnecting",
			  g->peer);
		try_next(g);
		return;
	}
	for (uint32_t k = 0; k < g->ncr; k++) {
		const struct smtp_client_rcpt *r = &g->cr[k];
		uint32_t ii = g->cr_item[k];
		struct item *it = &dv->items[ii];

		if (r->outcome == OUT_DELIVERED && !it->settled)
			dv->out[it->oi].dsn =
			    (smtp_client_extensions(c) & SC_EXT_DSN)
				? DELIVER_DSN_PASSED
				: DELIVER_DSN_RELAYED;
		if (r->outcome != OUT_DEFERRED) {
			delivery_settle(dv, ii, r->outcome, r->reply, g->peer);
			continue;
		}
		it->tried++;
		if (!r->hard)
			it->hard_all = 0;
		snprintf(it->last, sizeof(it->last), "%s", r->reply);
		copy_str(it->last_relay, sizeof(it->last_relay), g->peer);
	}
	if (smtp_client_tls_failed(c) && !g->notls &&
	    g->tls_level == TLSPOL_MAY) {
		/* opportunistic: the same address again, in clear (never
		 * for encrypt or verify: their mail waits for TLS) */
		log_info("smtp %s: retrying without TLS", g->peer);
		g->notls = 1;
	} else {
		g->notls = 0;
		g->hi++;
	}
	try_next(g);
}

/* The TLS context for a new session of g to hop h, NULL for none; a
 * reason in why when the policy cannot be met at all (the hop fails). */
static struct ssl_ctx_st *hop_tls(struct group *g, const struct route_hop *h,
				  const char **why)
{
	struct deliverer *d = g->dv->d;

	*why = NULL;
	switch (g->tls_level) {
	case TLSPOL_NONE:
		return NULL;
	case TLSPOL_ENCRYPT:
		if (d->tls == NULL)
			*why =
			    "451 4.7.4 TLS required by policy, but this node "
			    "has no TLS client context";
		return d->tls;
	case TLSPOL_VERIFY:
		if (d->tls_verify == NULL)
			*why = d->tls_verify_err;
		else if (route_parse_ip(h->host, NULL, 0, NULL))
			*why = "451 4.7.5 TLS policy verify: the next hop is "
			       "an IP address, no host name to check the "
			       "certificate against";
		return d->tls_verify;
	default:
		return g->notls ? NULL : d->tls;
	}
}

/* The hop cannot be tried (why): its recipients deferred, the next. */
static void hop_failed(struct group *g, const char *why)
{
	struct delivery *dv = g->dv;

	drop_held(g);
	for (uint32_t k = 0; k < g->ncr; k++) {
		struct item *it = &dv->items[g->cr_item[k]];

		it->tried++;
		it->hard_all = 0;
		snprintf(it->last, sizeof(it->last), "%s", why);
		copy_str(it->last_relay, sizeof(it->last_relay), g->peer);
	}
	g->hi++;
	try_next(g);
}

/* Open a session to hops[hi] (the host place is held). */
static void connect_hop(struct group *g)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;
	const struct route_hop *h = &g->hops[g->hi];
	struct smtp_client_cfg cfg;
	struct smtp_conn_target t;
	struct smtp_conn *reuse = g->reuse;
	struct ssl_ctx_st *tls;
	const char *why;
	char text[SMTP_CLIENT_REPLY_MAX];
	int rc;

	g->reuse = NULL;
	if (route_parse_ip(h->host, NULL, 0, NULL))
		snprintf(g->peer, sizeof(g->peer), "[%s]:%u", h->ip,
			 d->o.smtp_port);
	else
		snprintf(g->peer, sizeof(g->peer), "%s[%s]:%u", h->host, h->ip,
			 d->o.smtp_port);
	if (group_build_rcpts(g, 0) == 0) {
		leave_conn(g, reuse);
		group_done(g);
		return;
	}
	group_enter(g, GS_SENDING);
	group_client_cfg(g, &cfg, 0);
	if (reuse != NULL && !conncache_fits(reuse, g->tls_level, h->host)) {
		/* handed over by a waiter's grant: less protected than this
		 * mail needs; the place stays, a new connection takes it */
		smtp_conn_quit(reuse);
		reuse = NULL;
	}
	if (reuse != NULL) {
		rc = smtp_conn_next(reuse, &cfg, g->cr, g->ncr, on_session, g,
				    &g->conn);
		if (rc == 0)
			return;
		/* not usable after all: close it, a new one in its place */
		smtp_conn_quit(reuse);
	}
	memset(&t, 0, sizeof(t));
	t.ip = h->ip;
	t.port = d->o.smtp_port;
	t.sni = route_parse_ip(h->host, NULL, 0, NULL) ? NULL : h->host;
	tls = hop_tls(g, h, &why);
	t.verify = g->tls_level == TLSPOL_VERIFY;
	if (why != NULL) {
		log_info("smtp %s: %s", g->peer, why);
		hop_failed(g, why);
		return;
	}
	rc = smtp_conn_start(d->loop, &t, tls, &cfg, g->cr, g->ncr, on_session,
			     g, &g->conn);
	if (rc != 0) {
		snprintf(text, sizeof(text),
			 "451 4.4.1 cannot start a session to %s: %s", g->peer,
			 spool_strerror(rc));
		hop_failed(g, text);
	}
}

/* The host cap gave g the place it waited for. */
static void on_host_granted(struct host_wait *w, struct host_slot *h)
{
	struct group *g =
	    (struct group *)(void *)((char *)w - offsetof(struct group, wait));

	g->held = h;
	g->reuse = w->conn; /* an idle connection with the place, or NULL */
	w->conn = NULL;
	connect_hop(g);
}

/* Next address for the recipients still deferred, or the end. */
static void try_next(struct group *g)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;
	struct host_slot *h;
	uint32_t left = 0;

	for (uint32_t j = 0; j < g->nit; j++)
		if (!dv->items[g->it[j]].settled)
			left++;
	if (left == 0 || dv->cancelled) {
		group_done(g);
		return;
	}
	if (g->hi >= g->nhops) {
		for (uint32_t j = 0; j < g->nit; j++) {
			struct item *it = &dv->items[g->it[j]];

			if (it->settled)
				continue;
			if (it->hard_all && it->tried > 0)
				delivery_settle(dv, g->it[j], OUT_FAILED,
						it->last, it->last_relay);
			else
				delivery_settle(dv, g->it[j], OUT_DEFERRED,
						it->last, it->last_relay);
		}
		group_done(g);
		return;
	}
	h = hostcap_get(&d->hc, g->hops[g->hi].ip, d->o.smtp_port);
	if (h == NULL) {
		group_settle_all(g, OUT_DEFERRED, "451 4.3.0 out of memory",
				 "none");
		return;
	}
	g->reuse = conncache_take(d, h, g->tls_level, g->hops[g->hi].host);
	if (g->reuse != NULL) {
		g->held = h; /* the idle connection's place */
		connect_hop(g);
		return;
	}
	if (!hostcap_acquire(&d->hc, h, &g->wait, on_host_granted)) {
		group_enter(g, GS_WAIT_HOST);
		return;
	}
	g->held = h;
	connect_hop(g);
}

/* 1 when a and b would try the same addresses in the same order. */
static int same_hops(const struct group *a, const struct group *b)
{
	if (a->nhops != b->nhops)
		return 0;
	for (uint32_t i = 0; i < a->nhops; i++)
		if (strcmp(a->hops[i].ip, b->hops[i].ip) != 0)
			return 0;
	return 1;
}

void remote_groups_routed(struct delivery *dv)
{
	struct group *g, *h;

	SLIST_FOREACH (g, &dv->groups, next) {
		if (g->state != GS_PARKED)
			continue;
		for (h = SLIST_FIRST(&dv->groups); h != g;
		     h = SLIST_NEXT(h, next))
			if (h->state == GS_PARKED && same_hops(h, g) &&
			    h->tls_level == g->tls_level)
				break;
		if (h == g)
			continue;
		/* it[] holds room for every recipient of the delivery */
		memcpy(h->it + h->nit, g->it, g->nit * sizeof(*g->it));
		h->nit += g->nit;
		log_debug("deliver %s: recipients for %s go with those for %s "
			  "(same mail hosts)",
			  dv->name, g->key, h->key);
		g->nit = 0;
		group_done(g);
	}
	SLIST_FOREACH (g, &dv->groups, next)
		if (g->state == GS_PARKED)
			try_next(g);
}

static void on_route(void *arg, const struct route_result *res)
{
	struct group *g = arg;
	struct delivery *dv = g->dv;

	if (res->status != ROUTE_OK) {
		int out = res->status == ROUTE_FAIL ? OUT_FAILED : OUT_DEFERRED;

		group_settle_all(g, out, res->reply, "none");
	} else if ((g->hops = calloc(res->n, sizeof(*g->hops))) == NULL) {
		group_settle_all(g, OUT_DEFERRED, "451 4.3.0 out of memory",
				 "none");
	} else {
		memcpy(g->hops, res->hop, res->n * sizeof(*g->hops));
		g->nhops = res->n;
		g->hi = 0;
		group_enter(g, GS_PARKED);
	}
	/* may run inside route_start() (an IP gateway, the local MX table):
	 * deliver_start()'s guard keeps the count above zero until every
	 * remote group has been started */
	if (--dv->routing == 0)
		remote_groups_routed(dv);
}

void remote_group_start(struct group *g)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;
	struct route_params p;
	const struct item *first = &dv->items[g->it[0]];
	const char *at = strrchr(first->addr, '@');

	memset(&p, 0, sizeof(p));
	p.domain = at != NULL ? at + 1 : first->addr;
	p.zone = dv->zone;
	p.gateway = dv->cfg.str[CFG_GATEWAY_ALTERNATE];
	p.max_addrs = (unsigned)dv->cfg.num[CFG_ADDRESS_RETRIES];
	p.port = d->o.smtp_port;
	p.self = &dv->self;
	/* one seed per delivery: domains with the same MX set get the same
	 * order, so that remote_groups_routed() can merge them */
	p.seed = dv->seed;
	dv->routing++;
	group_enter(g, GS_ROUTING);
	if (route_start(&d->rv, &p, on_route, g, &g->rq) != 0) {
		dv->routing--; /* no answer will come */
		group_settle_all(g, OUT_DEFERRED, "451 4.3.0 out of memory",
				 "none");
	}
}
