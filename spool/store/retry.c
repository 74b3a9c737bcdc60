/*
 * retry.c — the retry policy of SET CONFIGURATION SMTP /INTERVAL:
 * the first retry waits INITIAL, later ones RETRY, and no attempt is
 * scheduled past created + MAXIMUM (the recipient fails then).
 * Pure arithmetic on stamped times.
 */
#include "spool/store/spool_impl.h"

uint64_t spool_retry_next(const struct spool_config *cfg, uint64_t created_ms,
			  uint32_t attempts, uint64_t stamp)
{
	uint64_t wait = attempts <= 1 ? cfg->num[CFG_INTERVAL_INITIAL]
				      : cfg->num[CFG_INTERVAL_RETRY];
	uint64_t limit = created_ms + cfg->num[CFG_INTERVAL_MAXIMUM];
	uint64_t next;

	if (stamp >= limit)
		return 0;
	next = stamp + wait;
	return next < limit ? next : limit;
}
