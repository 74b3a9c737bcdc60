/*
 * log.c — the daemon's line logger (see log.h). Owns the log file
 * descriptor, its path (for log_reopen) and the level filter; nothing
 * else. A failed write is ignored: logging never stops the node. A failed
 * reopen keeps the old descriptor.
 */
#include "src/base/log.h"

#include "src/base/clock.h"

#include <errno.h>
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
static char log_path[4096]; /* "" while lines go to stderr */

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
	log_path[0] = '\0';
	if (file != NULL && file[0] != '\0') {
		int fd =
		    open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd >= 0) {
			log_fd = fd;
			snprintf(log_path, sizeof(log_path), "%s", file);
		} else {
			log_error("cannot open log file %s, using stderr",
				  file);
		}
	}
}

int log_reopen(void)
{
	int fd;

	if (log_path[0] == '\0' || log_fd == 2) {
		return 0; /* stderr belongs to whoever started us */
	}
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		int err = errno;
		log_warn("cannot reopen log file %s: %s (still writing to the "
			 "old file)",
			 log_path, strerror(err));
		return -err;
	}
	/* Replace the descriptor in place: a thread-pool line written
	 * meanwhile goes to the old file or the new one, never to a closed
	 * descriptor. */
	if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
		int err = errno;
		close(fd);
		log_warn("cannot reopen log file %s: %s (still writing to the "
			 "old file)",
			 log_path, strerror(err));
		return -err;
	}
	close(fd);
	return 0;
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
