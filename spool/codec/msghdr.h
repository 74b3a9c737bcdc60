/*
 * msghdr.h — the one reader of a message's RFC 5322 header section, field
 * by field, for everything that looks at headers of a whole message in
 * memory: local delivery's HEADERS filter (src/delivery/local_headers.c),
 * the submit path's Date/From/Message-ID check and its sender-domain
 * rewrite (src/control/control_submit.c, submit_sender.c), and smtpctl's
 * To/Cc/Bcc reader (cli/submit.c). The receiver counts Received: fields
 * line by line as DATA streams in (src/smtpd/smtp_data.c) and does not
 * use it.
 *
 * A line ends at LF, with or without a CR before it; the last line may
 * have no line end. A field is a line that starts with a field name
 * (printable US-ASCII but ':', RFC 5322 ftext) and a colon, with the
 * continuation lines (starting with a space or a tab) after it. The
 * header section ends at the empty line, at a line that is no field (a
 * continuation with no field before it included), or at the end of the
 * message.
 *
 * Owns nothing: the fields point into the caller's message. Pure.
 */
#ifndef SPOOL_MSGHDR_H
#define SPOOL_MSGHDR_H

#include <stddef.h>

struct msghdr_field {
	const char *p;	 /* its first byte, in the message */
	size_t len;	 /* with its continuation lines and line ends */
	size_t name_len; /* the bytes before the colon */
};

struct msghdr_iter {
	const char *msg;
	size_t len;
	size_t pos; /* where the next line starts */
	int done;
};

void msghdr_iter_init(struct msghdr_iter *it, const void *msg, size_t len);

/* 1 and the next field in *f, or 0 where the header section ends; then
 * msghdr_iter_pos() is where the line that ended it starts (the empty
 * line, the body's first line, or len). */
int msghdr_iter_next(struct msghdr_iter *it, struct msghdr_field *f);

size_t msghdr_iter_pos(const struct msghdr_iter *it);

/* 1 if f's name is name (ASCII case-insensitive), else 0. */
int msghdr_field_is(const struct msghdr_field *f, const char *name);

/* The length of the field name that starts the line at p (n bytes): 0 if
 * the line does not start with a name and a colon. */
size_t msghdr_name_len(const char *p, size_t n);

/* The length of the line at p (n bytes), its line end included. */
size_t msghdr_line_len(const char *p, size_t n);

#endif
