/*
 * ctlalloc.h — the node's one control-file name allocator. Every producer
 * of TCPIP$SMTP control files on this node (the SMTP receiver, smtpctl
 * submit, bounces, the debug enqueue) takes its sequence number here, so
 * two messages minted in the same hundredth of a second by two producers
 * can no longer get one name (which made the second ENQUEUE look like a
 * harmless retried duplicate).
 *
 * Owns: the per-node (per-process: one daemon is one node) sequence,
 * seeded at random. Not: the name's format (spool/codec/ctlname.h), the
 * clock (the caller passes the time, so tests stay deterministic).
 * Thread-safe (an atomic counter). Fails: only as ctlname_make() does.
 */
#ifndef SRC_BASE_CTLALLOC_H
#define SRC_BASE_CTLALLOC_H

#include <stddef.h>
#include <stdint.h>

/* The next sequence number of this node (random start, then +1). */
uint32_t ctlalloc_next_seq(void);

/* A fresh control-file name for time ms, user and node into buf:
 * ctlname_make() with ctlalloc_next_seq(). 0 or its error. */
int ctlalloc_name(char *buf, size_t size, uint64_t ms, const char *user,
		  const char *node);

/* Set the counter (tests; the next number is seed + 1). */
void ctlalloc_seed(uint32_t seed);

#endif
