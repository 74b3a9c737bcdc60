/*
 * log.c — the daemon's line logger (see log.h). Owns the log file
 * descriptor and the level filter; nothing else. A failed write is
 * ignored: logging never stops the node.
 */
#include "src/base/log.h"

#include "src/base/clock.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum log_level { LVL_DEBUG, LVL_INFO, LVL_WARN, LVL_ERROR };

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static int log_fd = 2;
static enum log_level log_min = LVL_INFO;
static char log_node[65] = "-";

void log_init(const char *node_name, const char *level, const char *file)
{
	log_min = LVL_INFO;
	for (int i = 0; level != NULL && i < 4; i++) {
		if (strcmp(level, level_names[i]) == 0) {
			log_min = (enum log_level)i;
		}
	}
	if (node_name != NULL && node_name[0] != '\0') {
		snprintf(log_node, sizeof(log_node), "%s", node_name);
	}
	if (log_fd != 2) {
		close(log_fd);
		log_fd = 2;
	}
	if (file != NULL && file[0] != '\0') {
		int fd =
		    open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd >= 0) {
			log_fd = fd;
		} else {
			log_error("cannot open log file %s, using stderr",
				  file);
		}
	}
}

/* Format one line with timestamp, node and level, and write it at once. */
static void log_line(enum log_level lvl, const char *fmt, va_list ap)
{
	char buf[4096];
	size_t n;
	int r;

	if (lvl < log_min) {
		return;
	}
	if (clock_format(clock_wall_ms(), CLOCK_FMT_ISO_MS, buf, sizeof(buf)) ==
	    NULL)
		buf[0] = '\0';
	n = strlen(buf);
	r = snprintf(buf + n, sizeof(buf) - n, " %s %s: ", log_node,
		     level_names[lvl]);
	if (r > 0) {
		n += (size_t)r < sizeof(buf) - n ? (size_t)r : 0;
	}
	r = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (r > 0) {
		n += (size_t)r < sizeof(buf) - n - 1 ? (size_t)r
						     : sizeof(buf) - n - 2;
	}
	buf[n++] = '\n';
	if (write(log_fd, buf, n) < 0) {
		/* nowhere to report it */
	}
}

void log_debug(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(LVL_DEBUG, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(LVL_INFO, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(LVL_WARN, fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(LVL_ERROR, fmt, ap);
	va_end(ap);
}
