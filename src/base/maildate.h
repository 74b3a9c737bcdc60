/*
 * maildate.h — the RFC 5322 date-time of a moment, in UTC, for the
 * headers this node writes (Received:, the Date: of a submission or a
 * bounce, the DSN's Arrival-Date and Last-Attempt-Date). Pure: the caller
 * gives the time.
 */
#ifndef SRC_MAILDATE_H
#define SRC_MAILDATE_H

#include <stddef.h>
#include <stdint.h>

/* Room for any date maildate_format() writes, with its terminator. */
#define MAILDATE_MAX 40

/* "Mon, 23 Nov 2026 20:23:56 +0000" for ms since the epoch, cut to size;
 * a time gmtime() cannot represent gives the epoch's date. */
void maildate_format(uint64_t ms, char *buf, size_t size);

#endif
