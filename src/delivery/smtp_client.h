/*
 * smtp_client.h — the delivery client: one SMTP (or LMTP, RFC 2033)
 * transaction for a set of recipients that share a destination.
 *
 * Three parts:
 *
 *  - The engine (struct smtp_client, declared here; smtp_client.c holds
 *    the state machine and the line parsing, smtp_client_reply.c the
 *    commands and what each reply means): fed with events (connected,
 *    bytes in, output drained, TLS done, timeout, connection lost). It
 *    never touches a socket or a clock: it writes through struct
 *    smtp_client_io, arms one timer through it, and says when the
 *    session is over. Unit tests drive it with a fake transport.
 *    It speaks EHLO (HELO fallback; LHLO for LMTP), STARTTLS (opportunistic,
 *    or required by the TLS policy: cfg.tls_required),
 *    SIZE / 8BITMIME / PIPELINING / DSN when offered, and keeps an outcome
 *    per recipient in the caller's array.
 *
 *  - The data phase (smtp_client_data.h): the dot-stuffed body the
 *    engine sends after the 354.
 *
 *  - The transport (struct smtp_conn, smtp_client_conn.h): a
 *    src/base/conn.h connection (TCP, or a Unix socket for LMTP) with
 *    client-side STARTTLS (the certificate checked only on a verifying
 *    context: the TLS policy verify) and the phase timer. It runs one engine and calls back
 *    once every handle is closed.
 *
 * This header includes the other two, so a caller of the whole client
 * (deliver.c) includes only this one; the engine itself needs neither.
 *
 * Outcomes (per recipient, OUT_* of spool/codec/cmd.h):
 *   2xx to RCPT and to the end of data      -> OUT_DELIVERED
 *   5xx to RCPT, DATA or the end of data    -> OUT_FAILED
 *   4xx anywhere, timeout, connection lost,
 *   protocol error (a reply line over 4 KiB, a malformed reply)
 *                                            -> OUT_DEFERRED
 *   5xx to the greeting, EHLO+HELO or MAIL  -> OUT_DEFERRED with hard = 1:
 *      the host refused the whole transaction; the caller tries the next
 *      address and fails the recipient when every address refused it.
 * Timeouts (/SEND_TIMEOUT): INITIAL for connect, greeting, EHLO/HELO and
 * STARTTLS; MAIL for the MAIL reply; RECEIPT for each RCPT reply; DATA for
 * the 354 and the sending of the body; TERMINATION for the final reply.
 */
#ifndef SRC_DELIVERY_SMTP_CLIENT_H
#define SRC_DELIVERY_SMTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_CLIENT_LINE_MAX 4096 /* a longer reply line: protocol error */
#define SMTP_CLIENT_REPLY_MAX 512

enum smtp_client_state {
	SC_IDLE = 0, /* created */
	SC_CONNECT,  /* connection being made */
	SC_GREETING, /* waiting for the 220 */
	SC_EHLO,     /* EHLO (LHLO) sent */
	SC_HELO,     /* HELO sent after EHLO was refused */
	SC_STARTTLS, /* STARTTLS sent */
	SC_TLS,	     /* TLS handshake running */
	SC_MAIL,     /* MAIL sent (with RCPT/DATA when pipelining) */
	SC_RCPT,     /* waiting for RCPT replies */
	SC_DATA,     /* DATA sent, waiting for 354 */
	SC_BODY,     /* body handed to the transport, not all written yet */
	SC_DOT,	     /* waiting for the final reply (one per rcpt in LMTP) */
	SC_READY,    /* transaction over, connection idle and reusable */
	SC_RSET,     /* RSET sent on a reused connection (the transaction
			pipelined behind it when the server offers it) */
	SC_QUIT,     /* QUIT sent; outcomes are final */
	SC_DONE,     /* finish() was called */
	SC__COUNT
};

/* One recipient: in-fields set by the caller, out-fields by the engine. */
struct smtp_client_rcpt {
	const char *addr;  /* in: forward-path without <> */
	const char *orcpt; /* in: DSN ORCPT "rfc822;xtext" or "" / NULL */
	uint8_t notify;	   /* in: DSN_NOTIFY_* bits, 0 = none */
	uint8_t outcome;   /* out: OUT_DELIVERED / OUT_DEFERRED / OUT_FAILED */
	uint8_t hard;	   /* out: deferred by a host-level 5xx */
	uint8_t answered;  /* out: the outcome came from a reply to it */
	char reply[SMTP_CLIENT_REPLY_MAX]; /* out: reply or reason */
};

struct smtp_client_cfg {
	int lmtp;	    /* LHLO, a reply per recipient after the dot */
	const char *helo;   /* our name for EHLO/HELO/LHLO */
	const char *sender; /* reverse-path without <>, "" = <> */
	const char *envid;  /* DSN ENVID (xtext) or "" / NULL */
	uint8_t ret;	    /* DSN_RET_* */
	const char *data;   /* prepared body (smtp_client_prepare) */
	size_t data_len;
	uint64_t size;	   /* message size for SIZE= */
	int eightbit;	   /* the body has 8-bit octets */
	int eightbit_asis; /* /OPTIONS=EIGHT_BIT: 8-bit content goes as it
			      is to a server without 8BITMIME; else the
			      transaction fails 554 5.6.3 (RFC 6152) */
	int smtputf8;	   /* received with SMTPUTF8 (MSG_F_SMTPUTF8) */
	int head8bit;	   /* the header section has 8-bit octets */
	int tls_allowed;   /* try STARTTLS when offered */
	int tls_required;  /* TLS policy encrypt/verify: no TLS, no mail
			      (4.7.4; a failed handshake is 4.7.5) */
	const char *peer;  /* "host[ip]:port", for messages */
	uint64_t t_initial, t_mail, t_rcpt, t_data, t_term; /* ms */
	uint64_t t_quit;				    /* ms */
	/* connection reuse (SMTP only): transactions per connection at
	 * most; 0 or 1 = QUIT after the first. t_idle: how long a
	 * connection may wait in SC_READY for its next transaction */
	unsigned reuse;
	uint64_t t_idle; /* ms, 0 = 2 s */
};

/* The transport as the engine sees it. write copies what it needs;
 * starttls (NULL: no TLS) begins a handshake and reports it later with
 * smtp_client_tls_done(), returning 0 or -1; timer arms the one timer
 * (ms; 0 = stop); finish says the session is over: close the connection
 * (not from inside finish: do not free the engine there). */
struct smtp_client_io {
	void *arg;
	void (*write)(void *arg, const void *p, size_t n);
	int (*starttls)(void *arg);
	void (*timer)(void *arg, uint64_t ms);
	void (*finish)(void *arg);
	/* NULL: no reuse. Else called when a transaction is over and the
	 * connection stays open (SC_READY): the recipients' outcomes are
	 * final and the engine no longer refers to them nor to cfg's
	 * per-message strings; the transport may start the next one with
	 * smtp_client_next() or end it with smtp_client_quit(), from inside
	 * the call or later. */
	void (*ready)(void *arg);
};

struct smtp_client;

/* A new engine for n recipients (r is the caller's, must outlive the
 * engine; its out-fields are reset to "deferred, no answer"). cfg's
 * strings are borrowed likewise. 0 or SPOOL_E_NOMEM / SPOOL_E_INVAL. */
int smtp_client_new(struct smtp_client **out, const struct smtp_client_cfg *cfg,
		    const struct smtp_client_io *io, struct smtp_client_rcpt *r,
		    uint32_t n);
void smtp_client_free(struct smtp_client *c);

/* Events. Each is ignored once the session is SC_DONE. */
void smtp_client_begin(struct smtp_client *c);	   /* connecting */
void smtp_client_connected(struct smtp_client *c); /* connected */
void smtp_client_input(struct smtp_client *c, const void *p, size_t n);
void smtp_client_drained(struct smtp_client *c); /* all output written */
void smtp_client_tls_done(struct smtp_client *c, int ok, const char *why);
void smtp_client_timeout(struct smtp_client *c);
void smtp_client_closed(struct smtp_client *c, const char *why);

/* The next transaction on a connection in SC_READY: cfg (same helo) and
 * n recipients as for smtp_client_new(). Sends RSET first (with MAIL,
 * RCPT and DATA behind it when the server offers PIPELINING). 0, or
 * SPOOL_E_INVAL (not SC_READY, bad cfg) / SPOOL_E_NOMEM: nothing sent,
 * still SC_READY. */
int smtp_client_next(struct smtp_client *c, const struct smtp_client_cfg *cfg,
		     struct smtp_client_rcpt *r, uint32_t n);
/* In SC_READY: send QUIT and end the session. Nothing otherwise. */
void smtp_client_quit(struct smtp_client *c);
/* 1 when the session ended before the reply to the RSET of a reused
 * connection: nothing of the transaction was accepted, the caller may
 * send it again on another connection without counting an attempt. */
int smtp_client_reuse_failed(const struct smtp_client *c);
/* Transactions finished on this connection so far. */
unsigned smtp_client_transactions(const struct smtp_client *c);

enum smtp_client_state smtp_client_state(const struct smtp_client *c);
const char *smtp_client_state_name(enum smtp_client_state st);
/* The last reply or reason at session level ("" if none). */
const char *smtp_client_reply(const struct smtp_client *c);
int smtp_client_tls_active(const struct smtp_client *c);
int smtp_client_tls_failed(const struct smtp_client *c);
/* Extensions the server offered (bits SC_EXT_*). */
enum {
	SC_EXT_PIPELINING = 1,
	SC_EXT_STARTTLS = 2,
	SC_EXT_SIZE = 4,
	SC_EXT_8BITMIME = 8,
	SC_EXT_DSN = 16,
	SC_EXT_SMTPUTF8 = 32
};
unsigned smtp_client_extensions(const struct smtp_client *c);

/* The rest of the client, for callers that include only this header. */
#include "src/delivery/smtp_client_conn.h"
#include "src/delivery/smtp_client_data.h"

#endif
