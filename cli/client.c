/*
 * client.c — one request and its answer over a node's control socket (see
 * client.h and docs/control.md).
 *
 * Owns: the connection (opened and closed within client_call) and the
 * answer buffer. Checks what the server sends as strictly as the server
 * checks requests: one JSON object on one line, version 1, an "ok"
 * boolean; anything else is CLIENT_E_PROTO. Also the one reading of an
 * answer's envelope ("ok", and a failure's "code" and "error") for every
 * caller (exec.c, sendmail.c, submit.c).
 */
#include "cli/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "src/base/clock.h"
#include <unistd.h>

/* Milliseconds on a monotonic clock. */
static long long now_ms(void)
{
	return (long long)clock_mono_ms();
}

/* Wait until fd is ready for events or the deadline passes (0: none). */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		int t = -1, rc;
		if (deadline != 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return CLIENT_E_TIMEOUT;
			t = left > 60000 ? 60000 : (int)left;
		}
		rc = poll(&p, 1, t);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return CLIENT_E_IO;
	}
}

/* Connect to the socket at path. fd or a negative code. */
static int open_socket(const char *path, char *err, size_t errsize)
{
	struct sockaddr_un sun;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errsize, "socket path too long: %s", path);
		return CLIENT_E_CONNECT;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errsize, "socket: %s", strerror(errno));
		return CLIENT_E_CONNECT;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(err, errsize,
			 "cannot connect to %s: %s (is smtpclusterd running? "
			 "use -s SOCKET or SMTPCTL_SOCKET)",
			 path, strerror(errno));
		close(fd);
		return CLIENT_E_CONNECT;
	}
	return fd;
}

/* Write all of buf. */
static int send_all(int fd, const char *buf, size_t len, long long deadline,
		    char *err, size_t errsize)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(fd, POLLOUT, deadline);
			if (rc != 0) {
				snprintf(err, errsize,
					 "timed out sending the request");
				return rc;
			}
			continue;
		}
		snprintf(err, errsize, "sending the request: %s",
			 strerror(errno));
		return CLIENT_E_IO;
	}
	return 0;
}

/* Read up to the first newline into a malloc'd, NUL-terminated line. */
static int read_line(int fd, long long deadline, char **line, size_t *len,
		     char *err, size_t errsize)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);

	if (buf == NULL) {
		snprintf(err, errsize, "out of memory");
		return CLIENT_E_IO;
	}
	for (;;) {
		char *nl;
		ssize_t r;
		int rc;

		if (n + 1 >= cap) {
			char *p;
			if (cap >= CLIENT_ANSWER_MAX) {
				snprintf(err, errsize,
					 "answer longer than %u bytes",
					 CLIENT_ANSWER_MAX);
				free(buf);
				return CLIENT_E_PROTO;
			}
			p = realloc(buf, cap * 2);
			if (p == NULL) {
				snprintf(err, errsize, "out of memory");
				free(buf);
				return CLIENT_E_IO;
			}
			buf = p;
			cap *= 2;
		}
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc != 0) {
			snprintf(err, errsize, "%s",
				 rc == CLIENT_E_TIMEOUT
				     ? "timed out waiting for the answer"
				     : "poll failed");
			free(buf);
			return rc;
		}
		r = recv(fd, buf + n, cap - n - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errsize,
				 "the node closed the connection without an "
				 "answer%s%s",
				 r < 0 ? ": " : "",
				 r < 0 ? strerror(errno) : "");
			free(buf);
			return CLIENT_E_IO;
		}
		nl = memchr(buf + n, '\n', (size_t)r);
		n += (size_t)r;
		if (nl != NULL) {
			if ((size_t)(nl - buf) + 1 != n) {
				snprintf(err, errsize,
					 "unexpected bytes after the answer");
				free(buf);
				return CLIENT_E_PROTO;
			}
			*nl = '\0';
			*line = buf;
			*len = (size_t)(nl - buf);
			return 0;
		}
	}
}

/* Parse and check an answer line. */
static int parse_answer(const char *line, size_t len, json_object **answer,
			char *err, size_t errsize)
{
	json_tokener *tok = json_tokener_new();
	json_object *o, *v;

	if (tok == NULL) {
		snprintf(err, errsize, "out of memory");
		return CLIENT_E_IO;
	}
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_tokener_free(tok);
		json_object_put(o);
		snprintf(err, errsize,
			 "the node's answer is not a JSON object");
		return CLIENT_E_PROTO;
	}
	json_tokener_free(tok);
	if (!json_object_object_get_ex(o, "v", &v) ||
	    json_object_get_int(v) != CLIENT_PROTO_VERSION ||
	    !json_object_object_get_ex(o, "ok", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		json_object_put(o);
		snprintf(err, errsize,
			 "the node's answer is not a protocol version %d "
			 "answer",
			 CLIENT_PROTO_VERSION);
		return CLIENT_E_PROTO;
	}
	*answer = o;
	return 0;
}

struct client_conn {
	int fd;
};

int client_open(const char *path, struct client_conn **out, char *err,
		size_t errsize)
{
	struct client_conn *c;
	int fd;

	*out = NULL;
	fd = open_socket(path, err, errsize);
	if (fd < 0)
		return fd;
	c = malloc(sizeof(*c));
	if (c == NULL) {
		close(fd);
		snprintf(err, errsize, "out of memory");
		return CLIENT_E_IO;
	}
	c->fd = fd;
	*out = c;
	return 0;
}

void client_close(struct client_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

int client_request(struct client_conn *c, const char *cmd, json_object *args,
		   int timeout_ms, json_object **answer, char *err,
		   size_t errsize)
{
	long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	json_object *req;
	const char *s;
	char *line = NULL, *out;
	size_t len = 0, slen;
	int rc;

	*answer = NULL;
	req = json_object_new_object();
	json_object_object_add(req, "v",
			       json_object_new_int(CLIENT_PROTO_VERSION));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args",
			       args != NULL ? json_object_get(args)
					    : json_object_new_object());
	s = json_object_to_json_string_ext(
	    req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	slen = strlen(s);
	out = malloc(slen + 1);
	if (out == NULL) {
		snprintf(err, errsize, "out of memory");
		rc = CLIENT_E_IO;
		goto out_after_req;
	}
	memcpy(out, s, slen);
	out[slen] = '\n';
	rc = send_all(c->fd, out, slen + 1, deadline, err, errsize);
	free(out);
	if (rc != 0)
		goto out_after_req;
	rc = read_line(c->fd, deadline, &line, &len, err, errsize);
	if (rc != 0)
		goto out_after_req;
	rc = parse_answer(line, len, answer, err, errsize);
	free(line);
out_after_req:
	json_object_put(req);
	return rc;
}

int client_call(const char *path, const char *cmd, json_object *args,
		int timeout_ms, json_object **answer, char *err, size_t errsize)
{
	struct client_conn *c;
	int rc;

	*answer = NULL;
	rc = client_open(path, &c, err, errsize);
	if (rc != 0)
		return rc;
	rc = client_request(c, cmd, args, timeout_ms, answer, err, errsize);
	client_close(c);
	return rc;
}

int client_answer_ok(json_object *answer)
{
	json_object *ok = NULL;

	return json_object_object_get_ex(answer, "ok", &ok) &&
	       json_object_get_boolean(ok);
}

/* answer's field key if it is a string, else dflt. */
static const char *answer_str(json_object *answer, const char *key,
			      const char *dflt)
{
	json_object *v = NULL;

	if (json_object_object_get_ex(answer, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return dflt;
}

void client_answer_error(json_object *answer, const char **code,
			 const char **text)
{
	*code = answer_str(answer, "code", *code);
	*text = answer_str(answer, "error", *text);
}
