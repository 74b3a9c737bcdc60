/*
 * control_conn.h — one control connection, shared by the three files of the
 * server's core and by nothing else: control.c (listener, connection,
 * framing), control_cred.c (peer credentials and privilege) and
 * control_dispatch.c (envelope, command lookup, the handler API). Handlers
 * never see a struct ctl_conn: they use control_impl.h.
 *
 * A connection's life: accepted (control.c) -> credentials read and the
 * privilege lookup queued off the loop (control_cred.c) -> reading once the
 * lookup is back (ctl_conn_ready) -> lines handed to ctl_dispatch_line one at
 * a time -> closed once, at once (ctl_conn_close) or after the queued
 * answers (end of stream, an over-long line), freed in the connection
 * layer's on_close. The stream, its write queue, the read pause and the
 * close that waits for the answers are src/base/conn.c's.
 */
#ifndef SRC_CONTROL_CONN_H
#define SRC_CONTROL_CONN_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <uv.h>

#include "src/base/conn.h"
#include "src/control/control_impl.h"

struct ctl_cred_work;

struct ctl_conn {
	struct control *ctl;
	struct conn conn; /* the stream (src/base/conn.h), kind CONN_PIPE */
	LIST_ENTRY(ctl_conn) next; /* in ctl->conns while linked */
	int linked;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int admin;
	int has_user;			  /* user is the uid's name */
	char user[CTL_USER_NAME_MAX + 1]; /* from the passwd database */
	struct ctl_cred_work *cred; /* privilege lookup in flight, or NULL */
	char *in;		    /* bytes received, not yet handled */
	size_t len;
	size_t cap;
	struct ctl_req *req;	/* request in flight, or NULL */
	int processing;		/* inside ctl_conn_process(): do not re-enter */
	int eof;		/* the client sent EOF */
	int close_when_flushed; /* conn_close(graceful) after the answers */
	int closing;		/* closed at once (ctl_conn_close) */
	uint64_t last_active;	/* uv_now of the last byte or answer */
	struct ctl_scratch scratch; /* kept between requests (submit) */
};

/* ---- control.c ---- */

/* Send one JSON object as a line (a reference is not taken). */
void ctl_conn_send(struct ctl_conn *conn, json_object *obj);

/* Close a connection once; a request in flight loses its client. */
void ctl_conn_close(struct ctl_conn *conn);

/* Handle the buffered lines after a request was answered. */
void ctl_conn_process(struct ctl_conn *conn);

/* The privilege lookup is done (conn->admin, conn->user set): start
 * reading. */
void ctl_conn_ready(struct ctl_conn *conn);

/* Free the server once it is stopped, closed and has no request left. */
void ctl_maybe_finish(struct control *ctl);

/* ---- control_cred.c ---- */

/* Read the peer's uid, gid and pid (SO_PEERCRED) into conn. 0, or -1 with
 * errno set. */
int ctl_cred_read(struct ctl_conn *conn);

/* Look up conn's privilege and user name on the thread pool; then
 * ctl_conn_ready(conn) on the loop thread. 0, or a negative libuv code
 * (nothing queued). */
int ctl_cred_lookup(struct ctl_conn *conn);

/* The connection closes: a lookup in flight is cancelled or, if already
 * running, its result dropped (it no longer touches conn). */
void ctl_cred_detach(struct ctl_conn *conn);

/* ---- control_dispatch.c ---- */

/* Parse one request line (without its newline) and start its command, or
 * answer an envelope error. */
void ctl_dispatch_line(struct ctl_conn *conn, const char *line, size_t len);

/* Answer an error that belongs to no request (framing, envelope). */
void ctl_conn_fail(struct ctl_conn *conn, const char *code, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

#endif
