/*
 * test_dsn.c — the report message (src/delivery/dsn.c): an RFC 3464
 * multipart/report that parses back into its three parts with the fields
 * each failed recipient needs, CRLF line ends throughout, the original
 * headers or (RET=FULL) the whole message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/delivery/dsn.h"

#define T_NOW 1795465436786ull /* 2026-11-23 20:23:56 UTC */

static const char orig[] = "Received: from x by y\r\n"
			   "From: Alice <alice@example.org>\r\n"
			   "Subject: lunch\r\n"
			   "Message-ID: <abc@example.org>\n" /* bare LF */
			   "\r\n"
			   "Body line one\r\n"
			   "SECRET body line two\r\n";

static struct spool_rcpt rcpts[3];
static struct spool_rec rec;

static void make_rec(uint8_t ret)
{
	memset(rcpts, 0, sizeof(rcpts));
	memset(&rec, 0, sizeof(rec));
	rcpts[0].addr = "bob@far.example";
	rcpts[0].orcpt = "rfc822;Bob@Far.Example";
	rcpts[0].reply = "";
	rcpts[0].last_ms = T_NOW - 1000;
	rcpts[1].addr = "carol@near.example";
	rcpts[1].orcpt = "";
	rcpts[1].reply = "";
	rcpts[2].addr = "dave@far.example";
	rcpts[2].orcpt = "";
	rcpts[2].reply = "";
	rec.user = "TCPIP$SMTP";
	rec.sender = "alice@example.org";
	rec.client = "192.0.2.7";
	rec.helo = "client.example.org";
	rec.envid = "ENV-42";
	rec.ret = ret;
	rec.kind = KIND_MAIL;
	rec.created_ms = T_NOW - 60000;
	rec.nrcpt = 3;
	rec.rcpt = rcpts;
}

static const struct dsn_failure fails[] = {
    {0, "550 5.1.1 <bob@far.example>: unknown user", "mx1.far.example",
     DSN_ACT_FAILED},
    {2, "retry time exceeded (/INTERVAL=MAXIMUM)", "", DSN_ACT_FAILED},
};

/* Build a DSN for rec into a NUL-terminated malloc'd string. */
static char *build(const char *to)
{
	struct dsn_in in;
	struct wbuf wb;
	char *out;

	memset(&in, 0, sizeof(in));
	in.rec = &rec;
	in.orig_name = "26112320235678_TCPIP$SMTP_0000002a.TCPIP_NODE1";
	in.body = orig;
	in.body_len = sizeof(orig) - 1;
	in.fail = fails;
	in.nfail = 2;
	in.reporting_mta = "node1.cluster.test";
	in.postmaster = "TCPIP$SMTP@node1.cluster.test";
	in.to = to;
	in.now_ms = T_NOW;
	in.boundary_seed = "26112320235678_SYSTEM_00000001.TCPIP_NODE1";
	wbuf_init(&wb);
	assert_int_equal(dsn_build(&in, &wb), 0);
	wbuf_u8(&wb, 0);
	out = (char *)wbuf_take(&wb, NULL);
	assert_non_null(out);
	return out;
}

/* The value of header name in the header block starting at msg (up to the
 * first empty line), unfolded, or NULL. Caller frees. */
static char *header(const char *msg, const char *name)
{
	size_t nl = strlen(name);
	const char *p = msg;

	while (*p != '\0' && strncmp(p, "\r\n", 2) != 0) {
		const char *eol = strstr(p, "\r\n");
		assert_non_null(eol);
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *end = eol;
			while (end[2] == ' ' || end[2] == '\t')
				end = strstr(end + 2, "\r\n");
			char *out = calloc(1, (size_t)(end - v) + 1);
			size_t n = 0;
			for (const char *q = v; q < end; q++)
				if (*q != '\r' && *q != '\n')
					out[n++] = *q;
			char *s = out;
			while (*s == ' ' || *s == '\t')
				s++;
			memmove(out, s, strlen(s) + 1);
			return out;
		}
		p = eol + 2;
	}
	return NULL;
}

/* Split msg at its boundary delimiters; parts[i] point into msg
 * (NUL-terminated in place, the CRLF before a delimiter excluded). The
 * last delimiter must be the closing one. Returns the number of parts. */
static int split(char *msg, const char *boundary, char **parts, int max)
{
	char delim[200], *pos[16];
	int n = 0, np = 0;

	snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	for (char *p = strstr(msg, delim); p != NULL && n < 16;
	     p = strstr(p + 1, delim))
		pos[n++] = p;
	assert_true(n >= 2);
	assert_memory_equal(pos[n - 1] + strlen(delim), "--\r\n", 4);
	for (int i = 0; i + 1 < n && np < max; i++) {
		char *start = pos[i] + strlen(delim);
		assert_memory_equal(start, "\r\n", 2);
		parts[np++] = start + 2;
	}
	for (int i = 1; i < n; i++)
		*pos[i] = '\0';
	return np;
}

/* The boundary parameter of the top Content-Type. */
static void boundary_of(const char *msg, char *out, size_t size)
{
	char *ct = header(msg, "Content-Type");
	char *b;

	assert_non_null(ct);
	assert_non_null(strstr(ct, "multipart/report"));
	assert_non_null(strstr(ct, "report-type=delivery-status"));
	b = strstr(ct, "boundary=\"");
	assert_non_null(b);
	b += 10;
	assert_non_null(strchr(b, '"'));
	*strchr(b, '"') = '\0';
	snprintf(out, size, "%s", b);
	free(ct);
}

static void test_top_headers_name_the_postmaster_and_sender(void **state)
{
	char *m, *v;

	make_rec(DSN_RET_HDRS);
	m = build(NULL);
	v = header(m, "From");
	assert_string_equal(
	    v, "Mail Delivery System <TCPIP$SMTP@node1.cluster.test>");
	free(v);
	v = header(m, "To");
	assert_string_equal(v, "<alice@example.org>");
	free(v);
	v = header(m, "Subject");
	assert_string_equal(v, "Undelivered Mail Returned to Sender");
	free(v);
	v = header(m, "Auto-Submitted");
	assert_string_equal(v, "auto-replied");
	free(v);
	v = header(m, "MIME-Version");
	assert_string_equal(v, "1.0");
	free(v);
	v = header(m, "Date");
	assert_string_equal(v, "Mon, 23 Nov 2026 20:23:56 +0000");
	free(v);
	v = header(m, "Message-ID");
	assert_non_null(v);
	assert_int_equal(v[0], '<');
	assert_non_null(strstr(v, "@node1.cluster.test>"));
	free(v);
	free(m);
}

static void test_every_line_ends_with_crlf(void **state)
{
	char *m;

	make_rec(DSN_RET_FULL);
	m = build(NULL);
	for (size_t i = 0; m[i] != '\0'; i++) {
		if (m[i] == '\n')
			assert_int_equal(i > 0 && m[i - 1] == '\r', 1);
		if (m[i] == '\r')
			assert_int_equal(m[i + 1], '\n');
	}
	assert_int_equal(strlen(m) >= 2, 1);
	assert_string_equal(m + strlen(m) - 2, "\r\n");
	free(m);
}

static void test_report_has_three_parts_in_order(void **state)
{
	char boundary[160], *parts[8], *m, *ct;
	int n;

	make_rec(DSN_RET_HDRS);
	m = build(NULL);
	boundary_of(m, boundary, sizeof(boundary));
	/* the boundary holds only characters RFC 2046 allows */
	for (const char *p = boundary; *p; p++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz"
				       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789'()+_,-./:=? ",
				       *p));
	n = split(m, boundary, parts, 8);
	assert_int_equal(n, 3);
	ct = header(parts[0], "Content-Type");
	assert_non_null(strstr(ct, "text/plain"));
	free(ct);
	ct = header(parts[1], "Content-Type");
	assert_string_equal(ct, "message/delivery-status");
	free(ct);
	ct = header(parts[2], "Content-Type");
	assert_string_equal(ct, "text/rfc822-headers");
	free(ct);
	free(m);
}

static void test_status_part_has_one_block_per_failed_recipient(void **state)
{
	char boundary[160], *parts[8], *m, *st;

	make_rec(DSN_RET_HDRS);
	m = build(NULL);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	st = strstr(parts[1], "\r\n\r\n");
	assert_non_null(st);
	st += 4;
	/* per-message fields */
	assert_non_null(
	    strstr(st, "Reporting-MTA: dns; node1.cluster.test\r\n"));
	assert_non_null(strstr(st, "Original-Envelope-Id: ENV-42\r\n"));
	assert_non_null(
	    strstr(st, "Arrival-Date: Mon, 23 Nov 2026 20:22:56 +0000\r\n"));
	/* first failed recipient: ORCPT, remote MTA, enhanced code */
	assert_non_null(
	    strstr(st, "\r\n\r\nOriginal-Recipient: rfc822;Bob@Far.Example\r\n"
		       "Final-Recipient: rfc822; bob@far.example\r\n"
		       "Action: failed\r\n"
		       "Status: 5.1.1\r\n"
		       "Remote-MTA: dns; mx1.far.example\r\n"
		       "Diagnostic-Code: smtp; 550 5.1.1 <bob@far.example>: "
		       "unknown user\r\n"));
	/* second: the retry limit, no remote MTA */
	assert_non_null(
	    strstr(st, "\r\n\r\nFinal-Recipient: rfc822; dave@far.example\r\n"
		       "Action: failed\r\n"
		       "Status: 4.4.7\r\n"
		       "Diagnostic-Code: smtp; retry time exceeded "
		       "(/INTERVAL=MAXIMUM)\r\n"));
	/* the recipient that did not fail is not reported */
	assert_null(strstr(m, "carol@near.example"));
	free(m);
}

static void test_headers_part_holds_headers_without_body(void **state)
{
	char boundary[160], *parts[8], *m, *h;

	make_rec(DSN_RET_HDRS);
	m = build(NULL);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	h = strstr(parts[2], "\r\n\r\n");
	assert_non_null(h);
	h += 4;
	assert_non_null(strstr(h, "Subject: lunch\r\n"));
	assert_non_null(strstr(h, "Message-ID: <abc@example.org>\r\n"));
	assert_null(strstr(h, "SECRET"));
	free(m);
}

static void test_ret_full_returns_the_whole_message(void **state)
{
	char boundary[160], *parts[8], *m, *ct, *h;

	make_rec(DSN_RET_FULL);
	m = build(NULL);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	ct = header(parts[2], "Content-Type");
	assert_string_equal(ct, "message/rfc822");
	free(ct);
	h = strstr(parts[2], "\r\n\r\n");
	assert_non_null(h);
	assert_non_null(strstr(h, "Subject: lunch\r\n"));
	assert_non_null(strstr(h, "SECRET body line two\r\n"));
	free(m);
}

/* Build a DSN of rec for the given original into a NUL-terminated
 * malloc'd string, with return_max as given (0 = DSN_RETURN_MAX). */
static char *build_of(const char *body, size_t len, size_t return_max)
{
	struct dsn_in in;
	struct wbuf wb;
	char *out;

	memset(&in, 0, sizeof(in));
	in.rec = &rec;
	in.orig_name = "26112320235678_TCPIP$SMTP_0000002a.TCPIP_NODE1";
	in.body = body;
	in.body_len = len;
	in.fail = fails;
	in.nfail = 2;
	in.reporting_mta = "node1.cluster.test";
	in.postmaster = "TCPIP$SMTP@node1.cluster.test";
	in.now_ms = T_NOW;
	in.boundary_seed = "26112320235678_SYSTEM_00000001.TCPIP_NODE1";
	in.return_max = return_max;
	wbuf_init(&wb);
	assert_int_equal(dsn_build(&in, &wb), 0);
	wbuf_u8(&wb, 0);
	out = (char *)wbuf_take(&wb, NULL);
	assert_non_null(out);
	return out;
}

/* A message of headers and then body lines of 'x' up to total bytes
 * (LF line ends). Caller frees. */
static char *big_message(size_t total)
{
	static const char head[] = "From: Alice <alice@example.org>\n"
				   "Subject: huge\n"
				   "\n";
	char *m = malloc(total);

	assert_non_null(m);
	assert_true(total > sizeof(head));
	memcpy(m, head, sizeof(head) - 1);
	for (size_t i = sizeof(head) - 1; i < total; i++)
		m[i] = (i % 64 == 63) ? '\n' : 'x';
	return m;
}

static void test_ret_full_over_the_cap_returns_only_headers(void **state)
{
	size_t len = (size_t)DSN_RETURN_MAX + 4096;
	char boundary[160], *parts[8], *m, *ct, *h, *orig_m = big_message(len);

	make_rec(DSN_RET_FULL);
	m = build_of(orig_m, len, 0);
	assert_true(strlen(m) < 64 * 1024);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	assert_non_null(strstr(parts[0], "only its headers are attached"));
	ct = header(parts[2], "Content-Type");
	assert_string_equal(ct, "text/rfc822-headers");
	free(ct);
	h = strstr(parts[2], "\r\n\r\n");
	assert_non_null(h);
	h += 4;
	assert_string_equal(h, "From: Alice <alice@example.org>\r\n"
			       "Subject: huge\r\n");
	free(m);
	free(orig_m);
}

static void test_ret_full_at_the_cap_returns_the_whole_message(void **state)
{
	size_t len = 4000, crlf = len + 2; /* + the CRLF added at the end */
	char boundary[160], *parts[8], *m, *ct, *orig_m = big_message(len);

	for (size_t i = 0; i < len; i++)
		crlf += orig_m[i] == '\n'; /* each LF becomes CRLF */

	make_rec(DSN_RET_FULL);
	m = build_of(orig_m, len, crlf);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	ct = header(parts[2], "Content-Type");
	assert_string_equal(ct, "message/rfc822");
	free(ct);
	assert_null(strstr(parts[0], "only its headers"));
	free(m);

	/* one octet less: over the cap once its line ends are CRLF */
	m = build_of(orig_m, len, crlf - 1);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	ct = header(parts[2], "Content-Type");
	assert_string_equal(ct, "text/rfc822-headers");
	free(ct);
	assert_non_null(strstr(parts[0], "only its headers are attached"));
	free(m);
	free(orig_m);
}

static void test_headers_over_the_cap_are_cut_at_a_line_end(void **state)
{
	/* no empty line: the whole text counts as headers */
	size_t len = 4000;
	char boundary[160], *parts[8], *m, *h, *orig_m = big_message(len);

	orig_m[46] = 'Y'; /* the empty line after "Subject: huge" is gone */
	make_rec(DSN_RET_HDRS);
	m = build_of(orig_m, len, 1000);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	assert_non_null(strstr(parts[0], "cut\r\nshort"));
	h = strstr(parts[2], "\r\n\r\n");
	assert_non_null(h);
	h += 4;
	assert_true(strlen(h) <= 1000);
	assert_true(strlen(h) > 1000 - 70);
	assert_memory_equal(h + strlen(h) - 2, "\r\n", 2);
	free(m);
	free(orig_m);
}

static void test_postmaster_copy_goes_to_the_given_address(void **state)
{
	char *m, *v;

	make_rec(DSN_RET_HDRS);
	rec.kind = KIND_BOUNCE;
	rec.sender = "";
	m = build("TCPIP$SMTP@node1.cluster.test");
	v = header(m, "To");
	assert_string_equal(v, "<TCPIP$SMTP@node1.cluster.test>");
	free(v);
	v = header(m, "Subject");
	assert_string_equal(v, "Postmaster Copy: Undelivered Mail");
	free(v);
	free(m);
}

/* Build a report of the given entries for rec (NUL-terminated, malloc'd). */
static char *build_entries(const struct dsn_failure *e, uint32_t n)
{
	struct dsn_in in;
	struct wbuf wb;
	char *out;

	memset(&in, 0, sizeof(in));
	in.rec = &rec;
	in.orig_name = "26112320235678_TCPIP$SMTP_0000002a.TCPIP_NODE1";
	in.body = orig;
	in.body_len = sizeof(orig) - 1;
	in.fail = e;
	in.nfail = n;
	in.reporting_mta = "node1.cluster.test";
	in.postmaster = "TCPIP$SMTP@node1.cluster.test";
	in.now_ms = T_NOW;
	in.boundary_seed = "26112320235678_SYSTEM_00000002.TCPIP_NODE1";
	wbuf_init(&wb);
	assert_int_equal(dsn_build(&in, &wb), 0);
	wbuf_u8(&wb, 0);
	out = (char *)wbuf_take(&wb, NULL);
	assert_non_null(out);
	return out;
}

/* The value of field name in the n-th per-recipient block (0-based) of
 * the delivery-status part ds, or NULL. Caller frees. */
static char *rcpt_field(const char *ds, int n, const char *name)
{
	const char *p = ds;

	/* skip the part's headers and the per-message block */
	for (int i = 0; i < n + 2; i++) {
		p = strstr(p, "\r\n\r\n");
		assert_non_null(p);
		p += 4;
	}
	return header(p, name);
}

static void test_success_report_says_delivered_and_relayed(void **state)
{
	static const struct dsn_failure ok[] = {
	    {1, "delivered to maildir", "", DSN_ACT_DELIVERED},
	    {2, "250 2.0.0 Ok: queued as X", "mx.far.example", DSN_ACT_RELAYED},
	};
	char boundary[160], *parts[8], *m, *v;

	make_rec(DSN_RET_FULL); /* RET=FULL is for failures only */
	m = build_entries(ok, 2);
	v = header(m, "Subject");
	assert_string_equal(v, "Successful Mail Delivery Report");
	free(v);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	assert_non_null(strstr(parts[0], "successfully delivered"));
	v = rcpt_field(parts[1], 0, "Action");
	assert_string_equal(v, "delivered");
	free(v);
	v = rcpt_field(parts[1], 0, "Status");
	assert_string_equal(v, "2.0.0");
	free(v);
	/* a local reason is no SMTP diagnostic */
	assert_null(rcpt_field(parts[1], 0, "Diagnostic-Code"));
	v = rcpt_field(parts[1], 1, "Action");
	assert_string_equal(v, "relayed");
	free(v);
	v = rcpt_field(parts[1], 1, "Remote-MTA");
	assert_string_equal(v, "dns; mx.far.example");
	free(v);
	v = rcpt_field(parts[1], 1, "Diagnostic-Code");
	assert_string_equal(v, "smtp; 250 2.0.0 Ok: queued as X");
	free(v);
	v = header(parts[2], "Content-Type");
	assert_string_equal(v, "text/rfc822-headers");
	free(v);
	assert_null(strstr(m, "SECRET"));
	free(m);
}

static void test_delay_warning_says_delayed_with_a_4xx_status(void **state)
{
	static const struct dsn_failure late[] = {
	    {0, "451 4.2.1 <bob@far.example>: try again later", "mx1",
	     DSN_ACT_DELAYED},
	    {2, "550 5.7.1 hard, but still deferred", "", DSN_ACT_DELAYED},
	};
	char boundary[160], *parts[8], *m, *v;

	make_rec(DSN_RET_HDRS);
	m = build_entries(late, 2);
	v = header(m, "Subject");
	assert_string_equal(v, "Delayed Mail (still being retried)");
	free(v);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	assert_non_null(strstr(parts[0], "WARNING ONLY"));
	v = rcpt_field(parts[1], 0, "Action");
	assert_string_equal(v, "delayed");
	free(v);
	v = rcpt_field(parts[1], 0, "Status");
	assert_string_equal(v, "4.2.1");
	free(v);
	v = rcpt_field(parts[1], 1, "Status");
	assert_string_equal(v, "4.0.0"); /* a delay is never a 5.x.x */
	free(v);
	free(m);
}

static void test_mixed_report_is_a_bounce_with_every_action(void **state)
{
	static const struct dsn_failure mix[] = {
	    {1, "delivered to maildir", "", DSN_ACT_DELIVERED},
	    {0, "550 5.1.1 unknown", "mx1", DSN_ACT_FAILED},
	    {2, "451 4.4.1 no answer", "", DSN_ACT_DELAYED},
	};
	static const struct dsn_failure bad[] = {
	    {0, "x", "", DSN_ACT_RELAYED + 1}};
	char boundary[160], *parts[8], *m, *v;
	struct dsn_in in;
	struct wbuf wb;

	make_rec(DSN_RET_FULL);
	m = build_entries(mix, 3);
	v = header(m, "Subject");
	assert_string_equal(v, "Undelivered Mail Returned to Sender");
	free(v);
	boundary_of(m, boundary, sizeof(boundary));
	assert_int_equal(split(m, boundary, parts, 8), 3);
	v = rcpt_field(parts[1], 0, "Action");
	assert_string_equal(v, "delivered");
	free(v);
	v = rcpt_field(parts[1], 1, "Action");
	assert_string_equal(v, "failed");
	free(v);
	v = rcpt_field(parts[1], 2, "Action");
	assert_string_equal(v, "delayed");
	free(v);
	v = header(parts[2], "Content-Type");
	assert_string_equal(v, "message/rfc822"); /* a failure: RET=FULL */
	free(v);
	free(m);

	memset(&in, 0, sizeof(in));
	in.rec = &rec;
	in.fail = bad;
	in.nfail = 1;
	wbuf_init(&wb);
	assert_int_equal(dsn_build(&in, &wb), SPOOL_E_INVAL);
	wbuf_free(&wb);
}

static void test_status_comes_from_the_reply(void **state)
{
	char b[16];

	dsn_status("550 5.1.1 no such user", b, sizeof(b));
	assert_string_equal(b, "5.1.1");
	dsn_status("554-5.7.1 policy", b, sizeof(b));
	assert_string_equal(b, "5.7.1");
	dsn_status("550 no enhanced code", b, sizeof(b));
	assert_string_equal(b, "5.0.0");
	dsn_status("452 4.2.2 mailbox full", b, sizeof(b));
	assert_string_equal(b, "4.2.2");
	dsn_status("550 5.1.10 null MX", b, sizeof(b));
	assert_string_equal(b, "5.1.10");
	dsn_status("550 5.1.1234 too long a detail", b, sizeof(b));
	assert_string_equal(b, "5.0.0");
	dsn_status("retry time exceeded (/INTERVAL=MAXIMUM)", b, sizeof(b));
	assert_string_equal(b, "4.4.7");
	dsn_status("", b, sizeof(b));
	assert_string_equal(b, "5.0.0");
	dsn_status(NULL, b, sizeof(b));
	assert_string_equal(b, "5.0.0");
}

static void test_reply_with_line_breaks_cannot_inject_fields(void **state)
{
	static const struct dsn_failure evil[] = {
	    {0, "550 5.1.1 x\r\nX-Injected: yes", "", DSN_ACT_FAILED}};
	struct dsn_in in;
	struct wbuf wb;
	char *m;

	make_rec(DSN_RET_HDRS);
	memset(&in, 0, sizeof(in));
	in.rec = &rec;
	in.orig_name = "n";
	in.body = orig;
	in.body_len = sizeof(orig) - 1;
	in.fail = evil;
	in.nfail = 1;
	in.reporting_mta = "node1.cluster.test";
	in.postmaster = "postmaster@node1.cluster.test";
	in.now_ms = T_NOW;
	in.boundary_seed = "s";
	wbuf_init(&wb);
	assert_int_equal(dsn_build(&in, &wb), 0);
	wbuf_u8(&wb, 0);
	m = (char *)wbuf_take(&wb, NULL);
	assert_null(strstr(m, "\r\nX-Injected"));
	free(m);
}

static void test_no_failure_or_bad_index_is_refused(void **state)
{
	static const struct dsn_failure bad[] = {
	    {7, "550 x", "", DSN_ACT_FAILED}};
	struct dsn_in in;
	struct wbuf wb;

	make_rec(DSN_RET_HDRS);
	memset(&in, 0, sizeof(in));
	in.rec = &rec;
	in.orig_name = "n";
	in.reporting_mta = "m";
	in.postmaster = "p@m";
	in.boundary_seed = "s";
	wbuf_init(&wb);
	assert_int_equal(dsn_build(&in, &wb), SPOOL_E_INVAL);
	in.fail = bad;
	in.nfail = 1;
	assert_int_equal(dsn_build(&in, &wb), SPOOL_E_INVAL);
	wbuf_free(&wb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_top_headers_name_the_postmaster_and_sender),
	    cmocka_unit_test(test_every_line_ends_with_crlf),
	    cmocka_unit_test(test_report_has_three_parts_in_order),
	    cmocka_unit_test(
		test_status_part_has_one_block_per_failed_recipient),
	    cmocka_unit_test(test_headers_part_holds_headers_without_body),
	    cmocka_unit_test(test_ret_full_returns_the_whole_message),
	    cmocka_unit_test(test_ret_full_over_the_cap_returns_only_headers),
	    cmocka_unit_test(
		test_ret_full_at_the_cap_returns_the_whole_message),
	    cmocka_unit_test(test_headers_over_the_cap_are_cut_at_a_line_end),
	    cmocka_unit_test(test_postmaster_copy_goes_to_the_given_address),
	    cmocka_unit_test(test_status_comes_from_the_reply),
	    cmocka_unit_test(test_success_report_says_delivered_and_relayed),
	    cmocka_unit_test(test_delay_warning_says_delayed_with_a_4xx_status),
	    cmocka_unit_test(test_mixed_report_is_a_bounce_with_every_action),
	    cmocka_unit_test(test_reply_with_line_breaks_cannot_inject_fields),
	    cmocka_unit_test(test_no_failure_or_bad_index_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
