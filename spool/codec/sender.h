/*
 * sender.h — the sender-header rule of seed section 18.1.3: the sender
 * shown to OpenVMS Mail is the first present of Resent-Reply-To,
 * Resent-From, Reply-To, Resent-Sender, Sender, Return-Path (and From:
 * when none of them is present).
 *
 * Pure: reads the message's header section (up to the first empty line),
 * unfolds continuation lines, and copies the chosen header's value.
 */
#ifndef SPOOL_SENDER_H
#define SPOOL_SENDER_H

#include <stddef.h>

/* Copy the chosen header's value (trimmed, unfolded) into out. Returns the
 * index in the rule's order (0..5), 6 for From:, or SPOOL_E_NOTFOUND when
 * the message has none; out is "" then. *which gets the header name when
 * which is not NULL. */
int sender_from_headers(const char *msg, size_t len, char *out, size_t size,
			const char **which);

#endif
