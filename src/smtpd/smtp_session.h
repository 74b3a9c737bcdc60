/*
 * smtp_session.h — one SMTP receiver session as a state machine, with no
 * I/O of its own: the server (smtp_server.c) feeds it the client's octets
 * and gives it a small environment of callbacks to write replies, propose
 * the finished message to the cluster, switch to TLS and close.
 *
 * States: CONNECTED (greeting sent) -> GREETED (HELO/EHLO) -> MAIL ->
 * RCPT -> DATA (reading the message) -> QUEUEING (proposal in flight) ->
 * GREETED ...; CLOSED after QUIT, a timeout or a fatal error. One function
 * changes the state, logs "old -> new" and asserts the move is legal.
 *
 * Pipelining: input may hold any number of commands; they are handled in
 * order, and nothing after the end of a message is handled until that
 * message's proposal has been answered (smtp_session_proposed()), so
 * replies always come out in command order.
 *
 * Durability: "250 2.0.0 Ok: queued as NAME" is written only from
 * smtp_session_proposed() with an applied, accepted result — i.e. after
 * the ENQUEUE entry was committed on a quorum and applied on the leader.
 *
 * Ownership: the server creates and frees the session; strings in the conf
 * are copied. Callbacks may be called from inside any smtp_session_* call.
 * smtp_session_proposed() may be called from inside env->propose (a
 * synchronous answer) or later.
 */
#ifndef SRC_SMTP_SESSION_H
#define SRC_SMTP_SESSION_H

#include <stddef.h>
#include <stdint.h>

enum smtp_state {
	SMTP_S_CONNECTED = 0, /* greeting sent, no HELO/EHLO yet */
	SMTP_S_GREETED,	      /* HELO/EHLO done, no transaction */
	SMTP_S_MAIL,	      /* MAIL accepted, no recipient yet */
	SMTP_S_RCPT,	      /* at least one recipient accepted */
	SMTP_S_DATA,	      /* reading the message */
	SMTP_S_BDAT,	      /* between or inside BDAT chunks (RFC 3030) */
	SMTP_S_QUEUEING,      /* the message's proposal is in flight */
	SMTP_S_CLOSED,	      /* QUIT, timeout or fatal error: input ignored */
	SMTP_S_AUTH,	      /* AUTH exchange: lines are SASL responses */
	SMTP_S__COUNT
};

/* Why something was refused, for the statistics (smtp_server_stats). */
enum smtp_reject {
	SMTP_REJ_LIMIT = 0, /* connection over max_sessions / max_per_ip */
	SMTP_REJ_SYNTAX,    /* bad command, sequence or argument */
	SMTP_REJ_RELAY,	    /* 550 5.7.1 relaying denied */
	SMTP_REJ_RCPTS,	    /* 452 4.5.3 too many recipients */
	SMTP_REJ_SIZE,	    /* 552 5.3.4 at MAIL or DATA */
	SMTP_REJ_BARE,	    /* 554 5.6.0 bare CR/LF */
	SMTP_REJ_LONG,	    /* 500 5.5.6 line over 998 octets */
	SMTP_REJ_HOPS,	    /* 554 5.4.6 too many Received: */
	SMTP_REJ_NOQUORUM,  /* 451 4.3.0 no quorum before the deadline */
	SMTP_REJ_FULL,	    /* 452 4.3.1 spool full / no memory */
	SMTP_REJ_SPOOL,	    /* 554 5.3.0 other spool refusal */
	SMTP_REJ_TIMEOUT,   /* 421 4.4.2 receive timeout */
	SMTP_REJ_ERRORS,    /* 421 4.7.0 too many errors */
	SMTP_REJ_TLS,	    /* TLS handshake failed */
	SMTP_REJ_USER,	    /* 550 5.1.1 unknown local user at RCPT */
	SMTP_REJ_DISABLED,  /* 421 4.3.2 at connect: DISABLE SERVICE SMTP */
	SMTP_REJ_NUL,	    /* 554 5.6.0 NUL octet in the message */
	SMTP_REJ_AUTH,	    /* 535 5.7.8 failed AUTH, 530 5.7.0 required */
	SMTP_REJ_SENDER,    /* 553 5.7.1 sender not owned by the login */
	SMTP_REJ__COUNT
};

/* Events reported to the server for its statistics. */
enum smtp_event {
	SMTP_EV_ACCEPTED = 0, /* a message was queued; n = its octets */
	SMTP_EV_REJECTED,     /* n = enum smtp_reject */
	SMTP_EV_DISCARDED,    /* a partial message was dropped (disconnect) */
	SMTP_EV_LOGIN,	      /* AUTH succeeded (235) */
};

struct smtp_session_env {
	void *arg;
	/* Write reply octets (already CRLF-terminated), in order. */
	void (*write)(void *arg, const char *p, size_t n);
	/* Propose an encoded ENQUEUE (spool_cmd_encode); the server copies
	 * it. 0 = in flight: smtp_session_proposed() will be called once;
	 * < 0 = refused now (SMTP_PROPOSE_E_*). */
	int (*propose)(void *arg, const void *cmd, size_t len);
	/* Switch to TLS after the replies written so far; the rest of the
	 * input is dropped by the session (RFC 3207 5). 0 or < 0. */
	int (*starttls)(void *arg);
	/* Close the connection once the replies written so far are sent. */
	void (*close)(void *arg);
	/* Alias lookup: 1, 0, or < 0 on failure. NULL: no aliases. */
	int (*alias_has)(void *arg, const char *domain);
	uint64_t (*now_ms)(void *arg); /* wall clock, ms since the epoch */
	/* per-node control-file sequence; NULL = the node's allocator,
	 * ctlalloc_next_seq() (src/base/ctlalloc.h) */
	uint32_t (*next_seq)(void *arg);
	void (*event)(void *arg, int ev, uint64_t n); /* may be NULL */
	/* 1 while the node's disk is under its reserve: MAIL and the end of
	 * DATA answer 452 4.3.1 (src/base/diskguard.h). NULL: never. */
	int (*storage_low)(void *arg);
};

/* Results of the SASL exchange (struct smtp_auth_ops). */
enum {
	SMTP_AUTH_OK = 0,	/* authenticated: ops->user() names the login */
	SMTP_AUTH_CONTINUE = 1, /* send the challenge, 334 */
	SMTP_AUTH_E_FAIL = -1,	/* bad credentials: 535 5.7.8 */
	SMTP_AUTH_E_MECH = -2,	/* mechanism not offered: 504 5.5.4 */
	SMTP_AUTH_E_SYNTAX = -3, /* not base64, or a bad exchange: 501 5.5.2 */
	SMTP_AUTH_E_TEMP = -4,	 /* the service failed: 454 4.7.0 */
};

/* The authentication service of a submission session (smtp_auth.c over
 * Cyrus SASL, a fake in the unit tests). Challenges and responses are
 * the base64 text of the SMTP lines (RFC 4954 4), "" for an empty one;
 * *out stays valid until the next call. */
struct smtp_auth_ops {
	void *arg;
	/* the mechanisms to advertise, "PLAIN LOGIN" */
	const char *(*mechs)(void *arg);
	/* begin mech with the initial response (NULL when none was sent,
	 * "=" for an empty one) */
	int (*start)(void *arg, const char *mech, const char *initial,
		     const char **out);
	/* the client's next response */
	int (*step)(void *arg, const char *response, const char **out);
	/* the authenticated login after SMTP_AUTH_OK */
	const char *(*user)(void *arg);
	/* forget a cancelled or failed exchange (may be NULL) */
	void (*abort)(void *arg);
};

/* Immediate refusals from env->propose. */
enum {
	SMTP_PROPOSE_E_TOOBIG = -1, /* 552 5.3.4 */
	SMTP_PROPOSE_E_FAILED = -2, /* 451 4.3.0 */
};

struct smtp_session_conf {
	const char *node_name;	    /* control-file scnode, Received: */
	const char *node_domain;    /* greeting, local domain */
	const char *cluster_domain; /* "" = none */
	const char *client_ip;	    /* "127.0.0.1" */
	uint64_t node_id;	    /* origin_node of the control file */
	uint64_t max_size;	    /* SIZE limit, octets */
	uint32_t max_rcpt;	    /* recipients per message */
	uint32_t hop_max;	    /* /HOP_COUNT_MAXIMUM */
	int policy_allowed;	    /* /OPTIONS=RELAY or trusted client */
	int tls_available;	    /* offer STARTTLS */
	/* A submission listener (RFC 6409, 8314): MAIL needs AUTH (530
	 * 5.7.0), and only AUTH allows relaying (trusted networks and
	 * /OPTIONS=RELAY do not); AUTH is offered once TLS is on. */
	int submission;
	int implicit_tls; /* TLS from the first octet (port 465) */
	/* the authentication service; NULL = no AUTH. Must outlive the
	 * session. */
	const struct smtp_auth_ops *auth;
	/* Local recipient check at RCPT (issue #4), called for a recipient
	 * the relay policy made local, with the address as it will be
	 * queued: 1 = accept (the mailbox exists, or the backend cannot
	 * tell), 0 = refuse "550 5.1.1 <addr>: no such user here", < 0 =
	 * lookup failed ("451 4.3.0"). NULL = every local recipient is
	 * accepted. Called with rcpt_arg, which must outlive the session. */
	int (*rcpt_known)(void *arg, const char *addr);
	void *rcpt_arg;
	/* The sender-login check at MAIL on a submission listener, after
	 * AUTH (smtp_senderlogin.h): 1 = login may use sender ("" for <>),
	 * 0 = refuse "553 5.7.1 Sender address rejected: not owned by user
	 * LOGIN" (an error of the session). NULL = any sender. Called with
	 * sender_arg, which must outlive the session. */
	int (*sender_owned)(void *arg, const char *login, const char *sender);
	void *sender_arg;
};

struct smtp_session;

/* Create a session (copies conf); NULL when out of memory. */
struct smtp_session *smtp_session_new(const struct smtp_session_conf *conf,
				      const struct smtp_session_env *env);

/* Free it, dropping any partial message (reported SMTP_EV_DISCARDED). */
void smtp_session_free(struct smtp_session *s);

/* Send the 220 greeting. */
void smtp_session_start(struct smtp_session *s);

/* Octets from the client (plaintext, after TLS if any). */
void smtp_session_input(struct smtp_session *s, const char *p, size_t n);

/* The answer to the proposal in flight: applied = 1 when the cluster
 * applied the entry (res_status and res_flags are then the spool's
 * result), 0 when the outcome is unknown (no quorum, timeout, shutdown). */
void smtp_session_proposed(struct smtp_session *s, int applied, int res_status,
			   uint32_t res_flags);

/* The receive timeout expired: 421 4.4.2 and close. */
void smtp_session_timeout(struct smtp_session *s);

/* The server is stopping: 421 4.3.2 and close (unless a reply is owed). */
void smtp_session_shutdown(struct smtp_session *s);

enum smtp_state smtp_session_state(const struct smtp_session *s);
const char *smtp_state_name(enum smtp_state st);

/* Octets of input held back (pipelined behind a proposal). */
size_t smtp_session_buffered(const struct smtp_session *s);

#endif
