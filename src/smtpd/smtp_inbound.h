/*
 * smtp_inbound.h — one SMTP receiver connection (smtp_inbound.c) as its
 * listener (smtp_server.c) sees it: accept it, refuse it with a 421, or
 * begin its session; count the connections from an address; end them all
 * when the server stops.
 *
 * The arrow points one way: the listener creates connections and gives
 * each the same struct smtp_inbound_host. A connection reaches back only
 * through that struct: the cluster, the TLS context, the counters it
 * bumps, and two callbacks (alias_has, and
 * released when a connection is freed). It never sees the listener.
 *
 * Ownership: the host is the listener's and must outlive every connection
 * (released reports each one freed; host->nconns == 0 means none is
 * left). A connection frees itself once its handles are closed.
 */
#ifndef SRC_SMTPD_SMTP_INBOUND_H
#define SRC_SMTPD_SMTP_INBOUND_H

#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "src/base/tls.h"
#include "src/smtpd/smtp_server.h"
#include "src/smtpd/smtp_session.h"

struct cluster;
struct smtp_inbound;
struct inbound_orphans;

LIST_HEAD(smtp_inbound_list, smtp_inbound);

/* What a listener shares with its connections. */
struct smtp_inbound_host {
	uv_loop_t *loop;
	struct cluster *cl;
	struct tls_ctx *tls; /* NULL: no STARTTLS */
	unsigned reply_timeout_ms;
	struct smtp_stats *stats; /* bumped by the connections */
	uint64_t (*now_ms)(void);
	int (*storage_low)(void); /* NULL: never (smtp_opts.storage_low) */
	/* cluster-wide or node-local alias: 1, 0, or negative */
	int (*alias_has)(void *arg, const char *domain);
	/* a connection was freed (nconns is already one lower) */
	void (*released)(void *arg);
	void *arg;
	/* every connection not yet freed; kept by smtp_inbound.c */
	struct smtp_inbound_list conns;
	unsigned nconns;
	/* proposals whose client went away (or whose reply deadline passed)
	 * while the cluster still holds them: they count against the
	 * limits like a connection (smtp_inbound_load, _count_ip). Made on
	 * first use; shared with those proposals, so it outlives the host
	 * until the last is answered (smtp_inbound_host_release). */
	struct inbound_orphans *orphans;
};

/* Connections plus abandoned proposals still held by the cluster. */
unsigned smtp_inbound_load(const struct smtp_inbound_host *h);

/* The host goes: drop its share of the abandoned proposals' record. */
void smtp_inbound_host_release(struct smtp_inbound_host *h);

/* Accept the pending connection of listener and count it in h. NULL when
 * that failed (logged; a failed accept stays counted until its handles are
 * closed). */
struct smtp_inbound *smtp_inbound_accept(struct smtp_inbound_host *h,
					 uv_stream_t *listener);

/* The client's address as text. */
const char *smtp_inbound_ip(const struct smtp_inbound *c);

/* Connections from ip that are not closing, self aside, plus the
 * abandoned proposals of clients from ip. */
unsigned smtp_inbound_count_ip(const struct smtp_inbound_host *h,
			       const char *ip, const struct smtp_inbound *self);

/* Send one reply line (a 421) and close. */
void smtp_inbound_refuse(struct smtp_inbound *c, const char *line);

/* Create the session, greet, start reading; receive_timeout_ms bounds the
 * wait for each read. sc->submission: the connection gets its own SASL
 * state (sc->auth is set here); sc->implicit_tls: TLS first, the greeting
 * once the handshake is done. */
void smtp_inbound_begin(struct smtp_inbound *c,
			const struct smtp_session_conf *sc,
			uint64_t receive_timeout_ms);

/* The server stops: every connection gets 421 and is closed (after the
 * answer of a proposal in flight). */
void smtp_inbound_shutdown_all(struct smtp_inbound_host *h);

#endif
