/*
 * metrics.h — the node's metric registry and the Prometheus text format
 * (version 0.0.4): a growable text buffer with family headers, samples
 * and histograms, and the node's process-wide histograms that the
 * receiver and the delivery engine observe.
 *
 * Every function runs on the libuv loop (one thread), so nothing locks.
 * Names are the caller's constants ([a-zA-Z_:][a-zA-Z0-9_:]*); label
 * values and help texts are escaped here. A failed allocation sets
 * t->err; every later write is a no-op and the caller answers 500.
 */
#ifndef SRC_METRICS_H
#define SRC_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct mtext {
	char *p;
	size_t len, cap;
	int err; /* -ENOMEM after a failed growth */
};

void mtext_init(struct mtext *t);
void mtext_free(struct mtext *t);

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
void mt_family(struct mtext *t, const char *name, const char *type,
	       const char *help);
/* "name v" or "name{key="val"} v" (key NULL: no label). */
void mt_sample(struct mtext *t, const char *name, const char *key,
	       const char *val, double v);
/* One sample with a u64 value (exact beyond 2^53). */
void mt_sample_u64(struct mtext *t, const char *name, const char *key,
		   const char *val, uint64_t v);

#define MHIST_MAX 16

/* A cumulative histogram: bounds[] ascending, +Inf implied. */
struct mhist {
	const char *name, *help;
	const double *bounds;
	unsigned nb;			/* <= MHIST_MAX */
	uint64_t counts[MHIST_MAX + 1]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

void mhist_observe(struct mhist *h, double v);
/* The family header, the _bucket lines (cumulative, le="+Inf" last),
 * _sum and _count. */
void mt_hist(struct mtext *t, const struct mhist *h);

/* The node's histograms (seconds, bytes). */
enum metrics_hist_id {
	MH_ACCEPT_SECONDS,   /* end of DATA to the 250 reply */
	MH_DELIVERY_SECONDS, /* an attempt's start to its outcome */
	MH_SNAPSHOT_SECONDS, /* raft snapshot: begin to finalize */
	MH_SNAPSHOT_BYTES,   /* size of a snapshot image */
	MH__COUNT
};
void metrics_observe(enum metrics_hist_id id, double v);
/* Every histogram of the node, in id order. */
void metrics_hists_text(struct mtext *t);
/* Zero them (tests). */
void metrics_reset(void);

#endif
