/*
 * transport.h — the raft TCP transport: libraft's own for outgoing
 * connections, and our listener for incoming ones, which checks the
 * handshake (protocol, server id, a bounded NUL-terminated address)
 * before libraft sees the connection.
 *
 * Why: libraft 0.22.1's listener allocates whatever address length a peer
 * announces and reads the address without checking its terminator (a heap
 * over-read on garbage). Only the handshake is checked here; what follows
 * it is libraft's protocol.
 *
 * With a wrap (struct rtransport_wrap, below), both directions run over
 * a secure channel the daemon supplies (src/cluster/cluster_rafttls.c:
 * mutual TLS): libraft reads and writes one end of a local socket pair,
 * the wrap pumps the other end through TLS over TCP. The accepting side
 * then also checks that the handshake's server id is the node id the
 * peer's certificate names; the connecting side has the wrap check that
 * the peer's certificate names the server it dials. raft/ knows nothing
 * of TLS: it only sees file descriptors and ids.
 *
 * Ownership: rtransport_new allocates; the struct raft_uv_transport it
 * returns goes to raft_uv_init. After raft (and so the transport) is
 * closed, rtransport_free releases it. An accepted stream is raft_malloc'd
 * and handed to libraft, which closes and frees it.
 */
#ifndef RAFT_TRANSPORT_H
#define RAFT_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#define RTRANSPORT_ADDRESS_MAX 256   /* handshake address bytes, padded */
#define RTRANSPORT_PENDING_MAX 64    /* handshakes in progress */
#define RTRANSPORT_HANDSHAKE_MS 5000 /* a handshake must finish within */

struct rtransport;

/* The end of one wrapped connection: fd >= 0 is this side's end of a
 * connected local socket pair that carries the connection's plaintext
 * (the transport owns it from here), peer_id the node id the peer's
 * certificate names and peer its address for log lines; fd < 0: the
 * connection failed or was refused (the wrap logged and counted why). */
typedef void (*rwrap_done)(void *arg, int fd, uint64_t peer_id,
			   const char *peer);

struct rtransport_wrap {
	void *data;
	/* Accept the pending connection of listener, then done(arg, ...)
	 * once, later. 0, or a libuv error (done will not run). */
	int (*accept)(void *data, uv_stream_t *listener, rwrap_done done,
		      void *arg);
	/* Connect to sa (address: for log lines) where server id must
	 * answer, then done(arg, ...) once, later. 0 or a libuv error. */
	int (*connect)(void *data, const struct sockaddr *sa,
		       const char *address, uint64_t id, rwrap_done done,
		       void *arg);
	/* done will not run for arg (the transport is closing). */
	void (*cancel)(void *data, void *arg);
};

/* wrap: NULL for plain TCP, else it must outlive the transport. NULL on
 * failure (out of memory or libraft's transport init). */
struct rtransport *rtransport_new(uv_loop_t *loop,
				  const struct rtransport_wrap *wrap);
struct raft_uv_transport *rtransport_iface(struct rtransport *t);
/* Connections refused at the handshake so far. */
unsigned long long rtransport_refused(const struct rtransport *t);
/* Only once the transport is closed (or was never used). */
void rtransport_free(struct rtransport *t);

#endif
