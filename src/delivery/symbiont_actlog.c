/*
 * symbiont_actlog.c — the activity log of the symbiont (see
 * symbiont_actlog.h).
 *
 * Owns: the log's file descriptor and paths. Does not own: anything it
 * is passed. Fails: open and write errors are logged and the line is
 * dropped.
 */
#include "src/delivery/symbiont_actlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/base/clock.h"
#include "src/base/log.h"

#define LOG_LINE_MAX 2048

static const char *status_word(int outcome)
{
	return outcome == OUT_DELIVERED ? "sent"
	       : outcome == OUT_FAILED	? "bounced"
					: "deferred";
}

/* (Re)open the activity log at path ("" or "none": no log). */
static void actlog_open_path(struct symbiont_actlog *l, const char *path)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	snprintf(l->cur, sizeof(l->cur), "%s", path);
	if (path[0] == '\0' || strcmp(path, "none") == 0)
		return;
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		log_warn("symbiont: cannot open the activity log %s: %s (no "
			 "activity log)",
			 path, strerror(errno));
	else
		log_info("symbiont: activity log %s", path);
}

void symbiont_actlog_open(struct symbiont_actlog *l, const char *path)
{
	l->fd = -1;
	l->cur[0] = '\0';
	snprintf(l->node, sizeof(l->node), "%s", path != NULL ? path : "");
	actlog_open_path(l, l->node);
}

void symbiont_actlog_follow(struct symbiont_actlog *l,
			    const struct spool_config *c)
{
	const char *want =
	    c->str[CFG_LOG][0] != '\0' ? c->str[CFG_LOG] : l->node;

	if (strcmp(want, l->cur) != 0)
		actlog_open_path(l, want);
}

void symbiont_actlog_write(struct symbiont_actlog *l, const char *node_name,
			   const char *name, const struct spool_rec *rec,
			   uint64_t fence, const struct deliver_outcome *o)
{
	char line[LOG_LINE_MAX], ts[CLOCK_FMT_MAX];
	uint64_t now = clock_wall_ms(), created = rec->created_ms;
	const struct spool_rcpt *r = &rec->rcpt[o->rcpt];
	int n;

	if (l->fd < 0)
		return;
	if (clock_format(now, CLOCK_FMT_ISO_MS, ts, sizeof(ts)) == NULL)
		ts[0] = '\0';
	n = snprintf(
	    line, sizeof(line),
	    "%s %s %s: to=<%s>, relay=%s, delay=%.1fs, "
	    "attempts=%u, status=%s (%s), from=<%s>, size=%llu, "
	    "fence=%llu\n",
	    ts, node_name, name, r->addr, o->relay[0] ? o->relay : "none",
	    now > created ? (double)(now - created) / 1000.0 : 0.0,
	    r->attempts + 1, status_word(o->outcome), o->reply,
	    rec->sender != NULL ? rec->sender : "",
	    (unsigned long long)rec->body_size, (unsigned long long)fence);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(l->fd, line, (size_t)n) != n)
		log_debug("symbiont: activity log write failed: %s",
			  strerror(errno));
}

void symbiont_actlog_reopen(struct symbiont_actlog *l)
{
	char path[sizeof(l->cur)];

	snprintf(path, sizeof(path), "%s", l->cur);
	actlog_open_path(l, path);
}

void symbiont_actlog_close(struct symbiont_actlog *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
