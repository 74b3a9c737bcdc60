/*
 * diskguard.h — the node's disk reserve (after Postfix's queue_minfree):
 * a timer on the loop reads the free space of the filesystem that holds the
 * node's data directory (raft log, snapshots, LMDB) and says "low" once it
 * is under the reserve, so new mail is refused with 452 4.3.1 while the
 * symbiont keeps delivering and the spool drains. libraft 0.22 does not
 * survive a failed write (docs/faults.md), so the daemon must never let
 * that disk fill: every node of a replicated spool grows at the same rate.
 *
 * Owns: one process-wide state (one daemon is one node) and its timer.
 * Not: what is refused (the receiver and the submit path ask
 * diskguard_low()). Fails: diskguard_start returns a negative errno-style
 * code when the directory cannot be examined; afterwards a failed statvfs
 * counts as low (refuse rather than fill blindly) and is logged once.
 */
#ifndef SRC_BASE_DISKGUARD_H
#define SRC_BASE_DISKGUARD_H

#include <stdint.h>
#include <uv.h>

/* Watch dir's filesystem every interval_ms; low when fewer than reserve
 * bytes are free for an unprivileged writer (f_bavail). reserve 0 turns
 * the guard off (never low). Reads once before it returns. */
int diskguard_start(uv_loop_t *loop, const char *dir, uint64_t reserve,
		    unsigned interval_ms);

/* Close the timer (before the loop ends). */
void diskguard_stop(void);

/* 1 while the free space is under the reserve, else 0. */
int diskguard_low(void);

/* Bytes free at the last reading (UINT64_MAX before the first). */
uint64_t diskguard_free_bytes(void);

/* Read now (also what the timer does). */
void diskguard_check(void);

#endif
