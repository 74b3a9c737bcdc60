/*
 * test_maildate.c — the RFC 5322 date formatter (src/base/maildate.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/maildate.h"

static void test_known_moments(void **state)
{
	char buf[MAILDATE_MAX];

	(void)state;
	maildate_format(1795465436000ull, buf, sizeof(buf));
	assert_string_equal(buf, "Mon, 23 Nov 2026 20:23:56 +0000");
	maildate_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 +0000");
	maildate_format(951782400999ull, buf, sizeof(buf)); /* leap day */
	assert_string_equal(buf, "Tue, 29 Feb 2000 00:00:00 +0000");
}

static void test_cut_to_size_and_unrepresentable(void **state)
{
	char small[8];
	char buf[MAILDATE_MAX];

	(void)state;
	maildate_format(0, small, sizeof(small));
	assert_string_equal(small, "Thu, 01");
	maildate_format(0, small, 0); /* writes nothing */
	/* far past what struct tm's year holds: the epoch's date */
	maildate_format(UINT64_MAX, buf, sizeof(buf));
	assert_true(strlen(buf) > 20 && strlen(buf) < MAILDATE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_moments),
	    cmocka_unit_test(test_cut_to_size_and_unrepresentable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
