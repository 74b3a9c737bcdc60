/*
 * deliver.c — the delivery engine (see deliver.h): one attempt at the
 * PENDING recipients of a claimed control file.
 *
 * Per recipient: local_resolve() decides local (forward table applied) or
 * remote. Local mailboxes form one group per backend (a Maildir job run on
 * the libuv thread pool, or one LMTP session); remote recipients are
 * grouped by route target (their domain, or the alternate gateway), each
 * group routed once (route.c over dns.c and the spool's MX and hosts
 * tables). Once every group of the delivery is routed, groups whose routes
 * are the same list of addresses merge (domains that share their mail
 * hosts get one transaction); each group is then sent in one SMTP
 * transaction per address tried, the next address taking the recipients
 * still deferred, at most /ADDRESS_RETRIES addresses. A cap of
 * max_per_host connections per destination address is kept across all
 * deliveries; groups over it wait in that host's queue.
 *
 * Owns: the delivery records (a copy of the control file and body), the
 * groups, the per-host counters, the resolver and the TLS context. Every
 * libuv handle is closed through its close callback before its memory is
 * freed; a delivery is freed from the close callback of its own timer.
 *
 * Outcome: the callback runs once per delivery, never from inside
 * deliver_start(); on deliver_cancel() it runs at once with every
 * unfinished recipient deferred "cancelled" (work already handed to a peer
 * or a Maildir writer may still complete: the next attempt may then
 * duplicate it, which the retry rules accept).
 */
#include "src/delivery/deliver.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/ssl.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "src/delivery/dns.h"
#include "src/delivery/local.h"
#include "src/base/log.h"
#include "src/delivery/route.h"
#include "src/delivery/smtp_client.h"

struct group;

/* Open connections to one destination address, and who waits for one. */
struct host_slot {
	char ip[DNS_IP_MAX];
	unsigned port;
	unsigned active;
	struct group *wait_head, *wait_tail;
	struct host_slot *next;
};

struct deliverer {
	uv_loop_t *loop;
	struct spool *sp;
	struct deliver_opts o;
	char *s_node, *s_domain, *s_helo, *s_backend, *s_root, *s_lmtp, *s_dns;
	struct dns *dns;
	SSL_CTX *tls;
	struct route_resolver rv;
	struct route_self self; /* listeners from the options + addresses */
	struct host_slot *hosts;
	struct delivery *live;
	uint64_t seq;
	int closing;
	void (*close_cb)(void *);
	void *close_arg;
};

enum gkind { G_REMOTE = 1, G_MAILDIR = 2, G_LMTP = 3 };

/* One recipient of the delivery. */
struct item {
	uint32_t oi;		       /* index into out[] */
	char addr[SPOOL_ADDR_MAX + 1]; /* the address delivered to */
	const char *orig;	       /* the control file's address */
	struct local_target lt;
	int settled;
	int hard_all; /* every address tried refused it with a 5xx */
	unsigned tried;
	char last[SMTP_CLIENT_REPLY_MAX];
	char last_relay[300];
	int dup_of; /* local: same mailbox as item dup_of (-1: none) */
};

struct maildir_job {
	uint32_t item;
	int outcome;
	char reply[SMTP_CLIENT_REPLY_MAX];
};

struct group {
	struct delivery *dv;
	struct group *next;  /* in the delivery */
	struct group *wnext; /* in a host's wait queue */
	enum gkind kind;
	char key[DNS_NAME_MAX + 3]; /* route target, lower case */
	uint32_t *it;
	uint32_t nit;
	int done;

	/* remote */
	struct route_req *rq;
	struct route_hop *hops;
	uint32_t nhops, hi;
	struct host_slot *waiting, *held;
	int parked; /* routed, waiting for the delivery's other routes */
	int notls;
	struct smtp_conn *conn;
	struct smtp_client_rcpt *cr;
	uint32_t *cr_item;
	uint32_t ncr;
	char peer[DNS_NAME_MAX + DNS_IP_MAX + 16];

	/* maildir */
	uv_work_t work;
	int work_queued;
	struct maildir_job *jobs;
	uint32_t njobs;
};

struct delivery {
	struct deliverer *d;
	struct delivery *next, *prev;
	char name[SPOOL_NAME_MAX + 1];
	void *raw;
	struct spool_rec rec;
	int have_rec;
	char *body;
	size_t len;
	struct spool_config cfg;
	struct route_self self;
	deliver_cb cb;
	void *arg;
	struct deliver_outcome *out;
	struct item *items;
	uint32_t n;
	struct group *groups;
	unsigned routing; /* remote groups whose route is not known yet */
	unsigned busy;	  /* groups running + the start guard */
	int cancelled, reported, finishing;
	uv_timer_t timer; /* completion is reported from here */
	char *smtp_data, *lmtp_data;
	size_t smtp_len, lmtp_len;
	int eightbit;
	char vms_from[512];
	uint64_t seed;
};

static void deliverer_finish_close(struct deliverer *d);

/* Copy src into dst, cut to size (always terminated). */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (size == 0)
		return;
	if (n >= size)
		n = size - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- outcomes ---- */

static const char *status_word(int outcome)
{
	return outcome == OUT_DELIVERED ? "sent"
	       : outcome == OUT_FAILED	? "bounced"
					: "deferred";
}

/* The final outcome of one recipient (logged, Postfix style). */
static void settle(struct delivery *dv, uint32_t ii, int outcome,
		   const char *reply, const char *relay)
{
	struct item *it = &dv->items[ii];
	struct deliver_outcome *o = &dv->out[it->oi];
	uint64_t now = wall_ms();
	uint64_t created = dv->rec.created_ms;

	if (it->settled || dv->reported)
		return;
	it->settled = 1;
	o->outcome = (uint8_t)outcome;
	copy_str(o->reply, sizeof(o->reply), reply);
	copy_str(o->relay, sizeof(o->relay), relay ? relay : "none");
	if (strcmp(it->addr, it->orig) != 0)
		log_info("%s: to=<%s>, orig_to=<%s>, relay=%s, delay=%.1f, "
			 "status=%s (%s)",
			 dv->name, it->addr, it->orig, o->relay,
			 now > created ? (double)(now - created) / 1000.0 : 0.0,
			 status_word(outcome), o->reply);
	else
		log_info("%s: to=<%s>, relay=%s, delay=%.1f, status=%s (%s)",
			 dv->name, it->addr, o->relay,
			 now > created ? (double)(now - created) / 1000.0 : 0.0,
			 status_word(outcome), o->reply);
}

/* Call the caller's callback (once); unsettled ones are deferred. */
static void report(struct delivery *dv, const char *why)
{
	if (dv->reported)
		return;
	for (uint32_t i = 0; i < dv->n; i++)
		if (!dv->items[i].settled)
			settle(dv, i, OUT_DEFERRED, why, "none");
	dv->reported = 1;
	if (dv->cb != NULL)
		dv->cb(dv->arg, dv->out, dv->n);
}

/* ---- delivery life ---- */

static void delivery_free(uv_handle_t *h)
{
	struct delivery *dv = h->data;
	struct deliverer *d = dv->d;
	struct group *g, *gn;

	for (g = dv->groups; g != NULL; g = gn) {
		gn = g->next;
		free(g->it);
		free(g->hops);
		free(g->cr);
		free(g->cr_item);
		free(g->jobs);
		free(g);
	}
	if (dv->prev != NULL)
		dv->prev->next = dv->next;
	else if (d->live == dv)
		d->live = dv->next;
	if (dv->next != NULL)
		dv->next->prev = dv->prev;
	if (dv->have_rec)
		spool_rec_free(&dv->rec);
	free(dv->raw);
	free(dv->body);
	free(dv->out);
	free(dv->items);
	free(dv->smtp_data);
	free(dv->lmtp_data);
	free(dv);
	if (d->closing && d->live == NULL)
		deliverer_finish_close(d);
}

/* From the timer: report (if not yet) and free. */
static void on_complete(uv_timer_t *t)
{
	struct delivery *dv = t->data;

	report(dv, "451 4.3.0 delivery ended without an outcome");
	uv_close((uv_handle_t *)&dv->timer, delivery_free);
}

/* One running part less; the last one completes the delivery on the
 * next loop turn. */
static void release(struct delivery *dv)
{
	if (--dv->busy > 0 || dv->finishing)
		return;
	dv->finishing = 1;
	uv_timer_start(&dv->timer, on_complete, 0, 0);
}

static void group_done(struct group *g)
{
	struct delivery *dv = g->dv;

	if (g->done)
		return;
	g->done = 1;
	if (g->kind != G_REMOTE) {
		/* local duplicates share their mailbox's outcome */
		for (uint32_t i = 0; i < dv->n; i++) {
			struct item *it = &dv->items[i];
			struct item *p;

			if (it->dup_of < 0 || it->settled)
				continue;
			p = &dv->items[it->dup_of];
			if (p->settled)
				settle(dv, i, dv->out[p->oi].outcome,
				       dv->out[p->oi].reply,
				       dv->out[p->oi].relay);
		}
	}
	release(dv);
}

/* Give every recipient of g the same outcome and finish the group. */
static void group_settle_all(struct group *g, int outcome, const char *reply,
			     const char *relay)
{
	for (uint32_t j = 0; j < g->nit; j++)
		settle(g->dv, g->it[j], outcome, reply, relay);
	group_done(g);
}

/* ---- per-host connection cap ---- */

static struct host_slot *host_get(struct deliverer *d, const char *ip,
				  unsigned port)
{
	struct host_slot *h;

	for (h = d->hosts; h != NULL; h = h->next)
		if (h->port == port && strcmp(h->ip, ip) == 0)
			return h;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	snprintf(h->ip, sizeof(h->ip), "%s", ip);
	h->port = port;
	h->next = d->hosts;
	d->hosts = h;
	return h;
}

static void connect_hop(struct group *g);
static void try_next(struct group *g);

/* A connection to h ended: hand the place to the next in line. */
static void host_release(struct deliverer *d, struct host_slot *h)
{
	struct group *w;

	if (h->active > 0)
		h->active--;
	while (h->wait_head != NULL &&
	       (d->o.max_per_host == 0 || h->active < d->o.max_per_host)) {
		w = h->wait_head;
		h->wait_head = w->wnext;
		if (h->wait_head == NULL)
			h->wait_tail = NULL;
		w->wnext = NULL;
		w->waiting = NULL;
		h->active++;
		w->held = h;
		connect_hop(w);
	}
}

static void host_unwait(struct group *g)
{
	struct host_slot *h = g->waiting;
	struct group **pp;

	if (h == NULL)
		return;
	for (pp = &h->wait_head; *pp != NULL; pp = &(*pp)->wnext)
		if (*pp == g) {
			*pp = g->wnext;
			break;
		}
	h->wait_tail = NULL;
	for (struct group *x = h->wait_head; x != NULL; x = x->wnext)
		h->wait_tail = x;
	g->waiting = NULL;
	g->wnext = NULL;
}

/* ---- remote groups ---- */

static void fill_cfg(struct group *g, struct smtp_client_cfg *cfg, int lmtp)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;

	memset(cfg, 0, sizeof(*cfg));
	cfg->lmtp = lmtp;
	cfg->helo = d->s_helo;
	cfg->sender = dv->rec.sender;
	cfg->envid = dv->rec.envid;
	cfg->ret = dv->rec.ret;
	if (lmtp) {
		cfg->data = dv->lmtp_data;
		cfg->data_len = dv->lmtp_len;
	} else {
		cfg->data = dv->smtp_data;
		cfg->data_len = dv->smtp_len;
	}
	cfg->size = dv->len;
	cfg->eightbit = dv->eightbit;
	cfg->tls_allowed = !lmtp && !g->notls && d->tls != NULL;
	cfg->peer = g->peer;
	cfg->t_initial = dv->cfg.num[CFG_SEND_TIMEOUT_INITIAL];
	cfg->t_mail = dv->cfg.num[CFG_SEND_TIMEOUT_MAIL];
	cfg->t_rcpt = dv->cfg.num[CFG_SEND_TIMEOUT_RECEIPT];
	cfg->t_data = dv->cfg.num[CFG_SEND_TIMEOUT_DATA];
	cfg->t_term = dv->cfg.num[CFG_SEND_TIMEOUT_TERMINATION];
	cfg->t_quit = 10000;
}

/* Build the RCPT list of the group's unsettled recipients. */
static uint32_t build_rcpts(struct group *g, int mailbox)
{
	struct delivery *dv = g->dv;
	uint32_t k = 0;

	for (uint32_t j = 0; j < g->nit; j++) {
		struct item *it = &dv->items[g->it[j]];

		if (it->settled)
			continue;
		memset(&g->cr[k], 0, sizeof(g->cr[k]));
		g->cr[k].addr = mailbox ? it->lt.addr : it->addr;
		g->cr[k].orcpt = dv->rec.rcpt[dv->out[it->oi].rcpt].orcpt;
		g->cr[k].notify = dv->rec.rcpt[dv->out[it->oi].rcpt].notify;
		g->cr_item[k] = g->it[j];
		k++;
	}
	g->ncr = k;
	return k;
}

/* An SMTP session of the group ended. */
static void on_session(void *arg, const struct smtp_client *c)
{
	struct group *g = arg;
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;

	if (g->held != NULL) {
		struct host_slot *h = g->held;

		g->held = NULL;
		host_release(d, h);
	}
	if (dv->cancelled) {
		group_done(g);
		return;
	}
	for (uint32_t k = 0; k < g->ncr; k++) {
		const struct smtp_client_rcpt *r = &g->cr[k];
		uint32_t ii = g->cr_item[k];
		struct item *it = &dv->items[ii];

		if (r->outcome != OUT_DEFERRED) {
			settle(dv, ii, r->outcome, r->reply, g->peer);
			continue;
		}
		it->tried++;
		if (!r->hard)
			it->hard_all = 0;
		snprintf(it->last, sizeof(it->last), "%s", r->reply);
		copy_str(it->last_relay, sizeof(it->last_relay), g->peer);
	}
	if (smtp_client_tls_failed(c) && !g->notls) {
		/* opportunistic: the same address again, in clear */
		log_info("smtp %s: retrying without TLS", g->peer);
		g->notls = 1;
	} else {
		g->notls = 0;
		g->hi++;
	}
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
	int rc;

	if (route_parse_ip(h->host, NULL, 0, NULL))
		snprintf(g->peer, sizeof(g->peer), "[%s]:%u", h->ip,
			 d->o.smtp_port);
	else
		snprintf(g->peer, sizeof(g->peer), "%s[%s]:%u", h->host, h->ip,
			 d->o.smtp_port);
	if (build_rcpts(g, 0) == 0) {
		struct host_slot *hs = g->held;

		g->held = NULL;
		if (hs != NULL)
			host_release(d, hs);
		group_done(g);
		return;
	}
	fill_cfg(g, &cfg, 0);
	memset(&t, 0, sizeof(t));
	t.ip = h->ip;
	t.port = d->o.smtp_port;
	t.sni = route_parse_ip(h->host, NULL, 0, NULL) ? NULL : h->host;
	rc = smtp_conn_start(d->loop, &t, g->notls ? NULL : d->tls, &cfg, g->cr,
			     g->ncr, on_session, g, &g->conn);
	if (rc != 0) {
		struct host_slot *hs = g->held;

		g->held = NULL;
		if (hs != NULL)
			host_release(d, hs);
		for (uint32_t k = 0; k < g->ncr; k++) {
			struct item *it = &dv->items[g->cr_item[k]];

			it->tried++;
			it->hard_all = 0;
			snprintf(it->last, sizeof(it->last),
				 "451 4.4.1 cannot start a session to %s: %s",
				 g->peer, spool_strerror(rc));
		}
		g->hi++;
		try_next(g);
	}
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
				settle(dv, g->it[j], OUT_FAILED, it->last,
				       it->last_relay);
			else
				settle(dv, g->it[j], OUT_DEFERRED, it->last,
				       it->last_relay);
		}
		group_done(g);
		return;
	}
	h = host_get(d, g->hops[g->hi].ip, d->o.smtp_port);
	if (h == NULL) {
		group_settle_all(g, OUT_DEFERRED, "451 4.3.0 out of memory",
				 "none");
		return;
	}
	if (d->o.max_per_host > 0 && h->active >= d->o.max_per_host) {
		g->waiting = h;
		g->wnext = NULL;
		if (h->wait_tail != NULL)
			h->wait_tail->wnext = g;
		else
			h->wait_head = g;
		h->wait_tail = g;
		return;
	}
	h->active++;
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

/* Every remote group of dv has its route: merge the groups bound for the
 * same addresses (one MAIL transaction per destination, RFC 5321 3.3),
 * then let each remaining group try its first address. */
static void start_routed(struct delivery *dv)
{
	struct group *g, *h;

	for (g = dv->groups; g != NULL; g = g->next) {
		if (!g->parked)
			continue;
		for (h = dv->groups; h != g; h = h->next)
			if (h->parked && same_hops(h, g))
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
		g->parked = 0;
		group_done(g);
	}
	for (g = dv->groups; g != NULL; g = g->next) {
		if (g->parked) {
			g->parked = 0;
			try_next(g);
		}
	}
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
		g->parked = 1;
	}
	/* may run inside route_start() (an IP gateway, the local MX table):
	 * deliver_start()'s guard keeps the count above zero until every
	 * remote group has been started */
	if (--dv->routing == 0)
		start_routed(dv);
}

static void start_remote(struct group *g)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;
	struct route_params p;
	const struct item *first = &dv->items[g->it[0]];
	const char *at = strrchr(first->addr, '@');

	memset(&p, 0, sizeof(p));
	p.domain = at != NULL ? at + 1 : first->addr;
	p.zone = dv->cfg.str[CFG_ZONE];
	p.gateway = dv->cfg.str[CFG_GATEWAY_ALTERNATE];
	p.max_addrs = (unsigned)dv->cfg.num[CFG_ADDRESS_RETRIES];
	p.port = d->o.smtp_port;
	p.self = &dv->self;
	/* one seed per delivery: domains with the same MX set get the same
	 * order, so that start_routed() can merge them */
	p.seed = dv->seed;
	dv->routing++;
	if (route_start(&d->rv, &p, on_route, g, &g->rq) != 0) {
		dv->routing--; /* no answer will come */
		group_settle_all(g, OUT_DEFERRED, "451 4.3.0 out of memory",
				 "none");
	}
}

/* ---- local groups ---- */

static void maildir_work(uv_work_t *w)
{
	struct group *g = w->data;
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;

	for (uint32_t k = 0; k < g->njobs; k++) {
		struct maildir_job *j = &g->jobs[k];
		const struct item *it = &dv->items[j->item];
		struct maildir_req m;

		m.root = d->s_root;
		m.user = it->lt.user;
		m.node = d->s_node;
		m.delivered_to = it->orig;
		m.return_path = dv->rec.sender;
		m.vms_from = dv->vms_from;
		m.msg = dv->body;
		m.len = dv->len;
		j->outcome = local_maildir_deliver(&m, j->reply,
						   sizeof(j->reply), NULL, 0);
	}
}

static void maildir_done(uv_work_t *w, int status)
{
	struct group *g = w->data;
	struct delivery *dv = g->dv;

	g->work_queued = 0;
	if (status == 0 && !dv->cancelled)
		for (uint32_t k = 0; k < g->njobs; k++)
			settle(dv, g->jobs[k].item, g->jobs[k].outcome,
			       g->jobs[k].reply, "local");
	group_done(g);
}

static void start_maildir(struct group *g)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;

	if (d->s_root[0] == '\0') {
		group_settle_all(g, OUT_DEFERRED,
				 "451 4.3.5 no mail root configured", "local");
		return;
	}
	g->jobs = calloc(g->nit, sizeof(*g->jobs));
	if (g->jobs == NULL) {
		group_settle_all(g, OUT_DEFERRED, "451 4.3.0 out of memory",
				 "local");
		return;
	}
	for (uint32_t j = 0; j < g->nit; j++)
		g->jobs[j].item = g->it[j];
	g->njobs = g->nit;
	g->work.data = g;
	if (uv_queue_work(d->loop, &g->work, maildir_work, maildir_done) != 0) {
		group_settle_all(g, OUT_DEFERRED,
				 "451 4.3.0 cannot queue the delivery",
				 "local");
		return;
	}
	g->work_queued = 1;
}

static void on_lmtp(void *arg, const struct smtp_client *c)
{
	struct group *g = arg;
	struct delivery *dv = g->dv;

	if (!dv->cancelled)
		for (uint32_t k = 0; k < g->ncr; k++)
			settle(dv, g->cr_item[k], g->cr[k].outcome,
			       g->cr[k].reply, "lmtp");
	group_done(g);
}

static void start_lmtp(struct group *g)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;
	struct smtp_conn_target t;
	struct smtp_client_cfg cfg;
	char ip[DNS_IP_MAX];
	unsigned port;
	const char *path;
	int rc;

	memset(&t, 0, sizeof(t));
	if (local_lmtp_parse(d->s_lmtp, ip, sizeof(ip), &port, &path) != 0) {
		group_settle_all(g, OUT_DEFERRED, "451 4.3.5 bad lmtp_address",
				 "lmtp");
		return;
	}
	t.ip = path != NULL ? NULL : ip;
	t.port = port;
	t.unix_path = path;
	snprintf(g->peer, sizeof(g->peer), "lmtp[%s]", d->s_lmtp);
	build_rcpts(g, 1);
	fill_cfg(g, &cfg, 1);
	rc = smtp_conn_start(d->loop, &t, NULL, &cfg, g->cr, g->ncr, on_lmtp, g,
			     &g->conn);
	if (rc != 0) {
		group_settle_all(g, OUT_DEFERRED,
				 "451 4.4.1 cannot start the LMTP session",
				 "lmtp");
	}
}

/* ---- classification ---- */

static int env_alias(void *arg, const char *domain)
{
	struct deliverer *d = arg;

	return spool_alias_has(d->sp, domain);
}

static int env_node_alias(void *arg, const char *domain)
{
	struct deliverer *d = arg;

	return d->o.local_alias_has(d->o.local_alias_arg, domain);
}

/* Every registered node's domain is local: any node's symbiont may hold
 * mail received for another node's domain. */
static int env_node_domain(void *arg, const char *domain)
{
	struct deliverer *d = arg;

	return local_spool_node_domain_has(d->sp, domain);
}

static int env_forward(void *arg, const char *user, char *buf, size_t size)
{
	struct deliverer *d = arg;

	return spool_forward_get(d->sp, user, buf, size);
}

/* The group for (kind, key), made when missing. */
static struct group *group_for(struct delivery *dv, enum gkind kind,
			       const char *key)
{
	struct group *g;

	for (g = dv->groups; g != NULL; g = g->next)
		if (g->kind == kind && strcasecmp(g->key, key) == 0)
			return g;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->it = calloc(dv->n, sizeof(*g->it));
	g->cr = calloc(dv->n, sizeof(*g->cr));
	g->cr_item = calloc(dv->n, sizeof(*g->cr_item));
	if (g->it == NULL || g->cr == NULL || g->cr_item == NULL) {
		free(g->it);
		free(g->cr);
		free(g->cr_item);
		free(g);
		return NULL;
	}
	g->dv = dv;
	g->kind = kind;
	snprintf(g->key, sizeof(g->key), "%s", key);
	for (char *p = g->key; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	g->next = dv->groups;
	dv->groups = g;
	return g;
}

/* Put recipient ii in its group (or settle it). */
static void classify(struct delivery *dv, uint32_t ii,
		     const struct local_env *env)
{
	struct deliverer *d = dv->d;
	struct item *it = &dv->items[ii];
	struct group *g = NULL;
	const char *at;
	int via;

	local_resolve(env, it->orig, &it->lt);
	switch (it->lt.kind) {
	case LOCAL_FAILED:
		settle(dv, ii, OUT_FAILED, it->lt.reply, "local");
		return;
	case LOCAL_TEMPFAIL:
		settle(dv, ii, OUT_DEFERRED, it->lt.reply, "local");
		return;
	case LOCAL_MAILBOX:
		for (uint32_t k = 0; k < ii; k++) {
			const struct item *p = &dv->items[k];

			if (p->lt.kind == LOCAL_MAILBOX && p->dup_of < 0 &&
			    strcmp(p->lt.user, it->lt.user) == 0) {
				it->dup_of = (int)k;
				return;
			}
		}
		if (strcmp(d->s_backend, "lmtp") == 0)
			g = group_for(dv, G_LMTP, "lmtp");
		else if (strcmp(d->s_backend, "maildir") == 0)
			g = group_for(dv, G_MAILDIR, "maildir");
		else {
			settle(dv, ii, OUT_DEFERRED,
			       "451 4.3.5 no local delivery backend configured",
			       "local");
			return;
		}
		break;
	case LOCAL_REMOTE:
		snprintf(it->addr, sizeof(it->addr), "%s", it->lt.addr);
		/* fall through */
	default:
		at = strrchr(it->addr, '@');
		if (at == NULL || at[1] == '\0') {
			settle(dv, ii, OUT_FAILED,
			       "553 5.1.3 no domain in address", "none");
			return;
		}
		g = group_for(dv, G_REMOTE,
			      route_target(at + 1, dv->cfg.str[CFG_ZONE],
					   dv->cfg.str[CFG_GATEWAY_ALTERNATE],
					   &via));
		break;
	}
	if (g == NULL) {
		settle(dv, ii, OUT_DEFERRED, "451 4.3.0 out of memory", "none");
		return;
	}
	g->it[g->nit++] = ii;
}

/* ---- own addresses ---- */

/* Add "IP:PORT" (or "[v6]:PORT", "localhost:PORT") to self. */
static void self_add(struct route_self *self, const char *hp)
{
	char host[DNS_IP_MAX + 8];
	const char *colon, *h = hp;
	size_t hl;
	unsigned long port;
	char *end;
	struct route_self_addr *a;

	if (hp == NULL || self->n >= ROUTE_SELF_MAX)
		return;
	if (hp[0] == '[') {
		const char *rb = strchr(hp, ']');

		if (rb == NULL || rb[1] != ':')
			return;
		h = hp + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(hp, ':');
		if (colon == NULL)
			return;
		hl = (size_t)(colon - hp);
	}
	if (hl >= sizeof(host))
		return;
	memcpy(host, h, hl);
	host[hl] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return;
	a = &self->a[self->n];
	a->port = (unsigned)port;
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0 || strcmp(host, "*") == 0)
		a->ip[0] = '\0';
	else if (strcasecmp(host, "localhost") == 0)
		snprintf(a->ip, sizeof(a->ip), "127.0.0.1");
	else if (!route_parse_ip(host, a->ip, sizeof(a->ip), NULL))
		return;
	self->n++;
}

static int node_visit(const struct spool_node *n, void *arg)
{
	self_add(arg, n->smtp);
	return 0;
}

/* This host's interface addresses, for wildcard listeners. */
static void self_ifaddrs(struct route_self *self)
{
	struct ifaddrs *ifa, *p;

	if (getifaddrs(&ifa) != 0)
		return;
	for (p = ifa; p != NULL && self->nlocal < ROUTE_SELF_MAX;
	     p = p->ifa_next) {
		const void *src;

		if (p->ifa_addr == NULL)
			continue;
		if (p->ifa_addr->sa_family == AF_INET)
			src = &((struct sockaddr_in *)(void *)p->ifa_addr)
				   ->sin_addr;
		else if (p->ifa_addr->sa_family == AF_INET6)
			src = &((struct sockaddr_in6 *)(void *)p->ifa_addr)
				   ->sin6_addr;
		else
			continue;
		if (inet_ntop(p->ifa_addr->sa_family, src,
			      self->local[self->nlocal],
			      sizeof(self->local[0])) != NULL)
			self->nlocal++;
	}
	freeifaddrs(ifa);
}

/* ---- resolver glue ---- */

static int rv_mx(void *arg, const char *name, dns_mx_cb cb, void *cbarg,
		 struct dns_query **slot)
{
	struct deliverer *d = arg;

	return dns_mx(d->dns, name, cb, cbarg, slot);
}

static int rv_addr(void *arg, const char *name, dns_addr_cb cb, void *cbarg,
		   struct dns_query **slot)
{
	struct deliverer *d = arg;

	return dns_addr(d->dns, name, cb, cbarg, slot);
}

static void rv_cancel(void *arg, struct dns_query *q)
{
	dns_cancel(q);
}

struct mx_collect {
	struct dns_mx *out;
	size_t max, n;
};

static int mx_visit(const char *a, const char *b, uint64_t pref, void *arg)
{
	struct mx_collect *m = arg;

	if (m->n >= m->max)
		return 1;
	snprintf(m->out[m->n].host, sizeof(m->out[0].host), "%s", b);
	m->out[m->n].pref = pref > 65535 ? 65535 : (unsigned)pref;
	m->n++;
	return 0;
}

static int rv_local_mx(void *arg, const char *domain, struct dns_mx *out,
		       size_t max)
{
	struct deliverer *d = arg;
	struct mx_collect m = {out, max, 0};
	int rc = spool_mx_foreach(d->sp, domain, mx_visit, &m);

	return rc < 0 ? rc : (int)m.n;
}

static int rv_local_host(void *arg, const char *name, char *buf, size_t size)
{
	struct deliverer *d = arg;

	return spool_host_get(d->sp, name, buf, size);
}

/* ---- public ---- */

static char *dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

int deliverer_init(struct deliverer **out, uv_loop_t *loop,
		   const struct deliver_opts *o, struct spool *sp)
{
	struct deliverer *d = calloc(1, sizeof(*d));
	int rc;

	if (d == NULL)
		return SPOOL_E_NOMEM;
	d->loop = loop;
	d->sp = sp;
	d->o = *o;
	d->s_node = dup_or_empty(o->node_name);
	d->s_domain = dup_or_empty(o->node_domain);
	d->s_helo =
	    dup_or_empty(o->helo_name && o->helo_name[0]       ? o->helo_name
			 : o->node_domain && o->node_domain[0] ? o->node_domain
							       : "localhost");
	d->s_backend = dup_or_empty(o->local_backend);
	d->s_root = dup_or_empty(o->mail_root);
	d->s_lmtp = dup_or_empty(o->lmtp_address);
	d->s_dns = dup_or_empty(o->dns_servers);
	if (!d->s_node || !d->s_domain || !d->s_helo || !d->s_backend ||
	    !d->s_root || !d->s_lmtp || !d->s_dns) {
		rc = SPOOL_E_NOMEM;
		goto err_after_strings;
	}
	if (d->o.smtp_port == 0)
		d->o.smtp_port = 25;
	/* the strings the options pointed at may go away */
	d->o.node_name = d->s_node;
	d->o.node_domain = d->s_domain;
	d->o.helo_name = d->s_helo;
	d->o.local_backend = d->s_backend;
	d->o.mail_root = d->s_root;
	d->o.lmtp_address = d->s_lmtp;
	d->o.dns_servers = d->s_dns;
	for (unsigned i = 0; i < o->n_own_smtp && o->own_smtp != NULL; i++)
		self_add(&d->self, o->own_smtp[i]);
	d->o.own_smtp = NULL;
	d->o.n_own_smtp = 0;
	self_ifaddrs(&d->self);
	rc = dns_init(&d->dns, loop, d->s_dns);
	if (rc != 0)
		goto err_after_strings;
	d->tls = smtp_client_tls_ctx();
	if (d->tls == NULL)
		log_warn("deliver: no TLS context; STARTTLS disabled");
	d->rv.arg = d;
	d->rv.mx = rv_mx;
	d->rv.addr = rv_addr;
	d->rv.cancel = rv_cancel;
	d->rv.local_mx = rv_local_mx;
	d->rv.local_host = rv_local_host;
	d->seq = uv_hrtime();
	*out = d;
	return 0;

err_after_strings:
	free(d->s_node);
	free(d->s_domain);
	free(d->s_helo);
	free(d->s_backend);
	free(d->s_root);
	free(d->s_lmtp);
	free(d->s_dns);
	free(d);
	return rc;
}

static void dns_gone(void *arg)
{
	struct deliverer *d = arg;
	struct host_slot *h, *hn;
	void (*cb)(void *) = d->close_cb;
	void *cb_arg = d->close_arg;

	for (h = d->hosts; h != NULL; h = hn) {
		hn = h->next;
		free(h);
	}
	if (d->tls != NULL)
		smtp_client_tls_free(d->tls);
	free(d->s_node);
	free(d->s_domain);
	free(d->s_helo);
	free(d->s_backend);
	free(d->s_root);
	free(d->s_lmtp);
	free(d->s_dns);
	free(d);
	if (cb != NULL)
		cb(cb_arg);
}

/* Every delivery is gone: close the resolver, then free. */
static void deliverer_finish_close(struct deliverer *d)
{
	dns_close(d->dns, dns_gone, d);
}

void deliverer_close(struct deliverer *d, void (*cb)(void *), void *arg)
{
	struct delivery *dv, *next;

	if (d == NULL || d->closing)
		return;
	d->closing = 1;
	d->close_cb = cb;
	d->close_arg = arg;
	for (dv = d->live; dv != NULL; dv = next) {
		next = dv->next;
		deliver_cancel(dv);
	}
	if (d->live == NULL)
		deliverer_finish_close(d);
}

/* Copy the control file into dv (its own decoded record). */
static int copy_ctl(struct delivery *dv, const struct spool_ctl *ctl)
{
	snprintf(dv->name, sizeof(dv->name), "%s", ctl->name);
	dv->raw = malloc(ctl->raw_len ? ctl->raw_len : 1);
	if (dv->raw == NULL)
		return SPOOL_E_NOMEM;
	memcpy(dv->raw, ctl->raw, ctl->raw_len);
	if (spool_rec_decode(&dv->rec, dv->raw, ctl->raw_len) != 0)
		return SPOOL_E_MALFORMED;
	dv->have_rec = 1;
	return 0;
}

int deliver_start(struct deliverer *d, const struct spool_ctl *ctl,
		  const void *body, size_t len, deliver_cb cb, void *arg,
		  struct delivery **handle)
{
	struct delivery *dv;
	struct local_env env;
	struct group *g;
	uint32_t n = 0;
	int rc;

	if (d->closing)
		return SPOOL_E_INVAL;
	dv = calloc(1, sizeof(*dv));
	if (dv == NULL)
		return SPOOL_E_NOMEM;
	dv->d = d;
	rc = copy_ctl(dv, ctl);
	if (rc != 0)
		goto err_after_alloc;
	dv->body = malloc(len ? len : 1);
	if (dv->body == NULL) {
		rc = SPOOL_E_NOMEM;
		goto err_after_alloc;
	}
	if (len > 0)
		memcpy(dv->body, body, len);
	dv->len = len;
	rc = spool_config_load(d->sp, &dv->cfg);
	if (rc != 0)
		goto err_after_alloc;
	for (uint32_t k = 0; k < dv->rec.nrcpt; k++)
		if (dv->rec.rcpt[k].state == RCPT_PENDING)
			n++;
	dv->out = calloc(n ? n : 1, sizeof(*dv->out));
	dv->items = calloc(n ? n : 1, sizeof(*dv->items));
	if (dv->out == NULL || dv->items == NULL) {
		rc = SPOOL_E_NOMEM;
		goto err_after_alloc;
	}
	dv->n = n;
	n = 0;
	for (uint32_t k = 0; k < dv->rec.nrcpt; k++) {
		if (dv->rec.rcpt[k].state != RCPT_PENDING)
			continue;
		dv->out[n].rcpt = k;
		dv->out[n].outcome = OUT_DEFERRED;
		dv->items[n].oi = n;
		dv->items[n].orig = dv->rec.rcpt[k].addr;
		snprintf(dv->items[n].addr, sizeof(dv->items[n].addr), "%s",
			 dv->rec.rcpt[k].addr);
		dv->items[n].hard_all = 1;
		dv->items[n].dup_of = -1;
		snprintf(dv->items[n].last, sizeof(dv->items[n].last),
			 "451 4.4.0 no address tried");
		n++;
	}
	rc = smtp_client_prepare(NULL, 0, dv->body, dv->len, &dv->smtp_data,
				 &dv->smtp_len, &dv->eightbit);
	if (rc != 0)
		goto err_after_alloc;
	local_vms_from(dv->body, dv->len, dv->rec.sender, dv->vms_from,
		       sizeof(dv->vms_from));
	if (strcmp(d->s_backend, "lmtp") == 0) {
		char hdr[600];
		int hl = snprintf(hdr, sizeof(hdr), "X-VMS-From: %s\r\n",
				  dv->vms_from);

		rc = smtp_client_prepare(hdr, (size_t)hl, dv->body, dv->len,
					 &dv->lmtp_data, &dv->lmtp_len, NULL);
		if (rc != 0)
			goto err_after_alloc;
	}
	dv->self = d->self;
	spool_node_foreach(d->sp, node_visit, &dv->self);
	dv->seed = ++d->seq ^ uv_hrtime();
	dv->cb = cb;
	dv->arg = arg;
	uv_timer_init(d->loop, &dv->timer);
	dv->timer.data = dv;
	dv->next = d->live;
	if (d->live != NULL)
		d->live->prev = dv;
	d->live = dv;
	if (handle != NULL)
		*handle = dv;

	memset(&env, 0, sizeof(env));
	env.node_domain = d->s_domain;
	env.cluster_domain = dv->cfg.str[CFG_CLUSTER_DOMAIN];
	env.postmaster_alias = dv->cfg.str[CFG_POSTMASTER_ALIAS];
	env.arg = d;
	env.alias_has = env_alias;
	env.node_alias_has = d->o.local_alias_has ? env_node_alias : NULL;
	env.forward_get = env_forward;
	env.node_domain_has = env_node_domain;
	for (uint32_t i = 0; i < dv->n; i++)
		classify(dv, i, &env);

	dv->busy = 1;	 /* the start guard */
	dv->routing = 1; /* the same for the routes: see on_route() */
	for (g = dv->groups; g != NULL; g = g->next)
		dv->busy++;
	for (g = dv->groups; g != NULL; g = g->next) {
		if (g->nit == 0) {
			group_done(g);
			continue;
		}
		switch (g->kind) {
		case G_REMOTE:
			start_remote(g);
			break;
		case G_MAILDIR:
			start_maildir(g);
			break;
		case G_LMTP:
			start_lmtp(g);
			break;
		}
	}
	if (--dv->routing == 0)
		start_routed(dv);
	release(dv); /* completion, if all is done, on the next turn */
	return 0;

err_after_alloc:
	if (dv->have_rec)
		spool_rec_free(&dv->rec);
	free(dv->raw);
	free(dv->body);
	free(dv->out);
	free(dv->items);
	free(dv->smtp_data);
	free(dv->lmtp_data);
	free(dv);
	return rc;
}

void deliver_cancel(struct delivery *dv)
{
	struct group *g;

	if (dv == NULL || dv->cancelled)
		return;
	dv->cancelled = 1;
	report(dv, "451 4.3.2 delivery cancelled");
	for (g = dv->groups; g != NULL; g = g->next) {
		if (g->done)
			continue;
		if (g->rq != NULL) {
			route_cancel(g->rq);
			g->rq = NULL;
			group_done(g);
			continue;
		}
		if (g->parked) {
			g->parked = 0;
			group_done(g);
			continue;
		}
		if (g->waiting != NULL) {
			host_unwait(g);
			group_done(g);
			continue;
		}
		if (g->conn != NULL) {
			smtp_conn_abort(g->conn, "delivery cancelled");
			continue; /* on_session/on_lmtp end the group */
		}
		if (g->work_queued) {
			uv_cancel((uv_req_t *)&g->work);
			continue; /* maildir_done ends the group */
		}
	}
}
