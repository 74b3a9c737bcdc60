/*
 * symbiont_actlog.c — the activity log of the symbiont (see
 * symbiont_actlog.h).
 *
 * Owns: the log's file descriptor and paths. Does not own: anything it
 * is passed, or the rule of where /LOG may write (src/base/logdir.c).
 * Fails: open and write errors are logged and the line is dropped; a /LOG
 * file outside the node's log_dir, or a link, is refused with a warning
 * and the node's own log is used.
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
#include "src/base/logdir.h"

#define LOG_LINE_MAX 2048

static const char *status_word(int outcome)
{
	return outcome == OUT_DELIVERED ? "sent"
	       : outcome == OUT_FAILED	? "bounced"
					: "deferred";
}

/* (Re)open the node's own activity log ("" or "none": no log). */
static void actlog_open_node(struct symbiont_actlog *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->cur[0] = '\0';
	if (l->node[0] == '\0' || strcmp(l->node, "none") == 0)
		return;
	l->fd = open(l->node, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		log_warn("symbiont: cannot open the activity log %s: %s (no "
			 "activity log)",
			 l->node, strerror(errno));
	else
		log_info("symbiont: activity log %s", l->node);
}

/* (Re)open the file /LOG=value names, inside the log directory only
 * (src/base/logdir.h); refused, the node's own log is used. */
static void actlog_open_cfg(struct symbiont_actlog *l, const char *value)
{
	char why[512];
	int fd = logdir_open(l->dir, value, why, sizeof(why));

	if (fd < 0) {
		log_warn("symbiont: /LOG=%s refused: %s (the node's activity "
			 "log is used)",
			 value, why);
		actlog_open_node(l);
	} else {
		if (l->fd >= 0)
			close(l->fd);
		l->fd = fd;
		log_info("symbiont: activity log %s (/LOG)", value);
	}
	snprintf(l->cur, sizeof(l->cur), "%s", value);
}

void symbiont_actlog_open(struct symbiont_actlog *l, const char *path,
			  const char *dir)
{
	l->fd = -1;
	l->cur[0] = '\0';
	snprintf(l->node, sizeof(l->node), "%s", path != NULL ? path : "");
	snprintf(l->dir, sizeof(l->dir), "%s", dir != NULL ? dir : "");
	actlog_open_node(l);
}

void symbiont_actlog_follow(struct symbiont_actlog *l,
			    const struct spool_config *c)
{
	const char *want = c->str[CFG_LOG];

	if (strcmp(want, l->cur) == 0)
		return;
	if (want[0] == '\0')
		actlog_open_node(l);
	else
		actlog_open_cfg(l, want);
}

void symbiont_actlog_write(struct symbiont_actlog *l, const char *node_name,
			   const char *name, const struct spool_rec *rec,
			   uint64_t fence, int lease_held,
			   const struct deliver_outcome *o)
{
	char line[LOG_LINE_MAX], ts[CLOCK_FMT_MAX];
	uint64_t now = clock_wall_ms(), created = rec->created_ms;
	const struct spool_rcpt *r = &rec->rcpt[o->rcpt];
	int n;

	if (l->fd < 0)
		return;
	if (clock_format(now, CLOCK_FMT_ISO_MS, ts, sizeof(ts)) == NULL)
		ts[0] = '\0';
	n = snprintf(line, sizeof(line),
		     "%s %s %s: to=<%s>, relay=%s, delay=%.1fs, "
		     "attempts=%u, status=%s (%s), from=<%s>, size=%llu, "
		     "fence=%llu, lease=%s\n",
		     ts, node_name, name, r->addr,
		     o->relay[0] ? o->relay : "none",
		     now > created ? (double)(now - created) / 1000.0 : 0.0,
		     r->attempts + 1, status_word(o->outcome), o->reply,
		     rec->sender != NULL ? rec->sender : "",
		     (unsigned long long)rec->body_size,
		     (unsigned long long)fence, lease_held ? "held" : "lost");
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
	char value[sizeof(l->cur)];

	snprintf(value, sizeof(value), "%s", l->cur);
	if (value[0] == '\0')
		actlog_open_node(l);
	else
		actlog_open_cfg(l, value);
}

void symbiont_actlog_close(struct symbiont_actlog *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
