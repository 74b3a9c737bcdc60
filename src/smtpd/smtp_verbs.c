/*
 * smtp_verbs.c — the SMTP receiver's verbs: the table {verb, check,
 * proceed} and one handler per verb (HELO, EHLO, MAIL, RCPT, DATA, RSET,
 * NOOP, QUIT, HELP, VRFY, STARTTLS, BDAT; AUTH is smtp_verb_auth.c), with their replies and enhanced status
 * codes (RFC 3463), and the Received: header written at DATA.
 *
 * Replies without an enhanced code, as RFC 2034 3 and RFC 3463 want: the
 * 220 greeting, the HELO/EHLO 250 and the 354 intermediate reply. Every
 * other reply carries one.
 *
 * Owns the command grammar's consequences, not the grammar (smtp_parse.c)
 * nor the relay policy (smtp_policy.c). Fails with SMTP replies only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spool/codec/ctlname.h"
#include "spool/codec/err.h"
#include "src/base/ctlalloc.h"
#include "src/base/log.h"
#include "src/base/maildate.h"
#include "src/smtpd/smtp_policy.h"
#include "src/smtpd/smtp_session_impl.h"

/* Append one recipient to the transaction. 0 or SPOOL_E_NOMEM. */
static int add_rcpt(struct smtp_session *s, const char *addr, const char *orcpt,
		    uint8_t notify, uint8_t flags)
{
	struct rcpt *r;

	if (s->nrcpt == s->rcpt_cap) {
		uint32_t cap = s->rcpt_cap ? s->rcpt_cap * 2 : 8;

		r = realloc(s->rcpt, cap * sizeof(*r));
		if (r == NULL)
			return SPOOL_E_NOMEM;
		s->rcpt = r;
		s->rcpt_cap = cap;
	}
	r = &s->rcpt[s->nrcpt];
	r->addr = strdup(addr);
	r->orcpt = strdup(orcpt);
	r->notify = notify;
	r->flags = flags;
	if (r->addr == NULL || r->orcpt == NULL) {
		free(r->addr);
		free(r->orcpt);
		return SPOOL_E_NOMEM;
	}
	s->nrcpt++;
	return 0;
}

/* ---- the table ---- */

enum { ARGS_NONE, ARGS_ANY, ARGS_NEED };

struct verb {
	const char *name;
	int args;
	const char *usage;
	/* NULL when the verb may run now, else the refusal reply */
	const char *(*check)(const struct smtp_session *s);
	void (*proceed)(struct smtp_session *s, const char *args);
};

static const char *chk_any(const struct smtp_session *s)
{
	return NULL;
}

static const char *chk_mail(const struct smtp_session *s)
{
	if (s->state == SMTP_S_CONNECTED)
		return "503 5.5.1 Error: send HELO/EHLO first";
	if (s->state != SMTP_S_GREETED)
		return "503 5.5.1 Error: nested MAIL command";
	return NULL;
}

static const char *chk_rcpt(const struct smtp_session *s)
{
	if (s->state == SMTP_S_MAIL || s->state == SMTP_S_RCPT)
		return NULL;
	if (s->state == SMTP_S_BDAT)
		return "503 5.5.1 Error: RCPT after BDAT";
	return "503 5.5.1 Error: need MAIL command";
}

static const char *chk_data(const struct smtp_session *s)
{
	if (s->state == SMTP_S_RCPT)
		return NULL;
	if (s->state == SMTP_S_MAIL)
		return "503 5.5.1 Error: need RCPT command";
	if (s->state == SMTP_S_BDAT) /* RFC 3030 2: not in one transaction */
		return "503 5.5.1 Error: DATA after BDAT";
	return "503 5.5.1 Error: need MAIL command";
}

static const char *chk_starttls(const struct smtp_session *s)
{
	if (!s->conf.tls_available)
		return "502 5.5.1 Error: command not implemented";
	if (s->tls)
		return "554 5.5.1 Error: TLS already active";
	if (s->state != SMTP_S_CONNECTED && s->state != SMTP_S_GREETED)
		return "503 5.5.1 Error: STARTTLS not allowed during a mail "
		       "transaction";
	return NULL;
}

/* A HELO/EHLO argument: printable ASCII without spaces. */
static int helo_ok(const char *a)
{
	size_t n = strlen(a);

	if (n == 0 || n > SMTP_HELO_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)a[i] < 33 || (unsigned char)a[i] > 126)
			return 0;
	}
	return 1;
}

/* HELO and EHLO: greet, forget any transaction. */
static void greet(struct smtp_session *s, const char *args, int esmtp)
{
	if (!helo_ok(args)) {
		smtp_sess_error(s, esmtp ? "501 5.5.4 Syntax: EHLO hostname"
					 : "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	smtp_sess_reset(s);
	snprintf(s->helo, sizeof(s->helo), "%s", args);
	s->esmtp = esmtp;
	smtp_sess_enter(s, SMTP_S_GREETED);
	if (!esmtp) {
		smtp_sess_reply(s, "250 %s", s->node_domain);
		return;
	}
	smtp_sess_reply(s, "250-%s Hello %s [%s]", s->node_domain, s->helo,
			s->client_ip);
	smtp_sess_reply(s, "250-PIPELINING");
	smtp_sess_reply(s, "250-SIZE %llu",
			(unsigned long long)s->conf.max_size);
	smtp_sess_reply(s, "250-8BITMIME");
	smtp_sess_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_sess_reply(s, "250-CHUNKING");
	smtp_sess_reply(s, "250-SMTPUTF8");
	if (s->conf.tls_available && !s->tls)
		smtp_sess_reply(s, "250-STARTTLS");
	if (smtp_sess_auth_offered(s))
		smtp_sess_reply(s, "250-AUTH %s",
				s->conf.auth->mechs(s->conf.auth->arg));
	smtp_sess_reply(s, "250 DSN");
}

static void do_helo(struct smtp_session *s, const char *args)
{
	greet(s, args, 0);
}

static void do_ehlo(struct smtp_session *s, const char *args)
{
	greet(s, args, 1);
}

static void do_mail(struct smtp_session *s, const char *args)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;
	int rc = smtp_parse_mail(args, &mb, &mp);

	if (rc == 0 && !s->esmtp &&
	    (mp.has_size || mp.body || mp.ret || mp.envid[0] || mp.smtputf8))
		rc = SMTP_PE_UNKNOWN_PARAM; /* no ESMTP after HELO */
	if (rc != 0) {
		smtp_sess_error(s, smtp_parse_reply(rc));
		return;
	}
	if (smtp_sess_auth_required(s) != NULL) {
		smtp_sess_reply(s, "%s", smtp_sess_auth_required(s));
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_AUTH);
		smtp_sess_count_error(s);
		return;
	}
	if (mb.utf8 && !mp.smtputf8) { /* RFC 6531 3.4 */
		smtp_sess_error(s, "553 5.6.7 Error: non-ASCII address needs "
				   "MAIL FROM ... SMTPUTF8");
		return;
	}
	if (!smtp_sess_sender_owned(s, mb.addr))
		return;
	if (mp.has_size && mp.size > s->conf.max_size) {
		smtp_sess_reply(s,
				"552 5.3.4 Message size exceeds fixed maximum "
				"message size");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_SIZE);
		return;
	}
	if (smtp_sess_storage_low(s)) {
		smtp_sess_reply(s, "452 4.3.1 Insufficient system storage");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_FULL);
		return;
	}
	snprintf(s->sender, sizeof(s->sender), "%s", mb.addr);
	s->mp = mp;
	smtp_sess_enter(s, SMTP_S_MAIL);
	smtp_sess_reply(s, "250 2.1.0 Ok");
}

static void do_rcpt(struct smtp_session *s, const char *args)
{
	struct smtp_policy pol = {s->node_domain, s->cluster_domain,
				  smtp_sess_relay_allowed(s), s->env.alias_has,
				  s->env.arg};
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;
	char addr[SMTP_ADDR_MAX + 1];
	int verdict, rc = smtp_parse_rcpt(args, &mb, &rp);

	if (rc == 0 && !s->esmtp && (rp.notify || rp.orcpt[0]))
		rc = SMTP_PE_UNKNOWN_PARAM;
	if (rc != 0) {
		smtp_sess_error(s, smtp_parse_reply(rc));
		return;
	}
	if (mb.utf8 && !s->mp.smtputf8) { /* RFC 6531 3.4 */
		smtp_sess_error(s, "553 5.6.7 Error: non-ASCII address needs "
				   "MAIL FROM ... SMTPUTF8");
		return;
	}
	if (s->nrcpt >= s->conf.max_rcpt) {
		smtp_sess_reply(s, "452 4.5.3 Error: too many recipients");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_RCPTS);
		return;
	}
	verdict = policy_check(&pol, &mb);
	switch (verdict) {
	case POLICY_LOCAL:
	case POLICY_RELAY:
		break;
	case POLICY_TEMPFAIL:
		smtp_sess_reply(s, "451 4.3.0 <%s>: Temporary lookup failure",
				mb.addr);
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_SPOOL);
		return;
	default:
		smtp_sess_reply(s, "550 5.7.1 <%s>: Relay access denied",
				mb.addr);
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_RELAY);
		smtp_sess_count_error(s); /* probing counts */
		return;
	}
	if (mb.postmaster && s->node_domain[0] != '\0')
		snprintf(addr, sizeof(addr), "postmaster@%s", s->node_domain);
	else
		snprintf(addr, sizeof(addr), "%s", mb.addr);
	/* postmaster is always accepted (RFC 5321 4.5.1), whatever the
	 * mailbox behind it */
	if (verdict == POLICY_LOCAL && s->conf.rcpt_known != NULL &&
	    !mb.postmaster && strncasecmp(addr, "postmaster@", 11) != 0) {
		rc = s->conf.rcpt_known(s->conf.rcpt_arg, addr);
		if (rc == 0) {
			smtp_sess_reply(s, "550 5.1.1 <%s>: no such user here",
					mb.addr);
			smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_USER);
			smtp_sess_count_error(s); /* probing counts */
			return;
		}
		if (rc < 0) {
			smtp_sess_reply(
			    s, "451 4.3.0 <%s>: Temporary lookup failure",
			    mb.addr);
			smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_SPOOL);
			return;
		}
	}
	for (uint32_t i = 0; i < s->nrcpt; i++) {
		if (strcmp(s->rcpt[i].addr, addr) == 0) {
			smtp_sess_reply(s, "250 2.1.5 Ok"); /* listed once */
			return;
		}
	}
	/* accepted as local here: the claiming node delivers it locally
	 * even where this node's alias file is not (issue #10 defect 8) */
	if (add_rcpt(s, addr, rp.orcpt, rp.notify,
		     verdict == POLICY_LOCAL ? RCPT_F_LOCAL : 0) != 0) {
		smtp_sess_reply(s, "452 4.3.1 Insufficient system storage");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_FULL);
		return;
	}
	smtp_sess_enter(s, SMTP_S_RCPT);
	smtp_sess_reply(s, "250 2.1.5 Ok");
}

/* The Received: header of RFC 5321 4.4 for this message. */
static int received_header(const struct smtp_session *s, uint64_t now,
			   char *buf, size_t size)
{
	char date[64];
	const char *proto = smtp_sess_received_proto(s);
	const char *v6 = strchr(s->client_ip, ':') ? "IPv6:" : "";
	char login[SMTP_AUTH_USER_MAX + 32] = "";
	int n;

	if (s->auth_user[0] != '\0') /* RFC 3848; the comment Postfix writes */
		snprintf(login, sizeof(login),
			 "\t(Authenticated sender: %s)\r\n", s->auth_user);

	maildate_format(now, date, sizeof(date));
	if (s->nrcpt == 1)
		n = snprintf(buf, size,
			     "Received: from %s ([%s%s])\r\n%s"
			     "\tby %s (smtpcluster %s) with %s id %s\r\n"
			     "\tfor <%s>; %s\r\n",
			     s->helo, v6, s->client_ip, login, s->node_domain,
			     s->node_name, proto, s->name, s->rcpt[0].addr,
			     date);
	else
		n = snprintf(buf, size,
			     "Received: from %s ([%s%s])\r\n%s"
			     "\tby %s (smtpcluster %s) with %s id %s;\r\n"
			     "\t%s\r\n",
			     s->helo, v6, s->client_ip, login, s->node_domain,
			     s->node_name, proto, s->name, date);
	return (n < 0 || (size_t)n >= size) ? -1 : n;
}

/* Name the message and put its Received: header first: the start of
 * DATA and of the first BDAT. 0, or -1 when refused (answered). */
static int start_message(struct smtp_session *s)
{
	char hdr[2048];
	uint64_t now = s->env.now_ms(s->env.arg);
	uint32_t seq = s->env.next_seq != NULL ? s->env.next_seq(s->env.arg)
					       : ctlalloc_next_seq();
	int n;

	if (ctlname_make(s->name, sizeof(s->name), now, SMTP_USER, seq,
			 s->node_name) != 0) {
		log_error("smtp: cannot name a control file (node \"%s\")",
			  s->node_name);
		smtp_sess_reply(s, "451 4.3.0 Error: cannot name the message");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_SPOOL);
		return -1;
	}
	smtp_data_init(&s->data, s->conf.max_size);
	n = received_header(s, now, hdr, sizeof(hdr));
	if (n < 0 || smtp_data_prefix(&s->data, hdr, (size_t)n) != 0) {
		smtp_data_free(&s->data);
		smtp_sess_reply(s, "452 4.3.1 Insufficient system storage");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_FULL);
		return -1;
	}
	return 0;
}

static void do_data(struct smtp_session *s, const char *args)
{
	if (start_message(s) != 0)
		return;
	smtp_sess_enter(s, SMTP_S_DATA);
	smtp_sess_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* "SIZE" or "SIZE LAST" (RFC 3030 4: chunk-size = 1*DIGIT). 0 or -1. */
static int parse_bdat(const char *a, uint64_t *size, int *last)
{
	uint64_t v = 0;
	size_t i = 0;

	if (a[0] < '0' || a[0] > '9')
		return -1;
	for (; a[i] >= '0' && a[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(a[i] - '0');
	}
	*size = v;
	*last = 0;
	if (a[i] == '\0')
		return 0;
	if (a[i] == ' ' && strcasecmp(a + i + 1, "LAST") == 0) {
		*last = 1;
		return 0;
	}
	return -1;
}

/* Why a well-formed BDAT is refused now, or NULL. */
static const char *bdat_refusal(const struct smtp_session *s)
{
	if (s->state == SMTP_S_RCPT || s->state == SMTP_S_BDAT)
		return NULL;
	if (s->state == SMTP_S_CONNECTED)
		return "503 5.5.1 Error: send HELO/EHLO first";
	if (s->state == SMTP_S_MAIL)
		return "503 5.5.1 Error: need RCPT command";
	return "503 5.5.1 Error: need MAIL command";
}

/* BDAT (RFC 3030): the chunk's octets follow the line whatever the
 * answer, so a refused chunk is still read, and thrown away. */
static void do_bdat(struct smtp_session *s, const char *args)
{
	const char *why;
	uint64_t size;
	int last;

	if (parse_bdat(args, &size, &last) != 0) {
		/* where the chunk ends is unknown: its octets would be read
		 * as commands */
		smtp_sess_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_SYNTAX);
		smtp_sess_close(s);
		return;
	}
	s->chunk_active = 1;
	s->chunk_discard = 0;
	s->chunk_last = last;
	s->chunk_size = s->chunk_left = size;
	if ((why = bdat_refusal(s)) != NULL) {
		s->chunk_discard = 1;
		smtp_sess_error(s, why);
	} else if (s->state == SMTP_S_RCPT) {
		if (start_message(s) != 0) {
			s->chunk_discard = 1;
		} else {
			smtp_data_set_raw(&s->data);
			smtp_sess_enter(s, SMTP_S_BDAT);
		}
	}
	if (s->chunk_left == 0 && s->state != SMTP_S_CLOSED)
		smtp_sess_chunk_end(s);
}

static void do_rset(struct smtp_session *s, const char *args)
{
	smtp_sess_idle(s);
	smtp_sess_reply(s, "250 2.0.0 Ok");
}

static void do_noop(struct smtp_session *s, const char *args)
{
	smtp_sess_reply(s, "250 2.0.0 Ok");
}

static void do_quit(struct smtp_session *s, const char *args)
{
	smtp_sess_reply(s, "221 2.0.0 Bye");
	smtp_sess_reset(s);
	smtp_sess_close(s);
}

static void do_help(struct smtp_session *s, const char *args)
{
	smtp_sess_reply(
	    s,
	    "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP "
	    "QUIT HELP VRFY%s%s",
	    s->conf.tls_available ? " STARTTLS" : "",
	    smtp_sess_auth_offered(s) ? " AUTH" : "");
}

static void do_vrfy(struct smtp_session *s, const char *args)
{
	smtp_sess_reply(
	    s, "252 2.5.2 Cannot VRFY user, but will accept message and "
	       "attempt delivery");
}

static void do_starttls(struct smtp_session *s, const char *args)
{
	smtp_sess_reply(s, "220 2.0.0 Ready to start TLS");
	smtp_sess_flush(s);
	if (s->env.starttls(s->env.arg) != 0) {
		smtp_sess_event(s, SMTP_EV_REJECTED, SMTP_REJ_TLS);
		smtp_sess_close(s);
		return;
	}
	/* RFC 3207 4.2 and 5: forget everything learnt in plaintext,
	 * including commands the client may have pipelined after STARTTLS */
	s->in_off = s->in.len;
	s->tls = 1;
	s->esmtp = 0;
	s->helo[0] = '\0';
	smtp_sess_reset(s);
	smtp_sess_enter(s, SMTP_S_CONNECTED);
}

/* Verbs we know but do not offer. */
static void do_not_implemented(struct smtp_session *s, const char *args)
{
	smtp_sess_error(s, "502 5.5.1 Error: command not implemented");
}

static const struct verb verbs[] = {
    {"HELO", ARGS_ANY, NULL, chk_any, do_helo},
    {"EHLO", ARGS_ANY, NULL, chk_any, do_ehlo},
    {"MAIL", ARGS_NEED, "501 5.5.4 Syntax: MAIL FROM:<address>", chk_mail,
     do_mail},
    {"RCPT", ARGS_NEED, "501 5.5.4 Syntax: RCPT TO:<address>", chk_rcpt,
     do_rcpt},
    {"DATA", ARGS_NONE, "501 5.5.4 Syntax: DATA", chk_data, do_data},
    {"RSET", ARGS_NONE, "501 5.5.4 Syntax: RSET", chk_any, do_rset},
    {"NOOP", ARGS_ANY, NULL, chk_any, do_noop},
    {"QUIT", ARGS_NONE, "501 5.5.4 Syntax: QUIT", chk_any, do_quit},
    {"HELP", ARGS_ANY, NULL, chk_any, do_help},
    {"VRFY", ARGS_NEED, "501 5.5.4 Syntax: VRFY address", chk_any, do_vrfy},
    {"STARTTLS", ARGS_NONE, "501 5.5.4 Syntax: STARTTLS", chk_starttls,
     do_starttls},
    {"EXPN", ARGS_ANY, NULL, chk_any, do_not_implemented},
    {"TURN", ARGS_ANY, NULL, chk_any, do_not_implemented},
    {"ETRN", ARGS_ANY, NULL, chk_any, do_not_implemented},
    {"BDAT", ARGS_NEED, "501 5.5.4 Syntax: BDAT size [LAST]", chk_any, do_bdat},
    {"AUTH", ARGS_ANY, NULL, smtp_sess_auth_check, smtp_sess_auth},
};

/* One command line (with its line end, n octets). */
void smtp_sess_command(struct smtp_session *s, const char *p, size_t n)
{
	char line[SMTP_LINE_MAX + 1], verb[SMTP_VERB_MAX + 1];
	const char *args, *why;
	const struct verb *v = NULL;

	if (n < 2 || p[n - 2] != '\r') {
		smtp_sess_error(s,
				"500 5.5.2 Error: command lines must end with "
				"<CR><LF>");
		return;
	}
	n -= 2;
	if (s->state == SMTP_S_AUTH) { /* a response, not a command: what is
					  not base64 ends the exchange */
		memcpy(line, p, n);
		line[n] = '\0';
		smtp_sess_auth_line(s, line);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 32 || c == 127) {
			smtp_sess_error(s, "500 5.5.2 Error: control character "
					   "in command");
			return;
		}
	}
	memcpy(line, p, n);
	line[n] = '\0';
	if (smtp_split_command(line, verb, sizeof(verb), &args) == 0) {
		for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
			if (strcmp(verbs[i].name, verb) == 0)
				v = &verbs[i];
		}
	}
	if (v == NULL) {
		smtp_sess_error(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	if ((v->args == ARGS_NONE && args[0] != '\0') ||
	    (v->args == ARGS_NEED && args[0] == '\0')) {
		smtp_sess_error(s, v->usage);
		return;
	}
	if ((why = v->check(s)) != NULL) {
		smtp_sess_error(s, why);
		return;
	}
	v->proceed(s, args);
}
