/*
 * ctlalloc.c — the node's control-file sequence (see ctlalloc.h).
 */
#include "src/base/ctlalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <unistd.h>

#include "spool/codec/ctlname.h"
#include "src/base/clock.h"

static atomic_uint_least32_t seq;
static pthread_once_t seeded = PTHREAD_ONCE_INIT;

/* A random start, so a restarted node does not reuse last run's names. */
static void seed_once(void)
{
	uint32_t s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
		s = (uint32_t)clock_wall_ms() ^ (uint32_t)getpid();
	atomic_store(&seq, s);
}

uint32_t ctlalloc_next_seq(void)
{
	pthread_once(&seeded, seed_once);
	return (uint32_t)(atomic_fetch_add(&seq, 1) + 1);
}

int ctlalloc_name(char *buf, size_t size, uint64_t ms, const char *user,
		  const char *node)
{
	return ctlname_make(buf, size, ms, user, ctlalloc_next_seq(), node);
}

void ctlalloc_seed(uint32_t seed)
{
	pthread_once(&seeded, seed_once);
	atomic_store(&seq, seed);
}
