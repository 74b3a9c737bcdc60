/*
 * test_sender.c — unit tests of spool/codec/sender.c: the sender-header rule of
 * seed section 18.1.3 (order of the headers, From: fallback), the header
 * section's end, case-insensitive names, unfolding, trimming and safe
 * truncation of the output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/err.h"
#include "spool/codec/sender.h"

/* Run the rule over a NUL-terminated message into a large buffer. */
static int pick(const char *msg, char *out, const char **which)
{
	return sender_from_headers(msg, strlen(msg), out, 256, which);
}

static void test_rule_order_first_present_wins(void **state)
{
	static const char *const hdr[7] = {
	    "Resent-Reply-To", "Resent-From", "Reply-To", "Resent-Sender",
	    "Sender",	       "Return-Path", "From",
	};
	char msg[1024], out[256], want[32];
	const char *which;

	/* With headers i..6 present (written in reverse order, so position
	 * in the message never decides), header i is chosen. */
	for (int i = 0; i < 7; i++) {
		size_t off = 0;

		off += (size_t)snprintf(msg + off, sizeof(msg) - off,
					"Subject: test\r\n");
		for (int j = 6; j >= i; j--)
			off += (size_t)snprintf(msg + off, sizeof(msg) - off,
						"%s: <h%d@example.com>\r\n",
						hdr[j], j);
		snprintf(msg + off, sizeof(msg) - off, "\r\nbody\r\n");
		snprintf(want, sizeof(want), "<h%d@example.com>", i);
		assert_int_equal(pick(msg, out, &which), i);
		assert_string_equal(out, want);
		assert_string_equal(which, hdr[i]);
	}
}

static void test_each_header_alone_has_its_index(void **state)
{
	static const char *const hdr[7] = {
	    "Resent-Reply-To", "Resent-From", "Reply-To", "Resent-Sender",
	    "Sender",	       "Return-Path", "From",
	};
	char msg[256], out[256];
	const char *which;

	for (int i = 0; i < 7; i++) {
		snprintf(msg, sizeof(msg), "To: x@y\n%s: s@t\n\nbody\n",
			 hdr[i]);
		assert_int_equal(pick(msg, out, &which), i);
		assert_string_equal(out, "s@t");
		assert_string_equal(which, hdr[i]);
	}
}

static void test_from_used_when_no_sender_header(void **state)
{
	char out[256];
	const char *which;

	assert_int_equal(
	    pick("From: Alice <a@x.org>\nTo: b@y\n\nhi\n", out, &which), 6);
	assert_string_equal(out, "Alice <a@x.org>");
	assert_string_equal(which, "From");
}

static void test_no_header_gives_notfound(void **state)
{
	char out[256];
	const char *which = "stale";

	memset(out, 'x', sizeof(out));
	assert_int_equal(
	    pick("To: b@y\nSubject: s\n\nFrom: a@x\n", out, &which),
	    SPOOL_E_NOTFOUND);
	assert_string_equal(out, "");
	assert_null(which);
	assert_int_equal(sender_from_headers(NULL, 0, out, sizeof(out), NULL),
			 SPOOL_E_NOTFOUND);
	assert_int_equal(sender_from_headers("", 0, out, sizeof(out), NULL),
			 SPOOL_E_NOTFOUND);
}

static void test_header_names_case_insensitive(void **state)
{
	char out[256];
	const char *which;

	assert_int_equal(pick("from: f@x\nREPLY-TO: r@x\n\n", out, &which), 2);
	assert_string_equal(out, "r@x");
	assert_string_equal(which, "Reply-To");
	assert_int_equal(pick("rEsEnT-fRoM: rf@x\n", out, NULL), 1);
	assert_string_equal(out, "rf@x");
}

static void test_sender_not_confused_with_resent_sender(void **state)
{
	char out[256];

	assert_int_equal(pick("Resent-Sender: rs@x\nFrom: f@x\n\n", out, NULL),
			 3);
	assert_string_equal(out, "rs@x");
	assert_int_equal(pick("Sender: s@x\nFrom: f@x\n\n", out, NULL), 4);
	assert_string_equal(out, "s@x");
	assert_int_equal(
	    pick("Sender: s@x\nResent-Sender: rs@x\n\n", out, NULL), 3);
	assert_string_equal(out, "rs@x");
	/* names that merely contain or extend a rule name do not count */
	assert_int_equal(pick("X-Sender: a@x\nSenders: b@x\nFromage: c@x\n"
			      "Reply-To-X: d@x\nFrom: f@x\n\n",
			      out, NULL),
			 6);
	assert_string_equal(out, "f@x");
	/* nor do names that are a prefix of a rule name */
	assert_int_equal(pick("Send: a@x\nRe: b@x\nResent-: c@x\nFro: d@x\n"
			      "\n",
			      out, NULL),
			 SPOOL_E_NOTFOUND);
}

static void test_folded_value_is_unfolded(void **state)
{
	char out[256];

	assert_int_equal(pick("Reply-To: Alice Example\r\n <alice@x.org>\r\n"
			      "From: f@x\r\n\r\n",
			      out, NULL),
			 2);
	assert_string_equal(out, "Alice Example <alice@x.org>");
	assert_int_equal(
	    pick("Sender:\n\ts1@x,\n  s2@x\nTo: t@x\n\n", out, NULL), 4);
	assert_string_equal(out, "s1@x,  s2@x");
}

static void test_value_is_trimmed(void **state)
{
	char out[256];

	assert_int_equal(pick("From:   \t f@x \t  \r\n\r\n", out, NULL), 6);
	assert_string_equal(out, "f@x");
	assert_int_equal(pick("From:f@x\n", out, NULL), 6);
	assert_string_equal(out, "f@x");
}

static void test_space_before_colon_accepted(void **state)
{
	char out[256];

	assert_int_equal(pick("Sender : s@x\nFrom: f@x\n\n", out, NULL), 4);
	assert_string_equal(out, "s@x");
}

static void test_headers_after_blank_line_ignored(void **state)
{
	char out[256];

	assert_int_equal(pick("From: f@x\n\nReply-To: r@x\n", out, NULL), 6);
	assert_string_equal(out, "f@x");
	assert_int_equal(pick("From: f@x\r\n\r\nReply-To: r@x\r\n", out, NULL),
			 6);
	assert_string_equal(out, "f@x");
	/* a CRLF blank line also ends a LF message's headers */
	assert_int_equal(pick("From: f@x\n\r\nSender: s@x\n", out, NULL), 6);
	/* a body that starts like a header never counts */
	assert_int_equal(pick("\nFrom: f@x\n", out, NULL), SPOOL_E_NOTFOUND);
}

static void test_message_without_blank_line_is_all_headers(void **state)
{
	char out[256];

	assert_int_equal(pick("From: f@x\nSender: s@x", out, NULL), 4);
	assert_string_equal(out, "s@x");
	assert_int_equal(pick("From: f@x\r\nSender: s@x\r\n", out, NULL), 4);
	assert_string_equal(out, "s@x");
	/* a folded last field without a line end */
	assert_int_equal(pick("Sender: a\n b", out, NULL), 4);
	assert_string_equal(out, "a b");
}

static void test_length_bounds_the_message(void **state)
{
	const char *msg = "From: f@x\nSender: s@x\n";
	char out[256];

	/* only the first line is inside len */
	assert_int_equal(sender_from_headers(msg, 10, out, sizeof(out), NULL),
			 6);
	assert_string_equal(out, "f@x");
	assert_int_equal(sender_from_headers(msg, 4, out, sizeof(out), NULL),
			 SPOOL_E_NOTFOUND);
}

static void test_empty_value_counts_as_absent(void **state)
{
	char out[256];

	assert_int_equal(
	    pick("Reply-To:\nSender:   \nFrom: f@x\n\n", out, NULL), 6);
	assert_string_equal(out, "f@x");
	/* the first non-empty one of a repeated header is used */
	assert_int_equal(
	    pick("Sender:\nSender: s2@x\nSender: s3@x\n\n", out, NULL), 4);
	assert_string_equal(out, "s2@x");
}

static void test_first_of_repeated_header_used(void **state)
{
	char out[256];

	assert_int_equal(pick("From: a@x\nFrom: b@x\n\n", out, NULL), 6);
	assert_string_equal(out, "a@x");
}

static void test_seed_spelling_returnpath_accepted(void **state)
{
	char out[256];
	const char *which;

	assert_int_equal(pick("ReturnPath: <rp@x>\nFrom: f@x\n\n", out, &which),
			 5);
	assert_string_equal(out, "<rp@x>");
	assert_string_equal(which, "Return-Path");
}

static void test_continuation_belongs_to_previous_field(void **state)
{
	char out[256];

	/* " Reply-To: r@x" continues Subject:, it is not a Reply-To: */
	assert_int_equal(
	    pick("Subject: hello\n Reply-To: r@x\nFrom: f@x\n\n", out, NULL),
	    6);
	assert_string_equal(out, "f@x");
	/* a continuation before any field is ignored */
	assert_int_equal(pick(" Sender: s@x\nFrom: f@x\n\n", out, NULL), 6);
}

static void test_lines_that_are_not_fields_are_ignored(void **state)
{
	char out[256];

	assert_int_equal(pick("From a@b Mon Jan  1 00:00:00 2024\n"
			      "Sender: s@x\n\n",
			      out, NULL),
			 4);
	assert_string_equal(out, "s@x");
	/* a non-field line ends the field before it: no continuation */
	assert_int_equal(
	    pick("From: f@x\ngarbage\n Sender: s@x\n\n", out, NULL), 6);
	assert_string_equal(out, "f@x");
	assert_int_equal(pick(": nameless\nFrom: f@x\n\n", out, NULL), 6);
}

static void test_line_breaks_and_nul_never_reach_output(void **state)
{
	static const char msg[] = "Sender: a\0b\r\n c\r\n\r\n";
	char out[256];

	assert_int_equal(
	    sender_from_headers(msg, sizeof(msg) - 1, out, sizeof(out), NULL),
	    4);
	assert_string_equal(out, "ab c");
}

static void test_output_truncated_safely(void **state)
{
	const char *msg = "Sender: abcdefgh\n\n";
	char out[16];

	memset(out, 'z', sizeof(out));
	assert_int_equal(sender_from_headers(msg, strlen(msg), out, 5, NULL),
			 4);
	assert_string_equal(out, "abcd");
	assert_int_equal(out[5], 'z'); /* nothing past size */
	assert_int_equal(sender_from_headers(msg, strlen(msg), out, 1, NULL),
			 4);
	assert_string_equal(out, "");
	/* size 0 and NULL out still report the choice */
	assert_int_equal(sender_from_headers(msg, strlen(msg), NULL, 0, NULL),
			 4);
	memset(out, 'z', sizeof(out));
	assert_int_equal(sender_from_headers(msg, strlen(msg), out, 0, NULL),
			 4);
	assert_int_equal(out[0], 'z');
	/* exactly fitting */
	assert_int_equal(sender_from_headers(msg, strlen(msg), out, 9, NULL),
			 4);
	assert_string_equal(out, "abcdefgh");
}

static void test_truncation_keeps_utf8_whole_and_trims(void **state)
{
	/* "ab" then U+00E9 (2 bytes) then U+20AC (3 bytes) */
	const char *msg = "From: ab\xc3\xa9\xe2\x82\xac z\n\n";
	char out[16];

	assert_int_equal(sender_from_headers(msg, strlen(msg), out, 4, NULL),
			 6);
	assert_string_equal(out, "ab");
	assert_int_equal(sender_from_headers(msg, strlen(msg), out, 5, NULL),
			 6);
	assert_string_equal(out, "ab\xc3\xa9");
	assert_int_equal(sender_from_headers(msg, strlen(msg), out, 7, NULL),
			 6);
	assert_string_equal(out, "ab\xc3\xa9");
	assert_int_equal(sender_from_headers(msg, strlen(msg), out, 8, NULL),
			 6);
	assert_string_equal(out, "ab\xc3\xa9\xe2\x82\xac");
	/* a cut right after a space drops the space */
	assert_int_equal(sender_from_headers(msg, strlen(msg), out, 9, NULL),
			 6);
	assert_string_equal(out, "ab\xc3\xa9\xe2\x82\xac");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rule_order_first_present_wins),
	    cmocka_unit_test(test_each_header_alone_has_its_index),
	    cmocka_unit_test(test_from_used_when_no_sender_header),
	    cmocka_unit_test(test_no_header_gives_notfound),
	    cmocka_unit_test(test_header_names_case_insensitive),
	    cmocka_unit_test(test_sender_not_confused_with_resent_sender),
	    cmocka_unit_test(test_folded_value_is_unfolded),
	    cmocka_unit_test(test_value_is_trimmed),
	    cmocka_unit_test(test_space_before_colon_accepted),
	    cmocka_unit_test(test_headers_after_blank_line_ignored),
	    cmocka_unit_test(test_message_without_blank_line_is_all_headers),
	    cmocka_unit_test(test_length_bounds_the_message),
	    cmocka_unit_test(test_empty_value_counts_as_absent),
	    cmocka_unit_test(test_first_of_repeated_header_used),
	    cmocka_unit_test(test_seed_spelling_returnpath_accepted),
	    cmocka_unit_test(test_continuation_belongs_to_previous_field),
	    cmocka_unit_test(test_lines_that_are_not_fields_are_ignored),
	    cmocka_unit_test(test_line_breaks_and_nul_never_reach_output),
	    cmocka_unit_test(test_output_truncated_safely),
	    cmocka_unit_test(test_truncation_keeps_utf8_whole_and_trims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
