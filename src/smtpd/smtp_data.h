/*
 * smtp_data.h — the DATA reader: turns the octets that follow "354" into a
 * message, up to and including the terminating <CRLF>.<CRLF>.
 *
 * Only <CRLF> ends a line, and only a line "." after a <CRLF> ends the
 * message (RFC 5321 4.1.1.4): <LF>.<LF>, <LF>.<CR><LF>, <CR>.<CR> and the
 * like are message content, so SMTP smuggling can neither end a message
 * early nor inject a second one. A bare LF or bare CR anywhere marks the
 * message refused (SMTP_DE_BARE), as does a NUL octet anywhere (SMTP_DE_NUL:
 * "<CRLF><NUL>.<CRLF>" and "<CRLF>.<NUL><CRLF>" are content here, but a
 * downstream that drops NULs would see an end of data), lines over 998 octets
 * (SMTP_DE_LONG) and more than the size limit (SMTP_DE_SIZE: storing stops,
 * reading goes on) — the verdict is given once the real terminator has been
 * read, so the session stays in step with the client.
 *
 * Also: dot-unstuffing (4.5.2) and the count of "Received:" header fields
 * (hop count, 6.3).
 *
 * The same reader takes BDAT chunks (smtp_data_set_raw): the same checks,
 * the same limit, the same header count, without dot handling.
 *
 * Pure: no I/O, no clock. The reader owns its buffer (malloc'd); take it
 * with smtp_data_take() or release it with smtp_data_free().
 */
#ifndef SRC_SMTP_DATA_H
#define SRC_SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_DATA_LINE_MAX 998 /* octets of a line without its CRLF */

enum smtp_data_err {
	SMTP_DE_BARE = -1,  /* bare CR or LF: 554 5.6.0 */
	SMTP_DE_LONG = -2,  /* a line over 998 octets: 500 5.5.6 */
	SMTP_DE_SIZE = -3,  /* over the size limit: 552 5.3.4 */
	SMTP_DE_NOMEM = -4, /* buffer could not grow: 452 4.3.1 */
	SMTP_DE_NUL = -5,   /* a NUL octet: 554 5.6.0 */
};

struct smtp_data {
	char *buf; /* prefix + message, CRLF line ends */
	size_t len, cap;
	uint64_t limit;	   /* most message octets kept (the prefix aside) */
	uint64_t total;	   /* message octets after unstuffing */
	uint32_t received; /* Received: fields in the header section */
	int done;	   /* the terminator has been read */
	/* private */
	int state;
	size_t line_len; /* raw octets of the current line so far */
	char head[10];	 /* first octets of the current line, unstuffed */
	size_t head_len;
	int in_header;
	int raw; /* BDAT chunks: no dot-stuffing, no terminator */
	int bare, long_line, too_big, nomem, nul;
};

/* Start a message of at most limit octets (0: SPOOL_BODY_MAX). */
void smtp_data_init(struct smtp_data *d, uint64_t limit);

/* Store n octets before the message (the Received: header); not counted
 * against the limit. 0 or SMTP_DE_NOMEM. */
int smtp_data_prefix(struct smtp_data *d, const char *p, size_t n);

/* Read up to n octets. Returns how many were used: all of them, or fewer
 * when the terminator came first (then d->done is 1 and the rest belongs to
 * the next command). */
size_t smtp_data_feed(struct smtp_data *d, const char *p, size_t n);

/* BDAT (RFC 3030): from now on '.' at the start of a line is content and
 * nothing in the octets ends the message; the session says where it ends
 * with smtp_data_finish(). */
void smtp_data_set_raw(struct smtp_data *d);

/* BDAT LAST: the message ends here. A last line without its <CRLF> gets
 * one (the spool keeps CRLF lines); a <CR> left open is a bare CR. */
void smtp_data_finish(struct smtp_data *d);

/* Verdict so far (BDAT, between chunks) or once done: 0 or the first of SMTP_DE_BARE, SMTP_DE_LONG,
 * SMTP_DE_SIZE, SMTP_DE_NOMEM that applies. */
int smtp_data_status(const struct smtp_data *d);

/* Hand the buffer (prefix + message) to the caller, who frees it. */
char *smtp_data_take(struct smtp_data *d, size_t *len);

void smtp_data_free(struct smtp_data *d);

#endif
