/*
 * smtp_client_impl.h — private to smtp_client.c (the session core: state,
 * output, input, events, life) and smtp_client_reply.c (the transaction:
 * the commands and what each reply means). The engine's structure and the
 * calls between the two halves. Nothing else includes it.
 */
#ifndef SRC_DELIVERY_SMTP_CLIENT_IMPL_H
#define SRC_DELIVERY_SMTP_CLIENT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "src/delivery/smtp_client.h"

#define SMTP_CLIENT_PEER_MAX 336 /* "host[ip]:port" */

struct smtp_client {
	struct smtp_client_cfg cfg;
	struct smtp_client_io io;
	struct smtp_client_rcpt *r;
	uint32_t n;
	enum smtp_client_state state;

	unsigned ext;	     /* SC_EXT_* from the last EHLO */
	uint64_t size_limit; /* SIZE n, 0 = none given */
	int tls_active, tls_failed;
	int pipelined;	 /* MAIL, RCPTs and DATA went together */
	uint32_t *sendv; /* recipients to send RCPT for */
	uint32_t nsend;
	uint32_t next; /* index in sendv of the next RCPT reply */
	uint32_t *acc; /* accepted recipients, in order */
	uint32_t nacc;
	uint32_t dot_next; /* LMTP: next accepted one awaiting its reply */
	int data_empty;	   /* 354 though nothing was accepted */
	int ehlo_lines;	   /* lines of the EHLO reply seen */

	char line[SMTP_CLIENT_LINE_MAX];
	size_t line_len;
	int rcode; /* code of the reply being read, 0 = none yet */
	char rtext[SMTP_CLIENT_REPLY_MAX];
	size_t rtext_len;

	char reply[SMTP_CLIENT_REPLY_MAX]; /* session level */
	char peer[SMTP_CLIENT_PEER_MAX];   /* cfg.peer points here */

	unsigned txns;	  /* transactions finished on this connection */
	int rset_ahead;	  /* the transaction was pipelined behind RSET */
	int reuse_failed; /* ended waiting for the reply to RSET */

	char *out;
	size_t out_len, out_cap;
};

/* smtp_client.c */
/* The one place the state changes; (re)arms the phase timer. */
void smtp_cli_enter(struct smtp_client *c, enum smtp_client_state next);
/* Queue one command line (CRLF added). */
void smtp_cli_cmd(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the queued commands to the transport. */
void smtp_cli_flush(struct smtp_client *c);
/* The session is over: stop the timer, let the transport close. */
void smtp_cli_finish(struct smtp_client *c);
void smtp_cli_quit(struct smtp_client *c);
/* A session-level failure: record it, defer the rest, QUIT or close. */
void smtp_cli_fail(struct smtp_client *c, int hard, int send_quit,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void smtp_cli_protocol_error(struct smtp_client *c, const char *what);
/* Take cfg for the next transaction (timeout defaults, the peer copied)
 * and reset the recipients; 0 or SPOOL_E_INVAL / SPOOL_E_NOMEM. */
int smtp_cli_setup(struct smtp_client *c, const struct smtp_client_cfg *cfg,
		   struct smtp_client_rcpt *r, uint32_t n);
/* A transaction is over: SC_READY (io.ready) when the connection may
 * carry another, else QUIT. */
void smtp_cli_txn_end(struct smtp_client *c);

/* smtp_client_reply.c */
/* A complete reply arrived in the current state. */
void smtp_cli_on_reply(struct smtp_client *c, int code, const char *text);
void smtp_cli_send_ehlo(struct smtp_client *c);
/* One keyword line of a 250 EHLO reply. */
void smtp_cli_ehlo_keyword(struct smtp_client *c, const char *kw);
/* Record recipient i's final outcome from a reply. */
void smtp_cli_settle(struct smtp_client *c, uint32_t i, int code,
		     const char *text);

#endif
