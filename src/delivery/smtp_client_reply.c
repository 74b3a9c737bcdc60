/*
 * smtp_client_reply.c — the delivery client's transaction (see
 * smtp_client.h): the commands it sends (EHLO/HELO/LHLO, STARTTLS, MAIL,
 * RCPT, DATA with their ESMTP parameters) and what each reply means for
 * the session and for each recipient. The state, the line parsing and the
 * endings are in smtp_client.c.
 *
 * Owns no memory. Fails like the engine: a reply that does not fit the
 * state is a protocol error (deferring the unanswered recipients); a 5xx
 * to the greeting, EHLO+HELO or MAIL is a host-level refusal.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "spool/codec/record.h"
#include "src/base/log.h"
#include "src/delivery/smtp_client_impl.h"

static void send_rcpt(struct smtp_client *c, uint32_t i)
{
	const struct smtp_client_rcpt *r = &c->r[i];
	char params[1200];
	size_t used = 0;

	params[0] = '\0';
	if ((c->ext & SC_EXT_DSN) && r->notify) {
		if (r->notify & DSN_NOTIFY_NEVER)
			used += (size_t)snprintf(params, sizeof(params),
						 " NOTIFY=NEVER");
		else
			used += (size_t)snprintf(
			    params, sizeof(params), " NOTIFY=%s%s%s%s%s",
			    (r->notify & DSN_NOTIFY_SUCCESS) ? "SUCCESS" : "",
			    ((r->notify & DSN_NOTIFY_SUCCESS) &&
			     (r->notify &
			      (DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY)))
				? ","
				: "",
			    (r->notify & DSN_NOTIFY_FAILURE) ? "FAILURE" : "",
			    ((r->notify & DSN_NOTIFY_FAILURE) &&
			     (r->notify & DSN_NOTIFY_DELAY))
				? ","
				: "",
			    (r->notify & DSN_NOTIFY_DELAY) ? "DELAY" : "");
	}
	if ((c->ext & SC_EXT_DSN) && r->orcpt != NULL && r->orcpt[0] != '\0' &&
	    used < sizeof(params))
		snprintf(params + used, sizeof(params) - used, " ORCPT=%s",
			 r->orcpt);
	smtp_cli_cmd(c, "RCPT TO:<%s>%s", r->addr, params);
}

static void send_mail(struct smtp_client *c)
{
	char params[512];
	size_t used = 0;

	params[0] = '\0';
	if (c->ext & SC_EXT_SIZE)
		used += (size_t)snprintf(params + used, sizeof(params) - used,
					 " SIZE=%llu",
					 (unsigned long long)c->cfg.size);
	if ((c->ext & SC_EXT_8BITMIME) && c->cfg.eightbit &&
	    used < sizeof(params))
		used += (size_t)snprintf(params + used, sizeof(params) - used,
					 " BODY=8BITMIME");
	if ((c->ext & SC_EXT_SMTPUTF8) && c->cfg.smtputf8 &&
	    used < sizeof(params))
		used += (size_t)snprintf(params + used, sizeof(params) - used,
					 " SMTPUTF8");
	if ((c->ext & SC_EXT_DSN) && c->cfg.ret != DSN_RET_NONE &&
	    used < sizeof(params))
		used += (size_t)snprintf(
		    params + used, sizeof(params) - used, " RET=%s",
		    c->cfg.ret == DSN_RET_FULL ? "FULL" : "HDRS");
	if ((c->ext & SC_EXT_DSN) && c->cfg.envid != NULL &&
	    c->cfg.envid[0] != '\0' && used < sizeof(params))
		snprintf(params + used, sizeof(params) - used, " ENVID=%s",
			 c->cfg.envid);
	smtp_cli_cmd(c, "MAIL FROM:<%s>%s", c->cfg.sender, params);
}

static int non_ascii(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s & 0x80)
			return 1;
	return 0;
}

/* Why this server cannot take this message as it is (a host-level
 * refusal of our own, RFC 6531 3.2 and RFC 6152 3), or NULL. LMTP (local
 * delivery) is not checked: its server is ours to configure. */
static const char *content_refusal(const struct smtp_client *c, char *buf,
				   size_t size)
{
	if (c->cfg.lmtp)
		return NULL;
	if (c->cfg.smtputf8 && !(c->ext & SC_EXT_SMTPUTF8)) {
		int addr8 = non_ascii(c->cfg.sender);

		for (uint32_t k = 0; k < c->nsend && !addr8; k++)
			addr8 = non_ascii(c->r[c->sendv[k]].addr);
		if (addr8) {
			snprintf(buf, size,
				 "550 5.6.7 %s does not offer SMTPUTF8: "
				 "non-ASCII address not permitted",
				 c->cfg.peer);
			return buf;
		}
		if (c->cfg.head8bit) {
			snprintf(buf, size,
				 "550 5.6.9 %s does not offer SMTPUTF8: UTF-8 "
				 "header fields cannot be transferred",
				 c->cfg.peer);
			return buf;
		}
	}
	if (c->cfg.eightbit && !(c->ext & SC_EXT_8BITMIME) &&
	    !c->cfg.eightbit_asis) {
		snprintf(buf, size,
			 "554 5.6.3 %s does not offer 8BITMIME and "
			 "/OPTIONS=NOEIGHT_BIT forbids sending 8-bit content "
			 "as it is",
			 c->cfg.peer);
		return buf;
	}
	return NULL;
}

/* Queue MAIL (+ RCPTs + DATA when pipelining): 0, or -1 when the
 * transaction ended here (nothing to send, too big, content the server
 * cannot take: QUIT queued). */
static int queue_transaction(struct smtp_client *c)
{
	char reason[SMTP_CLIENT_REPLY_MAX];
	const char *why;

	if (c->nsend == 0) {
		smtp_cli_quit(c);
		return -1;
	}
	if (c->size_limit > 0 && c->cfg.size > c->size_limit) {
		smtp_cli_fail(c, 1, 1,
			      "552 5.3.4 message size %llu exceeds the limit "
			      "of %s (%llu)",
			      (unsigned long long)c->cfg.size, c->cfg.peer,
			      (unsigned long long)c->size_limit);
		return -1;
	}
	why = content_refusal(c, reason, sizeof(reason));
	if (why != NULL) {
		smtp_cli_fail(c, 1, 1, "%s", why);
		return -1;
	}
	c->pipelined = (c->ext & SC_EXT_PIPELINING) != 0;
	c->next = 0;
	c->nacc = 0;
	send_mail(c);
	if (c->pipelined) {
		for (uint32_t k = 0; k < c->nsend; k++)
			send_rcpt(c, c->sendv[k]);
		smtp_cli_cmd(c, "DATA");
	}
	return 0;
}

/* After the greeting dance or the RSET of a reused connection. */
static void begin_transaction(struct smtp_client *c)
{
	if (queue_transaction(c) == 0)
		smtp_cli_enter(c, SC_MAIL);
}

int smtp_client_next(struct smtp_client *c, const struct smtp_client_cfg *cfg,
		     struct smtp_client_rcpt *r, uint32_t n)
{
	int rc;

	if (c->state != SC_READY || cfg->lmtp)
		return SPOOL_E_INVAL;
	rc = smtp_cli_setup(c, cfg, r, n);
	if (rc != 0)
		return rc;
	/* RSET tells a connection that went stale from one that is fine
	 * before anything of the message counts (RFC 5321 4.1.1.5) */
	smtp_cli_cmd(c, "RSET");
	c->rset_ahead = (c->ext & SC_EXT_PIPELINING) != 0;
	if (!c->rset_ahead || queue_transaction(c) == 0)
		smtp_cli_enter(c, SC_RSET);
	smtp_cli_flush(c);
	return 0;
}

static void on_rset(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 != 2) {
		smtp_cli_fail(c, 0, 1, "%s", text); /* reuse_failed */
		return;
	}
	if (c->rset_ahead)
		smtp_cli_enter(c, SC_MAIL); /* MAIL's reply is on its way */
	else
		begin_transaction(c);
}

void smtp_cli_send_ehlo(struct smtp_client *c)
{
	c->ext = 0;
	c->size_limit = 0;
	c->ehlo_lines = 0;
	smtp_cli_cmd(c, "%s %s", c->cfg.lmtp ? "LHLO" : "EHLO", c->cfg.helo);
	smtp_cli_enter(c, SC_EHLO);
}

/* One line of an EHLO reply (not the first): note the extension. */
void smtp_cli_ehlo_keyword(struct smtp_client *c, const char *kw)
{
	char word[32];
	size_t i = 0;

	while (kw[i] != '\0' && kw[i] != ' ' && kw[i] != '=' &&
	       i < sizeof(word) - 1) {
		word[i] = (char)toupper((unsigned char)kw[i]);
		i++;
	}
	word[i] = '\0';
	if (strcmp(word, "PIPELINING") == 0)
		c->ext |= SC_EXT_PIPELINING;
	else if (strcmp(word, "STARTTLS") == 0)
		c->ext |= SC_EXT_STARTTLS;
	else if (strcmp(word, "8BITMIME") == 0)
		c->ext |= SC_EXT_8BITMIME;
	else if (strcmp(word, "DSN") == 0)
		c->ext |= SC_EXT_DSN;
	else if (strcmp(word, "SMTPUTF8") == 0)
		c->ext |= SC_EXT_SMTPUTF8;
	else if (strcmp(word, "SIZE") == 0) {
		const char *p = kw + i;
		unsigned long long v = 0;

		c->ext |= SC_EXT_SIZE;
		while (*p == ' ' || *p == '=')
			p++;
		while (*p >= '0' && *p <= '9' && v < (1ULL << 50))
			v = v * 10 + (unsigned long long)(*p++ - '0');
		c->size_limit = v;
	}
}

/* Final outcome for recipient i from a reply. */
void smtp_cli_settle(struct smtp_client *c, uint32_t i, int code,
		     const char *text)
{
	struct smtp_client_rcpt *r = &c->r[i];

	r->answered = 1;
	r->hard = 0;
	r->outcome = code / 100 == 2   ? OUT_DELIVERED
		     : code / 100 == 5 ? OUT_FAILED
				       : OUT_DEFERRED;
	snprintf(r->reply, sizeof(r->reply), "%s", text);
}

static void on_greeting(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 == 2)
		smtp_cli_send_ehlo(c);
	else if (code / 100 == 5)
		smtp_cli_fail(c, 1, 1, "%s", text);
	else if (code / 100 == 4)
		smtp_cli_fail(c, 0, 1, "%s", text);
	else
		smtp_cli_protocol_error(c, "unexpected greeting");
}

/* The TLS policy wants TLS (cfg.tls_required) and the session has none:
 * end it, every recipient deferred 4.7.4 (nothing is sent in clear).
 * Returns 1 when it did. */
static int tls_missing(struct smtp_client *c, const char *why)
{
	if (!c->cfg.tls_required || c->tls_active)
		return 0;
	smtp_cli_fail(c, 0, 1,
		      "451 4.7.4 TLS required by policy, but %s %s: not sent",
		      c->cfg.peer, why);
	return 1;
}

static void on_ehlo(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 == 2) {
		if (!c->cfg.lmtp && c->cfg.tls_allowed && !c->tls_active &&
		    (c->ext & SC_EXT_STARTTLS) && c->io.starttls != NULL) {
			smtp_cli_cmd(c, "STARTTLS");
			smtp_cli_enter(c, SC_STARTTLS);
			return;
		}
		if (tls_missing(c, "offers no STARTTLS"))
			return;
		begin_transaction(c);
		return;
	}
	if (c->cfg.lmtp || c->tls_active || code == 421 || code / 100 == 2 ||
	    code / 100 < 4) {
		if (code / 100 == 5)
			smtp_cli_fail(c, 1, 1, "%s", text);
		else
			smtp_cli_fail(c, 0, 1, "%s", text);
		return;
	}
	/* RFC 5321 3.2: an EHLO refused, try HELO */
	c->ext = 0;
	smtp_cli_cmd(c, "HELO %s", c->cfg.helo);
	smtp_cli_enter(c, SC_HELO);
}

static void on_helo(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 == 2 && tls_missing(c, "refused EHLO"))
		return;
	if (code / 100 == 2)
		begin_transaction(c);
	else
		smtp_cli_fail(c, code / 100 == 5, 1, "%s", text);
}

static void on_starttls(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 != 2 && tls_missing(c, "refused STARTTLS"))
		return;
	if (code / 100 != 2) {
		/* opportunistic: carry on in clear */
		log_info("smtp %s: STARTTLS refused (%s), going on without",
			 c->cfg.peer, text);
		begin_transaction(c);
		return;
	}
	smtp_cli_enter(c, SC_TLS);
	if (c->io.starttls(c->io.arg) != 0) {
		c->tls_failed = 1;
		smtp_cli_fail(c, 0, 0, "451 4.7.5 TLS setup with %s failed",
			      c->cfg.peer);
	}
}

static void on_mail(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 != 2) {
		smtp_cli_fail(c, code / 100 == 5, 1, "%s", text);
		return;
	}
	smtp_cli_enter(c, SC_RCPT);
	if (!c->pipelined)
		send_rcpt(c, c->sendv[0]);
}

static void on_rcpt(struct smtp_client *c, int code, const char *text)
{
	uint32_t i = c->sendv[c->next];

	if (code / 100 == 2) {
		c->acc[c->nacc++] = i;
		snprintf(c->r[i].reply, sizeof(c->r[i].reply), "%s", text);
	} else {
		smtp_cli_settle(c, i, code, text);
	}
	c->next++;
	if (c->next < c->nsend) {
		if (!c->pipelined)
			send_rcpt(c, c->sendv[c->next]);
		smtp_cli_enter(c, SC_RCPT);
		return;
	}
	if (c->pipelined) {
		smtp_cli_enter(c, SC_DATA); /* its reply is on its way */
		return;
	}
	if (c->nacc == 0) {
		smtp_cli_txn_end(c);
		return;
	}
	smtp_cli_cmd(c, "DATA");
	smtp_cli_enter(c, SC_DATA);
}

static void on_data(struct smtp_client *c, int code, const char *text)
{
	if (code / 100 == 3) {
		if (c->nacc == 0) {
			/* RFC 2920 3.1: nothing to send, end it empty */
			c->data_empty = 1;
			smtp_cli_cmd(c, ".");
			smtp_cli_enter(c, SC_DOT);
			return;
		}
		smtp_cli_flush(c);
		smtp_cli_enter(c, SC_BODY);
		c->io.write(c->io.arg, c->cfg.data, c->cfg.data_len);
		return;
	}
	if (code / 100 == 2) {
		smtp_cli_protocol_error(c, "2xx reply to DATA");
		return;
	}
	for (uint32_t k = 0; k < c->nacc; k++)
		smtp_cli_settle(c, c->acc[k], code, text);
	if (code == 421)
		smtp_cli_quit(c);
	else
		smtp_cli_txn_end(c);
}

static void on_dot(struct smtp_client *c, int code, const char *text)
{
	if (c->data_empty) {
		smtp_cli_txn_end(c);
		return;
	}
	if (code / 100 == 3 || code / 100 == 1) {
		smtp_cli_protocol_error(c, "intermediate reply after the data");
		return;
	}
	if (!c->cfg.lmtp) {
		for (uint32_t k = 0; k < c->nacc; k++)
			smtp_cli_settle(c, c->acc[k], code, text);
		if (code == 421)
			smtp_cli_quit(c);
		else
			smtp_cli_txn_end(c);
		return;
	}
	/* LMTP: one reply per accepted recipient, in RCPT order */
	smtp_cli_settle(c, c->acc[c->dot_next++], code, text);
	if (c->dot_next >= c->nacc)
		smtp_cli_quit(c);
	else
		smtp_cli_enter(c, SC_DOT);
}

/* A complete reply arrived. */
void smtp_cli_on_reply(struct smtp_client *c, int code, const char *text)
{
	switch (c->state) {
	case SC_GREETING:
		on_greeting(c, code, text);
		break;
	case SC_EHLO:
		on_ehlo(c, code, text);
		break;
	case SC_HELO:
		on_helo(c, code, text);
		break;
	case SC_STARTTLS:
		on_starttls(c, code, text);
		break;
	case SC_MAIL:
		on_mail(c, code, text);
		break;
	case SC_RCPT:
		on_rcpt(c, code, text);
		break;
	case SC_DATA:
		on_data(c, code, text);
		break;
	case SC_BODY:
	case SC_DOT:
		on_dot(c, code, text);
		break;
	case SC_RSET:
		on_rset(c, code, text);
		break;
	case SC_QUIT:
	case SC_READY: /* an idle server saying goodbye (421) */
		smtp_cli_finish(c);
		break;
	default:
		smtp_cli_protocol_error(c, "reply while none was expected");
		break;
	}
}
