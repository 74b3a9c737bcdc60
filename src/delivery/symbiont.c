/*
 * symbiont.c — the node's delivery agent (see symbiont.h and
 * docs/symbiont.md).
 *
 * Every scan_interval_ms (and at once when a slot frees up) it looks at
 * the due index of its own copy of the spool and CLAIMs, in one batch,
 * the due files this node prefers (rendezvous hashing over the nodes whose
 * mail is started) plus any file that has waited past the grace period.
 * Each granted file becomes a job: once the node's own spool has applied
 * the claim (so the record it delivers from is at least as new as the
 * grant), the delivery engine runs it; the lease is renewed when half of
 * it has passed; the outcomes go back in one COMPLETE with the job's
 * fencing number and, when recipients failed, the bounce built by dsn.c.
 *
 * Owns: jobs, the claim batch in flight, the activity log file, the
 * statistics. Does not own: the cluster, the spool, the delivery engine.
 * Fails: a proposal without an answer is retried while the lease lasts; a
 * COMPLETE or RENEW the spool refuses (stale fence, expired lease) is
 * logged as a possible duplicate delivery and counted; nothing here stops
 * the node.
 */
#include "src/delivery/symbiont.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "spool/codec/ctlname.h"
#include "src/delivery/dsn.h"
#include "src/base/log.h"

#define DEF_LEASE_MS 120000
#define DEF_GRACE_MS 30000
#define DEF_SCAN_MS 500
#define DEF_BATCH 16
#define DUE_SCAN_MAX 256   /* names read from the due index per scan */
#define NODES_MAX 64	   /* started nodes considered for preference */
#define KICK_MS 20	   /* retry period while a claim is not applied */
#define STOP_DRAIN_MS 3000 /* deliveries may finish this long at stop */
#define STOP_FINAL_MS 6000 /* then their COMPLETEs this much longer */
#define LOG_LINE_MAX 2048

enum job_state {
	J_WAIT_LOCAL = 0, /* granted; waiting for our spool to apply it */
	J_DELIVERING,	  /* the delivery engine has it */
	J_COMPLETING,	  /* COMPLETE proposed or to be retried */
	J_DONE,		  /* finished (or given up); freed when idle */
};

struct job {
	struct symbiont *s;
	struct job *next;
	char name[SPOOL_NAME_MAX + 1];
	uint64_t fence;
	uint64_t prev_holder; /* expired holder seen before the claim */
	uint64_t lease_base;  /* monotonic ms the lease was last asked for */
	uint64_t wait_until;  /* J_WAIT_LOCAL: give up after (monotonic) */
	enum job_state state;
	int renewing;	     /* RENEW in flight */
	uint64_t renew_sent; /* monotonic ms of that RENEW */
	int completing;	     /* COMPLETE in flight */
	int retry_complete;  /* COMPLETE to be proposed again */
	int lost;	     /* the lease was refused to us */
	struct spool_ctl ctl;
	int have_ctl;
	struct delivery *h; /* valid until the engine's callback */
	uint8_t *cmd;	    /* encoded COMPLETE, kept for retries */
	size_t cmd_len;
	int has_bounce;
};

struct claim_batch {
	struct symbiont *s;
	uint32_t n;
	char **names;
	uint64_t *prev; /* holder of an expired lease per name, 0 = none */
	uint64_t sent;	/* monotonic ms */
};

struct symbiont {
	uv_loop_t *loop;
	struct cluster *cl;
	struct spool *sp;
	struct deliverer *dlv;
	uint64_t self;
	char node_name[CTLNAME_NODE_MAX + 1];
	char node_domain[256];
	unsigned lease_ms, grace_ms, scan_ms, batch;
	int log_fd;	    /* activity log, -1 = none */
	char log_node[256]; /* the node config's activity log */
	char log_cur[256];  /* the one open now ("" = none) */
	uv_timer_t tick, kick;
	int kick_armed;
	struct job *jobs;
	unsigned njobs;
	struct claim_batch *claim; /* the CLAIM in flight, or NULL */
	uint32_t seq;		   /* bounce control-file sequence */
	struct symbiont_stats st;
	int stopping;
	int finished; /* the stop callback has been called */
	int closing;
	uint64_t stop_at;
	void (*stop_cb)(void *);
	void *stop_arg;
};

static void tick_work(struct symbiont *s, int scan);
static void on_kick(uv_timer_t *t);

/* ---- clocks ---- */

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ms(const struct symbiont *s)
{
	uv_update_time(s->loop);
	return uv_now(s->loop);
}

/* ---- pure decisions ---- */

/* splitmix64 finalizer */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Weight of (name, node) for rendezvous hashing: FNV-1a of the name,
 * mixed with the node id. */
static uint64_t hrw_weight(const char *name, uint64_t node)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return mix64(h ^ mix64(node + 0x9e3779b97f4a7c15ull));
}

uint64_t symbiont_preferred(const char *name, const uint64_t *nodes, size_t n)
{
	uint64_t best = 0, best_w = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t w = hrw_weight(name, nodes[i]);
		if (best == 0 || w > best_w ||
		    (w == best_w && nodes[i] > best)) {
			best = nodes[i];
			best_w = w;
		}
	}
	return best;
}

int symbiont_should_claim(uint64_t self, uint64_t preferred, uint64_t due_ms,
			  uint64_t now_ms, uint64_t grace_ms)
{
	if (preferred == self || preferred == 0)
		return 1;
	return now_ms >= due_ms && now_ms - due_ms >= grace_ms;
}

int symbiont_should_renew(uint64_t granted_ms, uint64_t lease_ms,
			  uint64_t now_ms)
{
	return now_ms >= granted_ms && now_ms - granted_ms >= lease_ms / 2;
}

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

/* ---- activity log ---- */

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

static const char *status_word(int outcome)
{
	return outcome == OUT_DELIVERED ? "sent"
	       : outcome == OUT_FAILED	? "bounced"
					: "deferred";
}

/* (Re)open the activity log at path ("" or "none": no log). */
static void log_open(struct symbiont *s, const char *path)
{
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->log_fd = -1;
	snprintf(s->log_cur, sizeof(s->log_cur), "%s", path);
	if (path[0] == '\0' || strcmp(path, "none") == 0)
		return;
	s->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (s->log_fd < 0)
		log_warn("symbiont: cannot open the activity log %s: %s (no "
			 "activity log)",
			 path, strerror(errno));
	else
		log_info("symbiont: activity log %s", path);
}

/* SET CONFIGURATION SMTP /LOG=file overrides the node's activity log;
 * reset, the node's own file is used again. */
static void log_follow_config(struct symbiont *s, const struct spool_config *c)
{
	const char *want =
	    c->str[CFG_LOG][0] != '\0' ? c->str[CFG_LOG] : s->log_node;

	if (strcmp(want, s->log_cur) != 0)
		log_open(s, want);
}

/* One activity-log line per recipient outcome (the seed's
 * TCPIP$SMTP_LOGFILE, Postfix style), appended with one write(2). */
static void activity(struct symbiont *s, const struct job *j,
		     const struct deliver_outcome *o)
{
	char line[LOG_LINE_MAX], ts[40];
	uint64_t now = wall_ms(), created = j->ctl.rec.created_ms;
	const struct spool_rcpt *r = &j->ctl.rec.rcpt[o->rcpt];
	time_t t = (time_t)(now / 1000);
	struct tm tm;
	int n;

	if (s->log_fd < 0)
		return;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line),
		     "%s.%03uZ %s %s: to=<%s>, relay=%s, delay=%.1fs, "
		     "attempts=%u, status=%s (%s)\n",
		     ts, (unsigned)(now % 1000), s->node_name, j->name, r->addr,
		     o->relay[0] ? o->relay : "none",
		     now > created ? (double)(now - created) / 1000.0 : 0.0,
		     r->attempts + 1, status_word(o->outcome), o->reply);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(s->log_fd, line, (size_t)n) != n)
		log_debug("symbiont: activity log write failed: %s",
			  strerror(errno));
}

/* ---- jobs ---- */

static void job_unlink(struct symbiont *s, struct job *j)
{
	for (struct job **pp = &s->jobs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			s->njobs--;
			return;
		}
	}
}

static void maybe_close(struct symbiont *s);

/* Free a finished job once nothing refers to it any more. */
static void job_maybe_free(struct job *j)
{
	struct symbiont *s = j->s;

	if (j->state != J_DONE || j->renewing || j->completing || j->h != NULL)
		return;
	job_unlink(s, j);
	if (j->have_ctl)
		spool_ctl_free(&j->ctl);
	free(j->cmd);
	free(j);
	s->st.in_flight = s->njobs;
	maybe_close(s);
}

static int job_holds(const struct symbiont *s, const char *name)
{
	for (const struct job *j = s->jobs; j != NULL; j = j->next)
		if (strcmp(j->name, name) == 0)
			return 1;
	return 0;
}

static void arm_kick(struct symbiont *s)
{
	if (s->kick_armed || s->closing)
		return;
	s->kick_armed = 1;
	uv_timer_start(&s->kick, on_kick, KICK_MS, 0);
}

/* ---- COMPLETE ---- */

static void complete_cb(void *arg, int status, const struct spool_result *res);

/* Propose the job's encoded COMPLETE (again). */
static void complete_send(struct job *j)
{
	struct symbiont *s = j->s;
	int rc;

	j->retry_complete = 0;
	rc = cluster_propose(s->cl, j->cmd, j->cmd_len, complete_cb, j);
	if (rc != 0) {
		log_warn("symbiont: %s: cannot propose COMPLETE (%d); possible "
			 "duplicate delivery of %s (lease will expire)",
			 j->name, rc, j->name);
		s->st.complete_errors++;
		j->state = J_DONE;
		job_maybe_free(j);
		return;
	}
	j->completing = 1;
}

static void complete_cb(void *arg, int status, const struct spool_result *res)
{
	struct job *j = arg;
	struct symbiont *s = j->s;
	uint64_t now = mono_ms(s);

	j->completing = 0;
	if (status != 0) {
		/* outcome unknown: the same COMPLETE again while the lease
		 * lasts (a repeat is answered as a duplicate) */
		if (!s->finished && status != CLUSTER_E_SHUTDOWN &&
		    now - j->lease_base < s->lease_ms) {
			log_info("symbiont: %s: COMPLETE not answered (%d), "
				 "retrying",
				 j->name, status);
			j->retry_complete = 1;
			arm_kick(s);
			return;
		}
		log_warn(
		    "symbiont: possible duplicate delivery of %s (COMPLETE "
		    "not recorded: %d)",
		    j->name, status);
		s->st.complete_errors++;
	} else if (res->status == SPOOL_E_STALE ||
		   res->status == SPOOL_E_EXPIRED ||
		   res->status == SPOOL_E_NOCLAIM) {
		log_warn("symbiont: possible duplicate delivery of %s (lease "
			 "lost: %s)",
			 j->name, spool_strerror(res->status));
		s->st.lease_lost++;
	} else if (res->status != 0) {
		log_error("symbiont: %s: COMPLETE refused: %s", j->name,
			  spool_strerror(res->status));
		s->st.complete_errors++;
	} else if (res->flags & RES_F_DUPLICATE) {
		log_debug("symbiont: %s: COMPLETE was already recorded",
			  j->name);
	} else if (j->has_bounce) {
		s->st.bounces++;
	}
	j->state = J_DONE;
	job_maybe_free(j);
	arm_kick(s); /* a slot is free */
}

/* Collect the failed recipients of the job: failed in this attempt, or
 * already FAILED in the record (the retry limit). Returns the count. */
static uint32_t collect_failed(const struct job *j,
			       const struct deliver_outcome *out, uint32_t n,
			       struct dsn_failure *fail, char (*hosts)[256])
{
	const struct spool_rec *rec = &j->ctl.rec;
	uint32_t nf = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (out[i].outcome != OUT_FAILED || out[i].rcpt >= rec->nrcpt)
			continue;
		fail[nf].rcpt = out[i].rcpt;
		fail[nf].reply = out[i].reply;
		relay_host(out[i].relay, hosts[nf], sizeof(hosts[nf]));
		fail[nf].remote_mta = hosts[nf];
		nf++;
	}
	for (uint32_t r = 0; r < rec->nrcpt; r++) {
		if (rec->rcpt[r].state != RCPT_FAILED)
			continue;
		fail[nf].rcpt = r;
		fail[nf].reply = rec->rcpt[r].reply;
		hosts[nf][0] = '\0';
		fail[nf].remote_mta = hosts[nf];
		nf++;
	}
	return nf;
}

/* Build the bounce for the failed recipients into cp->bounce (strings
 * and body owned by the caller's buffers). Returns 1 when a bounce is
 * attached, 0 when none is due, negative on error. */
static int make_bounce(struct symbiont *s, struct job *j,
		       struct dsn_failure *fail, uint32_t nf,
		       struct spool_cmd_complete *cp, struct spool_rcpt *brcpt,
		       char *bname, size_t bname_size, char *to, size_t to_size,
		       char *postmaster, size_t pm_size, struct wbuf *body)
{
	const struct spool_rec *rec = &j->ctl.rec;
	struct spool_config cfg;
	struct dsn_in in;
	uint64_t now = wall_ms();
	uint32_t keep = 0;
	int kind = symbiont_bounce_kind(rec->kind, rec->sender);
	int rc;

	if (kind < 0) {
		log_warn("symbiont: %s: postmaster bounce failed; dropped "
			 "(never looped)",
			 j->name);
		s->st.bounces_dropped++;
		return 0;
	}
	/* NOTIFY without FAILURE (NOTIFY=NEVER): no notice for them */
	for (uint32_t i = 0; i < nf; i++)
		if (rec->kind != KIND_MAIL ||
		    symbiont_rcpt_wants_bounce(&rec->rcpt[fail[i].rcpt]))
			fail[keep++] = fail[i];
	if (keep == 0)
		return 0;
	if (spool_config_load(s->sp, &cfg) != 0)
		spool_config_defaults(&cfg);
	symbiont_postmaster(cfg.str[CFG_POSTMASTER_ALIAS],
			    cfg.str[CFG_CLUSTER_DOMAIN], s->node_domain,
			    postmaster, pm_size);
	if (kind == KIND_BOUNCE)
		snprintf(to, to_size, "%s", rec->sender);
	else
		symbiont_postmaster_rcpt(postmaster, s->node_domain, to,
					 to_size);
	rc = ctlname_make(bname, bname_size, now, "SYSTEM", s->seq++,
			  s->node_name);
	if (rc != 0)
		return rc;

	memset(&in, 0, sizeof(in));
	in.rec = rec;
	in.orig_name = j->name;
	in.fail = fail;
	in.nfail = keep;
	in.reporting_mta = s->node_domain;
	in.postmaster = postmaster;
	in.to = to;
	in.now_ms = now;
	in.boundary_seed = bname;
	/* the bounce rides in the COMPLETE: keep the returned original well
	 * inside the frame limit, whatever it is configured to */
	in.return_max = DSN_RETURN_MAX;
	if (s->cl != NULL && cluster_max_body(s->cl) / 2 < in.return_max &&
	    cluster_max_body(s->cl) / 2 > 0)
		in.return_max = (size_t)(cluster_max_body(s->cl) / 2);
	{
		void *ob = NULL;
		size_t olen = 0;
		if (spool_body_get(s->sp, j->name, &ob, &olen) != 0) {
			ob = NULL;
			olen = 0;
		}
		in.body = ob;
		in.body_len = olen;
		rc = dsn_build(&in, body);
		free(ob);
	}
	if (rc != 0)
		return rc;

	memset(brcpt, 0, sizeof(*brcpt));
	brcpt->addr = to;
	brcpt->orcpt = "";
	brcpt->reply = "";
	cp->has_bounce = 1;
	cp->bounce.name = bname;
	cp->bounce.rec.user = "SYSTEM";
	cp->bounce.rec.sender = "";
	cp->bounce.rec.client = "";
	cp->bounce.rec.helo = "";
	cp->bounce.rec.envid = "";
	cp->bounce.rec.ret = DSN_RET_NONE;
	cp->bounce.rec.kind = (uint8_t)kind;
	cp->bounce.rec.origin_node = s->self;
	cp->bounce.rec.body_size = body->len;
	cp->bounce.rec.nrcpt = 1;
	cp->bounce.rec.rcpt = brcpt;
	cp->bounce.body = body->p;
	cp->bounce.body_len = body->len;
	log_info("symbiont: %s: bounce %s to <%s> for %u recipient(s)", j->name,
		 bname, to, (unsigned)keep);
	return 1;
}

/* The outcomes of one attempt (out may be empty): activity log, counters,
 * bounce, and the COMPLETE proposal. */
static void job_complete(struct job *j, const struct deliver_outcome *out,
			 uint32_t n)
{
	struct symbiont *s = j->s;
	const struct spool_rec *rec = &j->ctl.rec;
	struct spool_cmd cmd;
	struct spool_cmd_complete *cp = &cmd.u.complete;
	struct spool_outcome_item *items = NULL;
	struct dsn_failure *fail = NULL;
	char(*hosts)[256] = NULL;
	struct spool_rcpt brcpt;
	char bname[SPOOL_NAME_MAX + 1], to[SPOOL_ADDR_MAX + 1];
	char postmaster[SPOOL_ADDR_MAX + 1];
	struct wbuf body, wb;
	uint32_t nf;
	int rc;

	wbuf_init(&body);
	wbuf_init(&wb);
	memset(&cmd, 0, sizeof(cmd));
	items = calloc(n + 1, sizeof(*items));
	fail = calloc((size_t)n + rec->nrcpt + 1, sizeof(*fail));
	hosts = calloc((size_t)n + rec->nrcpt + 1, sizeof(*hosts));
	if (items == NULL || fail == NULL || hosts == NULL)
		goto err_nomem;
	for (uint32_t i = 0; i < n; i++) {
		items[i].rcpt = out[i].rcpt;
		items[i].outcome = out[i].outcome;
		items[i].reply = out[i].reply;
		if (out[i].rcpt < rec->nrcpt)
			activity(s, j, &out[i]);
		if (out[i].outcome == OUT_DELIVERED)
			s->st.delivered++;
		else if (out[i].outcome == OUT_FAILED)
			s->st.failed++;
		else
			s->st.deferred++;
	}
	cmd.type = CMD_COMPLETE;
	cp->name = j->name;
	cp->node = s->self;
	cp->fence = j->fence;
	cp->n = n;
	cp->items = items;
	nf = collect_failed(j, out, n, fail, hosts);
	if (nf > 0) {
		rc = make_bounce(s, j, fail, nf, cp, &brcpt, bname,
				 sizeof(bname), to, sizeof(to), postmaster,
				 sizeof(postmaster), &body);
		if (rc < 0) {
			log_error("symbiont: %s: cannot build the bounce: %s",
				  j->name, spool_strerror(rc));
			if (rc == SPOOL_E_NOMEM)
				goto err_nomem;
			/* the failed recipients stay FAILED: retried later */
		} else {
			j->has_bounce = rc == 1;
			cp->flags |= COMPLETE_BOUNCE_DONE;
		}
	}
	rc = spool_cmd_encode(&cmd, &wb);
	if (rc != 0) {
		log_error("symbiont: %s: cannot encode COMPLETE: %s", j->name,
			  spool_strerror(rc));
		goto err_nomem;
	}
	j->cmd = wbuf_take(&wb, &j->cmd_len);
	free(items);
	free(fail);
	free(hosts);
	wbuf_free(&body);
	j->state = J_COMPLETING;
	complete_send(j);
	return;

err_nomem:
	free(items);
	free(fail);
	free(hosts);
	wbuf_free(&body);
	wbuf_free(&wb);
	s->st.complete_errors++;
	log_warn("symbiont: possible duplicate delivery of %s (COMPLETE not "
		 "made)",
		 j->name);
	j->state = J_DONE;
	job_maybe_free(j);
}

/* ---- delivery ---- */

static void delivered_cb(void *arg, const struct deliver_outcome *out,
			 uint32_t n)
{
	struct job *j = arg;
	struct symbiont *s = j->s;

	j->h = NULL; /* invalid from now on */
	if (j->lost) {
		log_warn("symbiont: possible duplicate delivery of %s (lease "
			 "lost during delivery; outcomes not recorded)",
			 j->name);
		for (uint32_t i = 0; i < n; i++)
			if (out[i].rcpt < j->ctl.rec.nrcpt)
				activity(s, j, &out[i]);
		j->state = J_DONE;
		job_maybe_free(j);
		arm_kick(s);
		return;
	}
	job_complete(j, out, n);
}

/* J_WAIT_LOCAL: start the delivery once our spool shows our claim. */
static void job_try_start(struct job *j)
{
	struct symbiont *s = j->s;
	void *body = NULL;
	size_t len = 0;
	uint32_t pending;
	int rc;

	if (j->have_ctl) {
		spool_ctl_free(&j->ctl);
		j->have_ctl = 0;
	}
	rc = spool_ctl_get(s->sp, j->name, &j->ctl);
	if (rc == 0)
		j->have_ctl = 1;
	if (rc == 0 && j->ctl.rec.claim.fence > j->fence) {
		log_warn("symbiont: %s: claimed again by node %llu before we "
			 "started; skipped",
			 j->name, (unsigned long long)j->ctl.rec.claim.node);
		s->st.lease_lost++;
		j->state = J_DONE;
		job_maybe_free(j);
		return;
	}
	if (rc != 0 || j->ctl.rec.claim.node != s->self ||
	    j->ctl.rec.claim.fence != j->fence) {
		if (mono_ms(s) >= j->wait_until) {
			log_warn("symbiont: %s: this node's spool has not "
				 "applied our claim in time; left to the lease",
				 j->name);
			j->state = J_DONE;
			job_maybe_free(j);
			return;
		}
		arm_kick(s);
		return; /* our spool lags: try again shortly */
	}
	if (j->prev_holder != 0)
		log_warn(
		    "symbiont: possible duplicate delivery of %s (lease of "
		    "node %llu expired without COMPLETE; taken over)",
		    j->name, (unsigned long long)j->prev_holder);
	pending = spool_rec_count(&j->ctl.rec, RCPT_PENDING);
	if (pending == 0) {
		/* only recipients failed by the retry limit: bounce them */
		j->state = J_DELIVERING;
		job_complete(j, NULL, 0);
		return;
	}
	rc = spool_body_get(s->sp, j->name, &body, &len);
	if (rc != 0) {
		log_error("symbiont: %s: no body in the spool (%s); left to "
			  "the lease",
			  j->name, spool_strerror(rc));
		j->state = J_DONE;
		job_maybe_free(j);
		return;
	}
	j->state = J_DELIVERING;
	/* the engine takes the body over (and frees it, also on failure) */
	rc = deliver_start(s->dlv, &j->ctl, body, len, delivered_cb, j, &j->h);
	if (rc != 0) {
		log_error("symbiont: %s: cannot start the delivery (%d); left "
			  "to the lease",
			  j->name, rc);
		j->h = NULL;
		j->state = J_DONE;
		job_maybe_free(j);
	}
}

/* ---- RENEW ---- */

static void renew_cb(void *arg, int status, const struct spool_result *res)
{
	struct job *j = arg;
	struct symbiont *s = j->s;

	/* j->renewing stays set until the end: deliver_cancel() below runs
	 * delivered_cb at once, which must not free the job under us */
	if (status != 0) {
		log_info("symbiont: %s: RENEW not answered (%d); retrying",
			 j->name, status);
	} else if (res->status == 0) {
		j->lease_base = j->renew_sent;
		s->st.renewals++;
	} else if (res->status == SPOOL_E_STALE ||
		   res->status == SPOOL_E_EXPIRED ||
		   res->status == SPOOL_E_NOCLAIM ||
		   res->status == SPOOL_E_NOTFOUND) {
		log_warn("symbiont: possible duplicate delivery of %s (lease "
			 "lost: RENEW refused: %s)",
			 j->name, spool_strerror(res->status));
		s->st.lease_lost++;
		j->lost = 1;
		if (j->h != NULL)
			deliver_cancel(j->h); /* calls delivered_cb */
	} else {
		log_error("symbiont: %s: RENEW refused: %s", j->name,
			  spool_strerror(res->status));
	}
	j->renewing = 0;
	job_maybe_free(j);
}

static void job_renew(struct job *j)
{
	struct symbiont *s = j->s;
	struct spool_cmd cmd;
	struct wbuf wb;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_RENEW;
	cmd.u.renew.name = j->name;
	cmd.u.renew.node = s->self;
	cmd.u.renew.fence = j->fence;
	cmd.u.renew.lease_ms = s->lease_ms;
	wbuf_init(&wb);
	if (spool_cmd_encode(&cmd, &wb) != 0) {
		wbuf_free(&wb);
		return;
	}
	j->renew_sent = mono_ms(s);
	rc = cluster_propose(s->cl, wb.p, wb.len, renew_cb, j);
	wbuf_free(&wb);
	if (rc == 0)
		j->renewing = 1;
}

/* ---- CLAIM ---- */

static void batch_free(struct claim_batch *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		free(b->names[i]);
	free(b->names);
	free(b->prev);
	free(b);
}

static void claim_cb(void *arg, int status, const struct spool_result *res)
{
	struct claim_batch *b = arg;
	struct symbiont *s = b->s;

	s->claim = NULL;
	if (status != 0) {
		log_debug("symbiont: CLAIM not answered (%d)", status);
	} else if (res->status != 0 || res->n != b->n) {
		log_warn("symbiont: CLAIM refused: %s",
			 spool_strerror(res->status));
	} else if (s->stopping) {
		log_info("symbiont: stopping; %u claim(s) left to their "
			 "leases",
			 (unsigned)res->value);
	} else {
		for (uint32_t i = 0; i < b->n; i++) {
			struct job *j;
			if (res->items[i].status != 0) {
				s->st.claims_refused++;
				continue;
			}
			s->st.claims++;
			j = calloc(1, sizeof(*j));
			if (j == NULL) {
				log_error("symbiont: out of memory; %s left "
					  "to its lease",
					  b->names[i]);
				continue;
			}
			j->s = s;
			snprintf(j->name, sizeof(j->name), "%s", b->names[i]);
			j->fence = res->items[i].fence;
			j->prev_holder = b->prev[i];
			j->lease_base = b->sent;
			j->wait_until = b->sent + s->lease_ms / 2;
			j->state = J_WAIT_LOCAL;
			j->next = s->jobs;
			s->jobs = j;
			s->njobs++;
			log_debug("symbiont: claimed %s (fence %llu)", j->name,
				  (unsigned long long)j->fence);
		}
		s->st.in_flight = s->njobs;
		/* start what our spool has already applied */
		for (struct job *j = s->jobs, *next; j != NULL; j = next) {
			next = j->next;
			if (j->state == J_WAIT_LOCAL &&
			    j->lease_base == b->sent)
				job_try_start(j);
		}
	}
	batch_free(b);
	arm_kick(s);
}

struct node_list {
	uint64_t ids[NODES_MAX];
	size_t n;
	uint64_t self;
	int self_seen;
	int self_started;
};

static int node_visit(const struct spool_node *n, void *arg)
{
	struct node_list *l = arg;

	if (n->id == l->self) {
		l->self_seen = 1;
		l->self_started = n->mail_started != 0;
	}
	if (n->mail_started && l->n < NODES_MAX)
		l->ids[l->n++] = n->id;
	return 0;
}

/* Scan the due index and CLAIM what this node should take. */
static void scan(struct symbiont *s)
{
	struct spool_config cfg;
	struct node_list nodes;
	struct claim_batch *b;
	struct spool_cmd cmd;
	struct wbuf wb;
	char *names[DUE_SCAN_MAX];
	uint64_t now = wall_ms();
	unsigned queues, room;
	int n, grace_open = 1, rc;

	if (s->claim != NULL || s->stopping)
		return;
	memset(&nodes, 0, sizeof(nodes));
	nodes.self = s->self;
	if (spool_node_foreach(s->sp, node_visit, &nodes) != 0)
		return;
	if (!nodes.self_seen) {
		nodes.self_started = 1; /* not registered yet: started */
		if (nodes.n < NODES_MAX)
			nodes.ids[nodes.n++] = s->self;
	}
	s->st.claiming = nodes.self_started;
	if (!nodes.self_started)
		return; /* STOP MAIL: running deliveries finish */
	if (spool_config_load(s->sp, &cfg) != 0)
		return;
	log_follow_config(s, &cfg);
	queues = (unsigned)cfg.num[CFG_QUEUES];
	s->st.slots = queues;
	if (s->njobs >= queues)
		return;
	room = queues - s->njobs;
	if (room > s->batch)
		room = s->batch;

	n = spool_due_list(s->sp, now, names, DUE_SCAN_MAX);
	if (n <= 0)
		return;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		goto out_free_names;
	b->s = s;
	b->names = calloc(room, sizeof(*b->names));
	b->prev = calloc(room, sizeof(*b->prev));
	if (b->names == NULL || b->prev == NULL)
		goto out_free_batch;
	for (int i = 0; i < n && b->n < room; i++) {
		struct spool_ctl c;
		uint64_t pref =
		    symbiont_preferred(names[i], nodes.ids, nodes.n);
		int mine = pref == s->self;

		if (job_holds(s, names[i]))
			continue;
		if (!mine && !grace_open)
			continue;
		if (spool_ctl_get(s->sp, names[i], &c) != 0)
			continue;
		if (!mine &&
		    !symbiont_should_claim(s->self, pref, spool_rec_due(&c.rec),
					   now, s->grace_ms)) {
			/* the due index is in due order: no later file has
			 * waited longer */
			grace_open = 0;
			spool_ctl_free(&c);
			continue;
		}
		if (c.rec.claim.node != 0)
			b->prev[b->n] = c.rec.claim.node; /* expired lease */
		spool_ctl_free(&c);
		b->names[b->n++] = names[i];
		names[i] = NULL;
	}
	if (b->n == 0)
		goto out_free_batch;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_CLAIM;
	cmd.u.claim.node = s->self;
	cmd.u.claim.lease_ms = s->lease_ms;
	cmd.u.claim.n = b->n;
	cmd.u.claim.names = (const char **)b->names;
	wbuf_init(&wb);
	rc = spool_cmd_encode(&cmd, &wb);
	if (rc == 0) {
		b->sent = mono_ms(s);
		rc = cluster_propose(s->cl, wb.p, wb.len, claim_cb, b);
	}
	wbuf_free(&wb);
	if (rc != 0) {
		log_debug("symbiont: cannot propose CLAIM (%d)", rc);
		goto out_free_batch;
	}
	s->claim = b;
	b = NULL;

out_free_batch:
	if (b != NULL)
		batch_free(b);
out_free_names:
	for (int i = 0; i < n; i++)
		free(names[i]);
}

/* ---- timers, stop ---- */

/* Jobs' periodic work: start applied claims, renew, retry COMPLETE,
 * cancel at the stop deadline. Then, with scan, look for new work. */
static void tick_work(struct symbiont *s, int do_scan)
{
	uint64_t now = mono_ms(s);
	int cancel = s->stopping && now >= s->stop_at;

	for (struct job *j = s->jobs, *next; j != NULL; j = next) {
		next = j->next;
		switch (j->state) {
		case J_WAIT_LOCAL:
			if (s->stopping) {
				j->state = J_DONE; /* left to the lease */
				job_maybe_free(j);
			} else {
				job_try_start(j);
			}
			break;
		case J_DELIVERING:
			if (cancel && j->h != NULL) {
				log_info("symbiont: %s: stopping; delivery "
					 "cancelled",
					 j->name);
				deliver_cancel(j->h); /* -> delivered_cb */
				break;
			}
			if (!j->renewing && !j->lost && !s->finished &&
			    symbiont_should_renew(j->lease_base, s->lease_ms,
						  now))
				job_renew(j);
			break;
		case J_COMPLETING:
			if (j->retry_complete && !j->completing)
				complete_send(j);
			break;
		case J_DONE:
			break;
		}
	}
	if (do_scan && !s->stopping)
		scan(s);
}

static void stop_check(struct symbiont *s);

static void on_tick(uv_timer_t *t)
{
	struct symbiont *s = t->data;

	tick_work(s, 1);
	stop_check(s);
}

static void on_kick(uv_timer_t *t)
{
	struct symbiont *s = t->data;

	s->kick_armed = 0;
	tick_work(s, 1);
	stop_check(s);
}

static void closed_cb(uv_handle_t *h)
{
	struct symbiont *s = h->data;

	if (h == (uv_handle_t *)&s->tick) {
		uv_close((uv_handle_t *)&s->kick, closed_cb);
		return;
	}
	if (s->log_fd >= 0)
		close(s->log_fd);
	free(s);
}

/* At stop: wake the kick timer, whose callback (stop_check) finishes
 * the stop outside of any job loop. */
static void maybe_close(struct symbiont *s)
{
	if (s->stopping && !s->closing)
		arm_kick(s);
}

/* At stop, from a timer callback only: call the stop callback once the
 * work is done (or the final deadline passed), and close and free
 * everything once nothing refers to the symbiont any more. */
static void stop_check(struct symbiont *s)
{
	uint64_t now;

	if (!s->stopping || s->closing)
		return;
	now = mono_ms(s);
	if (!s->finished && ((s->jobs == NULL && s->claim == NULL) ||
			     now >= s->stop_at + STOP_FINAL_MS)) {
		s->finished = 1;
		if (s->jobs != NULL || s->claim != NULL)
			log_warn("symbiont: stopping with %u job(s) not "
				 "completed (left to their leases)",
				 s->njobs);
		if (s->stop_cb != NULL)
			s->stop_cb(s->stop_arg);
	}
	if (s->finished && s->jobs == NULL && s->claim == NULL) {
		s->closing = 1;
		uv_timer_stop(&s->tick);
		uv_timer_stop(&s->kick);
		uv_close((uv_handle_t *)&s->tick, closed_cb);
	}
}

int symbiont_start(struct symbiont **out, uv_loop_t *loop,
		   const struct symbiont_opts *o, struct cluster *cl,
		   struct spool *sp, struct deliverer *d)
{
	struct symbiont *s;

	*out = NULL;
	if (o == NULL || o->node_id == 0 || o->node_name == NULL ||
	    !ctlname_node_ok(o->node_name) || cl == NULL || sp == NULL ||
	    d == NULL)
		return SPOOL_E_INVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return SPOOL_E_NOMEM;
	s->loop = loop;
	s->cl = cl;
	s->sp = sp;
	s->dlv = d;
	s->self = o->node_id;
	snprintf(s->node_name, sizeof(s->node_name), "%s", o->node_name);
	snprintf(s->node_domain, sizeof(s->node_domain), "%s",
		 o->node_domain != NULL && o->node_domain[0] != '\0'
		     ? o->node_domain
		     : "localhost");
	s->lease_ms = o->lease_ms ? o->lease_ms : DEF_LEASE_MS;
	s->grace_ms = o->grace_ms ? o->grace_ms : DEF_GRACE_MS;
	s->scan_ms = o->scan_interval_ms ? o->scan_interval_ms : DEF_SCAN_MS;
	s->batch = o->claim_batch ? o->claim_batch : DEF_BATCH;
	if (s->batch > SPOOL_CLAIM_MAX)
		s->batch = SPOOL_CLAIM_MAX;
	if (getrandom(&s->seq, sizeof(s->seq), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(s->seq))
		s->seq = (uint32_t)wall_ms();
	s->log_fd = -1;
	snprintf(s->log_node, sizeof(s->log_node), "%s",
		 o->activity_log != NULL ? o->activity_log : "");
	log_open(s, s->log_node);
	s->st.claiming = 1;
	uv_timer_init(loop, &s->tick);
	uv_timer_init(loop, &s->kick);
	s->tick.data = s->kick.data = s;
	uv_timer_start(&s->tick, on_tick, s->scan_ms, s->scan_ms);
	log_info("symbiont: started (lease %u ms, grace %u ms, scan %u ms, "
		 "batch %u)",
		 s->lease_ms, s->grace_ms, s->scan_ms, s->batch);
	*out = s;
	return 0;
}

void symbiont_stop(struct symbiont *s, void (*cb)(void *arg), void *arg)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	s->stop_cb = cb;
	s->stop_arg = arg;
	s->stop_at = mono_ms(s) + STOP_DRAIN_MS;
	s->st.claiming = 0;
	log_info("symbiont: stopping (%u job(s) running)", s->njobs);
	arm_kick(s);
}

void symbiont_stats(const struct symbiont *s, struct symbiont_stats *out)
{
	*out = s->st;
	out->in_flight = s->njobs;
}
