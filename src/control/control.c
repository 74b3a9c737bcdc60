/*
 * control.c — the Unix control socket server (control.h): listening,
 * connections and line framing. Each complete line goes to
 * control_dispatch.c; the peer's credentials and privilege come from
 * control_cred.c before a connection is read at all. Each connection is a
 * struct conn of the shared connection layer (src/base/conn.h, kind
 * CONN_PIPE), which owns the stream, the write queue, the read pause and
 * the close that waits for the queued answers.
 *
 * Owns: the socket file (a stale one is removed at start, ours is removed
 * at stop), every connection and its input buffer, when it is closed, and
 * the server's own life (freed once stopped, every handle closed and every
 * request answered). Does not own: the envelope,
 * the command table or the handler API (control_dispatch.c,
 * control_commands.c), what a command does (the handlers' files),
 * credentials (control_cred.c), the cluster or the spool.
 *
 * Framing (docs/control.md): one JSON object per line each way. A line
 * longer than CONTROL_LINE_MAX is answered with a bad_request error and the
 * connection is closed. One request per connection is handled at a time;
 * later lines wait in the buffer (reading pauses meanwhile).
 *
 * Limits: 256 connections at once, of which the last 16 only for root and
 * admins; [control] max_per_user connections per uid other than root; a
 * connection with no request in flight that sends nothing for [control]
 * idle_timeout_s is closed (one sweep a second). Each refusal or close is
 * logged with the uid and pid.
 *
 * Failures: a failed accept, write or read closes that connection only
 * (logged); start fails with a negative libuv/errno code after a log line
 * naming the socket. The socket file is mode 0666 on purpose: who may do
 * what is decided per command from the peer's credentials.
 */
#include "src/control/control.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "src/base/log.h"
#include "src/control/control_conn.h"
#include "src/control/control_impl.h"

#define CONN_MAX 256	      /* open connections at once */
#define CONN_ADMIN_RESERVE 16 /* of those, kept for root and admins */
#define IDLE_SWEEP_MS 1000    /* how often idle connections are looked for */
#define READ_CHUNK 65536      /* the input buffer grows by at least this */

static void conn_resume(struct ctl_conn *conn);

/* Free the server once it is stopped, closed and has no request left. */
void ctl_maybe_finish(struct control *ctl)
{
	if (!ctl->stopping || ctl->handles != 0)
		return;
	if (!ctl->stop_done) {
		ctl->stop_done = 1;
		if (ctl->stop_cb != NULL)
			ctl->stop_cb(ctl->stop_arg);
	}
	if (ctl->reqs == 0)
		free(ctl);
}

/* ---- connections ---- */

/* Take conn out of the server: the credential lookup, the request in
 * flight and the list of connections no longer see it. Idempotent. */
static void conn_detach(struct ctl_conn *conn)
{
	if (conn->cred != NULL)
		ctl_cred_detach(conn);
	if (conn->req != NULL) {
		conn->req->conn = NULL;
		conn->req = NULL;
	}
	if (conn->linked) {
		LIST_REMOVE(conn, next);
		conn->linked = 0;
	}
}

/* Every handle is closed (conn.c): free the connection. */
static void on_conn_closed(struct conn *c)
{
	struct ctl_conn *conn = c->data;
	struct control *ctl = conn->ctl;

	conn_detach(conn); /* a close after the answers left it listed */
	if (conn->scratch.p != NULL && conn->scratch.free_fn != NULL)
		conn->scratch.free_fn(conn->scratch.p);
	free(conn->in);
	free(conn);
	ctl->handles--;
	ctl_maybe_finish(ctl);
}

void ctl_conn_close(struct ctl_conn *conn)
{
	if (conn->closing)
		return;
	conn->closing = 1;
	conn_detach(conn);
	conn_close(&conn->conn, 0); /* also cuts a close after answers short */
}

/* Send one JSON object as a line. */
void ctl_conn_send(struct ctl_conn *conn, json_object *obj)
{
	const char *s;
	uv_buf_t b[2];
	int rc;

	if (conn->closing)
		return;
	s = json_object_to_json_string_ext(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	b[0] = uv_buf_init((char *)s, (unsigned)strlen(s));
	b[1] = uv_buf_init("\n", 1);
	rc = conn_writev(&conn->conn, b, 2);
	if (rc == UV_ENOMEM)
		log_error("control: out of memory for a %zu-byte answer",
			  b[0].len);
	if (rc != 0)
		ctl_conn_close(conn);
}

/* Close once what was written has gone out: the connection layer shuts
 * the stream down after the queued answers. The connection stays listed
 * (it counts towards the limits) until it is closed. */
static void conn_close_when_flushed(struct ctl_conn *conn)
{
	conn->close_when_flushed = 1;
	conn_close(&conn->conn, 1);
}

/* Handle every complete line while no request is in flight; pause reading
 * while one is. */
void ctl_conn_process(struct ctl_conn *conn)
{
	if (conn->processing)
		return;
	conn->processing = 1;
	while (!conn->closing && conn->req == NULL &&
	       !conn->close_when_flushed) {
		char *nl = conn->len > 0 ? memchr(conn->in, '\n', conn->len)
					 : NULL; /* in: NULL before data */
		size_t linelen;

		if (nl == NULL) {
			if (conn->len > CONTROL_LINE_MAX) {
				ctl_conn_fail(
				    conn, "bad_request",
				    "request line longer than %d bytes",
				    CONTROL_LINE_MAX);
				conn_close_when_flushed(conn);
			}
			break;
		}
		linelen = (size_t)(nl - conn->in);
		if (linelen > CONTROL_LINE_MAX) {
			ctl_conn_fail(conn, "bad_request",
				      "request line longer than %d bytes",
				      CONTROL_LINE_MAX);
			conn_close_when_flushed(conn);
			break;
		}
		ctl_dispatch_line(conn, conn->in, linelen);
		if (conn->closing)
			break;
		conn->len -= linelen + 1;
		memmove(conn->in, nl + 1, conn->len);
	}
	conn->processing = 0;
	if (conn->closing || conn->close_when_flushed)
		return;
	if (conn->req != NULL) {
		conn_read_stop(&conn->conn);
	} else if (conn->eof) {
		conn_close_when_flushed(conn);
	} else if (!conn_reading(&conn->conn)) {
		conn->last_active = uv_now(conn->ctl->loop);
		conn_resume(conn);
	}
}

/* Keep n more received octets (the layer's read buffer is scratch). 0 or
 * -1 when memory ran out. */
static int conn_append(struct ctl_conn *conn, const char *p, size_t n)
{
	if (conn->len + n > conn->cap) {
		size_t cap = conn->len + (n > READ_CHUNK ? n : READ_CHUNK);
		char *q = realloc(conn->in, cap);

		if (q == NULL)
			return -1;
		conn->in = q;
		conn->cap = cap;
	}
	memcpy(conn->in + conn->len, p, n);
	conn->len += n;
	return 0;
}

static void on_conn_data(struct conn *c, const char *p, size_t n)
{
	struct ctl_conn *conn = c->data;

	if (conn_append(conn, p, n) != 0) {
		log_error("control: pid %ld: out of memory for a request",
			  (long)conn->pid);
		ctl_conn_close(conn);
		return;
	}
	conn->last_active = uv_now(conn->ctl->loop);
	ctl_conn_process(conn);
}

static void on_conn_error(struct conn *c, enum conn_event ev, int code)
{
	struct ctl_conn *conn = c->data;

	if (ev == CONN_EV_READ && code == UV_EOF) {
		conn_read_stop(c);
		conn->eof = 1;
		ctl_conn_process(conn);
		return;
	}
	if (ev == CONN_EV_WRITE)
		log_debug("control: pid %ld: write failed: %s", (long)conn->pid,
			  uv_strerror(code));
	ctl_conn_close(conn);
}

static const struct conn_cbs ctl_conn_cbs = {
    .on_data = on_conn_data,
    .on_error = on_conn_error,
    .on_close = on_conn_closed,
};

/* Start reading again after a request was answered. */
static void conn_resume(struct ctl_conn *conn)
{
	if (conn->closing || conn->eof || conn->cred != NULL)
		return;
	if (conn_read_start(&conn->conn) != 0)
		ctl_conn_close(conn);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct ctl_conn *conn, *c;
	unsigned n = 0;
	int rc;

	if (status < 0) {
		log_warn("control: accept: %s", uv_strerror(status));
		return;
	}
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		log_error("control: out of memory for a connection");
		return;
	}
	conn->ctl = ctl;
	if ((rc = conn_init(&conn->conn, ctl->loop, CONN_PIPE, &ctl_conn_cbs,
			    conn)) != 0) {
		log_error("control: cannot set up a connection: %s",
			  uv_strerror(rc));
		free(conn);
		return;
	}
	ctl->handles++;
	if (conn_accept(&conn->conn, server) != 0) {
		ctl_conn_close(conn);
		return;
	}
	LIST_FOREACH (c, &ctl->conns, next)
		n++;
	conn->last_active = uv_now(ctl->loop);
	if (ctl->stopping || n >= CONN_MAX) {
		if (!ctl->stopping)
			log_warn("control: more than %d connections, refusing "
				 "one",
				 CONN_MAX);
		ctl_conn_close(conn);
		return;
	}
	if (ctl_cred_read(conn) != 0) {
		log_warn("control: cannot read the peer's credentials: %s",
			 strerror(errno));
		ctl_conn_close(conn);
		return;
	}
	if (conn->uid != 0) {
		unsigned mine = 0;

		LIST_FOREACH (c, &ctl->conns, next)
			mine += c->uid == conn->uid;
		if (mine >= ctl->conf.ctl_max_per_user) {
			log_warn("control: uid %ld pid %ld: already %u "
				 "connections ([control] max_per_user), "
				 "refusing one",
				 (long)conn->uid, (long)conn->pid, mine);
			ctl_conn_close(conn);
			return;
		}
	}
	LIST_INSERT_HEAD(&ctl->conns, conn, next);
	conn->linked = 1;
	/* reading starts once the privilege lookup is back (ctl_conn_ready) */
	if ((rc = ctl_cred_lookup(conn)) < 0) {
		log_warn("control: cannot look up the peer's privilege: %s",
			 uv_strerror(rc));
		ctl_conn_close(conn);
	}
}

/* The privilege is known: a non-admin connection may not take the last
 * CONN_ADMIN_RESERVE places. */
void ctl_conn_ready(struct ctl_conn *conn)
{
	struct ctl_conn *c;
	unsigned others = 0;

	if (!conn->admin) {
		LIST_FOREACH (c, &conn->ctl->conns, next)
			others += !c->admin;
		if (others > CONN_MAX - CONN_ADMIN_RESERVE) {
			log_warn("control: uid %ld pid %ld: the last %d "
				 "connections are kept for admins, refusing "
				 "one",
				 (long)conn->uid, (long)conn->pid,
				 CONN_ADMIN_RESERVE);
			ctl_conn_close(conn);
			return;
		}
	}
	conn_resume(conn);
}

/* Close connections with no request in flight that sent nothing for
 * [control] idle_timeout_s. */
static void idle_sweep(uv_timer_t *t)
{
	struct control *ctl = t->data;
	uint64_t now = uv_now(ctl->loop);
	uint64_t limit = (uint64_t)ctl->conf.ctl_idle_timeout_s * 1000;
	struct ctl_conn *c, *next;

	for (c = LIST_FIRST(&ctl->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, next);
		if (c->req != NULL || c->cred != NULL || c->closing ||
		    now - c->last_active < limit)
			continue;
		log_info("control: uid %ld pid %ld: idle for %u s, closing",
			 (long)c->uid, (long)c->pid,
			 ctl->conf.ctl_idle_timeout_s);
		ctl_conn_close(c);
	}
}

static void on_idle_closed(uv_handle_t *h)
{
	struct control *ctl = h->data;

	ctl->handles--;
	ctl_maybe_finish(ctl);
}

/* ---- start and stop ---- */

/* Remove a stale socket file at path; refuse a live one or a non-socket. */
static int remove_stale_socket(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("control: %s exists and is not a socket", path);
		return UV_EEXIST;
	}
	if (strlen(path) >= sizeof(sun.sun_path))
		return UV_ENAMETOOLONG;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		log_error("control: %s is in use by another process", path);
		return UV_EADDRINUSE;
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	log_info("control: removed stale socket %s", path);
	return 0;
}

static void on_server_closed(uv_handle_t *h)
{
	struct control *ctl = h->data;

	ctl->handles--;
	ctl_maybe_finish(ctl);
}

int control_start(struct control **out, uv_loop_t *loop,
		  const struct nodeconf *conf, struct cluster *cl,
		  struct spool *sp)
{
	struct control *ctl;
	const char *path = conf->control_socket;
	int rc;

	*out = NULL;
	/* A client that goes away before its answer must not kill the node:
	 * the write then fails with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL)
		return UV_ENOMEM;
	ctl->loop = loop;
	ctl->conf = *conf;
	ctl->cl = cl;
	ctl->sp = sp;
	if ((rc = remove_stale_socket(path)) != 0)
		goto err_after_alloc;
	if ((rc = uv_pipe_init(loop, &ctl->server, 0)) != 0)
		goto err_after_alloc;
	ctl->server.data = ctl;
	ctl->server_open = 1;
	ctl->handles = 1;
	if ((rc = uv_pipe_bind(&ctl->server, path)) != 0) {
		if (rc == UV_ENOENT)
			log_error("control: cannot create %s: its directory "
				  "does not exist",
				  path);
		else
			log_error("control: cannot bind %s: %s", path,
				  uv_strerror(rc));
		goto err_after_init;
	}
	if (chmod(path, 0666) != 0) {
		rc = -errno;
		log_error("control: chmod %s: %s", path, strerror(errno));
		goto err_after_bind;
	}
	if ((rc = uv_listen((uv_stream_t *)&ctl->server, CONTROL_BACKLOG,
			    on_connection)) != 0) {
		log_error("control: listen on %s: %s", path, uv_strerror(rc));
		goto err_after_bind;
	}
	if (ctl->conf.ctl_idle_timeout_s > 0 &&
	    uv_timer_init(loop, &ctl->idle) == 0) {
		ctl->idle.data = ctl;
		ctl->idle_open = 1;
		ctl->handles++;
		uv_timer_start(&ctl->idle, idle_sweep, IDLE_SWEEP_MS,
			       IDLE_SWEEP_MS);
	}
	log_info("control: listening on %s (admin group %s)", path,
		 ctl->conf.admin_group);
	*out = ctl;
	return 0;

err_after_bind:
	unlink(path);
err_after_init:
	/* the handle must be closed before ctl is freed: let the loop run
	 * the close callback, which frees ctl (stopping, no requests) */
	ctl->stopping = 1;
	ctl->stop_done = 1;
	ctl->server_open = 0;
	uv_close((uv_handle_t *)&ctl->server, on_server_closed);
	return rc;
err_after_alloc:
	free(ctl);
	return rc;
}

void control_stop(struct control *ctl, void (*cb)(void *arg), void *arg)
{
	if (ctl == NULL || ctl->stopping) {
		return;
	}
	ctl->stopping = 1;
	ctl->stop_cb = cb;
	ctl->stop_arg = arg;
	if (ctl->server_open) {
		ctl->server_open = 0;
		unlink(ctl->conf.control_socket);
		uv_close((uv_handle_t *)&ctl->server, on_server_closed);
	}
	if (ctl->idle_open) {
		ctl->idle_open = 0;
		uv_close((uv_handle_t *)&ctl->idle, on_idle_closed);
	}
	while (!LIST_EMPTY(&ctl->conns))
		ctl_conn_close(LIST_FIRST(&ctl->conns));
	log_info("control: stopped listening on %s", ctl->conf.control_socket);
	ctl_maybe_finish(ctl);
}
