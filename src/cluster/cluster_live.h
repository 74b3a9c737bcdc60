/*
 * cluster_live.h — the pure rules of the placement view (cluster_live.c):
 * when the leader counts a member as live, and the text of the view a
 * leader sends its followers ("1 2 3": decimal ids, one space apart).
 *
 * Owns nothing. Pure: no clock read here (callers pass "now").
 */
#ifndef SRC_CLUSTER_LIVE_H
#define SRC_CLUSTER_LIVE_H

#include <stddef.h>
#include <stdint.h>

/* 1 when a member whose last report came at report_at (0: none) is live
 * at now for a leader ready since lead_since: heard from (or, if not
 * since, leading) no longer than gone_ms ago. */
int cluster_live_judge(uint64_t now, uint64_t lead_since, uint64_t report_at,
		       uint64_t gone_ms);

/* Write ids[0..n) as the view's text into buf (always terminated when size
 * > 0; whole ids only when it does not fit); returns its length. */
size_t cluster_live_format(const uint64_t *ids, size_t n, char *buf,
			   size_t size);

/* Parse a view's text into ids (at most max): the count, or -1 when it is
 * not ids one space apart (empty is 0 ids), an id is 0 or too large, or
 * there are more than max. */
int cluster_live_parse(const char *s, uint64_t *ids, unsigned max);

#endif
