/*
 * test_msghdr.c — the header-section reader (spool/codec/msghdr.c):
 * fields with their continuation lines, CRLF and bare LF line ends, where
 * the section ends (empty line, a body line, a stray continuation, the
 * end of the message), names compared without case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/msghdr.h"

/* Read msg; the fields' texts into got[], their count returned; *body is
 * where the section ended. */
static int read_all(const char *msg, char got[][128], size_t *body)
{
	struct msghdr_iter it;
	struct msghdr_field f;
	int n = 0;

	msghdr_iter_init(&it, msg, strlen(msg));
	while (msghdr_iter_next(&it, &f)) {
		assert_true(n < 8);
		assert_true(f.len < 128);
		memcpy(got[n], f.p, f.len);
		got[n][f.len] = '\0';
		n++;
	}
	assert_int_equal(msghdr_iter_next(&it, &f), 0); /* stays ended */
	*body = msghdr_iter_pos(&it);
	return n;
}

static void test_fields_with_continuations_then_the_body(void **state)
{
	const char *m = "From: a@b\r\nSubject: one\r\n two\r\n\tthree\r\n"
			"To: c@d\r\n\r\nbody: not a field\r\n";
	char got[8][128];
	size_t body;

	(void)state;
	assert_int_equal(read_all(m, got, &body), 3);
	assert_string_equal(got[0], "From: a@b\r\n");
	assert_string_equal(got[1], "Subject: one\r\n two\r\n\tthree\r\n");
	assert_string_equal(got[2], "To: c@d\r\n");
	assert_string_equal(m + body, "\r\nbody: not a field\r\n");
}

static void test_bare_lf_and_no_final_line_end(void **state)
{
	char got[8][128];
	size_t body;

	(void)state;
	assert_int_equal(read_all("A: 1\nB: 2\n x", got, &body), 2);
	assert_string_equal(got[0], "A: 1\n");
	assert_string_equal(got[1], "B: 2\n x");
	assert_int_equal(body, strlen("A: 1\nB: 2\n x"));
}

static void test_a_line_that_is_no_field_ends_the_section(void **state)
{
	char got[8][128];
	size_t body;
	const char *m = "A: 1\r\nHello world\r\nB: 2\r\n";

	(void)state;
	assert_int_equal(read_all(m, got, &body), 1);
	assert_string_equal(m + body, "Hello world\r\nB: 2\r\n");
	/* a name with a space before its colon is no field either */
	assert_int_equal(read_all("Date : x\r\n", got, &body), 0);
	assert_int_equal(body, 0);
	/* nor a leading continuation */
	assert_int_equal(read_all(" folded\r\nA: 1\r\n", got, &body), 0);
	assert_int_equal(body, 0);
	/* nor a line of 8-bit bytes */
	assert_int_equal(read_all("\xc3\xa9t\xc3\xa9: x\r\n", got, &body), 0);
}

static void test_empty_message_and_null(void **state)
{
	struct msghdr_iter it;
	struct msghdr_field f;

	(void)state;
	msghdr_iter_init(&it, NULL, 5);
	assert_int_equal(msghdr_iter_next(&it, &f), 0);
	assert_int_equal(msghdr_iter_pos(&it), 0);
	msghdr_iter_init(&it, "", 0);
	assert_int_equal(msghdr_iter_next(&it, &f), 0);
}

static void test_names_compare_without_case(void **state)
{
	struct msghdr_iter it;
	struct msghdr_field f;
	const char *m = "MESSAGE-ID: <x@y>\r\nFromage: no\r\n";

	(void)state;
	msghdr_iter_init(&it, m, strlen(m));
	assert_int_equal(msghdr_iter_next(&it, &f), 1);
	assert_int_equal(f.name_len, 10);
	assert_true(msghdr_field_is(&f, "message-id"));
	assert_false(msghdr_field_is(&f, "message"));
	assert_int_equal(msghdr_iter_next(&it, &f), 1);
	assert_false(msghdr_field_is(&f, "from"));
	assert_int_equal(msghdr_name_len("X-A:b", 5), 3);
	assert_int_equal(msghdr_name_len(":b", 2), 0);
	assert_int_equal(msghdr_line_len("ab\ncd", 5), 3);
	assert_int_equal(msghdr_line_len("abcd", 4), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields_with_continuations_then_the_body),
	    cmocka_unit_test(test_bare_lf_and_no_final_line_end),
	    cmocka_unit_test(test_a_line_that_is_no_field_ends_the_section),
	    cmocka_unit_test(test_empty_message_and_null),
	    cmocka_unit_test(test_names_compare_without_case),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
