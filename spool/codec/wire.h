/*
 * wire.h — bounded, big-endian byte writer and reader.
 *
 * Every binary encoding of the project (commands, records, snapshots,
 * cluster frames) is built with struct wbuf and read back with struct rbuf.
 * The reader never reads past its end: any short read sets rb->err and
 * every later read returns zero values, so a decoder checks rb->err once at
 * the end. Strings are encoded as u32 length, the bytes, and a NUL (counted
 * outside the length), so a decoded string can point into the input buffer
 * and still be NUL-terminated; embedded NULs are refused.
 *
 * Ownership: a wbuf owns its growing heap buffer (free with wbuf_free, or
 * take it with wbuf_take). An rbuf only borrows; pointers it returns stay
 * valid as long as the borrowed bytes do.
 */
#ifndef SPOOL_WIRE_H
#define SPOOL_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct wbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	int err; /* SPOOL_E_NOMEM after a failed growth; writes then no-op */
};

struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err; /* SPOOL_E_MALFORMED after any out-of-bounds or bad read */
};

void wbuf_init(struct wbuf *wb);
void wbuf_free(struct wbuf *wb);
/* Hand the buffer to the caller (free() it); the wbuf is reset. */
uint8_t *wbuf_take(struct wbuf *wb, size_t *len);
int wbuf_reserve(struct wbuf *wb, size_t extra);
void wbuf_u8(struct wbuf *wb, uint8_t v);
void wbuf_u16(struct wbuf *wb, uint16_t v);
void wbuf_u32(struct wbuf *wb, uint32_t v);
void wbuf_u64(struct wbuf *wb, uint64_t v);
void wbuf_raw(struct wbuf *wb, const void *p, size_t n);
/* u32 length + bytes, no NUL: for opaque blobs (message bodies). */
void wbuf_blob(struct wbuf *wb, const void *p, size_t n);
/* u32 length + bytes + NUL; s == NULL is written as "". */
void wbuf_str(struct wbuf *wb, const char *s);

void rbuf_init(struct rbuf *rb, const void *p, size_t len);
uint8_t rbuf_u8(struct rbuf *rb);
uint16_t rbuf_u16(struct rbuf *rb);
uint32_t rbuf_u32(struct rbuf *rb);
uint64_t rbuf_u64(struct rbuf *rb);
/* Pointer to the next n bytes (NULL and err on overrun). */
const void *rbuf_raw(struct rbuf *rb, size_t n);
/* A blob of at most max bytes; *n gets its length. */
const void *rbuf_blob(struct rbuf *rb, size_t max, size_t *n);
/* A NUL-terminated string of at most max bytes, pointing into the input;
 * "" on error. */
const char *rbuf_str(struct rbuf *rb, size_t max);
/* Number of bytes not read yet. */
size_t rbuf_left(const struct rbuf *rb);
/* 0 when everything was read without error, else SPOOL_E_MALFORMED. */
int rbuf_done(const struct rbuf *rb);

/* Big-endian helpers for LMDB keys. */
void be64_put(uint8_t *p, uint64_t v);
uint64_t be64_get(const uint8_t *p);

#endif
