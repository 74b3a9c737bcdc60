/*
 * wire.c — bounded big-endian writer and reader (see wire.h).
 */
#include "spool/codec/wire.h"

#include <stdlib.h>
#include <string.h>

#include "spool/codec/err.h"

void wbuf_init(struct wbuf *wb)
{
	memset(wb, 0, sizeof(*wb));
}

void wbuf_free(struct wbuf *wb)
{
	free(wb->p);
	memset(wb, 0, sizeof(*wb));
}

uint8_t *wbuf_take(struct wbuf *wb, size_t *len)
{
	uint8_t *p = wb->p;

	if (len != NULL)
		*len = wb->len;
	memset(wb, 0, sizeof(*wb));
	return p;
}

int wbuf_reserve(struct wbuf *wb, size_t extra)
{
	size_t need, cap;
	uint8_t *np;

	if (wb->err)
		return wb->err;
	if (extra > SIZE_MAX - wb->len) {
		wb->err = SPOOL_E_NOMEM;
		return wb->err;
	}
	need = wb->len + extra;
	if (need <= wb->cap)
		return 0;
	cap = wb->cap ? wb->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	np = realloc(wb->p, cap);
	if (np == NULL) {
		wb->err = SPOOL_E_NOMEM;
		return wb->err;
	}
	wb->p = np;
	wb->cap = cap;
	return 0;
}

void wbuf_raw(struct wbuf *wb, const void *p, size_t n)
{
	if (n == 0 || wbuf_reserve(wb, n) != 0)
		return;
	memcpy(wb->p + wb->len, p, n);
	wb->len += n;
}

void wbuf_u8(struct wbuf *wb, uint8_t v)
{
	wbuf_raw(wb, &v, 1);
}

void wbuf_u16(struct wbuf *wb, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	wbuf_raw(wb, b, 2);
}

void wbuf_u32(struct wbuf *wb, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
			(uint8_t)(v >> 8), (uint8_t)v};

	wbuf_raw(wb, b, 4);
}

void wbuf_u64(struct wbuf *wb, uint64_t v)
{
	uint8_t b[8];

	be64_put(b, v);
	wbuf_raw(wb, b, 8);
}

void wbuf_blob(struct wbuf *wb, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		wb->err = SPOOL_E_NOMEM;
		return;
	}
	wbuf_u32(wb, (uint32_t)n);
	wbuf_raw(wb, p, n);
}

void wbuf_str(struct wbuf *wb, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	wbuf_blob(wb, s, n);
	wbuf_u8(wb, 0);
}

void rbuf_init(struct rbuf *rb, const void *p, size_t len)
{
	rb->p = p;
	rb->len = p ? len : 0;
	rb->off = 0;
	rb->err = 0;
}

const void *rbuf_raw(struct rbuf *rb, size_t n)
{
	const void *q;

	if (rb->err || n > rb->len - rb->off) {
		rb->err = SPOOL_E_MALFORMED;
		return NULL;
	}
	q = rb->p + rb->off;
	rb->off += n;
	return q;
}

uint8_t rbuf_u8(struct rbuf *rb)
{
	const uint8_t *q = rbuf_raw(rb, 1);

	return q ? q[0] : 0;
}

uint16_t rbuf_u16(struct rbuf *rb)
{
	const uint8_t *q = rbuf_raw(rb, 2);

	return q ? (uint16_t)((q[0] << 8) | q[1]) : 0;
}

uint32_t rbuf_u32(struct rbuf *rb)
{
	const uint8_t *q = rbuf_raw(rb, 4);

	return q ? ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) |
		       ((uint32_t)q[2] << 8) | q[3]
		 : 0;
}

uint64_t rbuf_u64(struct rbuf *rb)
{
	const uint8_t *q = rbuf_raw(rb, 8);

	return q ? be64_get(q) : 0;
}

const void *rbuf_blob(struct rbuf *rb, size_t max, size_t *n)
{
	uint32_t len = rbuf_u32(rb);
	const void *q;

	*n = 0;
	if (rb->err)
		return NULL;
	if (len > max) {
		rb->err = SPOOL_E_MALFORMED;
		return NULL;
	}
	q = rbuf_raw(rb, len);
	if (q != NULL)
		*n = len;
	return q;
}

const char *rbuf_str(struct rbuf *rb, size_t max)
{
	size_t n;
	const char *s = rbuf_blob(rb, max, &n);
	const uint8_t *nul;

	if (s == NULL && rb->err)
		return "";
	nul = rbuf_raw(rb, 1);
	if (nul == NULL || *nul != 0 || (n > 0 && memchr(s, 0, n) != NULL)) {
		rb->err = SPOOL_E_MALFORMED;
		return "";
	}
	return n ? s : (const char *)nul;
}

size_t rbuf_left(const struct rbuf *rb)
{
	return rb->len - rb->off;
}

int rbuf_done(const struct rbuf *rb)
{
	return (rb->err || rb->off != rb->len) ? SPOOL_E_MALFORMED : 0;
}

void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}
