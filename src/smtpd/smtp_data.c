/*
 * smtp_data.c — the DATA reader (see smtp_data.h): a byte state machine
 * over BOL (a line begins, after <CRLF>), DOT (a '.' began it), DOT_CR
 * (".<CR>" began it), MID (inside a line) and CR (a <CR> inside a line).
 * Only DOT_CR followed by <LF> ends the message. In raw mode (BDAT) a
 * line's '.' is content and only smtp_data_finish() ends it.
 *
 * Owns the message buffer while reading. Fails soft: a refusal reason is
 * recorded and reading goes on to the terminator; the buffer is dropped as
 * soon as the message can no longer be accepted (too big, no memory).
 */
#include "src/smtpd/smtp_data.h"

#include <stdlib.h>
#include <string.h>

#include "spool/codec/record.h"

enum { ST_BOL, ST_DOT, ST_DOT_CR, ST_MID, ST_CR };

void smtp_data_init(struct smtp_data *d, uint64_t limit)
{
	memset(d, 0, sizeof(*d));
	d->limit =
	    (limit == 0 || limit > SPOOL_BODY_MAX) ? SPOOL_BODY_MAX : limit;
	d->state = ST_BOL;
	d->in_header = 1;
}

void smtp_data_free(struct smtp_data *d)
{
	free(d->buf);
	d->buf = NULL;
	d->len = d->cap = 0;
}

char *smtp_data_take(struct smtp_data *d, size_t *len)
{
	char *p = d->buf;

	*len = d->len;
	d->buf = NULL;
	d->len = d->cap = 0;
	return p;
}

/* Stop storing: the message will be refused anyway. */
static void drop_buffer(struct smtp_data *d)
{
	smtp_data_free(d);
}

/* Append n octets to the buffer, growing it. */
static void store(struct smtp_data *d, const char *p, size_t n)
{
	if (d->too_big || d->nomem)
		return;
	if (d->len + n > d->cap) {
		size_t cap = d->cap ? d->cap : 4096;
		char *nb;

		while (cap < d->len + n)
			cap *= 2;
		nb = realloc(d->buf, cap);
		if (nb == NULL) {
			d->nomem = 1;
			drop_buffer(d);
			return;
		}
		d->buf = nb;
		d->cap = cap;
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
}

int smtp_data_prefix(struct smtp_data *d, const char *p, size_t n)
{
	store(d, p, n);
	return d->nomem ? SMTP_DE_NOMEM : 0;
}

/* Message octets (unstuffed) of the current line. */
static void emit(struct smtp_data *d, const char *p, size_t n)
{
	for (size_t i = 0; i < n && d->head_len < sizeof(d->head); i++)
		d->head[d->head_len++] = p[i];
	d->total += n;
	if (d->total > d->limit) {
		if (!d->too_big)
			drop_buffer(d);
		d->too_big = 1;
		return;
	}
	store(d, p, n);
}

/* Raw octets counted against the line length. */
static void count_line(struct smtp_data *d, size_t n)
{
	d->line_len += n;
	if (d->line_len > SMTP_DATA_LINE_MAX)
		d->long_line = 1;
}

/* A <CRLF> ended the line: header bookkeeping. */
static void end_line(struct smtp_data *d)
{
	static const char rcvd[] = "received:";

	emit(d, "\r\n", 2);
	if (d->in_header) {
		/* head holds the line and the CRLF just emitted */
		if (d->line_len == 0) {
			d->in_header = 0;
		} else if (d->head_len >= 9) {
			size_t i;

			for (i = 0; i < 9; i++) {
				char c = d->head[i];

				if (c >= 'A' && c <= 'Z')
					c = (char)(c - 'A' + 'a');
				if (c != rcvd[i])
					break;
			}
			if (i == 9)
				d->received++;
		}
	}
	d->line_len = 0;
	d->head_len = 0;
	d->state = ST_BOL;
}

/* Ordinary line octets in MID: everything up to the next CR or LF. */
static size_t span(struct smtp_data *d, const char *p, size_t n)
{
	size_t k = 0;

	while (k < n && p[k] != '\r' && p[k] != '\n')
		k++;
	if (k > 0) {
		count_line(d, k);
		emit(d, p, k);
	}
	return k;
}

size_t smtp_data_feed(struct smtp_data *d, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && !d->done) {
		char c = p[i];

		switch (d->state) {
		case ST_BOL:
			if (c == '.' && !d->raw) {
				count_line(d, 1);
				d->state = ST_DOT;
				i++;
			} else if (c == '\r') {
				d->state = ST_CR;
				i++;
			} else {
				d->state = ST_MID; /* c again, in MID */
			}
			break;
		case ST_DOT:
			if (c == '\r') {
				d->state = ST_DOT_CR;
				i++;
			} else {
				/* "." then more: the leading dot goes */
				d->state = ST_MID;
			}
			break;
		case ST_DOT_CR:
			if (c == '\n') {
				i++;
				d->done = 1;
				break;
			}
			/* ".<CR>x": bare CR; the leading dot goes; x again,
			 * in MID */
			d->bare = 1;
			count_line(d, 1);
			emit(d, "\r", 1);
			d->state = ST_MID;
			break;
		case ST_CR:
			if (c == '\n') {
				i++;
				end_line(d);
				break;
			}
			d->bare = 1; /* <CR> not followed by <LF> */
			count_line(d, 1);
			emit(d, "\r", 1);
			d->state = ST_MID;
			break;
		default: /* ST_MID */
			if (c == '\r') {
				d->state = ST_CR;
				i++;
			} else if (c == '\n') {
				d->bare = 1; /* <LF> without <CR> */
				count_line(d, 1);
				emit(d, "\n", 1);
				i++;
			} else {
				i += span(d, p + i, n - i);
			}
			break;
		}
	}
	if (!d->nul && memchr(p, 0, i) != NULL)
		d->nul = 1; /* only what was message: i stops at the end */
	return i;
}

void smtp_data_set_raw(struct smtp_data *d)
{
	d->raw = 1;
}

void smtp_data_finish(struct smtp_data *d)
{
	if (d->state == ST_MID)
		end_line(d);
	else if (d->state == ST_CR)
		d->bare = 1;
	d->done = 1;
}

int smtp_data_status(const struct smtp_data *d)
{
	if (d->bare)
		return SMTP_DE_BARE;
	if (d->nul)
		return SMTP_DE_NUL;
	if (d->long_line)
		return SMTP_DE_LONG;
	if (d->too_big)
		return SMTP_DE_SIZE;
	if (d->nomem)
		return SMTP_DE_NOMEM;
	return 0;
}
