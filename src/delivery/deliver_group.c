/*
 * deliver_group.c — the delivery group: the recipients of one attempt
 * that travel together (one Maildir job, one LMTP session, or one route
 * target's SMTP transactions), and the group's state machine.
 *
 * States (deliver_impl.h draws them): NEW after classification; a remote
 * group is ROUTING until route.c answers, PARKED until every route of the
 * delivery is known (then groups bound for the same hosts merge), then
 * WAIT_HOST while its destination is at the connection cap, SENDING
 * during a session, and back to WAIT_HOST or SENDING for the next address;
 * a local group goes from NEW to SENDING (the Maildir job or the LMTP
 * session). Every state ends in DONE, entered once through group_done().
 * A move outside legal[] is a bug: it asserts.
 *
 * Owns: the group's memory (made by group_for(), freed by group_free()
 * from delivery_free()), the choice of a recipient's group
 * (group_classify(): local_resolve() and the forward table, then local
 * backend or route target), the RCPT list and client settings of a
 * session, and the TLS policy level a remote group's recipients carry
 * (groups of one route target but other levels are kept apart). Does not
 * start anything: deliver_remote.c and deliver_local.c
 * do.
 *
 * Fails: out of memory while classifying defers the recipient "451 4.3.0
 * out of memory".
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spool/codec/cmd.h"
#include "spool/codec/tlspolicy.h"
#include "src/base/log.h"
#include "src/delivery/deliver_impl.h"

/* ---- state ---- */

static const char *const state_names[GS__COUNT] = {
    "NEW", "ROUTING", "PARKED", "WAIT_HOST", "SENDING", "DONE"};

#define B(s) (1u << (s))
/* legal[old] = the states old may move to */
static const unsigned legal[GS__COUNT] = {
    [GS_NEW] = B(GS_ROUTING) | B(GS_SENDING) | B(GS_DONE),
    [GS_ROUTING] = B(GS_PARKED) | B(GS_DONE),
    [GS_PARKED] = B(GS_WAIT_HOST) | B(GS_SENDING) | B(GS_DONE),
    [GS_WAIT_HOST] = B(GS_SENDING) | B(GS_DONE),
    [GS_SENDING] = B(GS_WAIT_HOST) | B(GS_SENDING) | B(GS_DONE),
    [GS_DONE] = 0,
};

const char *group_state_name(enum group_state st)
{
	return (unsigned)st < GS__COUNT ? state_names[st] : "?";
}

int group_move_legal(enum group_state from, enum group_state to)
{
	if ((unsigned)from >= GS__COUNT || (unsigned)to >= GS__COUNT)
		return 0;
	return (legal[from] & B(to)) != 0;
}

void group_enter(struct group *g, enum group_state next)
{
	assert((unsigned)next < GS__COUNT);
	assert(legal[g->state] & B(next));
	if (g->state != next)
		log_debug("deliver %s: group %s: %s -> %s", g->dv->name, g->key,
			  state_names[g->state], state_names[next]);
	g->state = next;
}

/* ---- life ---- */

struct group *group_for(struct delivery *dv, enum gkind kind, const char *key,
			int tls_level)
{
	struct group *g;

	SLIST_FOREACH (g, &dv->groups, next)
		if (g->kind == kind && strcasecmp(g->key, key) == 0 &&
		    g->tls_level == tls_level)
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
	g->tls_level = tls_level;
	g->state = GS_NEW;
	snprintf(g->key, sizeof(g->key), "%s", key);
	for (char *p = g->key; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	SLIST_INSERT_HEAD(&dv->groups, g, next);
	return g;
}

void group_free(struct group *g)
{
	free(g->it);
	free(g->hops);
	free(g->cr);
	free(g->cr_item);
	free(g->jobs);
	free(g);
}

void group_done(struct group *g)
{
	struct delivery *dv = g->dv;

	if (g->state == GS_DONE)
		return;
	group_enter(g, GS_DONE);
	if (g->kind != G_REMOTE) {
		/* local duplicates share their mailbox's outcome */
		for (uint32_t i = 0; i < dv->n; i++) {
			struct item *it = &dv->items[i];
			struct item *p;

			if (it->dup_of < 0 || it->settled)
				continue;
			p = &dv->items[it->dup_of];
			if (p->settled)
				delivery_settle(dv, i, dv->out[p->oi].outcome,
						dv->out[p->oi].reply,
						dv->out[p->oi].relay);
		}
	}
	delivery_release(dv);
}

void group_settle_all(struct group *g, int outcome, const char *reply,
		      const char *relay)
{
	for (uint32_t j = 0; j < g->nit; j++)
		delivery_settle(g->dv, g->it[j], outcome, reply, relay);
	group_done(g);
}

/* ---- classification ---- */

void group_classify(struct delivery *dv, uint32_t ii,
		    const struct local_env *env)
{
	struct deliverer *d = dv->d;
	struct item *it = &dv->items[ii];
	struct group *g = NULL;
	const char *at;
	int via, tls;

	if (dv->rec.rcpt[dv->out[it->oi].rcpt].flags & RCPT_F_LOCAL)
		local_resolve_accepted(env, it->orig, &it->lt);
	else
		local_resolve(env, it->orig, &it->lt);
	switch (it->lt.kind) {
	case LOCAL_FAILED:
		delivery_settle(dv, ii, OUT_FAILED, it->lt.reply, "local");
		return;
	case LOCAL_TEMPFAIL:
		delivery_settle(dv, ii, OUT_DEFERRED, it->lt.reply, "local");
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
			g = group_for(dv, G_LMTP, "lmtp", 0);
		else if (strcmp(d->s_backend, "maildir") == 0)
			g = group_for(dv, G_MAILDIR, "maildir", 0);
		else {
			delivery_settle(
			    dv, ii, OUT_DEFERRED,
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
			delivery_settle(dv, ii, OUT_FAILED,
					"553 5.1.3 no domain in address",
					"none");
			return;
		}
		/* the TLS policy of the recipient's domain, also when an
		 * alternate gateway carries it */
		tls = deliver_tls_level(d, at + 1);
		if (tls < 0) {
			delivery_settle(dv, ii, OUT_DEFERRED,
					"451 4.3.0 TLS policy lookup failed",
					"none");
			return;
		}
		g = group_for(dv, G_REMOTE,
			      route_target(at + 1, dv->zone,
					   dv->cfg.str[CFG_GATEWAY_ALTERNATE],
					   &via),
			      tls);
		break;
	}
	if (g == NULL) {
		delivery_settle(dv, ii, OUT_DEFERRED, "451 4.3.0 out of memory",
				"none");
		return;
	}
	g->it[g->nit++] = ii;
}

/* ---- sessions ---- */

uint32_t group_build_rcpts(struct group *g, int mailbox)
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

void group_client_cfg(struct group *g, struct smtp_client_cfg *cfg, int lmtp)
{
	struct delivery *dv = g->dv;
	struct deliverer *d = dv->d;
	const struct deliver_data *dd = &dv->data;

	memset(cfg, 0, sizeof(*cfg));
	cfg->lmtp = lmtp;
	cfg->helo = d->s_helo;
	cfg->sender = dv->rec.sender;
	cfg->envid = dv->rec.envid;
	cfg->ret = dv->rec.ret;
	/* one prepared buffer: LMTP sends it whole (its X-VMS-From: first),
	 * SMTP what follows the prefix */
	if (lmtp && dd->lbuf != NULL) { /* fields left out: its own copy */
		cfg->data = dd->lbuf;
		cfg->data_len = dd->llen;
	} else if (lmtp) {
		cfg->data = dd->buf;
		cfg->data_len = dd->len;
	} else {
		cfg->data = dd->buf + dd->smtp_off;
		cfg->data_len = dd->len - dd->smtp_off;
	}
	cfg->size = dv->len;
	cfg->eightbit = dd->eightbit;
	cfg->head8bit = dd->head8bit;
	cfg->eightbit_asis = dv->cfg.num[CFG_OPT_EIGHT_BIT] != 0;
	cfg->smtputf8 = (dv->rec.flags & MSG_F_SMTPUTF8) != 0;
	/* the TLS policy (docs/delivery.md): none never tries, may tries
	 * (and the same address again in clear after a failed handshake),
	 * encrypt and verify require it */
	cfg->tls_allowed = !lmtp && !g->notls && g->tls_level != TLSPOL_NONE;
	cfg->tls_required = !lmtp && g->tls_level >= TLSPOL_ENCRYPT;
	cfg->peer = g->peer;
	cfg->t_initial = dv->cfg.num[CFG_SEND_TIMEOUT_INITIAL];
	cfg->t_mail = dv->cfg.num[CFG_SEND_TIMEOUT_MAIL];
	cfg->t_rcpt = dv->cfg.num[CFG_SEND_TIMEOUT_RECEIPT];
	cfg->t_data = dv->cfg.num[CFG_SEND_TIMEOUT_DATA];
	cfg->t_term = dv->cfg.num[CFG_SEND_TIMEOUT_TERMINATION];
	cfg->t_quit = 10000;
	cfg->reuse = lmtp ? 0 : DELIVER_REUSE_MAX;
	cfg->t_idle = DELIVER_IDLE_MS;
}
