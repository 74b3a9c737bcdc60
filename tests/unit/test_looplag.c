/*
 * test_looplag.c — the event loop's lateness meter (src/base/looplag.c):
 * the pure lateness rule, and on a real loop a callback that blocks for
 * 150 ms is seen as a block of at least that long.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <uv.h>

#include "src/base/looplag.h"

static void test_late_is_zero_when_on_time_or_early(void **state)
{
	(void)state;
	assert_int_equal(looplag_late(1000, 1000), 0);
	assert_int_equal(looplag_late(1000, 990), 0);
	assert_int_equal(looplag_late(1000, 1250), 250);
}

static void block_150ms(uv_timer_t *t)
{
	struct timespec ts = {0, 150 * 1000 * 1000};

	nanosleep(&ts, NULL);
	uv_close((uv_handle_t *)t, NULL);
}

static void stop_loop(uv_timer_t *t)
{
	looplag_stop();
	uv_close((uv_handle_t *)t, NULL);
}

static void test_a_blocking_callback_is_measured(void **state)
{
	uv_loop_t loop;
	uv_timer_t blocker, stopper;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	looplag_start(&loop);
	assert_int_equal(looplag_blocks(), 0);
	uv_timer_init(&loop, &blocker);
	uv_timer_init(&loop, &stopper);
	uv_timer_start(&blocker, block_150ms, 50, 0);
	uv_timer_start(&stopper, stop_loop, 400, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(looplag_worst_ms() >= 150 - LOOPLAG_PERIOD_MS);
	assert_true(looplag_blocks() >= 1); /* the sleep, maybe a slow CI too */
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_late_is_zero_when_on_time_or_early),
	    cmocka_unit_test(test_a_blocking_callback_is_measured),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
