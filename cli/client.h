/*
 * client.h — smtpctl's side of the control protocol (docs/control.md):
 * connect to a node's Unix control socket, send one request line, read one
 * answer line.
 *
 * A request line must stay under the node's 1 MiB limit (CLIENT_LINE_MAX).
 *
 * Ownership: the answer object belongs to the caller (json_object_put).
 * Fails with a negative CLIENT_E_* and a message; never prints, never
 * exits.
 */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <json-c/json.h>
#include <stddef.h>

#define CLIENT_PROTO_VERSION 1
#define CLIENT_ANSWER_MAX (64u * 1024 * 1024)
#define CLIENT_LINE_MAX (1024u * 1024) /* the node's request line limit */

enum client_err {
	CLIENT_E_CONNECT = -1, /* no socket, refused, permission */
	CLIENT_E_IO = -2,      /* the connection broke */
	CLIENT_E_PROTO = -3,   /* the answer is not a version-1 answer */
	CLIENT_E_TIMEOUT = -4, /* no answer within the timeout */
};

/* Send {"v":1,"cmd":cmd,"args":args} to the socket at path and wait up to
 * timeout_ms (0: no limit) for the answer. 0 and *answer (an object with
 * "ok" a boolean), or a negative CLIENT_E_* with a message in err. */
int client_call(const char *path, const char *cmd, json_object *args,
		int timeout_ms, json_object **answer, char *err,
		size_t errsize);

/* The same over a connection kept open for several requests (submit sends
 * a large message in chunks on one connection). client_open: 0 and *out,
 * or CLIENT_E_CONNECT with a message. client_close frees it. */
struct client_conn;
int client_open(const char *path, struct client_conn **out, char *err,
		size_t errsize);
int client_request(struct client_conn *c, const char *cmd, json_object *args,
		   int timeout_ms, json_object **answer, char *err,
		   size_t errsize);
void client_close(struct client_conn *c);

/* Reading an answer (one home for the envelope's fields). Whether it says
 * "ok": true. */
int client_answer_ok(json_object *answer);
/* A failed answer's "code" and "error" strings, each left as the caller
 * set it (its default) where the answer has none or not a string. The
 * strings belong to answer. */
void client_answer_error(json_object *answer, const char **code,
			 const char **text);

#endif
