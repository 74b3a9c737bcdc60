/*
 * deliver.c — the delivery engine (see deliver.h): one attempt at the
 * PENDING recipients of a claimed control file, and the deliverer that
 * runs every attempt of the node.
 *
 * An attempt: each recipient is put in a group (deliver_group.c: local
 * mailboxes in one group per backend, remote recipients one group per
 * route target); local groups start at once (deliver_local.c), remote ones
 * are routed, merged when bound for the same hosts and sent
 * (deliver_remote.c) under the per-host connection cap kept across all
 * deliveries (deliver_hostcap.c). Each group ends once; the last one
 * completes the delivery on the next loop turn.
 *
 * Owns: the delivery records (a copy of the control file, the body handed
 * over by the caller, the data phase prepared once), the deliverer's
 * resolver, TLS context and host slots. Every libuv handle is closed
 * through its close callback before its memory is freed; a delivery is
 * freed from the close callback of its own timer.
 *
 * The body: taken over at deliver_start() (not copied); the data phase
 * (CRLF line ends, dots doubled, final ".") is made only when a group
 * sends over SMTP or LMTP, once, in one buffer that both share (LMTP's
 * X-VMS-From: line first, SMTP starting after it); Maildir writes from
 * the body itself.
 *
 * Outcome: the callback runs once per delivery, never from inside
 * deliver_start(); on deliver_cancel() it runs at once with every
 * unfinished recipient deferred "cancelled" (work already handed to a peer
 * or a Maildir writer may still complete: the next attempt may then
 * duplicate it, which the retry rules accept).
 */
#include "src/base/clock.h"
#include "src/delivery/deliver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "src/base/log.h"
#include "src/delivery/deliver_impl.h"
#include "src/delivery/local_headers.h"

static void deliverer_finish_close(struct deliverer *d);
static void deliverer_maybe_finish_close(struct deliverer *d);

/* ---- outcomes ---- */

static const char *status_word(int outcome)
{
	return outcome == OUT_DELIVERED ? "sent"
	       : outcome == OUT_FAILED	? "bounced"
					: "deferred";
}

/* The final outcome of one recipient (logged, Postfix style). */
void delivery_settle(struct delivery *dv, uint32_t ii, int outcome,
		     const char *reply, const char *relay)
{
	struct item *it = &dv->items[ii];
	struct deliver_outcome *o = &dv->out[it->oi];
	uint64_t now = clock_wall_ms();
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
			delivery_settle(dv, i, OUT_DEFERRED, why, "none");
	dv->reported = 1;
	if (dv->cb != NULL)
		dv->cb(dv->arg, dv->out, dv->n);
}

/* ---- the data phase ---- */

/* 8BITMIME is about the message (the prefix's octets do not count);
 * SMTPUTF8 about its header section too. */
static void eight_bit_scan(struct deliver_data *dd, const char *msg, size_t len)
{
	const char *end = memmem(msg, len, "\r\n\r\n", 4);
	size_t head = end != NULL ? (size_t)(end - msg) : len;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)msg[i] & 0x80) {
			dd->eightbit = 1;
			dd->head8bit = i < head;
			return;
		}
}

int deliver_data_prepare(struct deliver_data *dd, const void *msg, size_t len,
			 int need_smtp, int need_lmtp, const char *vms_from)
{
	char hdr[600];
	int hl = 0;
	int rc;

	memset(dd, 0, sizeof(*dd));
	if (!need_smtp && !need_lmtp)
		return 0;
	if (need_lmtp)
		hl = snprintf(hdr, sizeof(hdr), "X-VMS-From: %s\r\n",
			      vms_from != NULL ? vms_from : "");
	/* The prefix is one line without CR, LF or a leading dot (vms_from
	 * has no control octets), so it is copied as it is and the body
	 * starts at a line start: the bytes after it are exactly what the
	 * body alone would give, and SMTP can send them. */
	rc = smtp_client_prepare(need_lmtp ? hdr : NULL, (size_t)hl, msg, len,
				 &dd->buf, &dd->len, NULL);
	if (rc != 0)
		return rc;
	dd->smtp_off = (size_t)hl;
	dd->lmtp = need_lmtp;
	eight_bit_scan(dd, msg, len);
	return 0;
}

int deliver_data_local(struct deliver_data *dd, const void *msg, size_t len,
		       int headers, const char *vms_from)
{
	struct deliver_data ld;
	char *f;
	size_t flen;
	int rc;

	if (headers != CFG_HEADERS_TOP && headers != CFG_HEADERS_NONE)
		return 0;
	f = malloc(len ? len : 1);
	if (f == NULL)
		return SPOOL_E_NOMEM;
	flen = local_headers_filter(msg, len, headers, f);
	rc = deliver_data_prepare(&ld, f, flen, 0, 1, vms_from);
	free(f);
	if (rc != 0)
		return rc;
	dd->lbuf = ld.buf;
	dd->llen = ld.len;
	return 0;
}

void deliver_data_free(struct deliver_data *dd)
{
	free(dd->buf);
	free(dd->lbuf);
	memset(dd, 0, sizeof(*dd));
}

/* ---- delivery life ---- */

/* Free dv's records (not the timer; dv must be unlinked already). */
static void delivery_free_records(struct delivery *dv)
{
	struct group *g;

	while ((g = SLIST_FIRST(&dv->groups)) != NULL) {
		SLIST_REMOVE_HEAD(&dv->groups, next);
		group_free(g);
	}
	if (dv->have_rec)
		spool_rec_free(&dv->rec);
	free(dv->raw);
	free(dv->body);
	free(dv->out);
	free(dv->items);
	deliver_data_free(&dv->data);
	free(dv);
}

static void delivery_free(uv_handle_t *h)
{
	struct delivery *dv = h->data;
	struct deliverer *d = dv->d;

	LIST_REMOVE(dv, next);
	delivery_free_records(dv);
	deliverer_maybe_finish_close(d);
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
void delivery_release(struct delivery *dv)
{
	if (--dv->busy > 0 || dv->finishing)
		return;
	dv->finishing = 1;
	uv_timer_start(&dv->timer, on_complete, 0, 0);
}

/* ---- the deliverer ---- */

static char *dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

static void free_strings(struct deliverer *d)
{
	free(d->s_node);
	free(d->s_domain);
	free(d->s_helo);
	free(d->s_backend);
	free(d->s_root);
	free(d->s_lmtp);
	free(d->s_dns);
}

int deliverer_init(struct deliverer **out, uv_loop_t *loop,
		   const struct deliver_opts *o, struct spool *sp)
{
	struct deliverer *d = calloc(1, sizeof(*d));
	char why[200];
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
	deliver_self_init(d, o->own_smtp, o->n_own_smtp);
	d->o.own_smtp = NULL;
	d->o.n_own_smtp = 0;
	hostcap_init(&d->hc, d->o.max_per_host);
	d->idle_closed = deliverer_maybe_finish_close;
	rc = dns_init(&d->dns, loop, d->s_dns);
	if (rc != 0)
		goto err_after_strings;
	d->tls = smtp_client_tls_ctx();
	if (d->tls == NULL)
		log_warn("deliver: no TLS context; STARTTLS disabled");
	/* the TLS policy verify: chain and name checked (a CA store that
	 * does not load defers that mail with the reason) */
	d->tls_verify =
	    smtp_client_tls_ctx_verify(o->tls_ca_file, why, sizeof(why));
	if (d->tls_verify == NULL) {
		log_error("deliver: TLS policy verify unavailable: %s", why);
		snprintf(d->tls_verify_err, sizeof(d->tls_verify_err),
			 "451 4.7.5 TLS policy verify: %s", why);
	}
	deliver_resolver_init(d);
	d->seq = uv_hrtime();
	*out = d;
	return 0;

err_after_strings:
	free_strings(d);
	free(d);
	return rc;
}

static void dns_gone(void *arg)
{
	struct deliverer *d = arg;
	void (*cb)(void *) = d->close_cb;
	void *cb_arg = d->close_arg;

	hostcap_free(&d->hc);
	if (d->tls != NULL)
		smtp_client_tls_free(d->tls);
	if (d->tls_verify != NULL)
		smtp_client_tls_free(d->tls_verify);
	free_strings(d);
	free(d);
	if (cb != NULL)
		cb(cb_arg);
}

/* Every delivery is gone: close the resolver, then free. */
static void deliverer_finish_close(struct deliverer *d)
{
	dns_close(d->dns, dns_gone, d);
}

/* Closing, and no delivery nor cached connection left: finish (once). */
static void deliverer_maybe_finish_close(struct deliverer *d)
{
	if (d->closing != 1 || !LIST_EMPTY(&d->live) || d->nidle != 0)
		return;
	d->closing = 2;
	deliverer_finish_close(d);
}

void deliverer_close(struct deliverer *d, void (*cb)(void *), void *arg)
{
	struct delivery *dv, *next;

	if (d == NULL || d->closing)
		return;
	d->closing = 1;
	d->close_cb = cb;
	d->close_arg = arg;
	for (dv = LIST_FIRST(&d->live); dv != NULL; dv = next) {
		next = LIST_NEXT(dv, next);
		deliver_cancel(dv);
	}
	conncache_close_all(d);
	deliverer_maybe_finish_close(d);
}

/* ---- one attempt ---- */

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

/* One item per PENDING recipient, each deferred until it is settled. */
static int make_items(struct delivery *dv)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < dv->rec.nrcpt; k++)
		if (dv->rec.rcpt[k].state == RCPT_PENDING)
			n++;
	dv->out = calloc(n ? n : 1, sizeof(*dv->out));
	dv->items = calloc(n ? n : 1, sizeof(*dv->items));
	if (dv->out == NULL || dv->items == NULL)
		return SPOOL_E_NOMEM;
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
	return 0;
}

/* The data phase, for the groups that send it (none: nothing made). */
static int prepare_data(struct delivery *dv)
{
	const struct group *g;
	int need_smtp = 0, need_lmtp = 0, rc;

	SLIST_FOREACH (g, &dv->groups, next) {
		if (g->nit == 0)
			continue;
		if (g->kind == G_REMOTE)
			need_smtp = 1;
		else if (g->kind == G_LMTP)
			need_lmtp = 1;
	}
	rc = deliver_data_prepare(&dv->data, dv->body, dv->len, need_smtp,
				  need_lmtp, dv->vms_from);
	if (rc == 0 && need_lmtp)
		rc = deliver_data_local(&dv->data, dv->body, dv->len,
					(int)dv->cfg.num[CFG_OPT_HEADERS],
					dv->vms_from);
	return rc;
}

int deliver_start(struct deliverer *d, const struct spool_ctl *ctl, void *body,
		  size_t len, deliver_cb cb, void *arg,
		  struct delivery **handle)
{
	struct delivery *dv;
	struct local_env env;
	struct group *g;
	int rc;

	if (d->closing) {
		free(body);
		return SPOOL_E_INVAL;
	}
	dv = calloc(1, sizeof(*dv));
	if (dv == NULL) {
		free(body);
		return SPOOL_E_NOMEM;
	}
	dv->d = d;
	dv->body = body; /* ours from here on, freed with dv */
	dv->len = len;
	rc = copy_ctl(dv, ctl);
	if (rc != 0)
		goto err_after_alloc;
	rc = spool_config_load(d->sp, &dv->cfg);
	if (rc != 0)
		goto err_after_alloc;
	route_zone(dv->cfg.str[CFG_ZONE],
		   spool_cfg_mail_domain(&dv->cfg, d->o.node_domain), dv->zone,
		   sizeof(dv->zone));
	rc = make_items(dv);
	if (rc != 0)
		goto err_after_alloc;
	local_vms_from(dv->body, dv->len, dv->rec.sender, dv->vms_from,
		       sizeof(dv->vms_from));
	deliver_self_load(d, &dv->self);
	dv->seed = ++d->seq ^ uv_hrtime();
	dv->cb = cb;
	dv->arg = arg;

	deliver_self_env(d, &dv->cfg, &env);
	for (uint32_t i = 0; i < dv->n; i++)
		group_classify(dv, i, &env);
	rc = prepare_data(dv);
	if (rc != 0)
		goto err_after_alloc;

	uv_timer_init(d->loop, &dv->timer);
	dv->timer.data = dv;
	LIST_INSERT_HEAD(&d->live, dv, next);
	if (handle != NULL)
		*handle = dv;

	dv->busy = 1;	 /* the start guard */
	dv->routing = 1; /* the same for the routes: see on_route() */
	SLIST_FOREACH (g, &dv->groups, next)
		dv->busy++;
	SLIST_FOREACH (g, &dv->groups, next) {
		if (g->nit == 0) {
			group_done(g);
			continue;
		}
		switch (g->kind) {
		case G_REMOTE:
			remote_group_start(g);
			break;
		case G_MAILDIR:
			maildir_group_start(g);
			break;
		case G_LMTP:
			lmtp_group_start(g);
			break;
		}
	}
	if (--dv->routing == 0)
		remote_groups_routed(dv);
	delivery_release(dv); /* completion, if all is done, on the next turn */
	return 0;

err_after_alloc:
	delivery_free_records(dv); /* the body with it */
	return rc;
}

void deliver_cancel(struct delivery *dv)
{
	struct group *g;

	if (dv == NULL || dv->cancelled)
		return;
	dv->cancelled = 1;
	report(dv, "451 4.3.2 delivery cancelled");
	SLIST_FOREACH (g, &dv->groups, next) {
		switch (g->state) {
		case GS_NEW: /* every group is started by deliver_start() */
		case GS_DONE:
		case GS__COUNT:
			break;
		case GS_ROUTING:
			route_cancel(g->rq);
			g->rq = NULL;
			group_done(g);
			break;
		case GS_PARKED:
			group_done(g);
			break;
		case GS_WAIT_HOST:
			hostcap_unwait(&g->wait);
			group_done(g);
			break;
		case GS_SENDING:
			if (g->conn != NULL)
				/* on_session/on_lmtp end the group */
				smtp_conn_abort(g->conn, "delivery cancelled");
			else if (g->kind == G_MAILDIR)
				/* maildir_done ends the group */
				uv_cancel((uv_req_t *)&g->work);
			break;
		}
	}
}
