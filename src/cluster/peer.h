/*
 * peer.h — the node-to-node forwarding protocol (cluster port = raft
 * port + 1): versioned, length-prefixed frames, and the connection that
 * carries them over libuv TCP.
 *
 * Frame (big-endian): u32 magic 'SCF1', u8 type, u8 version (1), u16
 * reserved (0), u32 payload length, u64 request id, then the payload.
 * A frame whose length is over the reader's maximum (the configured
 * max_frame plus PEER_HEADROOM) is refused before anything is allocated;
 * a bad magic, version, type or reserved field is refused too. The
 * connection is then closed, with one log line.
 *
 * Payloads:
 *   PROPOSE       an encoded spool command (node and req already set)
 *   RESULT        i32 status (PEER_R_*), then for PEER_R_OK the encoded
 *                 spool result
 *   ADMIN         u8 op (PEER_OP_*), u64 id, str address, u64 a, b, c
 *                 (REPORT: a = applied, b = last log index, c = commit)
 *   ADMIN         SERVICE_SHOW / SERVICE_SET (issue #14, another layout):
 *                 u8 op, u64 node (the node asked; it refuses another
 *                 id), u32 mask, then one str per bit set in mask, the
 *                 lowest bit first: at most PEER_SERVICE_VALUES bits, each
 *                 value at most PEER_SERVICE_VALUE_MAX bytes (SHOW: mask
 *                 0). Answered with an ADMIN_RESULT: status 0 and the
 *                 node's answer as JSON (cluster_service.c), or a
 *                 CLUSTER_E_* and why the node refused the frame.
 *   ADMIN_RESULT  i32 status (0 or CLUSTER_E_*), str message (STATUS: the
 *                 leader's status JSON); with request id 0, the leader's
 *                 answer to a REPORT: status 0 and the placement view,
 *                 the ids of the members it hears from in decimal, one
 *                 space apart (cluster_live.c; a node without it ignores
 *                 the frame, as no request has id 0)
 *
 * Ownership: a frame handed to on_frame owns its payload (malloc'd) only
 * for the duration of the call unless the callee takes it (sets
 * frame->payload to NULL). Connections are freed by their own close
 * callback, after on_close ran.
 */
#ifndef SRC_PEER_H
#define SRC_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "src/base/conn.h"

#define PEER_MAGIC 0x53434631u /* "SCF1" */
#define PEER_VERSION 1
#define PEER_HDR_LEN 20
#define PEER_HEADROOM 4096u

enum peer_type {
	PEER_PROPOSE = 1,
	PEER_RESULT = 2,
	PEER_ADMIN = 3,
	PEER_ADMIN_RESULT = 4,
};

enum peer_result_status {
	PEER_R_OK = 0,	   /* applied; the spool result follows */
	PEER_R_RETRY = 1,  /* not leader / leadership lost: find the leader */
	PEER_R_TOOBIG = 2, /* refused: larger than the leader accepts */
	PEER_R_FAILED = 3, /* refused or lost for good */
};

enum peer_admin_op {
	PEER_OP_ADD = 1,
	PEER_OP_REMOVE = 2,
	PEER_OP_TRANSFER = 3,
	PEER_OP_STATUS = 4,
	PEER_OP_REPORT = 5,	  /* answered with the placement view (req 0) */
	PEER_OP_SERVICE_SHOW = 6, /* struct peer_service: a node's receiver */
	PEER_OP_SERVICE_SET = 7,  /* settings, shown or changed */
};

enum peer_err {
	PEER_E_MAGIC = -1,
	PEER_E_VERSION = -2,
	PEER_E_TYPE = -3,
	PEER_E_RESERVED = -4,
	PEER_E_TOOBIG = -5,
	PEER_E_NOMEM = -6,
};

struct peer_frame {
	uint8_t type;
	uint64_t req;
	uint32_t len;
	uint8_t *payload; /* malloc'd, len bytes (NULL when len is 0) */
};

/* Header codec. decode checks magic, version, type, reserved and the
 * length against max_payload. */
void peer_hdr_encode(uint8_t out[PEER_HDR_LEN], uint8_t type, uint32_t len,
		     uint64_t req);
int peer_hdr_decode(const uint8_t in[PEER_HDR_LEN], uint64_t max_payload,
		    struct peer_frame *f);
const char *peer_strerror(int err);

/* Incremental reader: feed bytes as they come. */
struct peer_reader {
	uint64_t max_payload;
	uint8_t hdr[PEER_HDR_LEN];
	size_t hdr_got;
	int in_payload;
	struct peer_frame cur;
	size_t got;
};

void peer_reader_init(struct peer_reader *r, uint64_t max_payload);
/* Consume up to n bytes (*used tells how many). 1: a frame is complete
 * and moved to *out (the caller frees out->payload); 0: all n bytes used,
 * need more; < 0: PEER_E_*, the stream is unusable. */
int peer_reader_feed(struct peer_reader *r, const uint8_t *p, size_t n,
		     size_t *used, struct peer_frame *out);
void peer_reader_free(struct peer_reader *r);

/* Payload helpers (spool/codec/wire.h encoding). The decoders require every
 * byte to be used: 0 or -1. */
struct peer_admin {
	uint8_t op;
	uint64_t id;
	const char *address; /* points into the payload */
	uint64_t a, b, c;
};
uint8_t *peer_admin_encode(const struct peer_admin *a, size_t *len);
int peer_admin_decode(struct peer_admin *a, const uint8_t *p, size_t len);
/* SERVICE_SHOW / SERVICE_SET. decode also refuses another op, mask bits
 * at or above PEER_SERVICE_VALUES, SHOW with a mask and a value longer
 * than PEER_SERVICE_VALUE_MAX; encode returns NULL for the same, or a
 * NULL value of a bit in mask. */
#define PEER_SERVICE_VALUES 8
#define PEER_SERVICE_VALUE_MAX 255
struct peer_service {
	uint8_t op;
	uint64_t node;
	uint32_t mask;
	/* values[k] is bit 1 << k's; decode points them into the payload
	 * (NULL for a bit not in mask) */
	const char *values[PEER_SERVICE_VALUES];
};
uint8_t *peer_service_encode(const struct peer_service *s, size_t *len);
int peer_service_decode(struct peer_service *s, const uint8_t *p, size_t len);
/* 1 when an ADMIN payload is a SERVICE_* request (its first byte). */
int peer_admin_is_service(const uint8_t *p, size_t len);
uint8_t *peer_status_encode(int32_t status, const void *body, size_t blen,
			    int as_string, size_t *len);
/* RESULT: status then raw bytes; ADMIN_RESULT: status then a string. */
int peer_result_decode(const uint8_t *p, size_t len, int32_t *status,
		       const uint8_t **body, size_t *blen);
int peer_admin_result_decode(const uint8_t *p, size_t len, int32_t *status,
			     const char **msg);

/* ---- The cluster's mutual TLS and the forwarding hello ----
 *
 * A forwarding connection is TLS 1.3 with a certificate on both sides
 * from the cluster CA (cluster_tls.c holds the contexts). Right after the
 * handshake the connecting node sends its hello, 16 bytes: u32 magic
 * 'SCH1', u32 version (1), u64 its node id (big-endian). The accepting
 * side takes frames only once the hello names the id its certificate
 * names; the connecting side checks that the accepting side's
 * certificate names the node it meant to reach. Anything else closes the
 * connection before a frame is parsed, with a log line (peer address and
 * reason) and one more in *refused. */
#define PEER_HELLO_MAGIC 0x53434831u /* "SCH1" */
#define PEER_HELLO_LEN 16
#define PEER_HELLO_MS 5000 /* TLS handshake and hello must finish within */

struct tls_ctx;
struct ssl_ctx_st;

struct peer_tls {
	struct tls_ctx *server;	   /* NULL: plaintext (insecure_plaintext) */
	struct ssl_ctx_st *client; /* NULL: plaintext */
	uint64_t self_id;
	unsigned long long refused; /* forwarding connections refused */
};

void peer_hello_encode(uint8_t out[PEER_HELLO_LEN], uint64_t id);
/* 0 and *id, or -1 (bad magic or version, or id 0). */
int peer_hello_decode(const uint8_t in[PEER_HELLO_LEN], uint64_t *id);

/* ---- A connection carrying frames ---- */

struct peer_conn;
typedef void (*peer_frame_cb)(struct peer_conn *conn, struct peer_frame *f);
typedef void (*peer_close_cb)(struct peer_conn *conn);
typedef void (*peer_connect_cb)(struct peer_conn *conn, int status);

/* The connection's life (peer_conn.c, legal[] there). */
enum peer_state {
	PS_CONNECTING, /* connect: TCP connect in progress */
	PS_TLS,	       /* TLS handshake */
	PS_HELLO,      /* accept: waiting for the hello */
	PS_OPEN,       /* frames flow */
	PS_CLOSED,
};

struct peer_conn {
	struct conn conn;
	struct peer_reader rd;
	struct peer_tls *tls; /* the owner's; contexts read at accept/connect */
	enum peer_state state;
	uint64_t id;	  /* unique per process, for lookups */
	uint64_t node_id; /* the peer's node id (certificate and hello) */
	int connected;	  /* state is PS_OPEN */
	int closing;
	char peer[96]; /* for log lines */
	uint8_t hello[PEER_HELLO_LEN];
	size_t hello_got;
	void *owner;
	void *user; /* owner's per-connection data */
	peer_frame_cb on_frame;
	peer_close_cb on_close;
	peer_connect_cb on_connect;
	size_t max_queued; /* close when more unsent bytes than this */
	uint64_t frames_in;
	uint64_t last_rx;	    /* uv_now() of the last bytes received */
	LIST_ENTRY(peer_conn) next; /* owner's list (server side) */
};

/* Accept a pending connection on server. NULL on failure (logged). */
struct peer_conn *peer_conn_accept(uv_stream_t *server, struct peer_tls *tls,
				   uint64_t max_payload, void *owner,
				   peer_frame_cb on_frame,
				   peer_close_cb on_close);
/* Connect to HOST:PORT (numeric address) of node expect_id; on_connect
 * reports 0 once TLS is up, the peer's certificate named expect_id and
 * the hello is sent. NULL on immediate failure. */
struct peer_conn *peer_conn_connect(uv_loop_t *loop, struct peer_tls *tls,
				    const char *host, int port,
				    uint64_t expect_id, uint64_t max_payload,
				    void *owner, peer_connect_cb on_connect,
				    peer_frame_cb on_frame,
				    peer_close_cb on_close);
/* Queue one frame (header + payload copied into one buffer). 0 or -1. */
int peer_conn_send(struct peer_conn *c, uint8_t type, uint64_t req,
		   const void *payload, size_t len);
/* 1 when a frame has begun arriving but is not complete. */
int peer_conn_mid_frame(const struct peer_conn *c);
/* Close; on_close runs later (once), then the connection is freed. */
void peer_conn_close(struct peer_conn *c, const char *why);

#endif
