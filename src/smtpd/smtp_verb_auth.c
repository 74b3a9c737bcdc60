/*
 * smtp_verb_auth.c — the receiver's AUTH verb (RFC 4954) and what a login
 * changes in a session: when AUTH is offered and refused, the exchange
 * (AUTH mech [initial-response], 334 challenges, the client's responses,
 * "*" to cancel) in the SMTP_S_AUTH state, the 235 / 535 / 504 / 501
 * replies, the relay right a login gives and the Received: clause that
 * records it (RFC 3848 "ESMTPSA").
 *
 * Owns the exchange's steps, not the mechanisms: the session's
 * authentication service (struct smtp_auth_ops: smtp_auth.c over Cyrus
 * SASL, a fake in the unit tests) decodes and checks the credentials, so
 * this file sees only base64 text and results. Called from smtp_verbs.c
 * (the verb table and the command reader); calls smtp_session.c only.
 *
 * Rules: AUTH is offered on a submission listener only, and only under
 * TLS (before STARTTLS it is not advertised and refused with 530 5.7.0);
 * once per session; never inside a mail transaction. A failed, cancelled
 * or malformed exchange is logged with the client address and counts
 * toward the session's error limit (SMTP_ERRORS_MAX), so a client cannot
 * guess passwords for ever on one connection. Fails with SMTP replies
 * only.
 */
#include <stdio.h>
#include <string.h>

#include "src/base/log.h"
#include "src/smtpd/smtp_session_impl.h"

#define AUTH_MECH_MAX 15 /* "DIGEST-MD5" and the like fit */

int smtp_sess_auth_offered(const struct smtp_session *s)
{
	return s->conf.auth != NULL && s->conf.submission && s->tls &&
	       s->auth_user[0] == '\0';
}

const char *smtp_sess_auth_check(const struct smtp_session *s)
{
	if (s->conf.auth == NULL || !s->conf.submission)
		return "502 5.5.1 Error: command not implemented";
	if (!s->tls)
		return "530 5.7.0 Must issue a STARTTLS command first";
	if (s->state == SMTP_S_CONNECTED || !s->esmtp)
		return "503 5.5.1 Error: send EHLO first";
	if (s->auth_user[0] != '\0')
		return "503 5.5.1 Error: already authenticated";
	if (s->state != SMTP_S_GREETED)
		return "503 5.5.1 Error: AUTH not allowed during a mail "
		       "transaction";
	return NULL;
}

/* Keep the login printable for the Received: comment and the log: what
 * is not visible ASCII, or is one of "()\\", becomes '?'. */
static void copy_login(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] =
		    (c < 33 || c > 126 || c == '(' || c == ')' || c == '\\')
			? '?'
			: (char)c;
	}
	dst[i] = '\0';
}

/* The exchange ended without a login: the service forgets it, the
 * session is back in GREETED. */
static void auth_end(struct smtp_session *s)
{
	if (s->conf.auth->abort != NULL)
		s->conf.auth->abort(s->conf.auth->arg);
	if (s->state == SMTP_S_AUTH)
		smtp_sess_enter(s, SMTP_S_GREETED);
}

/* A refused exchange: logged with the client's address and counted. */
static void auth_refused(struct smtp_session *s, const char *reply,
			 const char *why)
{
	log_warn("smtp [%s]: authentication failed (%s): %s", s->client_ip,
		 s->auth_mech, why);
	auth_end(s);
	smtp_sess_reply(s, "%s", reply);
	smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_AUTH);
	smtp_sess_count_error(s);
}

/* Act on one result of the authentication service. */
static void auth_result(struct smtp_session *s, int rc, const char *out)
{
	const char *user;

	switch (rc) {
	case SMTP_AUTH_CONTINUE:
		if (s->state != SMTP_S_AUTH)
			smtp_sess_enter(s, SMTP_S_AUTH);
		smtp_sess_reply(s, "334 %s", out != NULL ? out : "");
		return;
	case SMTP_AUTH_OK:
		user = s->conf.auth->user(s->conf.auth->arg);
		if (user == NULL || user[0] == '\0' ||
		    strlen(user) > SMTP_AUTH_USER_MAX) {
			auth_refused(s,
				     "535 5.7.8 Error: authentication failed",
				     "no usable login name");
			return;
		}
		if (s->state == SMTP_S_AUTH)
			smtp_sess_enter(s, SMTP_S_GREETED);
		copy_login(s->auth_user, sizeof(s->auth_user), user);
		log_info("smtp [%s]: authenticated as %s (%s)", s->client_ip,
			 s->auth_user, s->auth_mech);
		smtp_sess_reply(s, "235 2.7.0 Authentication successful");
		smtp_sess_event(s, SMTP_EV_LOGIN, 0);
		return;
	case SMTP_AUTH_E_MECH:
		auth_refused(s,
			     "504 5.5.4 Error: unrecognized authentication "
			     "type",
			     "mechanism not offered");
		return;
	case SMTP_AUTH_E_SYNTAX:
		auth_refused(s, "501 5.5.2 Error: cannot decode the response",
			     "malformed response");
		return;
	case SMTP_AUTH_E_TEMP:
		log_error("smtp [%s]: the authentication service failed (%s)",
			  s->client_ip, s->auth_mech);
		auth_end(s);
		smtp_sess_reply(s,
				"454 4.7.0 Temporary authentication failure");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_AUTH);
		return;
	default:
		auth_refused(s, "535 5.7.8 Error: authentication failed",
			     "bad credentials");
		return;
	}
}

/* AUTH mech [initial-response]. */
void smtp_sess_auth(struct smtp_session *s, const char *args)
{
	size_t n = strcspn(args, " ");
	const char *initial = NULL, *out = NULL;
	int rc;

	if (n == 0 || n > AUTH_MECH_MAX) {
		snprintf(s->auth_mech, sizeof(s->auth_mech), "?");
		auth_refused(s, "501 5.5.4 Syntax: AUTH mechanism", "syntax");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = args[i];

		s->auth_mech[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
	}
	s->auth_mech[n] = '\0';
	if (args[n] == ' ') {
		initial = args + n + 1;
		if (initial[0] == '\0' || strchr(initial, ' ') != NULL) {
			auth_refused(s, "501 5.5.4 Syntax: AUTH mechanism",
				     "syntax");
			return;
		}
	}
	rc =
	    s->conf.auth->start(s->conf.auth->arg, s->auth_mech, initial, &out);
	auth_result(s, rc, out);
}

/* One response line of the exchange; "*" cancels (RFC 4954 4). */
void smtp_sess_auth_line(struct smtp_session *s, const char *line)
{
	const char *out = NULL;
	int rc;

	if (strcmp(line, "*") == 0) {
		auth_refused(s, "501 5.0.0 Authentication cancelled",
			     "cancelled by the client");
		return;
	}
	rc = s->conf.auth->step(s->conf.auth->arg, line, &out);
	auth_result(s, rc, out);
}

/* May this session relay? On a submission listener only a login allows
 * it; elsewhere a trusted client or /OPTIONS=RELAY does too. */
int smtp_sess_relay_allowed(const struct smtp_session *s)
{
	if (s->auth_user[0] != '\0')
		return 1;
	return !s->conf.submission && s->conf.policy_allowed;
}

/* The refusal of MAIL on a submission listener before AUTH, or NULL. */
const char *smtp_sess_auth_required(const struct smtp_session *s)
{
	if (!s->conf.submission || s->auth_user[0] != '\0')
		return NULL;
	return "530 5.7.0 Authentication required";
}

/* MAIL FROM:<sender> on a submission listener: may the login use it?
 * 0 after the 553 (logged with the client address, counted as an error
 * of the session), 1 to go on. */
int smtp_sess_sender_owned(struct smtp_session *s, const char *sender)
{
	if (!s->conf.submission || s->auth_user[0] == '\0' ||
	    s->conf.sender_owned == NULL ||
	    s->conf.sender_owned(s->conf.sender_arg, s->auth_user, sender))
		return 1;
	log_warn("smtp [%s]: sender <%s> rejected: not owned by user %s",
		 s->client_ip, sender, s->auth_user);
	smtp_sess_reply(s,
			"553 5.7.1 <%s>: Sender address rejected: not owned "
			"by user %s",
			sender, s->auth_user);
	smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_SENDER);
	smtp_sess_count_error(s);
	return 0;
}

/* The Received: clause of a login (RFC 3848 and the comment Postfix
 * writes), "" without one; and the "with" protocol. */
const char *smtp_sess_received_proto(const struct smtp_session *s)
{
	int a = s->auth_user[0] != '\0';

	if (s->mp.smtputf8) /* RFC 6531 3.7.3 */
		return a ? (s->tls ? "UTF8SMTPSA" : "UTF8SMTPA")
			 : (s->tls ? "UTF8SMTPS" : "UTF8SMTP");
	if (a)
		return s->tls ? "ESMTPSA" : "ESMTPA";
	return s->tls ? "ESMTPS" : s->esmtp ? "ESMTP" : "SMTP";
}
