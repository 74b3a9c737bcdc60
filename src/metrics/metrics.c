/*
 * metrics.c — the Prometheus text format (exposition format 0.0.4) and
 * the node's histograms (metrics.h).
 *
 * Owns: the text buffer, escaping of help texts and label values, number
 * formatting (integers exact, +Inf/-Inf/NaN spelled as Prometheus
 * wants), the bucket layouts and counts of the node's histograms. Does
 * not own what a value means (metrics_collect.c reads the subsystems) or
 * HTTP (metrics_http.c).
 *
 * Fails: only by allocation, recorded in mtext.err (later writes do
 * nothing); observing never fails.
 */
#include "src/metrics/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mtext_init(struct mtext *t)
{
	memset(t, 0, sizeof(*t));
}

void mtext_free(struct mtext *t)
{
	free(t->p);
	mtext_init(t);
}

static int grow(struct mtext *t, size_t extra)
{
	size_t cap;
	char *np;

	if (t->err != 0)
		return -1;
	if (t->len + extra + 1 <= t->cap)
		return 0;
	cap = t->cap != 0 ? t->cap : 1024;
	while (cap < t->len + extra + 1)
		cap *= 2;
	np = realloc(t->p, cap);
	if (np == NULL) {
		t->err = -ENOMEM;
		return -1;
	}
	t->p = np;
	t->cap = cap;
	return 0;
}

static void put(struct mtext *t, const char *s, size_t n)
{
	if (grow(t, n) != 0)
		return;
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void puts_(struct mtext *t, const char *s)
{
	put(t, s, strlen(s));
}

/* s escaped: backslash and newline always, '"' in label values. */
static void put_escaped(struct mtext *t, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			puts_(t, "\\\\");
		else if (*s == '\n')
			puts_(t, "\\n");
		else if (quote && *s == '"')
			puts_(t, "\\\"");
		else
			put(t, s, 1);
	}
}

static void put_double(struct mtext *t, double v)
{
	char b[64];

	if (isnan(v))
		snprintf(b, sizeof(b), "NaN");
	else if (isinf(v))
		snprintf(b, sizeof(b), v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(b, sizeof(b), "%.0f", v);
	else {
		/* the shortest of %.15g and %.17g that reads back as v */
		snprintf(b, sizeof(b), "%.15g", v);
		if (strtod(b, NULL) != v)
			snprintf(b, sizeof(b), "%.17g", v);
	}
	puts_(t, b);
}

void mt_family(struct mtext *t, const char *name, const char *type,
	       const char *help)
{
	puts_(t, "# HELP ");
	puts_(t, name);
	puts_(t, " ");
	put_escaped(t, help, 0);
	puts_(t, "\n# TYPE ");
	puts_(t, name);
	puts_(t, " ");
	puts_(t, type);
	puts_(t, "\n");
}

static void sample_head(struct mtext *t, const char *name, const char *key,
			const char *val)
{
	puts_(t, name);
	if (key != NULL) {
		puts_(t, "{");
		puts_(t, key);
		puts_(t, "=\"");
		put_escaped(t, val != NULL ? val : "", 1);
		puts_(t, "\"}");
	}
	puts_(t, " ");
}

void mt_sample(struct mtext *t, const char *name, const char *key,
	       const char *val, double v)
{
	sample_head(t, name, key, val);
	put_double(t, v);
	puts_(t, "\n");
}

void mt_sample_u64(struct mtext *t, const char *name, const char *key,
		   const char *val, uint64_t v)
{
	char b[24];

	sample_head(t, name, key, val);
	snprintf(b, sizeof(b), "%llu\n", (unsigned long long)v);
	puts_(t, b);
}

void mhist_observe(struct mhist *h, double v)
{
	unsigned i = 0;

	if (isnan(v))
		return;
	while (i < h->nb && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void mt_hist(struct mtext *t, const struct mhist *h)
{
	char name[128], le[32];
	uint64_t cum = 0;

	mt_family(t, h->name, "histogram", h->help);
	snprintf(name, sizeof(name), "%s_bucket", h->name);
	for (unsigned i = 0; i < h->nb; i++) {
		struct mtext tmp;

		cum += h->counts[i];
		mtext_init(&tmp);
		put_double(&tmp, h->bounds[i]);
		snprintf(le, sizeof(le), "%s", tmp.p != NULL ? tmp.p : "0");
		if (tmp.err != 0)
			t->err = tmp.err;
		mtext_free(&tmp);
		mt_sample_u64(t, name, "le", le, cum);
	}
	cum += h->counts[h->nb];
	mt_sample_u64(t, name, "le", "+Inf", cum);
	snprintf(name, sizeof(name), "%s_sum", h->name);
	mt_sample(t, name, NULL, NULL, h->sum);
	snprintf(name, sizeof(name), "%s_count", h->name);
	mt_sample_u64(t, name, NULL, NULL, h->count);
}

/* ---- the node's histograms ---- */

static const double secs[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
			      0.05,  0.1,    0.25,  0.5,  1,
			      2.5,   5,	     10,    30,	  60};
static const double bytes[] = {4096,	  16384,     65536,    262144,
			       1048576,	  4194304,   16777216, 67108864,
			       268435456, 1073741824};

#define NB(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

static struct mhist hists[MH__COUNT] = {
    [MH_ACCEPT_SECONDS] = {"smtpcluster_accept_latency_seconds",
			   "Time from the end of DATA to the 250 reply "
			   "(the message committed by raft).",
			   secs,
			   NB(secs),
			   {0},
			   0,
			   0},
    [MH_DELIVERY_SECONDS] = {"smtpcluster_delivery_latency_seconds",
			     "Time of one delivery attempt of a control file, "
			     "start to outcome.",
			     secs,
			     NB(secs),
			     {0},
			     0,
			     0},
    [MH_SNAPSHOT_SECONDS] = {"smtpcluster_snapshot_duration_seconds",
			     "Time to take one raft snapshot of the spool.",
			     secs,
			     NB(secs),
			     {0},
			     0,
			     0},
    [MH_SNAPSHOT_BYTES] = {"smtpcluster_snapshot_size_bytes",
			   "Size of the raft snapshots taken (the spool "
			   "image).",
			   bytes,
			   NB(bytes),
			   {0},
			   0,
			   0},
};

void metrics_observe(enum metrics_hist_id id, double v)
{
	if ((unsigned)id < MH__COUNT)
		mhist_observe(&hists[id], v);
}

void metrics_hists_text(struct mtext *t)
{
	for (unsigned i = 0; i < MH__COUNT; i++)
		mt_hist(t, &hists[i]);
}

void metrics_reset(void)
{
	for (unsigned i = 0; i < MH__COUNT; i++) {
		memset(hists[i].counts, 0, sizeof(hists[i].counts));
		hists[i].count = 0;
		hists[i].sum = 0;
	}
}
