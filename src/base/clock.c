/*
 * clock.c — wall and monotonic milliseconds, and timestamp formatting
 * (see clock.h). No state.
 */
#include "src/base/clock.h"

#include <stdio.h>
#include <time.h>

/* Milliseconds of clock id. */
static uint64_t read_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_wall_ms(void)
{
	return read_ms(CLOCK_REALTIME);
}

uint64_t clock_mono_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}

double clock_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *clock_format(uint64_t ms, enum clock_fmt f, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm, *ok;
	size_t n;
	int r;

	if (buf == NULL || size == 0)
		return NULL;
	ok = f == CLOCK_FMT_LOCAL ? localtime_r(&t, &tm) : gmtime_r(&t, &tm);
	if (ok == NULL)
		return NULL;
	switch (f) {
	case CLOCK_FMT_ISO_MS:
		n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
		if (n == 0)
			return NULL;
		r = snprintf(buf + n, size - n, ".%03uZ",
			     (unsigned)(ms % 1000));
		return r > 0 && (size_t)r < size - n ? buf : NULL;
	case CLOCK_FMT_UTC:
		n = strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
		break;
	case CLOCK_FMT_LOCAL:
		n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
		break;
	default:
		return NULL;
	}
	return n == 0 ? NULL : buf;
}
