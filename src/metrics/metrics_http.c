/*
 * metrics_http.c — the HTTP side of the Prometheus endpoint: a
 * libmicrohttpd daemon driven from the libuv loop, no thread of its own.
 *
 * MHD runs with MHD_USE_EPOLL and no internal thread: its one epoll fd
 * (MHD_DAEMON_INFO_EPOLL_FD) is watched by a uv_poll, and each time it is
 * readable, and once a second for MHD's connection timeouts, the loop
 * calls MHD_run(), which never blocks. The answer is therefore rendered on
 * the loop, from the subsystems' own state, with no lock and no copy of
 * the values kept anywhere else. A scrape is one small text; rendering is
 * bounded by the queue size (metrics_collect.c).
 *
 * Owns: the MHD daemon, its uv_poll and timer, the request rules (GET or
 * HEAD of /metrics; 404 for another path, 405 for another method, 500
 * when rendering ran out of memory). Does not own what is rendered.
 *
 * Fails: start returns a negative errno (logged); a failed request is
 * answered with its status and never affects the loop.
 */
#include "src/metrics/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/hostport.h"
#include "src/base/log.h"

#define MHTTP_TICK_MS 1000
#define MHTTP_TIMEOUT_S 10
#define MHTTP_MAX_CONN 16

struct metrics_http {
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	int open_handles;
	metrics_render_fn fn;
	void *arg;
	void (*stop_cb)(void *arg);
	void *stop_arg;
};

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status,
				   const char *type, char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result rv;

	r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rv = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rv;
}

static enum MHD_Result answer_static(struct MHD_Connection *conn,
				     unsigned status, const char *msg)
{
	char *b = strdup(msg);

	if (b == NULL)
		return MHD_NO;
	return answer_text(conn, status, "text/plain; charset=utf-8", b,
			   strlen(b));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct metrics_http *m = cls;
	struct mtext t;
	size_t len;

	if (*req_cls == NULL) { /* headers only: wait for the body's end */
		*req_cls = m;
		return MHD_YES;
	}
	if (*upload_size != 0) { /* a body is not wanted: drop it */
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				     "GET /metrics only\n");
	if (strcmp(url, "/metrics") != 0)
		return answer_static(
		    conn, MHD_HTTP_NOT_FOUND,
		    "not found: the metrics are at /metrics\n");
	mtext_init(&t);
	m->fn(m->arg, &t);
	if (t.err != 0 || t.p == NULL) {
		mtext_free(&t);
		return answer_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "out of memory\n");
	}
	len = t.len;
	return answer_text(conn, MHD_HTTP_OK,
			   "text/plain; version=0.0.4; charset=utf-8", t.p,
			   len);
}

static void drive(struct metrics_http *m)
{
	if (m->mhd != NULL)
		MHD_run(m->mhd);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	drive(h->data);
}

static void on_tick(uv_timer_t *h)
{
	drive(h->data);
}

/* The numeric HOST:PORT as a socket address. 0 or -EINVAL. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss,
			int *v6)
{
	char host[128];
	unsigned port;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (hostport_split(listen, host, sizeof(host), &port) != 0)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*v6 = 0;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*v6 = 1;
		return 0;
	}
	return -EINVAL;
}

int metrics_http_start(struct metrics_http **out, uv_loop_t *loop,
		       const char *listen, metrics_render_fn fn, void *arg)
{
	struct metrics_http *m;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int v6 = 0, rv;

	*out = NULL;
	if (parse_listen(listen, &ss, &v6) != 0) {
		log_error("metrics: [metrics] listen %s: not a numeric "
			  "HOST:PORT",
			  listen);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	if (v6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	m->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)MHTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)MHTTP_MAX_CONN, MHD_OPTION_END);
	if (m->mhd == NULL) {
		rv = errno != 0 ? -errno : -EIO;
		log_error("metrics: cannot listen on %s: %s", listen,
			  strerror(-rv));
		goto free_m;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		rv = -EIO;
		log_error("metrics: libmicrohttpd has no epoll fd");
		goto stop_mhd;
	}
	rv = uv_poll_init(loop, &m->poll, info->epoll_fd);
	if (rv != 0) {
		log_error("metrics: uv_poll_init: %s", uv_strerror(rv));
		goto stop_mhd;
	}
	m->poll.data = m;
	uv_timer_init(loop, &m->timer);
	m->timer.data = m;
	m->open_handles = 2;
	uv_poll_start(&m->poll, UV_READABLE, on_poll);
	uv_timer_start(&m->timer, on_tick, MHTTP_TICK_MS, MHTTP_TICK_MS);
	log_info("metrics: Prometheus endpoint on http://%s/metrics", listen);
	*out = m;
	return 0;

stop_mhd:
	MHD_stop_daemon(m->mhd);
free_m:
	free(m);
	return rv;
}

static void on_closed(uv_handle_t *h)
{
	struct metrics_http *m = h->data;
	void (*cb)(void *arg);
	void *arg;

	if (--m->open_handles > 0)
		return;
	/* the poll no longer watches the epoll fd: MHD may close it */
	MHD_stop_daemon(m->mhd);
	cb = m->stop_cb;
	arg = m->stop_arg;
	free(m);
	if (cb != NULL)
		cb(arg);
}

void metrics_http_stop(struct metrics_http *m, void (*cb)(void *arg), void *arg)
{
	if (m == NULL) {
		if (cb != NULL)
			cb(arg);
		return;
	}
	m->stop_cb = cb;
	m->stop_arg = arg;
	uv_poll_stop(&m->poll);
	uv_timer_stop(&m->timer);
	uv_close((uv_handle_t *)&m->poll, on_closed);
	uv_close((uv_handle_t *)&m->timer, on_closed);
}
