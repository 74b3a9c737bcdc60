/*
 * looplag.h — how long the event loop was blocked: a timer that should
 * fire every period measures how late it fires. Every connection of the
 * node waits while the loop thread runs something long (a snapshot
 * serialized on the loop was 255-411 ms at a 20k backlog), so a block is
 * logged (warning, with its length) and counted, and the worst one is
 * kept for the metrics and for `make bench` (docs/performance.md).
 *
 * Owns: one process-wide state (one daemon is one node) and its timer.
 * Not: what blocked (perf or the log lines around the warning say that).
 * Fails: nothing to fail once the timer is started.
 */
#ifndef SRC_BASE_LOOPLAG_H
#define SRC_BASE_LOOPLAG_H

#include <stdint.h>
#include <uv.h>

#define LOOPLAG_PERIOD_MS 20
#define LOOPLAG_WARN_MS 100 /* a block at least this long is logged */

/* Start measuring on loop. */
void looplag_start(uv_loop_t *loop);
/* Close the timer (before the loop ends). */
void looplag_stop(void);
/* The longest block seen (ms) and how many reached LOOPLAG_WARN_MS. */
uint64_t looplag_worst_ms(void);
uint64_t looplag_blocks(void);
/* The lateness of one tick that was due at due_ms and ran at now_ms
 * (pure: 0 when on time or early). */
uint64_t looplag_late(uint64_t due_ms, uint64_t now_ms);

#endif
