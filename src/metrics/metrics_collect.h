/*
 * metrics_collect.h — the node's exposition: every smtpcluster_ family,
 * read from the subsystems at scrape time (metrics_collect.c).
 */
#ifndef SRC_METRICS_COLLECT_H
#define SRC_METRICS_COLLECT_H

#include "src/metrics/metrics.h"

struct smtp_server;
struct symbiont;
struct cluster;
struct spool;

/* Where the daemon keeps its subsystems: pointers to its own pointers,
 * so that a subsystem stopped (NULL) is simply left out. */
struct metrics_refs {
	struct smtp_server **smtp;
	struct symbiont **sym;
	struct cluster **cl;
	struct spool **sp;
	uint64_t node_id;
	const char *node_name;
};

/* A metrics_render_fn (metrics_http.h): arg is a struct metrics_refs. */
void metrics_collect(void *arg, struct mtext *t);

#endif
