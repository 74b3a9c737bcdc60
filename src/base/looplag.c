/*
 * looplag.c — the event loop's lateness meter (looplag.h). The timer's
 * due time is kept on CLOCK_MONOTONIC, not uv_now(), which libuv updates
 * only between callbacks and so would hide the block being measured.
 */
#include "src/base/looplag.h"

#include "src/base/clock.h"
#include "src/base/log.h"

static struct {
	uv_timer_t timer;
	int started;
	uint64_t due;
	uint64_t worst;
	uint64_t blocks;
} lag;

uint64_t looplag_late(uint64_t due_ms, uint64_t now_ms)
{
	return now_ms > due_ms ? now_ms - due_ms : 0;
}

static void on_tick(uv_timer_t *t)
{
	uint64_t now = clock_mono_ms();
	uint64_t late = looplag_late(lag.due, now);

	(void)t;
	if (late > lag.worst) {
		lag.worst = late;
	}
	if (late >= LOOPLAG_WARN_MS) {
		lag.blocks++;
		log_warn("event loop: blocked for about %llu ms",
			 (unsigned long long)late);
	}
	lag.due = now + LOOPLAG_PERIOD_MS;
}

void looplag_start(uv_loop_t *loop)
{
	if (lag.started) {
		return;
	}
	uv_timer_init(loop, &lag.timer);
	uv_unref((uv_handle_t *)&lag.timer); /* never keeps the loop alive */
	lag.due = clock_mono_ms() + LOOPLAG_PERIOD_MS;
	uv_timer_start(&lag.timer, on_tick, LOOPLAG_PERIOD_MS,
		       LOOPLAG_PERIOD_MS);
	lag.started = 1;
}

void looplag_stop(void)
{
	if (lag.started) {
		uv_close((uv_handle_t *)&lag.timer, NULL);
		lag.started = 0;
	}
}

uint64_t looplag_worst_ms(void)
{
	return lag.worst;
}

uint64_t looplag_blocks(void)
{
	return lag.blocks;
}
