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

/* NULL on failure (out of memory or libraft's transport init). */
struct rtransport *rtransport_new(uv_loop_t *loop);
struct raft_uv_transport *rtransport_iface(struct rtransport *t);
/* Connections refused at the handshake so far. */
unsigned long long rtransport_refused(const struct rtransport *t);
/* Only once the transport is closed (or was never used). */
void rtransport_free(struct rtransport *t);

#endif
