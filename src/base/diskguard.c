/*
 * diskguard.c — the node's disk reserve (see diskguard.h): statvfs of the
 * data directory on a libuv timer, the "low" flag, one log line per change.
 */
#include "src/base/diskguard.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "src/base/log.h"

static struct {
	char dir[4096];
	uint64_t reserve;
	uint64_t free_bytes;
	int low;
	int failed; /* the last statvfs failed (logged once) */
	int timer_on;
	uv_timer_t timer;
} g = {.free_bytes = UINT64_MAX};

void diskguard_check(void)
{
	struct statvfs st;
	int was = g.low;

	if (g.reserve == 0)
		return;
	if (statvfs(g.dir, &st) != 0) {
		if (!g.failed)
			log_error("disk: cannot examine %s: %s; refusing new "
				  "mail until it can be",
				  g.dir, strerror(errno));
		g.failed = 1;
		g.low = 1;
		return;
	}
	g.failed = 0;
	g.free_bytes = (uint64_t)st.f_bavail * (uint64_t)st.f_frsize;
	g.low = g.free_bytes < g.reserve;
	if (g.low && !was)
		log_warn("disk: %llu KiB free under %s, below the reserve of "
			 "%llu KiB: new mail is refused (452 4.3.1), delivery "
			 "goes on",
			 (unsigned long long)(g.free_bytes / 1024), g.dir,
			 (unsigned long long)(g.reserve / 1024));
	else if (!g.low && was)
		log_info("disk: %llu KiB free under %s again: taking new mail",
			 (unsigned long long)(g.free_bytes / 1024), g.dir);
}

static void on_timer(uv_timer_t *t)
{
	(void)t;
	diskguard_check();
}

int diskguard_start(uv_loop_t *loop, const char *dir, uint64_t reserve,
		    unsigned interval_ms)
{
	struct statvfs st;
	int n;

	n = snprintf(g.dir, sizeof(g.dir), "%s", dir);
	if (n < 0 || (size_t)n >= sizeof(g.dir))
		return -ENAMETOOLONG;
	g.reserve = reserve;
	g.low = 0;
	if (reserve == 0)
		return 0;
	if (statvfs(g.dir, &st) != 0)
		return -errno;
	diskguard_check();
	if (uv_timer_init(loop, &g.timer) != 0)
		return -ENOMEM;
	g.timer_on = 1;
	uv_timer_start(&g.timer, on_timer, interval_ms, interval_ms);
	return 0;
}

void diskguard_stop(void)
{
	if (!g.timer_on)
		return;
	uv_timer_stop(&g.timer);
	uv_close((uv_handle_t *)&g.timer, NULL);
	g.timer_on = 0;
}

int diskguard_low(void)
{
	return g.low;
}

uint64_t diskguard_free_bytes(void)
{
	return g.free_bytes;
}
