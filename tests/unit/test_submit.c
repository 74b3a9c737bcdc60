/*
 * test_submit.c — unit tests of the parsing in cli/submit.c: recipients of
 * an RFC 5322 address list (display names, comments, quoted strings,
 * groups), the -t header rule (To:, Cc:, Bcc: with folded lines; Bcc:
 * removed from the message, the body untouched) and recipient
 * de-duplication.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/submit.h"

/* Parse value and compare the recipients with want (NULL-terminated). */
static void addresses_are(const char *value, const char *const *want)
{
	struct submit_rcpts r;
	size_t n = 0;

	memset(&r, 0, sizeof(r));
	assert_int_equal(submit_parse_addresses(value, strlen(value), &r), 0);
	while (want[n] != NULL)
		n++;
	if (r.n != n)
		fail_msg("\"%s\": %zu addresses, want %zu", value, r.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(r.v[i], want[i]);
	submit_rcpts_free(&r);
}

static void test_plain_and_angle_addresses(void **state)
{
	static const char *const w1[] = {"a@example.com", NULL};
	static const char *const w2[] = {"a@example.com", "b@example.org",
					 NULL};

	(void)state;
	addresses_are("a@example.com", w1);
	addresses_are("  <a@example.com>  ", w1);
	addresses_are("Alice <a@example.com>, b@example.org", w2);
	addresses_are("\"Doe, Alice\" <a@example.com>,b@example.org", w2);
	addresses_are("a@example.com (Alice, at work), Bob <b@example.org>",
		      w2);
}

static void test_groups_and_empty_elements(void **state)
{
	static const char *const w[] = {"a@example.com", "b@example.org", NULL};
	static const char *const none[] = {NULL};

	(void)state;
	addresses_are("friends: a@example.com, Bob <b@example.org>;", w);
	addresses_are("undisclosed-recipients:;", none);
	addresses_are(" , ,", none);
}

static void test_duplicates_are_kept_once_without_case(void **state)
{
	static const char *const w[] = {"a@example.com", NULL};

	(void)state;
	addresses_are("a@example.com, A@EXAMPLE.COM, <a@example.com>", w);
}

/* Run the header rule on msg; compare the result and recipients. */
static void headers_give(const char *msg, int with_rcpts, const char *want_msg,
			 const char *const *want)
{
	struct submit_rcpts r;
	size_t len = strlen(msg), n = 0;
	char *buf = strdup(msg);

	assert_non_null(buf);
	memset(&r, 0, sizeof(r));
	assert_int_equal(submit_read_headers(buf, &len, with_rcpts ? &r : NULL),
			 0);
	assert_int_equal(len, strlen(want_msg));
	assert_memory_equal(buf, want_msg, len);
	while (want != NULL && want[n] != NULL)
		n++;
	assert_int_equal(r.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(r.v[i], want[i]);
	submit_rcpts_free(&r);
	free(buf);
}

static void test_t_reads_to_cc_bcc_and_removes_bcc(void **state)
{
	static const char *const w[] = {"a@example.com", "c@example.org",
					"d@example.net", "s@example.com", NULL};

	(void)state;
	headers_give("Subject: hi\r\nTo: A <a@example.com>,\r\n"
		     "\tc@example.org\r\nCc: d@example.net\r\n"
		     "BCC: s@example.com\r\n\r\nTo: not@header.example\r\n",
		     1,
		     "Subject: hi\r\nTo: A <a@example.com>,\r\n"
		     "\tc@example.org\r\nCc: d@example.net\r\n"
		     "\r\nTo: not@header.example\r\n",
		     w);
}

static void test_bcc_is_removed_even_without_t(void **state)
{
	(void)state;
	headers_give("To: a@example.com\nBcc: s@example.com,\n t@example.com\n"
		     "Subject: x\n\nbody\n",
		     0, "To: a@example.com\nSubject: x\n\nbody\n", NULL);
}

static void test_message_without_headers_is_unchanged(void **state)
{
	(void)state;
	headers_give("just text, Bcc: nobody\nmore\n", 1,
		     "just text, Bcc: nobody\nmore\n", NULL);
	headers_give("", 1, "", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_and_angle_addresses),
	    cmocka_unit_test(test_groups_and_empty_elements),
	    cmocka_unit_test(test_duplicates_are_kept_once_without_case),
	    cmocka_unit_test(test_t_reads_to_cc_bcc_and_removes_bcc),
	    cmocka_unit_test(test_bcc_is_removed_even_without_t),
	    cmocka_unit_test(test_message_without_headers_is_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
