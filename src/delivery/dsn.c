/*
 * dsn.c — the report message (see dsn.h): RFC 3464 multipart/report with a
 * human-readable part, a message/delivery-status part (one per-recipient
 * block per recipient reported: failed, delayed, delivered or relayed) and
 * the original headers (text/rfc822-headers) or, for RET=FULL in a report
 * of a failure, the whole original message (message/rfc822) when it is
 * within DSN_RETURN_MAX (its headers only when it is not).
 *
 * Owns: the layout and wording of bounces, delay warnings and success
 * reports, the status code taken from a reply. Does not own: the date
 * format (maildate.c), who gets a report or when (symbiont_bounce.c), nor
 * enqueueing it. Pure: no clock, no randomness; fails only for bad input
 * or memory.
 */
#include "src/delivery/dsn.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "src/base/maildate.h"

#define VALUE_MAX 900 /* longest header value written (line <= 998) */
#define SEED_MAX 120

/* Append a NUL-terminated string. */
static void put(struct wbuf *wb, const char *s)
{
	wbuf_raw(wb, s, strlen(s));
}

/* Append s cut at VALUE_MAX bytes, with CR, LF and other controls made
 * spaces (a reply or an address never breaks a header line). */
static void put_value(struct wbuf *wb, const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n < VALUE_MAX; s++, n++) {
		unsigned char ch = (unsigned char)*s;
		uint8_t out = (ch < 0x20 || ch == 0x7f) ? ' ' : ch;
		wbuf_u8(wb, out);
	}
}

/* "name: value\r\n" */
static void put_field(struct wbuf *wb, const char *name, const char *value)
{
	put(wb, name);
	put(wb, ": ");
	put_value(wb, value);
	put(wb, "\r\n");
}

/* Length of an enhanced status code "C.S.D" at p (C 2/4/5, S and D 1..3
 * digits), 0 if there is none. */
static size_t enhanced_len(const char *p)
{
	size_t i = 1, d;

	if (p[0] != '2' && p[0] != '4' && p[0] != '5')
		return 0;
	for (int part = 0; part < 2; part++) {
		if (p[i] != '.')
			return 0;
		i++;
		for (d = 0; d < 3 && isdigit((unsigned char)p[i]); d++)
			i++;
		if (d == 0)
			return 0;
	}
	if (isdigit((unsigned char)p[i]) || p[i] == '.')
		return 0;
	return i;
}

void dsn_status(const char *reply, char *buf, size_t size)
{
	const char *p = reply != NULL ? reply : "";
	size_t n;

	if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && (p[3] == ' ' || p[3] == '-')) {
		n = enhanced_len(p + 4);
		if (n > 0 && n < size) {
			memcpy(buf, p + 4, n);
			buf[n] = '\0';
			return;
		}
		if (p[0] == '4' || p[0] == '5') {
			snprintf(buf, size, "%c.0.0", p[0]);
			return;
		}
	}
	if (strstr(p, "/INTERVAL=MAXIMUM") != NULL ||
	    strstr(p, "retry time exceeded") != NULL) {
		snprintf(buf, size, "4.4.7"); /* delivery time expired */
		return;
	}
	snprintf(buf, size, "5.0.0");
}

/* Copy seed keeping only characters a MIME boundary allows (RFC 2046
 * bcharsnospace, minus the ones that need quoting care). */
static void clean_seed(const char *seed, char *out, size_t size)
{
	size_t n = 0;

	for (; seed != NULL && *seed != '\0' && n + 1 < size; seed++) {
		unsigned char ch = (unsigned char)*seed;
		out[n++] = (isalnum(ch) || ch == '.' || ch == '-' || ch == '_')
			       ? (char)ch
			       : '.';
	}
	if (n == 0)
		out[n++] = '0';
	out[n] = '\0';
}

/* Length of the header section of m: up to and including the line end
 * of its last header, not the empty line after it (all of m when it has
 * no empty line). */
static size_t header_len(const char *m, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (m[i] != '\n')
			continue;
		if (i + 1 < len && m[i + 1] == '\n')
			return i + 1;
		if (i + 2 < len && m[i + 1] == '\r' && m[i + 2] == '\n')
			return i + 1;
	}
	if (len > 0 &&
	    (m[0] == '\n' || (m[0] == '\r' && len > 1 && m[1] == '\n')))
		return 0;
	return len;
}

/* Append len bytes of text with every line end (CRLF, bare LF, bare CR)
 * made CRLF, ending with CRLF. */
static void put_crlf(struct wbuf *wb, const char *m, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (m[i] != '\r' && m[i] != '\n')
			continue;
		wbuf_raw(wb, m + start, i - start);
		put(wb, "\r\n");
		if (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	if (start < len) {
		wbuf_raw(wb, m + start, len - start);
		put(wb, "\r\n");
	}
}

/* Length of the first len bytes of m once put_crlf() has written them.
 * When cap is not 0, *cut gets the longest prefix ending at a line end
 * whose written length is at most cap (0 when not even the first line
 * fits). */
static size_t crlf_len(const char *m, size_t len, size_t cap, size_t *cut)
{
	size_t out = 0, good = 0;

	for (size_t i = 0; i < len; i++) {
		if (m[i] != '\r' && m[i] != '\n') {
			out++;
			continue;
		}
		if (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n')
			i++;
		out += 2;
		if (cap != 0 && out <= cap)
			good = i + 1;
	}
	if (len > 0 && m[len - 1] != '\r' && m[len - 1] != '\n')
		out += 2; /* the CRLF put_crlf adds at the end */
	if (cut != NULL)
		*cut = out <= cap ? len : good;
	return out;
}

/* The address an ORCPT names, as "type; addr" ("rfc822; a@b"). */
static void put_orcpt(struct wbuf *wb, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');

	put(wb, "Original-Recipient: ");
	if (semi != NULL) {
		put_value(wb, orcpt); /* already "rfc822;addr" */
	} else {
		put(wb, "rfc822; ");
		put_value(wb, orcpt);
	}
	put(wb, "\r\n");
}

/* The Action field of each enum dsn_action. */
static const char *const action_name[] = {
    [DSN_ACT_FAILED] = "failed",
    [DSN_ACT_DELAYED] = "delayed",
    [DSN_ACT_DELIVERED] = "delivered",
    [DSN_ACT_RELAYED] = "relayed",
};

/* What the report is, by its gravest entry: DSN_ACT_FAILED when any
 * recipient failed, else DSN_ACT_DELAYED when any is delayed, else
 * DSN_ACT_DELIVERED (delivered or relayed). */
static int report_kind(const struct dsn_in *in)
{
	int delayed = 0;

	for (uint32_t i = 0; i < in->nfail; i++) {
		if (in->fail[i].action == DSN_ACT_FAILED)
			return DSN_ACT_FAILED;
		if (in->fail[i].action == DSN_ACT_DELAYED)
			delayed = 1;
	}
	return delayed ? DSN_ACT_DELAYED : DSN_ACT_DELIVERED;
}

/* The Status of one entry: a failure's from its reply (dsn_status), a
 * delay's when it is a 4.x.x (else 4.0.0), a delivery's or relay's when it
 * is a 2.x.x (else 2.0.0). */
static void entry_status(const struct dsn_failure *f, char *buf, size_t size)
{
	char want = f->action == DSN_ACT_FAILED	   ? 0
		    : f->action == DSN_ACT_DELAYED ? '4'
						   : '2';

	dsn_status(f->reply, buf, size);
	if (want != 0 && buf[0] != want)
		snprintf(buf, size, "%c.0.0", want);
}

/* 1 when s starts like an SMTP reply ("250 ...", "451-..."). */
static int is_reply(const char *s)
{
	return s != NULL && isdigit((unsigned char)s[0]) &&
	       isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
	       (s[3] == ' ' || s[3] == '-' || s[3] == '\0');
}

/* What the third part returns of the original message. */
struct returned {
	int full;	  /* the whole message (message/rfc822) */
	int reduced;	  /* RET=FULL asked, headers only: over the cap */
	size_t hlen;	  /* bytes of headers returned when !full */
	int headers_cut;  /* headers cut short at the cap */
	size_t cap;	  /* the cap applied */
	size_t full_size; /* the message's size after CRLF conversion */
};

/* Decide what the bounce returns of the original (see DSN_RETURN_MAX). */
static void plan_return(const struct dsn_in *in, const char *body,
			struct returned *r)
{
	size_t whole, cut;

	memset(r, 0, sizeof(*r));
	r->cap = in->return_max != 0 ? in->return_max : DSN_RETURN_MAX;
	r->full =
	    in->rec->ret == DSN_RET_FULL && report_kind(in) == DSN_ACT_FAILED;
	if (r->full) {
		r->full_size = crlf_len(body, in->body_len, 0, NULL);
		if (r->full_size <= r->cap)
			return;
		r->full = 0;
		r->reduced = 1;
	}
	r->hlen = header_len(body, in->body_len);
	whole = crlf_len(body, r->hlen, r->cap, &cut);
	if (whole > r->cap) {
		r->hlen = cut;
		r->headers_cut = 1;
	}
}

/* The human-readable first part. */
static void put_notice(struct wbuf *wb, const struct dsn_in *in,
		       const struct returned *ret)
{
	char line[200];

	put(wb, "Content-Type: text/plain; charset=us-ascii\r\n"
		"Content-Description: Notification\r\n"
		"\r\n"
		"This is the mail system at host ");
	put_value(wb, in->reporting_mta);
	put(wb, ".\r\n\r\n");
	if (report_kind(in) == DSN_ACT_DELAYED)
		put(wb, "####################################################"
			"#########\r\n"
			"# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND "
			"YOUR MESSAGE. #\r\n"
			"####################################################"
			"#########\r\n\r\n"
			"Your message could not be delivered yet to one or "
			"more recipients.\r\nThe mail system will keep "
			"trying until the retry time (/INTERVAL=MAXIMUM)\r\n"
			"ends, and will tell you if it gives up.\r\n\r\n");
	else if (report_kind(in) == DSN_ACT_DELIVERED)
		put(wb, "Your message was successfully delivered to the "
			"destination(s)\r\nlisted below. If the message was "
			"delivered to a mailbox you will\r\nreceive no further "
			"notifications. Otherwise you may still receive\r\n"
			"notifications of mail delivery errors from other "
			"systems.\r\n\r\n");
	else if (in->rec->kind == KIND_MAIL)
		put(wb, "I'm sorry to have to inform you that your message "
			"could not\r\nbe delivered to one or more "
			"recipients. It's attached below.\r\n\r\n"
			"For further assistance, please send mail to "
			"postmaster.\r\n\r\n");
	else
		put(wb, "A delivery status notification (a bounce) could "
			"not be delivered\r\nto its recipient. It is returned "
			"to the postmaster, and no further\r\nnotice will be "
			"sent about it.\r\n\r\n");
	for (uint32_t i = 0; i < in->nfail; i++) {
		const struct spool_rcpt *r = &in->rec->rcpt[in->fail[i].rcpt];
		put(wb, "<");
		put_value(wb, r->addr);
		put(wb, ">: ");
		if (in->fail[i].action != DSN_ACT_FAILED) {
			put(wb, action_name[in->fail[i].action]);
			put(wb, is_reply(in->fail[i].reply) ? ": " : "");
		}
		if (in->fail[i].action == DSN_ACT_FAILED ||
		    is_reply(in->fail[i].reply))
			put_value(wb, in->fail[i].reply);
		put(wb, "\r\n");
	}
	put(wb, "\r\n");
	if (ret->reduced) {
		snprintf(line, sizeof(line),
			 "The message (%zu octets) is over the %zu octet "
			 "limit for returning\r\nit in full: only its "
			 "headers are attached.\r\n\r\n",
			 ret->full_size, ret->cap);
		put(wb, line);
	}
	if (ret->headers_cut) {
		snprintf(line, sizeof(line),
			 "The message's headers are over the %zu octet "
			 "limit: they are cut\r\nshort.\r\n\r\n",
			 ret->cap);
		put(wb, line);
	}
}

/* The message/delivery-status part. */
static void put_status(struct wbuf *wb, const struct dsn_in *in)
{
	char date[48], status[16];

	put(wb, "Content-Type: message/delivery-status\r\n"
		"Content-Description: Delivery report\r\n"
		"\r\n");
	put(wb, "Reporting-MTA: dns; ");
	put_value(wb, in->reporting_mta);
	put(wb, "\r\n");
	put_field(wb, "X-Control-File", in->orig_name);
	if (in->rec->envid != NULL && in->rec->envid[0] != '\0')
		put_field(wb, "Original-Envelope-Id", in->rec->envid);
	maildate_format(in->rec->created_ms, date, sizeof(date));
	put_field(wb, "Arrival-Date", date);
	for (uint32_t i = 0; i < in->nfail; i++) {
		const struct dsn_failure *f = &in->fail[i];
		const struct spool_rcpt *r = &in->rec->rcpt[f->rcpt];
		put(wb, "\r\n");
		if (r->orcpt != NULL && r->orcpt[0] != '\0')
			put_orcpt(wb, r->orcpt);
		put(wb, "Final-Recipient: rfc822; ");
		put_value(wb, r->addr);
		put(wb, "\r\n");
		put_field(wb, "Action", action_name[f->action]);
		entry_status(f, status, sizeof(status));
		put_field(wb, "Status", status);
		if (f->remote_mta != NULL && f->remote_mta[0] != '\0') {
			put(wb, "Remote-MTA: dns; ");
			put_value(wb, f->remote_mta);
			put(wb, "\r\n");
		}
		if (f->action == DSN_ACT_FAILED || is_reply(f->reply)) {
			put(wb, "Diagnostic-Code: smtp; ");
			put_value(wb, f->reply != NULL && f->reply[0] != '\0'
					  ? f->reply
					  : "delivery failed");
			put(wb, "\r\n");
		}
		maildate_format(r->last_ms != 0 ? r->last_ms : in->now_ms, date,
				sizeof(date));
		put_field(wb, "Last-Attempt-Date", date);
	}
	put(wb, "\r\n");
}

int dsn_build(const struct dsn_in *in, struct wbuf *wb)
{
	char seed[SEED_MAX + 1], date[48];
	const char *to, *body = in->body;
	struct returned ret;

	if (in->nfail == 0 || in->fail == NULL)
		return SPOOL_E_INVAL;
	for (uint32_t i = 0; i < in->nfail; i++)
		if (in->fail[i].rcpt >= in->rec->nrcpt ||
		    in->fail[i].action > DSN_ACT_RELAYED)
			return SPOOL_E_INVAL;
	if (body == NULL)
		body = "";
	clean_seed(in->boundary_seed, seed, sizeof(seed));
	plan_return(in, body, &ret);
	to = in->to != NULL ? in->to : in->rec->sender;

	maildate_format(in->now_ms, date, sizeof(date));
	put_field(wb, "Date", date);
	put(wb, "From: Mail Delivery System <");
	put_value(wb, in->postmaster);
	put(wb, ">\r\n");
	put(wb, "To: <");
	put_value(wb, to);
	put(wb, ">\r\n");
	if (report_kind(in) == DSN_ACT_DELAYED)
		put(wb, "Subject: Delayed Mail (still being retried)\r\n");
	else if (report_kind(in) == DSN_ACT_DELIVERED)
		put(wb, "Subject: Successful Mail Delivery Report\r\n");
	else
		put(wb, in->rec->kind == KIND_MAIL
			    ? "Subject: Undelivered Mail Returned to Sender\r\n"
			    : "Subject: Postmaster Copy: Undelivered Mail\r\n");
	put(wb, "Message-ID: <");
	put(wb, seed);
	put(wb, "@");
	put_value(wb, in->reporting_mta);
	put(wb, ">\r\n");
	put(wb, "Auto-Submitted: auto-replied\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/report; report-type=delivery-status;"
		"\r\n\tboundary=\"DSN=_");
	put(wb, seed);
	put(wb, "\"\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"This is a MIME-encapsulated message.\r\n"
		"\r\n");

	put(wb, "--DSN=_");
	put(wb, seed);
	put(wb, "\r\n");
	put_notice(wb, in, &ret);

	put(wb, "--DSN=_");
	put(wb, seed);
	put(wb, "\r\n");
	put_status(wb, in);

	put(wb, "--DSN=_");
	put(wb, seed);
	put(wb, "\r\n");
	if (ret.full) {
		put(wb, "Content-Type: message/rfc822\r\n"
			"Content-Description: Undelivered Message\r\n"
			"\r\n");
		put_crlf(wb, body, in->body_len);
	} else {
		put(wb, report_kind(in) == DSN_ACT_FAILED
			    ? "Content-Type: text/rfc822-headers\r\n"
			      "Content-Description: Undelivered Message "
			      "Headers\r\n\r\n"
			    : "Content-Type: text/rfc822-headers\r\n"
			      "Content-Description: Message Headers\r\n\r\n");
		put_crlf(wb, body, ret.hlen);
	}
	put(wb, "\r\n--DSN=_");
	put(wb, seed);
	put(wb, "--\r\n");
	return wb->err != 0 ? SPOOL_E_NOMEM : 0;
}
