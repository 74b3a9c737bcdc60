/*
 * metrics_http.h — the Prometheus endpoint ([metrics] listen): GET
 * /metrics answers the text format (metrics.h) that a render callback
 * writes at scrape time, on the loop.
 */
#ifndef SRC_METRICS_HTTP_H
#define SRC_METRICS_HTTP_H

#include <uv.h>

#include "src/metrics/metrics.h"

struct metrics_http;

/* Writes the whole exposition into t; runs on the loop. */
typedef void (*metrics_render_fn)(void *arg, struct mtext *t);

/* Listen on listen (HOST:PORT, numeric host). 0, or a negative errno
 * (-EINVAL for a bad address, -EADDRINUSE ...; logged). */
int metrics_http_start(struct metrics_http **out, uv_loop_t *loop,
		       const char *listen, metrics_render_fn fn, void *arg);
/* Stop listening, drop open scrapes; frees m once libuv closed its
 * handles (then cb, which may be NULL). */
void metrics_http_stop(struct metrics_http *m, void (*cb)(void *arg),
		       void *arg);

#endif
