/*
 * forward.h — the node-to-node forwarding protocol (cluster port = raft
 * port + 1): versioned, length-prefixed frames, and the connection that
 * carries them over libuv TCP.
 *
 * Frame (big-endian): u32 magic 'SCF1', u8 type, u8 version (1), u16
 * reserved (0), u32 payload length, u64 request id, then the payload.
 * A frame whose length is over the reader's maximum (the configured
 * max_frame plus FWD_HEADROOM) is refused before anything is allocated;
 * a bad magic, version, type or reserved field is refused too. The
 * connection is then closed, with one log line.
 *
 * Payloads:
 *   PROPOSE       an encoded spool command (node and req already set)
 *   RESULT        i32 status (FWD_R_*), then for FWD_R_OK the encoded
 *                 spool result
 *   ADMIN         u8 op (FWD_OP_*), u64 id, str address, u64 a, b, c
 *                 (REPORT: a = applied, b = last log index, c = commit)
 *   ADMIN_RESULT  i32 status (0 or CLUSTER_E_*), str message (STATUS: the
 *                 leader's status JSON)
 *
 * Ownership: a frame handed to on_frame owns its payload (malloc'd) only
 * for the duration of the call unless the callee takes it (sets
 * frame->payload to NULL). Connections are freed by their own close
 * callback, after on_close ran.
 */
#ifndef SRC_FORWARD_H
#define SRC_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define FWD_MAGIC 0x53434631u /* "SCF1" */
#define FWD_VERSION 1
#define FWD_HDR_LEN 20
#define FWD_HEADROOM 4096u

enum fwd_type {
	FWD_PROPOSE = 1,
	FWD_RESULT = 2,
	FWD_ADMIN = 3,
	FWD_ADMIN_RESULT = 4,
};

enum fwd_result_status {
	FWD_R_OK = 0,	  /* applied; the spool result follows */
	FWD_R_RETRY = 1,  /* not leader / leadership lost: find the leader */
	FWD_R_TOOBIG = 2, /* refused: larger than the leader accepts */
	FWD_R_FAILED = 3, /* refused or lost for good */
};

enum fwd_admin_op {
	FWD_OP_ADD = 1,
	FWD_OP_REMOVE = 2,
	FWD_OP_TRANSFER = 3,
	FWD_OP_STATUS = 4,
	FWD_OP_REPORT = 5, /* no reply */
};

enum fwd_err {
	FWD_E_MAGIC = -1,
	FWD_E_VERSION = -2,
	FWD_E_TYPE = -3,
	FWD_E_RESERVED = -4,
	FWD_E_TOOBIG = -5,
	FWD_E_NOMEM = -6,
};

struct fwd_frame {
	uint8_t type;
	uint64_t req;
	uint32_t len;
	uint8_t *payload; /* malloc'd, len bytes (NULL when len is 0) */
};

/* Header codec. decode checks magic, version, type, reserved and the
 * length against max_payload. */
void fwd_hdr_encode(uint8_t out[FWD_HDR_LEN], uint8_t type, uint32_t len,
		    uint64_t req);
int fwd_hdr_decode(const uint8_t in[FWD_HDR_LEN], uint64_t max_payload,
		   struct fwd_frame *f);
const char *fwd_strerror(int err);

/* Incremental reader: feed bytes as they come. */
struct fwd_reader {
	uint64_t max_payload;
	uint8_t hdr[FWD_HDR_LEN];
	size_t hdr_got;
	int in_payload;
	struct fwd_frame cur;
	size_t got;
};

void fwd_reader_init(struct fwd_reader *r, uint64_t max_payload);
/* Consume up to n bytes (*used tells how many). 1: a frame is complete
 * and moved to *out (the caller frees out->payload); 0: all n bytes used,
 * need more; < 0: FWD_E_*, the stream is unusable. */
int fwd_reader_feed(struct fwd_reader *r, const uint8_t *p, size_t n,
		    size_t *used, struct fwd_frame *out);
void fwd_reader_free(struct fwd_reader *r);

/* Payload helpers (spool/wire.h encoding). The decoders require every
 * byte to be used: 0 or -1. */
struct fwd_admin {
	uint8_t op;
	uint64_t id;
	const char *address; /* points into the payload */
	uint64_t a, b, c;
};
uint8_t *fwd_admin_encode(const struct fwd_admin *a, size_t *len);
int fwd_admin_decode(struct fwd_admin *a, const uint8_t *p, size_t len);
uint8_t *fwd_status_encode(int32_t status, const void *body, size_t blen,
			   int as_string, size_t *len);
/* RESULT: status then raw bytes; ADMIN_RESULT: status then a string. */
int fwd_result_decode(const uint8_t *p, size_t len, int32_t *status,
		      const uint8_t **body, size_t *blen);
int fwd_admin_result_decode(const uint8_t *p, size_t len, int32_t *status,
			    const char **msg);

/* ---- A connection carrying frames ---- */

struct fwd_conn;
typedef void (*fwd_frame_cb)(struct fwd_conn *conn, struct fwd_frame *f);
typedef void (*fwd_close_cb)(struct fwd_conn *conn);
typedef void (*fwd_connect_cb)(struct fwd_conn *conn, int status);

struct fwd_conn {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	struct fwd_reader rd;
	uint64_t id; /* unique per process, for lookups */
	int connected;
	int closing;
	char peer[96]; /* for log lines */
	void *owner;
	void *user; /* owner's per-connection data */
	fwd_frame_cb on_frame;
	fwd_close_cb on_close;
	fwd_connect_cb on_connect;
	size_t max_queued; /* close when more unsent bytes than this */
	uint64_t frames_in;
	uint64_t last_rx;	      /* uv_now() of the last bytes received */
	struct fwd_conn *next, *prev; /* owner's list */
};

/* Accept a pending connection on server. NULL on failure (logged). */
struct fwd_conn *fwd_conn_accept(uv_stream_t *server, uint64_t max_payload,
				 void *owner, fwd_frame_cb on_frame,
				 fwd_close_cb on_close);
/* Connect to HOST:PORT (numeric address). NULL on immediate failure. */
struct fwd_conn *fwd_conn_connect(uv_loop_t *loop, const char *host, int port,
				  uint64_t max_payload, void *owner,
				  fwd_connect_cb on_connect,
				  fwd_frame_cb on_frame, fwd_close_cb on_close);
/* Queue one frame (header + payload copied into one buffer). 0 or -1. */
int fwd_conn_send(struct fwd_conn *c, uint8_t type, uint64_t req,
		  const void *payload, size_t len);
/* 1 when a frame has begun arriving but is not complete. */
int fwd_conn_mid_frame(const struct fwd_conn *c);
/* Close; on_close runs later (once), then the connection is freed. */
void fwd_conn_close(struct fwd_conn *c, const char *why);

#endif
