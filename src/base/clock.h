/*
 * clock.h — the one home of the clock: wall-clock and monotonic
 * milliseconds, and the ISO-8601 style timestamps the daemon and smtpctl
 * print (log lines, the delivery activity log, control replies, smtpctl's
 * tables).
 *
 * Owns: reading the two clocks, formatting a moment. Not: timers (libuv),
 * the RFC 5322 date of mail headers (maildate.h), control-file names
 * (ctlalloc.h). Depends on libc only, so smtpctl links it too.
 * Fails: clock_gettime cannot fail for these clocks on Linux; a moment
 * gmtime/localtime cannot represent makes clock_format return NULL.
 */
#ifndef SRC_BASE_CLOCK_H
#define SRC_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME): a date. */
uint64_t clock_wall_ms(void);

/* Milliseconds on CLOCK_MONOTONIC: for deadlines and intervals only. */
uint64_t clock_mono_ms(void);

/* CLOCK_MONOTONIC in seconds with its nanoseconds: for latencies below a
 * millisecond (the metrics' histograms). */
double clock_mono_s(void);

enum clock_fmt {
	CLOCK_FMT_ISO_MS, /* "2026-11-23T20:23:56.789Z" (UTC) */
	CLOCK_FMT_UTC,	  /* "2026-11-23 20:23:56 UTC" */
	CLOCK_FMT_LOCAL,  /* "2026-11-23 21:23:56" (local time) */
};

/* Room for any timestamp clock_format() writes, with its terminator. */
#define CLOCK_FMT_MAX 40

/* Write moment ms (since the epoch) into buf in format f. Returns buf, or
 * NULL (buf unspecified) when the moment cannot be represented or buf is
 * too small: the caller prints its own fallback. */
const char *clock_format(uint64_t ms, enum clock_fmt f, char *buf, size_t size);

#endif
