/*
 * test_local_headers.c — the header fields local delivery shows
 * (src/delivery/local_headers.c): each /OPTIONS= mode's field lists, the
 * continuation lines that go with their field, the body never touched,
 * and a header section that ends at a line that is not a field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/config.h"
#include "src/delivery/local_headers.h"

static const char msg[] = "Return-Path: <x@y>\r\n"
			  "Received: from a.example by b.example\r\n"
			  "\tid 42; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
			  "DKIM-Signature: v=1; a=rsa-sha256;\r\n"
			  " b=abc\r\n"
			  "From: Alice <alice@example.org>\r\n"
			  "To: bob@example.org\r\n"
			  "Cc: carol@example.org\r\n"
			  "Reply-To: list@example.org\r\n"
			  "Resent-From: dave@example.org\r\n"
			  "Subject: a long\r\n"
			  " subject\r\n"
			  "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
			  "Message-ID: <1@example.org>\r\n"
			  "X-Mailer: test\r\n"
			  "MIME-Version: 1.0\r\n"
			  "content-type: text/plain; charset=us-ascii\r\n"
			  "\r\n"
			  "Received: this is body text\r\n"
			  "X-Mailer: so is this\r\n";

static char *run(const char *m, int mode)
{
	static char out[2048];
	size_t n = local_headers_filter(m, strlen(m), mode, out);

	assert_true(n <= strlen(m));
	out[n] = '\0';
	return out;
}

static void test_headers_keeps_everything(void **state)
{
	assert_string_equal(run(msg, CFG_HEADERS_ALL), msg);
	/* an unknown mode is HEADERS (the default) */
	assert_string_equal(run(msg, 99), msg);
}

static void test_top_headers_drops_trace_and_transport_fields(void **state)
{
	assert_string_equal(run(msg, CFG_HEADERS_TOP),
			    "From: Alice <alice@example.org>\r\n"
			    "To: bob@example.org\r\n"
			    "Cc: carol@example.org\r\n"
			    "Reply-To: list@example.org\r\n"
			    "Resent-From: dave@example.org\r\n"
			    "Subject: a long\r\n"
			    " subject\r\n"
			    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
			    "Message-ID: <1@example.org>\r\n"
			    "MIME-Version: 1.0\r\n"
			    "content-type: text/plain; charset=us-ascii\r\n"
			    "\r\n"
			    "Received: this is body text\r\n"
			    "X-Mailer: so is this\r\n");
}

static void test_noheaders_keeps_only_the_openvms_mail_fields(void **state)
{
	assert_string_equal(run(msg, CFG_HEADERS_NONE),
			    "From: Alice <alice@example.org>\r\n"
			    "To: bob@example.org\r\n"
			    "Cc: carol@example.org\r\n"
			    "Subject: a long\r\n"
			    " subject\r\n"
			    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
			    "MIME-Version: 1.0\r\n"
			    "content-type: text/plain; charset=us-ascii\r\n"
			    "\r\n"
			    "Received: this is body text\r\n"
			    "X-Mailer: so is this\r\n");
}

static void test_field_names_match_whole_and_in_any_case(void **state)
{
	assert_true(local_header_kept("SUBJECT", 7, CFG_HEADERS_NONE));
	assert_false(local_header_kept("Subjects", 8, CFG_HEADERS_NONE));
	assert_false(local_header_kept("To-Do", 5, CFG_HEADERS_TOP));
	assert_false(local_header_kept("Content-", 8, CFG_HEADERS_NONE));
	assert_true(local_header_kept("Content-Transfer-Encoding", 25,
				      CFG_HEADERS_NONE));
	assert_false(local_header_kept("Resent-Date", 11, CFG_HEADERS_NONE));
	assert_true(local_header_kept("Resent-Date", 11, CFG_HEADERS_TOP));
	assert_false(local_header_kept("Received", 8, CFG_HEADERS_TOP));
	assert_true(local_header_kept("Received", 8, CFG_HEADERS_ALL));
}

static void test_section_ends_at_a_line_that_is_no_field(void **state)
{
	/* bare LF line ends, and a line without a colon ends the section */
	assert_string_equal(run("X-A: 1\nSubject: s\nno colon here\n"
				"X-B: 2\n",
				CFG_HEADERS_NONE),
			    "Subject: s\nno colon here\nX-B: 2\n");
	/* no empty line and no final line end */
	assert_string_equal(run("X-A: 1\nSubject: s", CFG_HEADERS_TOP),
			    "Subject: s");
	assert_string_equal(run("", CFG_HEADERS_NONE), "");
	/* a field name with a space is not a field */
	assert_string_equal(run("Bad Name: x\nX-A: 1\n", CFG_HEADERS_NONE),
			    "Bad Name: x\nX-A: 1\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_headers_keeps_everything),
	    cmocka_unit_test(test_top_headers_drops_trace_and_transport_fields),
	    cmocka_unit_test(test_noheaders_keeps_only_the_openvms_mail_fields),
	    cmocka_unit_test(test_field_names_match_whole_and_in_any_case),
	    cmocka_unit_test(test_section_ends_at_a_line_that_is_no_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
