/*
 * smtp_server.h — the node's SMTP receiver on the libuv loop (seed 18.1.1,
 * issue #4): listens, enforces the connection limits, runs one
 * smtp_session per client with STARTTLS (tls.c) and the receive timeout,
 * and proposes each finished message to the cluster. The reply "250
 * 2.0.0 Ok: queued as NAME" is sent only once the ENQUEUE entry has been
 * applied on the leader (committed on a quorum); no answer within
 * reply_timeout_ms gives "451 4.3.0".
 *
 * For main.c:
 *     struct smtp_opts o = {.node_name = conf.name, .node_domain =
 *         conf.domain, .node_id = conf.id, .listen = conf.smtp_listen};
 *     smtp_server_start(&srv, loop, &o, cluster, spool);
 *     ...
 *     smtp_server_stop(srv, stopped_cb, arg);   (before cluster_stop)
 *
 * Ownership: the options' strings are copied at start. The cluster and the
 * spool belong to the caller and must outlive the server (until the stop
 * callback). The server frees itself just before calling the stop
 * callback.
 * Configuration read from the spool at each connection: SIZE limit,
 * recipients, hop count, /OPTIONS=RELAY, /RECEIVE_TIMEOUT, cluster domain.
 * The node's own receiver settings (listen, limits, trusted networks,
 * STARTTLS files) change on the running server through
 * smtp_server_reconfigure (SET SERVICE SMTP, issue #14).
 */
#ifndef SRC_SMTP_SERVER_H
#define SRC_SMTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "spool/store/spool.h"
#include "src/cluster/cluster.h"
#include "src/smtpd/smtp_session.h"

struct smtp_opts {
	const char *node_name;	 /* SCSNODE: control-file names, Received: */
	const char *node_domain; /* greeting; mail for it is local */
	uint64_t node_id;	 /* origin_node of received control files */
	const char *listen;	 /* "HOST:PORT" ("[v6]:PORT") */
	/* submission listeners (RFC 6409, 8314), NULL/"" = none; both need
	 * tls_cert. AUTH (smtp_auth.c) must be started by the caller. */
	const char *submission_listen;	   /* STARTTLS, then AUTH (587) */
	const char *submission_tls_listen; /* implicit TLS (465) */
	/* the sender-login map of the submission listeners
	 * (smtp_senderlogin.h), NULL/"" = none: then a login with an '@'
	 * owns that address only, one without any sender */
	const char *sender_logins;
	const char *tls_cert; /* PEM chain; NULL/"" = no STARTTLS */
	const char *tls_key;  /* PEM key */
	/* trusted networks (relaying allowed): CIDRs separated by commas or
	 * spaces; NULL or "" = "127.0.0.1/32", "none" = no network */
	const char *trusted;
	const char *aliases_file; /* node-local alias file (seed 18.3), "" =
				     none; cluster-wide aliases come from the
				     spool */
	unsigned max_sessions;	  /* per node; 0 = 100 */
	/* 1 while the node's disk is under its reserve (diskguard_low): new
	 * mail gets 452 4.3.1. NULL: never. */
	int (*storage_low)(void);
	unsigned max_per_ip;	   /* per client address; 0 = 20 */
	unsigned reply_timeout_ms; /* wait for the quorum; 0 = 30000 */
	/* Local delivery as the node config's [delivery] section sets it
	 * (issue #4): with backend "maildir" (or NULL/"") and a mail_root, a
	 * local recipient without a mailbox <mail_root>/<user> (after the
	 * forward table and the postmaster default) is refused at RCPT with
	 * "550 5.1.1 <addr>: no such user here". "lmtp" or no mail_root:
	 * every local recipient is accepted. */
	const char *local_backend;
	const char *mail_root;
};

/* Statistics for "show service smtp". */
struct smtp_stats {
	uint64_t connections;  /* accepted TCP connections since start */
	uint64_t active;       /* open sessions now */
	uint64_t messages;     /* messages queued (250 sent) */
	uint64_t bytes;	       /* octets of the queued messages */
	uint64_t discarded;    /* partial messages dropped (disconnect,
				  timeout) */
	uint64_t tls_sessions; /* completed TLS handshakes */
	uint64_t logins;       /* successful SMTP AUTH (submission) */
	uint64_t rejected[SMTP_REJ__COUNT]; /* by enum smtp_reject */
};

struct smtp_server;

/* Listen and serve. 0, or a negative SPOOL_E_* (SPOOL_E_INVAL for bad
 * options, a certificate that does not load or a bad trusted network;
 * SPOOL_E_IO when the address cannot be bound); the reason is logged. */
int smtp_server_start(struct smtp_server **out, uv_loop_t *loop,
		      const struct smtp_opts *o, struct cluster *cl,
		      struct spool *sp);

/* Stop listening, end every session with 421 4.3.2 (a session waiting for
 * its quorum first gets its answer, at most reply_timeout_ms later), then
 * call cb(arg) once every handle is closed and free the server. */
void smtp_server_stop(struct smtp_server *s, void (*cb)(void *arg), void *arg);

/* SIGHUP: read the sender-login map again (when one is configured). 0,
 * or a negative SPOOL_E_* when the file cannot be read or has a bad line:
 * the reason is logged (file and line) and the map in use is kept. */
int smtp_server_reload(struct smtp_server *s);

/* A copy of the counters. */
void smtp_server_stats(const struct smtp_server *s, struct smtp_stats *out);

/* The receiver settings SET SERVICE SMTP changes on a running server
 * (smtp_server_reconf.c), with smtp_opts' meanings. A NULL string or a
 * zero number keeps the current value. */
struct smtp_settings {
	const char *listen;   /* MX listener "HOST:PORT" */
	const char *tls_cert; /* with tls_key: new STARTTLS files */
	const char *tls_key;
	const char *trusted; /* trusted networks, "none" */
	unsigned max_sessions;
	unsigned max_per_ip;
};

struct smtp_change;

/* Make ready everything a change needs without touching the running
 * server: bind and listen on a new listen address (the old listener keeps
 * accepting meanwhile), load the TLS files, parse the networks. 0 and
 * *out, or -1 with the reason in err ("cannot listen on ...: address
 * already in use") and nothing changed. */
int smtp_server_prepare(struct smtp_server *s, const struct smtp_settings *n,
			struct smtp_change **out, char *err, size_t errsize);

/* Apply a prepared change: new connections get the new limits, trusted
 * networks and certificate at once; the old listener (if the address
 * changed) is closed, its connections kept. Sessions already open keep the
 * trust decision and limits they got when they connected; one that has not
 * started TLS yet gets the new certificate. Frees ch. */
void smtp_server_commit(struct smtp_server *s, struct smtp_change *ch);

/* Drop a prepared change (closing its new listener); frees ch. */
void smtp_server_abort(struct smtp_server *s, struct smtp_change *ch);

/* SET SERVICE SMTP in one call: prepare the keys of mask (NODECONF_OV_*)
 * from next, write the override file with them (nodeconf_override_write:
 * next's earlier override keys plus mask), then commit; abort when the
 * file cannot be written. 0, or -1 with the reason in err and nothing
 * changed. */
struct nodeconf;
int smtp_server_reconfigure(struct smtp_server *s, const struct nodeconf *next,
			    unsigned mask, char *err, size_t errsize);

/* The settings in force (strings valid until the next commit). */
void smtp_server_settings(const struct smtp_server *s,
			  struct smtp_settings *out);

/* Stable lower-case name of an enum smtp_reject ("relay", "size", ...). */
const char *smtp_reject_name(int reason);

#endif
