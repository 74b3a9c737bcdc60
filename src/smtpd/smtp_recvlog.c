/*
 * smtp_recvlog.c — the receive log (smtp_recvlog.h): one line per message
 * received.
 *
 * Owns: the log's file descriptor and path (process-wide, like
 * src/base/log.c's), the line format. Does not own the values (the
 * session passes them) or when a line is due (smtp_session.c, once the
 * DATA reply is known).
 *
 * Fails softly: an open failure is logged and the log stays off; a write
 * failure drops the line (logged at debug); a line longer than
 * RECVLOG_LINE_MAX is cut, recipients first, and still ends with the
 * reply.
 */
#include "src/smtpd/smtp_recvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src/base/clock.h"
#include "src/base/log.h"

#define RECVLOG_LINE_MAX 8192
#define RECVLOG_RCPT_MAX 4096 /* room for the recipient list */

static int recv_fd = -1;
static char recv_path[4096];

static void open_path(void)
{
	if (recv_fd >= 0)
		close(recv_fd);
	recv_fd = -1;
	if (recv_path[0] == '\0' || strcmp(recv_path, "none") == 0)
		return;
	recv_fd =
	    open(recv_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (recv_fd < 0)
		log_warn("smtp: cannot open the receive log %s: %s (no "
			 "receive log)",
			 recv_path, strerror(errno));
}

void smtp_recvlog_open(const char *path)
{
	snprintf(recv_path, sizeof(recv_path), "%s", path != NULL ? path : "");
	open_path();
	if (recv_fd >= 0)
		log_info("smtp: receive log %s", recv_path);
}

void smtp_recvlog_reopen(void)
{
	open_path();
}

void smtp_recvlog_close(void)
{
	if (recv_fd >= 0)
		close(recv_fd);
	recv_fd = -1;
}

/* "<a>,<b>,..." into buf; "..." when it does not fit. */
static void rcpt_list(const struct smtp_recv_entry *e, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		int n = snprintf(buf + off, size - off, "%s<%s>",
				 i > 0 ? "," : "", e->rcpt[i]);
		if (n < 0 || (size_t)n >= size - off) {
			snprintf(buf + (off < size - 4 ? off : size - 4),
				 size - (off < size - 4 ? off : size - 4),
				 ",...");
			return;
		}
		off += (size_t)n;
	}
}

void smtp_recvlog_write(const struct smtp_recv_entry *e)
{
	char line[RECVLOG_LINE_MAX], rcpts[RECVLOG_RCPT_MAX];
	char ts[CLOCK_FMT_MAX];
	int n;

	if (recv_fd < 0)
		return;
	if (clock_format(clock_wall_ms(), CLOCK_FMT_ISO_MS, ts, sizeof(ts)) ==
	    NULL)
		ts[0] = '\0';
	rcpt_list(e, rcpts, sizeof(rcpts));
	n = snprintf(line, sizeof(line),
		     "%s %s [%s] helo=%s from=<%s> to=%s size=%llu name=%s "
		     "reply=\"%s\"\n",
		     ts, e->node_name, e->client_ip,
		     e->helo[0] != '\0' ? e->helo : "none", e->sender, rcpts,
		     (unsigned long long)e->size,
		     e->name[0] != '\0' ? e->name : "none", e->reply);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(recv_fd, line, (size_t)n) != n)
		log_debug("smtp: receive log write failed: %s",
			  strerror(errno));
}
