/*
 * symbiont_bounce.c — the report of a COMPLETE (see symbiont_bounce.h):
 * the recipients it reports (failed; delivered or relayed with
 * NOTIFY=SUCCESS; deferred past the delay warning time with NOTIFY=DELAY),
 * the destination rule, the postmaster address, and the report's control
 * file (name, record, DSN body from dsn.c).
 *
 * Owns: the storage in struct symbiont_bounce. Does not own: the spool,
 * the original record, the outcomes. Fails: allocation and DSN errors are
 * returned to the job, which logs them.
 */
#include "spool/codec/enqueue.h"
#include "src/base/ctlalloc.h"
#include "src/base/clock.h"
#include "src/delivery/symbiont_bounce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "spool/codec/ctlname.h"
#include "src/base/log.h"

/* ---- pure decisions ---- */

int symbiont_bounce_kind(int kind, const char *sender)
{
	int null_sender =
	    sender == NULL || sender[0] == '\0' || strcmp(sender, "<>") == 0;

	if (kind == KIND_POSTMASTER)
		return -1;
	if (kind == KIND_BOUNCE || null_sender)
		return KIND_POSTMASTER;
	return KIND_BOUNCE;
}

int symbiont_rcpt_wants_bounce(const struct spool_rcpt *r)
{
	if (r->notify == 0)
		return 1; /* no NOTIFY: failures are reported */
	return (r->notify & DSN_NOTIFY_FAILURE) != 0;
}

void symbiont_postmaster(const char *alias, const char *cluster_domain,
			 const char *node_domain, char *buf, size_t size)
{
	const char *user = "TCPIP$SMTP";
	const char *dom = cluster_domain != NULL && cluster_domain[0] != '\0'
			      ? cluster_domain
			      : node_domain;

	if (alias != NULL && strchr(alias, '@') != NULL) {
		snprintf(buf, size, "%s", alias);
		return;
	}
	if (alias != NULL && alias[0] != '\0')
		user = alias;
	snprintf(buf, size, "%s@%s", user, dom);
}

void symbiont_postmaster_rcpt(const char *postmaster, const char *node_domain,
			      char *buf, size_t size)
{
	const char *at = strrchr(postmaster, '@');

	if (at != NULL && strcasecmp(at + 1, node_domain) == 0)
		snprintf(buf, size, "%.*s", (int)(at - postmaster), postmaster);
	else
		snprintf(buf, size, "%s", postmaster);
}

/* ---- failed recipients ---- */

/* "host" of a relay "host[ip]:port"; "" for local, lmtp and none. */
static void relay_host(const char *relay, char *buf, size_t size)
{
	const char *b = strchr(relay, '[');
	size_t n;

	buf[0] = '\0';
	if (b == NULL)
		return;
	n = (size_t)(b - relay);
	if (n == 0) { /* "[ip]:port": the address is the host */
		const char *e = strchr(b, ']');
		if (e == NULL)
			return;
		b++;
		n = (size_t)(e - b);
		relay = b;
	}
	if (n >= size)
		n = size - 1;
	memcpy(buf, relay, n);
	buf[n] = '\0';
}

int symbiont_rcpt_report(const struct spool_rec *rec,
			 const struct deliver_outcome *o, uint64_t delay_ms,
			 uint64_t now)
{
	const struct spool_rcpt *r = &rec->rcpt[o->rcpt];
	int null_sender = rec->sender == NULL || rec->sender[0] == '\0' ||
			  strcmp(rec->sender, "<>") == 0;

	/* RFC 3461 5.2 and 4.1: no report to <>; NEVER is never set with
	 * the others (the receiver refuses it) */
	if (rec->kind != KIND_MAIL || null_sender)
		return -1;
	if (o->outcome == OUT_DELIVERED) {
		if (!(r->notify & DSN_NOTIFY_SUCCESS) ||
		    o->dsn == DELIVER_DSN_PASSED)
			return -1;
		return o->dsn == DELIVER_DSN_RELAYED ? DSN_ACT_RELAYED
						     : DSN_ACT_DELIVERED;
	}
	if (o->outcome == OUT_DEFERRED && (r->notify & DSN_NOTIFY_DELAY) &&
	    !(r->flags & RCPT_F_DELAYED) && delay_ms != 0 &&
	    now >= rec->created_ms + delay_ms)
		return DSN_ACT_DELAYED;
	return -1;
}

int symbiont_bounce_init(struct symbiont_bounce *b,
			 const struct symbiont_bounce_req *req)
{
	size_t max = (size_t)req->n + req->rec->nrcpt + 1;

	memset(b, 0, sizeof(*b));
	wbuf_init(&b->body);
	b->now = clock_wall_ms();
	if (spool_config_load(req->env->sp, &b->cfg) != 0)
		spool_config_defaults(&b->cfg);
	b->fail = calloc(max, sizeof(*b->fail));
	b->hosts = calloc(max, sizeof(*b->hosts));
	if (b->fail == NULL || b->hosts == NULL)
		return SPOOL_E_NOMEM;
	return 0;
}

uint32_t symbiont_bounce_collect(struct symbiont_bounce *b,
				 const struct symbiont_bounce_req *req)
{
	const struct spool_rec *rec = req->rec;
	const struct deliver_outcome *out = req->out;
	uint32_t nf = 0;

	for (uint32_t i = 0; i < req->n; i++) {
		int act = DSN_ACT_FAILED;

		if (out[i].rcpt >= rec->nrcpt)
			continue;
		if (out[i].outcome != OUT_FAILED &&
		    (act = symbiont_rcpt_report(rec, &out[i],
						b->cfg.num[CFG_DELAY_WARNING],
						b->now)) < 0)
			continue;
		b->fail[nf].rcpt = out[i].rcpt;
		b->fail[nf].reply = out[i].reply;
		b->fail[nf].action = (uint8_t)act;
		relay_host(out[i].relay, b->hosts[nf], sizeof(b->hosts[nf]));
		b->fail[nf].remote_mta = b->hosts[nf];
		nf++;
	}
	for (uint32_t r = 0; r < rec->nrcpt; r++) {
		if (rec->rcpt[r].state != RCPT_FAILED)
			continue;
		b->fail[nf].rcpt = r;
		b->fail[nf].reply = rec->rcpt[r].reply;
		b->fail[nf].action = DSN_ACT_FAILED;
		b->hosts[nf][0] = '\0';
		b->fail[nf].remote_mta = b->hosts[nf];
		nf++;
	}
	b->nfail = nf;
	return nf;
}

/* ---- the bounce control file ---- */

/* The DSN body into b->body: the returned original kept well inside the
 * frame limit, since the bounce rides in the COMPLETE. */
static int build_body(struct symbiont_bounce *b,
		      const struct symbiont_bounce_req *req, uint32_t keep,
		      uint64_t now)
{
	const struct symbiont_bounce_env *env = req->env;
	struct dsn_in in;
	void *ob = NULL;
	size_t olen = 0;
	int rc;

	memset(&in, 0, sizeof(in));
	in.rec = req->rec;
	in.orig_name = req->name;
	in.fail = b->fail;
	in.nfail = keep;
	in.reporting_mta = env->node_domain;
	in.postmaster = b->postmaster;
	in.to = b->to;
	in.now_ms = now;
	in.boundary_seed = b->name;
	in.return_max = DSN_RETURN_MAX;
	if (req->max_body / 2 < in.return_max && req->max_body / 2 > 0)
		in.return_max = (size_t)(req->max_body / 2);
	if (spool_body_get(env->sp, req->name, &ob, &olen) != 0) {
		ob = NULL;
		olen = 0;
	}
	in.body = ob;
	in.body_len = olen;
	rc = dsn_build(&in, &b->body);
	free(ob);
	return rc;
}

int symbiont_bounce_attach(struct symbiont_bounce *b,
			   const struct symbiont_bounce_req *req,
			   struct spool_cmd_complete *cp)
{
	const struct symbiont_bounce_env *env = req->env;
	const struct spool_rec *rec = req->rec;
	const struct spool_config *cfg = &b->cfg;
	uint64_t now = b->now;
	uint32_t keep = 0;
	int kind = symbiont_bounce_kind(rec->kind, rec->sender);
	int rc;

	if (kind < 0) {
		log_warn("symbiont: %s: postmaster bounce failed; dropped "
			 "(never looped)",
			 req->name);
		b->dropped = 1;
		return 0;
	}
	/* NOTIFY without FAILURE (NOTIFY=NEVER): no notice of a failure for
	 * them (the other entries were chosen by what NOTIFY asked) */
	for (uint32_t i = 0; i < b->nfail; i++) {
		if (b->fail[i].action == DSN_ACT_FAILED &&
		    rec->kind == KIND_MAIL &&
		    !symbiont_rcpt_wants_bounce(&rec->rcpt[b->fail[i].rcpt]))
			continue;
		b->fail[keep++] = b->fail[i];
	}
	b->nfail = keep;
	if (keep == 0)
		return 0;
	symbiont_postmaster(cfg->str[CFG_POSTMASTER_ALIAS],
			    cfg->str[CFG_CLUSTER_DOMAIN], env->node_domain,
			    b->postmaster, sizeof(b->postmaster));
	if (kind == KIND_BOUNCE)
		snprintf(b->to, sizeof(b->to), "%s", rec->sender);
	else
		symbiont_postmaster_rcpt(b->postmaster, env->node_domain, b->to,
					 sizeof(b->to));
	rc = ctlalloc_name(b->name, sizeof(b->name), now, "SYSTEM",
			   env->node_name);
	if (rc != 0)
		return rc;
	rc = build_body(b, req, keep, now);
	if (rc != 0)
		return rc;

	memset(&b->rcpt, 0, sizeof(b->rcpt));
	b->rcpt.addr = b->to;
	b->rcpt.orcpt = "";
	b->rcpt.reply = "";
	cp->has_bounce = 1;
	enqueue_fill(&cp->bounce,
		     &(struct enqueue_msg){.name = b->name,
					   .user = "SYSTEM",
					   .sender = "",
					   .ret = DSN_RET_NONE,
					   .kind = (uint8_t)kind,
					   .origin_node = env->self,
					   .body_size = b->body.len,
					   .nrcpt = 1,
					   .rcpt = &b->rcpt,
					   .body = b->body.p,
					   .body_len = b->body.len});
	/* to a UTF-8 sender, quoting UTF-8 header fields */
	cp->bounce.rec.flags = req->rec->flags & MSG_F_SMTPUTF8;
	log_info("symbiont: %s: %s %s to <%s> for %u recipient(s)", req->name,
		 kind == KIND_POSTMASTER ? "postmaster copy" : "report",
		 b->name, b->to, (unsigned)keep);
	return 1;
}

int symbiont_bounce_mark(const struct symbiont_bounce *b,
			 const struct spool_rec *rec,
			 struct spool_outcome_item *items, uint32_t n)
{
	uint8_t *warned = calloc(rec->nrcpt ? rec->nrcpt : 1, 1);

	if (warned == NULL)
		return SPOOL_E_NOMEM;
	for (uint32_t i = 0; i < b->nfail; i++)
		if (b->fail[i].action == DSN_ACT_DELAYED &&
		    b->fail[i].rcpt < rec->nrcpt)
			warned[b->fail[i].rcpt] = 1;
	for (uint32_t i = 0; i < n; i++)
		if (items[i].outcome == OUT_DEFERRED &&
		    items[i].rcpt < rec->nrcpt && warned[items[i].rcpt])
			items[i].outcome = OUT_DEFERRED_WARNED;
	free(warned);
	return 0;
}

void symbiont_bounce_free(struct symbiont_bounce *b)
{
	free(b->fail);
	free(b->hosts);
	b->fail = NULL;
	b->hosts = NULL;
	wbuf_free(&b->body);
}
