/*
 * test_cluster_live.c — the placement view's pure rules
 * (src/cluster/cluster_live.h): when the leader counts a member as live
 * (a report younger than the gone time, or a leadership younger than it
 * for a member not heard from since), and the view's text, written by the
 * leader and parsed strictly by its followers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "src/cluster/cluster_live.h"

#define GONE 2000

static void test_a_member_heard_from_recently_is_live(void **state)
{
	(void)state;
	assert_true(cluster_live_judge(10000, 1000, 9000, GONE));
	assert_true(cluster_live_judge(11000, 1000, 9000, GONE));
}

static void test_a_member_silent_past_the_gone_time_is_gone(void **state)
{
	(void)state;
	assert_false(cluster_live_judge(11001, 1000, 9000, GONE));
	/* never reported, and leading for longer than that */
	assert_false(cluster_live_judge(10000, 1000, 0, GONE));
}

static void test_a_new_leader_gives_every_member_the_gone_time(void **state)
{
	(void)state;
	/* a report from before this leadership, or none: counted from when
	 * this node became the ready leader */
	assert_true(cluster_live_judge(10500, 9000, 0, GONE));
	assert_true(cluster_live_judge(10500, 9000, 100, GONE));
	assert_false(cluster_live_judge(11500, 9000, 100, GONE));
}

static void test_the_view_text_round_trips(void **state)
{
	const uint64_t ids[] = {1, 3, 18446744073709551615ull};
	uint64_t back[4];
	char buf[80];

	(void)state;
	assert_int_equal(cluster_live_format(ids, 3, buf, sizeof(buf)),
			 strlen("1 3 18446744073709551615"));
	assert_string_equal(buf, "1 3 18446744073709551615");
	assert_int_equal(cluster_live_parse(buf, back, 4), 3);
	assert_memory_equal(back, ids, sizeof(ids));
	assert_int_equal(cluster_live_format(ids, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(cluster_live_parse("", back, 4), 0);
}

static void test_a_view_that_does_not_fit_keeps_whole_ids(void **state)
{
	const uint64_t ids[] = {12, 345};
	char buf[5];

	(void)state;
	assert_int_equal(cluster_live_format(ids, 2, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "12");
}

static void test_a_malformed_view_is_refused(void **state)
{
	static const char *const bad[] = {" 1",	 "1 ",	 "1  2",
					  "1,2", "0",	 "1 0",
					  "x",	 "1 2x", "18446744073709551616",
					  "-1"};
	uint64_t ids[4];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cluster_live_parse(bad[i], ids, 4), -1);
	}
	/* more ids than the caller has room for */
	assert_int_equal(cluster_live_parse("1 2 3", ids, 2), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_member_heard_from_recently_is_live),
	    cmocka_unit_test(test_a_member_silent_past_the_gone_time_is_gone),
	    cmocka_unit_test(
		test_a_new_leader_gives_every_member_the_gone_time),
	    cmocka_unit_test(test_the_view_text_round_trips),
	    cmocka_unit_test(test_a_view_that_does_not_fit_keeps_whole_ids),
	    cmocka_unit_test(test_a_malformed_view_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
