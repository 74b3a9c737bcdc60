/*
 * test_clock.c — the clock and the timestamp formats (src/base/clock.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/clock.h"

static void test_wall_clock_is_a_date(void **state)
{
	(void)state;
	/* after 2020-01-01, before 2200-01-01 */
	assert_true(clock_wall_ms() > 1577836800000ull);
	assert_true(clock_wall_ms() < 7258118400000ull);
}

static void test_monotonic_clock_never_goes_back(void **state)
{
	uint64_t a, b;

	(void)state;
	a = clock_mono_ms();
	b = clock_mono_ms();
	assert_true(b >= a);
}

static void test_iso_with_milliseconds(void **state)
{
	char buf[CLOCK_FMT_MAX];

	(void)state;
	assert_non_null(
	    clock_format(1795465436789ull, CLOCK_FMT_ISO_MS, buf, sizeof(buf)));
	assert_string_equal(buf, "2026-11-23T20:23:56.789Z");
	assert_non_null(clock_format(0, CLOCK_FMT_ISO_MS, buf, sizeof(buf)));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void test_utc_words(void **state)
{
	char buf[CLOCK_FMT_MAX];

	(void)state;
	assert_non_null(
	    clock_format(1795465436789ull, CLOCK_FMT_UTC, buf, sizeof(buf)));
	assert_string_equal(buf, "2026-11-23 20:23:56 UTC");
}

static void test_local_time_in_utc_zone(void **state)
{
	char buf[CLOCK_FMT_MAX];

	(void)state;
	setenv("TZ", "UTC", 1);
	assert_non_null(
	    clock_format(1795465436789ull, CLOCK_FMT_LOCAL, buf, sizeof(buf)));
	assert_string_equal(buf, "2026-11-23 20:23:56");
}

static void test_too_small_or_unrepresentable_is_null(void **state)
{
	char small[10], buf[CLOCK_FMT_MAX];

	(void)state;
	assert_null(clock_format(0, CLOCK_FMT_ISO_MS, small, sizeof(small)));
	assert_null(clock_format(0, CLOCK_FMT_UTC, small, sizeof(small)));
	assert_null(clock_format(0, CLOCK_FMT_UTC, buf, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wall_clock_is_a_date),
	    cmocka_unit_test(test_monotonic_clock_never_goes_back),
	    cmocka_unit_test(test_iso_with_milliseconds),
	    cmocka_unit_test(test_utc_words),
	    cmocka_unit_test(test_local_time_in_utc_zone),
	    cmocka_unit_test(test_too_small_or_unrepresentable_is_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
