/*
 * conn.h — one byte stream on the libuv loop, for every protocol the node
 * speaks over a socket: a TCP (or Unix) stream, a write queue, optional
 * TLS (server or client side, through tls.c's memory BIOs), one timer,
 * read start/stop for flow control, and a close that happens exactly once
 * and ends with one callback.
 *
 * Used by every stream the node has: the SMTP receiver's inbound
 * connection (src/smtpd/smtp_inbound.c), the SMTP/LMTP client transport
 * (src/delivery/smtp_client_conn.c), the node-to-node frame connections
 * (src/cluster/peer_conn.c) and the control socket's connections
 * (src/control/control.c).
 *
 * The owner embeds a struct conn (the fields are private to conn.c), sets
 * its callbacks with conn_init(), and frees its own memory only in
 * on_close. The layer reports and never decides: a read error, a failed
 * write or a TLS failure is handed to the owner, which logs what it wants
 * and calls conn_close(). After conn_close() no callback but on_close runs.
 *
 * How the two later users sit on it:
 *  - src/cluster/peer_conn.c: conn_accept() or conn_connect_tcp(), mutual
 *    TLS through conn_starttls_server()/conn_starttls_client(), the hello
 *    deadline on the one timer; on_data feeds the frame reader (on_rx
 *    stamps last_rx); a send checks conn_write_queue_size() against its
 *    max_queued, then conn_writev() of header+payload (one copy).
 *  - src/control/control.c: a CONN_PIPE accepted with conn_accept() on the
 *    control listener (SO_PEERCRED through conn_fileno()); on_data appends
 *    to its line buffer (the layer's read buffer is scratch, so the owner
 *    keeps what it has not parsed yet); the pause while a request runs is
 *    conn_read_stop()/conn_read_start(); "close when flushed" (end of
 *    stream, an over-long line) is conn_close(c, 1), whose shutdown waits
 *    for the queued answers; EOF arrives as on_error(CONN_EV_READ,
 *    UV_EOF). No TLS, no timer (idle connections are swept by the server).
 *
 * Ownership: the struct conn is the owner's and must stay valid until
 * on_close has run; written bytes are copied; the TLS contexts are the
 * caller's and outlive the connection. Read data passed to on_data is valid
 * during the call only (a per-thread scratch buffer: one read is handled at
 * a time on a loop).
 * Errors: 0 or a negative libuv code; UV_ENOMEM when memory ran out,
 * UV_EPROTO for a TLS failure (conn_tls_error() says why).
 */
#ifndef SRC_BASE_CONN_H
#define SRC_BASE_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "src/base/tls.h"

#define CONN_CLOSE_WATCHDOG_MS 10000 /* a graceful close may take this long */

enum conn_kind { CONN_TCP, CONN_PIPE };

enum conn_tls_state { CONN_PLAIN, CONN_HANDSHAKE, CONN_TLS };

/* What failed, for on_error. */
enum conn_event {
	CONN_EV_READ,  /* code: a libuv read error, UV_EOF at end of stream */
	CONN_EV_WRITE, /* code: the libuv status of a queued write */
	CONN_EV_TLS,   /* code: TLS_E_* from the read side (handshake or
			  decryption; conn_tls_state() says which phase) */
};

struct conn;

/* Every callback is optional (NULL) but on_close. */
struct conn_cbs {
	/* conn_connect_*() finished: 0 or a libuv error. Reading is not
	 * started (conn_read_start). */
	void (*on_connect)(struct conn *c, int status);
	/* Octets arrived from the socket (ciphertext under TLS), before they
	 * are processed: for idle timers. */
	void (*on_rx)(struct conn *c, size_t n);
	/* Plaintext from the peer. */
	void (*on_data)(struct conn *c, const char *p, size_t n);
	/* The TLS handshake completed (before any plaintext after it). */
	void (*on_tls)(struct conn *c);
	void (*on_error)(struct conn *c, enum conn_event ev, int code);
	/* A queued write completed (see conn_writes_pending). */
	void (*on_written)(struct conn *c);
	void (*on_timer)(struct conn *c);
	/* Every handle is closed: the owner may free the memory now. Runs
	 * exactly once for every successful conn_init(). */
	void (*on_close)(struct conn *c);
};

/* Private to conn.c; in the header so that owners can embed it. */
struct conn {
	void *data; /* the owner's */
	const struct conn_cbs *cb;
	union {
		uv_handle_t h;
		uv_stream_t s;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} u;
	uv_timer_t timer;
	uv_connect_t creq;
	uv_shutdown_t sreq;
	struct tls_conn *tls;
	enum conn_tls_state tls_state;
	unsigned writes; /* uv_write requests in flight */
	int open;	 /* handles not yet closed */
	int reading;
	int closing;	     /* conn_close() was called */
	int handles_closing; /* uv_close() was called */
};

/* Set up the stream and the timer on loop. 0 or a libuv error (nothing to
 * close then). From here on, conn_close() must be called once. */
int conn_init(struct conn *c, uv_loop_t *loop, enum conn_kind kind,
	      const struct conn_cbs *cb, void *data);

/* Accept the pending connection of listener. 0 or a libuv error. */
int conn_accept(struct conn *c, uv_stream_t *listener);
/* Connect (CONN_TCP) to a numeric address, or (CONN_PIPE) to a path;
 * on_connect reports the result. 0 or a libuv error (no callback then;
 * a pipe connect always reports through on_connect). */
int conn_connect_tcp(struct conn *c, const struct sockaddr *sa);
void conn_connect_pipe(struct conn *c, const char *path);

/* Open (CONN_PIPE) on an existing connected socket fd, which the
 * connection then owns (a socket pair's end). 0 or a libuv error (the fd
 * is not taken then). */
int conn_open_fd(struct conn *c, int fd);

void conn_set_nodelay(struct conn *c);
/* The peer's address ("unknown" if none); IPv4-mapped IPv6 as IPv4. */
void conn_peer_ip(const struct conn *c, char *buf, size_t size);
/* "IP:PORT" of the peer ("?:0" if none). */
void conn_peer_name(const struct conn *c, char *buf, size_t size);
int conn_fileno(const struct conn *c, uv_os_fd_t *fd);

/* Flow control. Starting or stopping twice is harmless. 0 or a libuv
 * error. */
int conn_read_start(struct conn *c);
void conn_read_stop(struct conn *c);
int conn_reading(const struct conn *c);

/* Queue n octets (copied; encrypted once TLS is up; dropped during the
 * handshake and once the handles are closing). 0 or UV_ENOMEM, UV_EPROTO
 * (TLS), a libuv error. */
int conn_write(struct conn *c, const void *p, size_t n);
/* The same for several pieces sent as one (one copy, one request in the
 * clear: a frame header and its payload). */
int conn_writev(struct conn *c, const uv_buf_t *bufs, unsigned nbufs);
/* Octets queued in the kernel's stead, and writes not yet completed. */
size_t conn_write_queue_size(const struct conn *c);
unsigned conn_writes_pending(const struct conn *c);

/* Begin TLS on the stream. Server: waits for the ClientHello. Client:
 * sends it now (a failure already shows as on_error(CONN_EV_TLS)).
 * 0, UV_EALREADY (TLS is on) or UV_ENOMEM. */
int conn_starttls_server(struct conn *c, struct tls_ctx *ctx);
int conn_starttls_client(struct conn *c, struct ssl_ctx_st *ctx,
			 const char *sni);
enum conn_tls_state conn_tls_state(const struct conn *c);
const char *conn_tls_error(const struct conn *c);
const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);
/* The node id the verified peer certificate names (tls_conn_peer_node):
 * 0 and *id, or -1. */
int conn_tls_peer_node(const struct conn *c, unsigned long long *id);

/* The one timer: (re)start for ms (0 = stop); ignored once closing. */
void conn_timer(struct conn *c, uint64_t ms);

/* Close. graceful: stop reading, send close_notify under TLS, then shut
 * the stream down after the queued writes (at most
 * CONN_CLOSE_WATCHDOG_MS); otherwise close now. A later non-graceful call
 * cuts a graceful close short; any other later call does nothing. */
void conn_close(struct conn *c, int graceful);
int conn_closing(const struct conn *c);

#endif
