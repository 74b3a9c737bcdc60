/*
 * smtp_session_impl.h — private to smtp_session.c and smtp_verbs.c: the
 * session structure and the few helpers both halves use. Nothing else
 * includes it.
 */
#ifndef SRC_SMTP_SESSION_IMPL_H
#define SRC_SMTP_SESSION_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "spool/codec/wire.h"
#include "spool/codec/ctlname.h"
#include "spool/codec/record.h"
#include "src/smtpd/smtp_data.h"
#include "src/smtpd/smtp_parse.h"
#include "src/smtpd/smtp_session.h"

#define SMTP_ERRORS_MAX 20     /* errors allowed; one more: 421 4.7.0 */
#define SMTP_USER "TCPIP$SMTP" /* control-file user-name of received mail */
#define SMTP_AUTH_USER_MAX 255 /* longer logins are refused (535) */

struct rcpt {
	char *addr;
	char *orcpt;
	uint8_t notify;
	uint8_t flags; /* RCPT_F_* */
};

struct smtp_session {
	char node_name[CTLNAME_NODE_MAX + 1];
	char node_domain[SMTP_DOMAIN_MAX + 1];
	char cluster_domain[SMTP_DOMAIN_MAX + 1];
	char client_ip[64];
	struct smtp_session_conf conf; /* strings point at the copies above */
	struct smtp_session_env env;

	enum smtp_state state;
	int esmtp;	/* EHLO (not HELO) given */
	int tls;	/* STARTTLS done: everything since is encrypted */
	int processing; /* inside process(): no re-entry */
	int discarding; /* skipping the rest of an over-long command line */
	int stop_after; /* shut down once the proposal is answered */
	int errors;
	char helo[SMTP_HELO_MAX + 1];
	char auth_user[SMTP_AUTH_USER_MAX + 1]; /* the login, "" = none */
	char auth_mech[16];			/* during SMTP_S_AUTH */

	struct wbuf in; /* input not handled yet starts at in_off */
	size_t in_off;
	struct wbuf out; /* replies queued for the next flush */
	int out_failed;

	/* the transaction */
	char sender[SMTP_ADDR_MAX + 1];
	struct smtp_mail_params mp;
	struct rcpt *rcpt;
	uint32_t nrcpt, rcpt_cap;
	struct smtp_data data;
	/* BDAT: a chunk is being read (or skipped) while chunk_active */
	int chunk_active, chunk_last, chunk_discard;
	uint64_t chunk_size, chunk_left;
	char name[SPOOL_NAME_MAX + 1];
	uint64_t body_len; /* octets proposed, for the statistics */
	double eod_at;	   /* clock_mono_s() at the end of DATA */
};

/* smtp_session.c */
/* The one place the state changes: logs old -> new, asserts legality. */
void smtp_sess_enter(struct smtp_session *s, enum smtp_state next);
/* Queue one reply line (CRLF added). */
void smtp_sess_reply(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the queued replies to the server. */
void smtp_sess_flush(struct smtp_session *s);
/* End the session: CLOSED, flush, env->close. */
void smtp_sess_close(struct smtp_session *s);
/* 1 while the node's disk is under its reserve (env.storage_low). */
int smtp_sess_storage_low(const struct smtp_session *s);
/* A counted protocol error reply; too many end the session. */
void smtp_sess_error(struct smtp_session *s, const char *text);
/* Count an error already answered (a refused recipient, 550 5.1.1 or
 * 5.7.1): more than SMTP_ERRORS_MAX close the session with 421 4.7.0.
 * 1 when it closed. */
int smtp_sess_count_error(struct smtp_session *s);
/* Forget the transaction (sender, recipients, message). */
void smtp_sess_reset(struct smtp_session *s);
/* Forget the transaction and go back to CONNECTED or GREETED. */
void smtp_sess_idle(struct smtp_session *s);
/* Report a statistics event to the server. */
void smtp_sess_event(struct smtp_session *s, int ev, uint64_t n);

/* smtp_verb_auth.c (called from smtp_verbs.c only) */
/* AUTH mech [initial-response] (RFC 4954 4). */
void smtp_sess_auth(struct smtp_session *s, const char *args);
/* The refusal of AUTH now, or NULL. */
const char *smtp_sess_auth_check(const struct smtp_session *s);
/* One response line of the exchange (without CRLF), in SMTP_S_AUTH. */
void smtp_sess_auth_line(struct smtp_session *s, const char *line);
/* 1 when AUTH is offered in this session now (EHLO keyword). */
int smtp_sess_auth_offered(const struct smtp_session *s);
/* May the session relay now (a login, or trusted off submission)? */
int smtp_sess_relay_allowed(const struct smtp_session *s);
/* "530 5.7.0 ..." for MAIL on submission before AUTH, else NULL. */
const char *smtp_sess_auth_required(const struct smtp_session *s);
/* MAIL FROM:<sender> after AUTH: 1 when the login may use it, else 0
 * after the 553 reply (smtp_session_conf.sender_owned). */
int smtp_sess_sender_owned(struct smtp_session *s, const char *sender);
/* The Received: "with" word: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA. */
const char *smtp_sess_received_proto(const struct smtp_session *s);

/* The octets of a BDAT chunk have all been read: answer it, or end the
 * message at BDAT LAST. */
void smtp_sess_chunk_end(struct smtp_session *s);

/* smtp_verbs.c */
/* Handle one command line of n octets (with its line end). */
void smtp_sess_command(struct smtp_session *s, const char *p, size_t n);

#endif
