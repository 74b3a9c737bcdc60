/*
 * test_cluster_stamp.c — the leader's stamp (src/cluster/cluster_stamp.c):
 * a correct clock is followed, a clock minutes ahead or behind is not (the
 * stamp follows cluster time by the monotonic clock), the stamp never goes
 * back, and a fresh cluster takes the wall clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "src/cluster/cluster_stamp.h"

#define NOW 1800000000000ull /* a wall-clock moment */
#define A CLUSTER_STAMP_ALLOWANCE_MS

static uint64_t next(uint64_t wall, uint64_t mono, uint64_t base,
		     uint64_t base_mono, uint64_t last, int *skewed)
{
	struct cluster_stamp_in in = {.wall = wall,
				      .mono = mono,
				      .base = base,
				      .base_mono = base_mono,
				      .last = last,
				      .allowance = A};

	return cluster_stamp_next(&in, skewed);
}

static void test_fresh_cluster_takes_the_wall_clock(void **st)
{
	int sk;

	(void)st;
	assert_int_equal(next(NOW, 5, 0, 0, 0, &sk), NOW);
	assert_int_equal(sk, 0);
}

static void test_a_correct_clock_is_followed(void **st)
{
	int sk;

	(void)st;
	/* applied NOW at mono 1000; 3 s later the wall says NOW + 3000 + 40 */
	assert_int_equal(next(NOW + 3040, 4000, NOW, 1000, NOW, &sk),
			 NOW + 3040);
	assert_int_equal(sk, 0);
}

static void test_a_clock_minutes_ahead_is_not_followed(void **st)
{
	int sk;

	(void)st;
	/* the new leader's wall clock is 300 s ahead: leases that run on
	 * cluster time must not end 300 s early */
	assert_int_equal(next(NOW + 5000 + 300000, 6000, NOW, 1000, 0, &sk),
			 NOW + 5000);
	assert_int_equal(sk, 1);
}

static void test_a_clock_minutes_behind_does_not_stop_time(void **st)
{
	int sk;

	(void)st;
	/* behind by 300 s: cluster time still advances with the monotonic
	 * clock, so leases do end and retries come due */
	assert_int_equal(next(NOW - 300000, 61000, NOW, 1000, NOW, &sk),
			 NOW + 60000);
	assert_int_equal(sk, 1);
}

static void test_the_stamp_never_goes_back(void **st)
{
	int sk;

	(void)st;
	/* inside the allowance but below what was already proposed */
	assert_int_equal(next(NOW + 900, 2000, NOW, 1000, NOW + 1500, &sk),
			 NOW + 1500);
	/* below the highest applied stamp (a restart, a mono clock reset) */
	assert_int_equal(next(NOW - 10, 0, NOW, 1000, 0, &sk), NOW);
}

static void test_the_allowance_bounds_are_inclusive(void **st)
{
	int sk;

	(void)st;
	assert_int_equal(next(NOW + 1000 + A, 2000, NOW, 1000, 0, &sk),
			 NOW + 1000 + A);
	assert_int_equal(sk, 0);
	assert_int_equal(next(NOW + 1001 + A, 2000, NOW, 1000, 0, &sk),
			 NOW + 1000);
	assert_int_equal(sk, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh_cluster_takes_the_wall_clock),
	    cmocka_unit_test(test_a_correct_clock_is_followed),
	    cmocka_unit_test(test_a_clock_minutes_ahead_is_not_followed),
	    cmocka_unit_test(test_a_clock_minutes_behind_does_not_stop_time),
	    cmocka_unit_test(test_the_stamp_never_goes_back),
	    cmocka_unit_test(test_the_allowance_bounds_are_inclusive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
