/*
 * rlog.c — raft/'s log sink (see rlog.h). Owns one function pointer and
 * the stderr default; formats nothing itself beyond that default. A
 * failed write to stderr is ignored: logging never stops the node.
 */
#include "raft/rlog.h"

#include <stdio.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Before a sink is installed: info and above to stderr. */
static void rlog_stderr(enum rlog_level level, const char *fmt, va_list ap)
{
	if (level < RLOG_INFO || level > RLOG_ERROR) {
		return;
	}
	fprintf(stderr, "%s: ", level_names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static rlog_sink current = rlog_stderr;

void rlog_set_sink(rlog_sink sink)
{
	current = sink != NULL ? sink : rlog_stderr;
}

void rlog_debug(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	current(RLOG_DEBUG, fmt, ap);
	va_end(ap);
}

void rlog_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	current(RLOG_INFO, fmt, ap);
	va_end(ap);
}

void rlog_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	current(RLOG_WARN, fmt, ap);
	va_end(ap);
}

void rlog_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	current(RLOG_ERROR, fmt, ap);
	va_end(ap);
}
