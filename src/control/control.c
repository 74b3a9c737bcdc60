/*
 * control.c — the Unix control socket server (control.h): listening,
 * connections, line framing, the peer's credentials, the request envelope
 * and dispatch through the command table of control_cmds.c.
 *
 * Owns: the socket file (a stale one is removed at start, ours is removed
 * at stop), every connection and its buffers, and the life of a request
 * until its handler answers. Does not own: what a command does
 * (control_cmds.c, control_debug.c), the cluster or the spool.
 *
 * Protocol (docs/control.md): one JSON object per line each way. A line
 * longer than CONTROL_LINE_MAX is answered with a bad_request error and the
 * connection is closed; anything else a client can send (bad JSON, an
 * unknown version, command or argument) is answered with an error and the
 * connection keeps serving. One request per connection is handled at a
 * time; later lines wait in the buffer (reading pauses meanwhile).
 *
 * Also owns: each connection's scratch (kept between its requests for
 * multi-request commands such as submit, freed when it closes), the
 * statistics providers of show service smtp (control_set_stats), and the
 * argument readers and helpers shared by the command files.
 *
 * Privilege: SO_PEERCRED on the accepted socket gives uid/gid/pid; admin is
 * uid 0, or the admin group as primary group or in the user's groups of
 * the group database. The socket file is mode 0666 on purpose: who may do
 * what is decided here, per command, from those credentials.
 */
#include "src/control/control.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "src/control/control_impl.h"
#include "src/base/log.h"

#define CONN_MAX 256	 /* open connections at once */
#define READ_CHUNK 65536 /* bytes asked of libuv per read */
#define JSON_DEPTH 32

struct ctl_conn {
	struct control *ctl;
	uv_pipe_t pipe;
	struct ctl_conn *next;
	struct ctl_conn **pprev;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int admin;
	char *in; /* bytes received, not yet handled */
	size_t len;
	size_t cap;
	struct ctl_req *req; /* request in flight, or NULL */
	unsigned writes;     /* writes in flight */
	int reading;
	int processing; /* inside conn_process(): do not re-enter */
	int eof;	/* the client sent EOF */
	int close_when_flushed;
	int closing;
	struct ctl_scratch scratch; /* kept between requests (submit) */
};

struct ctl_write {
	uv_write_t w;
	struct ctl_conn *conn;
	char data[];
};

static void conn_process(struct ctl_conn *conn);
static void conn_resume(struct ctl_conn *conn);

/* Free the server once it is stopped, closed and has no request left. */
static void ctl_maybe_finish(struct control *ctl)
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

/* ---- credentials ---- */

#define NSS_BUF_MIN 16384
#define NSS_BUF_MAX (1024 * 1024)

/* getgrnam_r into a buffer grown on ERANGE; *buf is the caller's to free. */
static struct group *group_lookup(const char *name, struct group *gr,
				  char **buf)
{
	struct group *res = NULL;

	for (size_t size = NSS_BUF_MIN; size <= NSS_BUF_MAX; size *= 2) {
		char *p = realloc(*buf, size);
		if (p == NULL)
			return NULL;
		*buf = p;
		if (getgrnam_r(name, gr, p, size, &res) != ERANGE)
			return res;
	}
	return NULL;
}

/* getpwuid_r into a buffer grown on ERANGE; *buf is the caller's to free. */
static struct passwd *passwd_lookup(uid_t uid, struct passwd *pw, char **buf)
{
	struct passwd *res = NULL;

	for (size_t size = NSS_BUF_MIN; size <= NSS_BUF_MAX; size *= 2) {
		char *p = realloc(*buf, size);
		if (p == NULL)
			return NULL;
		*buf = p;
		if (getpwuid_r(uid, pw, p, size, &res) != ERANGE)
			return res;
	}
	return NULL;
}

/* 1 if gid is among the groups of user (primary group pgid) in the group
 * database. */
static int user_in_group(const char *user, gid_t pgid, gid_t gid)
{
	gid_t *groups = NULL;
	int ngroups = 64, found = 0;

	for (int tries = 0; tries < 4; tries++) {
		gid_t *g = realloc(groups, (size_t)ngroups * sizeof(*g));
		int n = ngroups;
		if (g == NULL)
			break;
		groups = g;
		if (getgrouplist(user, pgid, groups, &n) >= 0) {
			for (int i = 0; i < n; i++)
				if (groups[i] == gid)
					found = 1;
			break;
		}
		ngroups = n > ngroups ? n : ngroups * 2;
	}
	free(groups);
	return found;
}

/* 1 if uid (primary group gid) is admin: root, or the admin group is its
 * primary group or one of its user's groups. A missing group: root only. */
static int cred_is_admin(uid_t uid, gid_t gid, const char *group)
{
	struct group grbuf, *gr;
	struct passwd pwbuf, *pw;
	char *gbuf = NULL, *pbuf = NULL;
	int admin = 0;

	if (uid == 0)
		return 1;
	if (group == NULL || group[0] == '\0')
		return 0;
	gr = group_lookup(group, &grbuf, &gbuf);
	if (gr == NULL)
		goto out_free;
	if (gid == gr->gr_gid) {
		admin = 1;
		goto out_free;
	}
	pw = passwd_lookup(uid, &pwbuf, &pbuf);
	if (pw != NULL)
		admin = user_in_group(pw->pw_name, pw->pw_gid, gr->gr_gid);
out_free:
	free(gbuf);
	free(pbuf);
	return admin;
}

/* Read the peer's credentials of an accepted connection. */
static int conn_peercred(struct ctl_conn *conn)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&conn->pipe, &fd) != 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    len != sizeof(cr))
		return -1;
	conn->uid = cr.uid;
	conn->gid = cr.gid;
	conn->pid = cr.pid;
	conn->admin =
	    cred_is_admin(cr.uid, cr.gid, conn->ctl->conf.admin_group);
	return 0;
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
	struct ctl_conn *conn = h->data;
	struct control *ctl = conn->ctl;

	if (conn->scratch.p != NULL && conn->scratch.free_fn != NULL)
		conn->scratch.free_fn(conn->scratch.p);
	free(conn->in);
	free(conn);
	ctl->handles--;
	ctl_maybe_finish(ctl);
}

/* Close a connection; a request in flight loses its client. */
static void conn_close(struct ctl_conn *conn)
{
	if (conn->closing)
		return;
	conn->closing = 1;
	if (conn->req != NULL) {
		conn->req->conn = NULL;
		conn->req = NULL;
	}
	if (conn->pprev != NULL) {
		*conn->pprev = conn->next;
		if (conn->next != NULL)
			conn->next->pprev = conn->pprev;
		conn->pprev = NULL;
	}
	uv_close((uv_handle_t *)&conn->pipe, on_conn_closed);
}

static void on_write(uv_write_t *w, int status)
{
	struct ctl_write *wr = (struct ctl_write *)w;
	struct ctl_conn *conn = wr->conn;

	free(wr);
	conn->writes--;
	if (conn->closing)
		return;
	if (status < 0) {
		log_debug("control: pid %ld: write failed: %s", (long)conn->pid,
			  uv_strerror(status));
		conn_close(conn);
	} else if (conn->close_when_flushed && conn->writes == 0) {
		conn_close(conn);
	}
}

/* Send one JSON object as a line. */
static void conn_send(struct ctl_conn *conn, json_object *obj)
{
	const char *s;
	struct ctl_write *wr;
	size_t n;
	uv_buf_t b;
	int rc;

	if (conn->closing)
		return;
	s = json_object_to_json_string_ext(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(s);
	wr = malloc(sizeof(*wr) + n + 1);
	if (wr == NULL) {
		log_error("control: out of memory for a %zu-byte answer", n);
		conn_close(conn);
		return;
	}
	memcpy(wr->data, s, n);
	wr->data[n] = '\n';
	wr->conn = conn;
	b = uv_buf_init(wr->data, (unsigned)(n + 1));
	conn->writes++;
	rc = uv_write(&wr->w, (uv_stream_t *)&conn->pipe, &b, 1, on_write);
	if (rc < 0) {
		free(wr);
		conn->writes--;
		conn_close(conn);
	}
}

/* Close once what was written has gone out. */
static void conn_close_when_flushed(struct ctl_conn *conn)
{
	conn->close_when_flushed = 1;
	if (conn->writes == 0)
		conn_close(conn);
}

/* An error response object. */
static json_object *error_obj(const char *code, const char *text)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "v",
			       json_object_new_int(CONTROL_PROTO_VERSION));
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "error", json_object_new_string(text));
	return o;
}

/* Answer an envelope error (no request was created). */
static void conn_fail(struct ctl_conn *conn, const char *code, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static void conn_fail(struct ctl_conn *conn, const char *code, const char *fmt,
		      ...)
{
	char text[512];
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_debug("control: uid %ld pid %ld: %s: %s", (long)conn->uid,
		  (long)conn->pid, code, text);
	o = error_obj(code, text);
	conn_send(conn, o);
	json_object_put(o);
}

/* 1 if name is one of the comma-separated names in list. */
static int name_in_list(const char *name, const char *list)
{
	size_t n = strlen(name);

	for (const char *p = list; *p != '\0';) {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

static const struct control_cmd *cmd_find(const char *name)
{
	for (const struct control_cmd *c = control_cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Check the envelope of one parsed request and start its command. */
static void conn_dispatch(struct ctl_conn *conn, json_object *obj)
{
	struct control *ctl = conn->ctl;
	json_object *v, *cmdv, *args = NULL;
	const struct control_cmd *cmd;
	struct ctl_req *req;
	const char *name;

	if (!json_object_is_type(obj, json_type_object)) {
		conn_fail(conn, "bad_request", "request is not a JSON object");
		return;
	}
	if (!json_object_object_get_ex(obj, "v", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		conn_fail(conn, "bad_request",
			  "request has no protocol version \"v\"");
		return;
	}
	if (json_object_get_int64(v) != CONTROL_PROTO_VERSION) {
		conn_fail(conn, "bad_request",
			  "unsupported protocol version %lld (this node "
			  "speaks %d)",
			  (long long)json_object_get_int64(v),
			  CONTROL_PROTO_VERSION);
		return;
	}
	if (!json_object_object_get_ex(obj, "cmd", &cmdv) ||
	    !json_object_is_type(cmdv, json_type_string)) {
		conn_fail(conn, "bad_request", "request has no \"cmd\" string");
		return;
	}
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		if (strcmp(key, "v") && strcmp(key, "cmd") &&
		    strcmp(key, "args")) {
			conn_fail(conn, "bad_request",
				  "unknown member \"%.64s\" in the request",
				  key);
			return;
		}
	}
	if (json_object_object_get_ex(obj, "args", &args) && args != NULL &&
	    !json_object_is_type(args, json_type_object)) {
		conn_fail(conn, "bad_request", "\"args\" is not an object");
		return;
	}
	name = json_object_get_string(cmdv);
	cmd = cmd_find(name);
	if (cmd == NULL) {
		conn_fail(conn, "usage", "unknown command \"%.100s\"", name);
		return;
	}
	if (cmd->admin && !conn->admin) {
		log_info("control: uid %ld pid %ld: %s refused: not admin",
			 (long)conn->uid, (long)conn->pid, cmd->name);
		conn_fail(conn, "not_admin",
			  "permission denied: \"%s\" needs admin (root or a "
			  "member of group %s)",
			  cmd->name, ctl->conf.admin_group);
		return;
	}
	if (args != NULL) {
		json_object_object_foreach(args, akey, aval)
		{
			(void)aval;
			if (!name_in_list(akey, cmd->args)) {
				conn_fail(conn, "usage",
					  "%s: unknown argument \"%.64s\"",
					  cmd->name, akey);
				return;
			}
		}
	}
	if (ctl->stopping) {
		conn_fail(conn, "failed", "node is stopping");
		return;
	}
	if (conn->scratch.p != NULL && conn->scratch.owner != cmd) {
		/* a multi-request command was abandoned */
		if (conn->scratch.free_fn != NULL)
			conn->scratch.free_fn(conn->scratch.p);
		conn->scratch.p = NULL;
	}
	req = calloc(1, sizeof(*req));
	if (req == NULL) {
		conn_fail(conn, "failed", "out of memory");
		return;
	}
	req->ctl = ctl;
	req->conn = conn;
	req->uid = conn->uid;
	req->gid = conn->gid;
	req->pid = conn->pid;
	req->admin = conn->admin;
	req->cmd = cmd;
	req->args =
	    args != NULL ? json_object_get(args) : json_object_new_object();
	ctl->reqs++;
	conn->req = req;
	log_debug("control: uid %ld pid %ld: %s", (long)conn->uid,
		  (long)conn->pid, cmd->name);
	cmd->fn(req);
}

/* Parse one request line (without its newline) and dispatch it. */
static void conn_line(struct ctl_conn *conn, const char *line, size_t len)
{
	json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t end;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
			   line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return; /* blank lines are ignored */
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (tok == NULL) {
		conn_fail(conn, "failed", "out of memory");
		return;
	}
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (obj == NULL || jerr != json_tokener_success) {
		conn_fail(conn, "bad_request", "malformed JSON: %s",
			  jerr == json_tokener_continue
			      ? "incomplete object"
			      : json_tokener_error_desc(jerr));
		json_object_put(obj);
		return;
	}
	if (end != len) {
		conn_fail(conn, "bad_request",
			  "malformed JSON: bytes after the object");
		json_object_put(obj);
		return;
	}
	conn_dispatch(conn, obj);
	json_object_put(obj);
}

/* Handle every complete line while no request is in flight; pause reading
 * while one is. */
static void conn_process(struct ctl_conn *conn)
{
	if (conn->processing)
		return;
	conn->processing = 1;
	while (!conn->closing && conn->req == NULL &&
	       !conn->close_when_flushed) {
		char *nl = memchr(conn->in, '\n', conn->len);
		size_t linelen;

		if (nl == NULL) {
			if (conn->len > CONTROL_LINE_MAX) {
				conn_fail(conn, "bad_request",
					  "request line longer than %d bytes",
					  CONTROL_LINE_MAX);
				conn_close_when_flushed(conn);
			}
			break;
		}
		linelen = (size_t)(nl - conn->in);
		if (linelen > CONTROL_LINE_MAX) {
			conn_fail(conn, "bad_request",
				  "request line longer than %d bytes",
				  CONTROL_LINE_MAX);
			conn_close_when_flushed(conn);
			break;
		}
		conn_line(conn, conn->in, linelen);
		if (conn->closing)
			break;
		conn->len -= linelen + 1;
		memmove(conn->in, nl + 1, conn->len);
	}
	conn->processing = 0;
	if (conn->closing || conn->close_when_flushed)
		return;
	if (conn->req != NULL && conn->reading) {
		uv_read_stop((uv_stream_t *)&conn->pipe);
		conn->reading = 0;
	} else if (conn->req == NULL && conn->eof) {
		conn_close_when_flushed(conn);
	} else if (conn->req == NULL && !conn->reading) {
		conn_resume(conn);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ctl_conn *conn = h->data;
	size_t want = conn->len + READ_CHUNK;

	(void)suggested;
	if (want > conn->cap) {
		char *p = realloc(conn->in, want);
		if (p == NULL) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		conn->in = p;
		conn->cap = want;
	}
	*buf = uv_buf_init(conn->in + conn->len, READ_CHUNK);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_conn *conn = s->data;

	(void)buf;
	if (nread == UV_EOF) {
		uv_read_stop(s);
		conn->reading = 0;
		conn->eof = 1;
		conn_process(conn);
		return;
	}
	if (nread < 0) {
		conn_close(conn);
		return;
	}
	conn->len += (size_t)nread;
	conn_process(conn);
}

/* Start reading again after a request was answered. */
static void conn_resume(struct ctl_conn *conn)
{
	if (conn->reading || conn->closing || conn->eof)
		return;
	if (uv_read_start((uv_stream_t *)&conn->pipe, on_alloc, on_read) == 0)
		conn->reading = 1;
	else
		conn_close(conn);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct ctl_conn *conn;
	unsigned n = 0;

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
	uv_pipe_init(ctl->loop, &conn->pipe, 0);
	conn->pipe.data = conn;
	ctl->handles++;
	if (uv_accept(server, (uv_stream_t *)&conn->pipe) != 0) {
		conn_close(conn);
		return;
	}
	for (struct ctl_conn *c = ctl->conns; c != NULL; c = c->next)
		n++;
	if (ctl->stopping || n >= CONN_MAX) {
		if (!ctl->stopping)
			log_warn("control: more than %d connections, refusing "
				 "one",
				 CONN_MAX);
		conn_close(conn);
		return;
	}
	if (conn_peercred(conn) != 0) {
		log_warn("control: cannot read the peer's credentials: %s",
			 strerror(errno));
		conn_close(conn);
		return;
	}
	conn->next = ctl->conns;
	if (conn->next != NULL)
		conn->next->pprev = &conn->next;
	conn->pprev = &ctl->conns;
	ctl->conns = conn;
	conn_resume(conn);
}

/* ---- answers ---- */

/* Send the answer of req (if its client is still there) and free it. */
static void req_finish(struct ctl_req *req, json_object *resp, const char *code)
{
	struct control *ctl = req->ctl;
	struct ctl_conn *conn = req->conn;

	if (req->cmd->audit)
		log_info("control: uid %ld pid %ld: %s -> %s", (long)req->uid,
			 (long)req->pid, req->cmd->name, code);
	else
		log_debug("control: uid %ld pid %ld: %s -> %s", (long)req->uid,
			  (long)req->pid, req->cmd->name, code);
	if (conn != NULL) {
		conn->req = NULL;
		conn_send(conn, resp);
	}
	json_object_put(resp);
	json_object_put(req->args);
	free(req);
	ctl->reqs--;
	if (conn != NULL)
		conn_process(conn);
	ctl_maybe_finish(ctl);
}

void ctl_req_ok(struct ctl_req *req, json_object *result)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "v",
			       json_object_new_int(CONTROL_PROTO_VERSION));
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(
	    o, "result", result != NULL ? result : json_object_new_object());
	req_finish(req, o, "ok");
}

void ctl_req_fail(struct ctl_req *req, const char *code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!req->cmd->audit)
		log_debug("control: uid %ld pid %ld: %s: %s", (long)req->uid,
			  (long)req->pid, req->cmd->name, text);
	else
		log_info("control: uid %ld pid %ld: %s: %s", (long)req->uid,
			 (long)req->pid, req->cmd->name, text);
	req_finish(req, error_obj(code, text), code);
}

void ctl_req_fail_cluster(struct ctl_req *req, int status, const char *msg)
{
	const char *m = msg != NULL && msg[0] != '\0' ? msg : NULL;

	switch (status) {
	case CLUSTER_E_NOQUORUM:
		ctl_req_fail(req, "no_quorum",
			     "no quorum: the cluster has no leader reachable "
			     "from this node");
		return;
	case CLUSTER_E_SHUTDOWN:
		ctl_req_fail(req, "failed", "node is stopping");
		return;
	case CLUSTER_E_TOOBIG:
		ctl_req_fail(req, "failed",
			     "command larger than the cluster's max_frame");
		return;
	case CLUSTER_E_INVAL:
		ctl_req_fail(req, "usage", "%s", m ? m : "invalid argument");
		return;
	default:
		ctl_req_fail(req, "failed", "%s (cluster error %d)",
			     m ? m : "the cluster refused", status);
		return;
	}
}

void ctl_req_fail_spool(struct ctl_req *req, int status, const char *what)
{
	const char *code = status == SPOOL_E_NOTFOUND ? "not_found" : "failed";

	ctl_req_fail(req, code, "%s: %s", what, spool_strerror(status));
}

struct ctl_scratch *ctl_req_scratch(struct ctl_req *req)
{
	return req->conn != NULL ? &req->conn->scratch : NULL;
}

int ctl_req_username(const struct ctl_req *req, char *buf, size_t size)
{
	struct passwd pwbuf, *pw;
	char *pbuf = NULL;
	int rc = -1;

	pw = passwd_lookup(req->uid, &pwbuf, &pbuf);
	if (pw != NULL && pw->pw_name != NULL && strlen(pw->pw_name) < size) {
		memcpy(buf, pw->pw_name, strlen(pw->pw_name) + 1);
		rc = 0;
	}
	free(pbuf);
	return rc;
}

const char *ctl_fmt_time(uint64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "%llu ms", (unsigned long long)ms);
	return buf;
}

uint64_t ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void control_set_stats(struct control *ctl, const char *section,
		       control_stats_fn fn, void *arg)
{
	unsigned i;

	if (ctl == NULL || section == NULL ||
	    strlen(section) >= sizeof(ctl->stats[0].section))
		return;
	for (i = 0; i < ctl->nstats; i++)
		if (strcmp(ctl->stats[i].section, section) == 0)
			break;
	if (fn == NULL) {
		if (i < ctl->nstats) {
			ctl->nstats--;
			memmove(&ctl->stats[i], &ctl->stats[i + 1],
				(ctl->nstats - i) * sizeof(ctl->stats[0]));
		}
		return;
	}
	if (i == ctl->nstats) {
		if (ctl->nstats == CTL_STATS_MAX) {
			log_warn("control: no room for statistics section %s",
				 section);
			return;
		}
		ctl->nstats++;
		snprintf(ctl->stats[i].section, sizeof(ctl->stats[i].section),
			 "%s", section);
	}
	ctl->stats[i].fn = fn;
	ctl->stats[i].arg = arg;
}

/* ---- arguments ---- */

int ctl_arg_u64(struct ctl_req *req, const char *key, int required,
		uint64_t min, uint64_t max, uint64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(req->args, key, &v) || v == NULL) {
		if (!required)
			return 1;
		ctl_req_fail(req, "usage", "%s: missing argument \"%s\"",
			     req->cmd->name, key);
		return -1;
	}
	errno = 0;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n < 0 || errno != 0 ||
	    (uint64_t)n < min || (uint64_t)n > max) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be an integer in "
			     "%llu..%llu",
			     req->cmd->name, key, (unsigned long long)min,
			     (unsigned long long)max);
		return -1;
	}
	*out = (uint64_t)n;
	return 0;
}

int ctl_arg_str(struct ctl_req *req, const char *key, int required,
		size_t maxlen, const char **out)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(req->args, key, &v) || v == NULL) {
		if (!required)
			return 1;
		ctl_req_fail(req, "usage", "%s: missing argument \"%s\"",
			     req->cmd->name, key);
		return -1;
	}
	if (!json_object_is_type(v, json_type_string)) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be a string",
			     req->cmd->name, key);
		return -1;
	}
	s = json_object_get_string(v);
	if (strlen(s) == 0 || strlen(s) > maxlen ||
	    (size_t)json_object_get_string_len(v) != strlen(s)) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be 1..%zu bytes",
			     req->cmd->name, key, maxlen);
		return -1;
	}
	*out = s;
	return 0;
}

int ctl_arg_bool(struct ctl_req *req, const char *key, int *out)
{
	json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(req->args, key, &v) || v == NULL)
		return 1;
	if (!json_object_is_type(v, json_type_boolean)) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be true or false",
			     req->cmd->name, key);
		return -1;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

int ctl_arg_strv(struct ctl_req *req, const char *key, int required,
		 size_t maxn, size_t maxlen, json_object **out)
{
	json_object *v;
	size_t n;

	if (!json_object_object_get_ex(req->args, key, &v) || v == NULL) {
		if (!required)
			return 1;
		ctl_req_fail(req, "usage", "%s: missing argument \"%s\"",
			     req->cmd->name, key);
		return -1;
	}
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > maxn) {
		ctl_req_fail(req, "usage",
			     "%s: argument \"%s\" must be a list of at most "
			     "%zu strings",
			     req->cmd->name, key, maxn);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		const char *s;
		if (!json_object_is_type(e, json_type_string) ||
		    (s = json_object_get_string(e)) == NULL || strlen(s) == 0 ||
		    strlen(s) > maxlen ||
		    (size_t)json_object_get_string_len(e) != strlen(s)) {
			ctl_req_fail(req, "usage",
				     "%s: item %zu of \"%s\" must be a string "
				     "of 1..%zu bytes",
				     req->cmd->name, i + 1, key, maxlen);
			return -1;
		}
	}
	*out = v;
	return 0;
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
	ctl->name_seq = (uint32_t)(uv_hrtime() / 1000) ^ (uint32_t)getpid();
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
	while (ctl->conns != NULL)
		conn_close(ctl->conns);
	log_info("control: stopped listening on %s", ctl->conf.control_socket);
	ctl_maybe_finish(ctl);
}
