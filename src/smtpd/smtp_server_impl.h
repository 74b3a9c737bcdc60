/*
 * smtp_server_impl.h — private to smtp_server.c and smtp_inbound.c: the
 * server and connection structures and the calls between the two files.
 * Nothing else includes it.
 */
#ifndef SRC_SMTP_SERVER_IMPL_H
#define SRC_SMTP_SERVER_IMPL_H

#include <netinet/in.h>
#include <stdint.h>
#include <uv.h>

#include "spool/codec/aliases.h"
#include "spool/codec/ctlname.h"
#include "src/smtpd/smtp_policy.h"
#include "src/smtpd/smtp_server.h"
#include "src/smtpd/smtp_session.h"
#include "src/base/tls.h"

#define SMTP_TRUSTED_MAX 64
#define SMTP_IO_BUF (64 * 1024)

struct srv_conn;

struct smtp_server {
	uv_loop_t *loop;
	struct cluster *cl;
	struct spool *sp;
	uv_tcp_t listener;
	char node_name[CTLNAME_NODE_MAX + 1];
	char node_domain[256];
	char listen[256];
	uint64_t node_id;
	unsigned max_sessions, max_per_ip, reply_timeout_ms;
	struct policy_net trusted[SMTP_TRUSTED_MAX];
	size_t ntrusted;
	struct tls_ctx *tls;	      /* NULL: no STARTTLS */
	struct aliases local_aliases; /* node-local alias file */
	uint32_t seq;		      /* control-file sequence */
	struct srv_conn *conns;	      /* every connection not yet freed */
	unsigned nconns;
	struct smtp_stats stats;
	int check_users;     /* maildir backend with a mail_root */
	char mail_root[256]; /* where RCPT looks for <user>/ */
	int stopping, listener_closed;
	void (*stop_cb)(void *);
	void *stop_arg;
	/* one read is handled at a time on the loop: shared buffers */
	char rbuf[SMTP_IO_BUF];
	char plain[SMTP_IO_BUF];
};

/* A proposal in flight. It outlives its connection when the client goes
 * away or the reply deadline passes first: c is then NULL and the
 * cluster's answer only frees it. */
struct srv_pending {
	struct srv_conn *c;
};

enum { STREAM_PLAIN, STREAM_HANDSHAKE, STREAM_TLS };

struct srv_conn {
	struct smtp_server *srv;
	uv_tcp_t tcp;
	uv_timer_t timer; /* receive timeout, reply deadline, close watchdog */
	uv_shutdown_t shutdown_req;
	struct smtp_session *sess; /* NULL for a refused connection */
	struct tls_conn *tls;
	int tls_state; /* STREAM_* */
	struct srv_pending *prop;
	char ip[INET6_ADDRSTRLEN];
	uint64_t receive_timeout_ms;
	int closing; /* no more I/O; handles close soon */
	int handles_closing;
	int open_handles;
	int reading;
	struct srv_conn *prev, *next;
};

/* smtp_server.c */
void smtp_srv_on_connection(uv_stream_t *l, int status);
/* Free the stopping server once everything is closed (calls stop_cb). */
void smtp_srv_maybe_done(struct smtp_server *s);
uint64_t smtp_srv_now_ms(void);
/* Cluster-wide (spool) or node-local alias: 1, 0, or negative. */
int smtp_srv_alias_has(struct smtp_server *s, const char *domain);

/* smtp_inbound.c */
/* Accept a pending connection and link it; NULL if that failed. */
struct srv_conn *smtp_inbound_accept(struct smtp_server *s);
/* Send one reply line (a 421) and close. */
void smtp_inbound_refuse(struct srv_conn *c, const char *line);
/* Create the session, greet, start reading. */
void smtp_inbound_begin(struct srv_conn *c, const struct smtp_session_conf *sc);
/* The server stops: 421 and close (after the answer if queueing). */
void smtp_inbound_shutdown(struct srv_conn *c);

#endif
