/*
 * local_headers.h — which header fields local delivery (Maildir and LMTP)
 * shows, by /OPTIONS=HEADERS | TOP_HEADERS | NOHEADERS (CFG_OPT_HEADERS,
 * enum spool_cfg_headers). The seed's OpenVMS Mail shows a message with
 * its own few headers (From:, To:, CC:, Subj:) and, by this option, the
 * SMTP headers or not; a Maildir reader sees the header section, so the
 * option chooses the fields that stay in it:
 *
 *   HEADERS      every field, as received (the default)
 *   TOP_HEADERS  the fields a reader sees at the top of a message: those
 *                of NOHEADERS, the other originator and identification
 *                fields (Reply-To:, Sender:, Resent-*:, Message-ID:,
 *                In-Reply-To:, References:, Comments:, Keywords:); the
 *                trace and transport fields (Received:, Return-Path:,
 *                DKIM-Signature:, X-*: and every other) are left out
 *   NOHEADERS    only OpenVMS Mail's own: From:, To:, Cc:, Subject:,
 *                Date:, and the MIME fields (MIME-Version:, Content-*:)
 *                without which the body cannot be read
 *
 * The body is never touched, nor the line ends. Pure: no allocation, no
 * I/O; cannot fail.
 */
#ifndef SRC_DELIVERY_LOCAL_HEADERS_H
#define SRC_DELIVERY_LOCAL_HEADERS_H

#include <stddef.h>

/* 1 when a field named name (len bytes, no colon; any case) stays under
 * mode (enum spool_cfg_headers), else 0. */
int local_header_kept(const char *name, size_t len, int mode);

/* Copy msg (len bytes) into out, which holds at least len bytes, without
 * the header fields mode leaves out (each with its continuation lines).
 * The header section is read by spool/codec/msghdr.h (it ends at the
 * empty line or at the first line that is no field); from there
 * everything is copied. Returns the bytes written (len under CFG_HEADERS_ALL). */
size_t local_headers_filter(const char *msg, size_t len, int mode, char *out);

#endif
