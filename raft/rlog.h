/*
 * rlog.h — how raft/ logs without knowing the daemon's logger: one
 * vprintf-like sink with a level, set once at start-up by the layer above
 * (src/cluster installs the daemon's log). raft/ includes nothing from
 * src/.
 *
 * Until a sink is set, lines of level info and above go to stderr as
 * "LEVEL: message". The sink is called on the thread that logs (the loop
 * thread in raft/ today); it must not keep fmt or ap. Never fails.
 */
#ifndef RAFT_RLOG_H
#define RAFT_RLOG_H

#include <stdarg.h>

enum rlog_level {
	RLOG_DEBUG = 0,
	RLOG_INFO,
	RLOG_WARN,
	RLOG_ERROR,
};

typedef void (*rlog_sink)(enum rlog_level level, const char *fmt, va_list ap);

/* Install the sink (NULL: back to the stderr default). */
void rlog_set_sink(rlog_sink sink);

void rlog_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rlog_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rlog_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rlog_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
