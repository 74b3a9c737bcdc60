/*
 * peer_frame.c — codec of the forwarding frames and their payloads
 * (peer.h). Pure: no sockets. Everything a peer sends is checked; a bad
 * header is an error code, never a crash, and a payload is allocated only
 * after its length passed the limit.
 */
#include "src/cluster/peer.h"

#include <stdlib.h>
#include <string.h>

#include "spool/codec/wire.h"

void peer_hdr_encode(uint8_t out[PEER_HDR_LEN], uint8_t type, uint32_t len,
		     uint64_t req)
{
	be64_put(out, (uint64_t)PEER_MAGIC << 32 | (uint64_t)type << 24 |
			  (uint64_t)PEER_VERSION << 16);
	out[8] = (uint8_t)(len >> 24);
	out[9] = (uint8_t)(len >> 16);
	out[10] = (uint8_t)(len >> 8);
	out[11] = (uint8_t)len;
	be64_put(out + 12, req);
}

int peer_hdr_decode(const uint8_t in[PEER_HDR_LEN], uint64_t max_payload,
		    struct peer_frame *f)
{
	uint32_t magic = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
			 (uint32_t)in[2] << 8 | in[3];
	uint32_t len = (uint32_t)in[8] << 24 | (uint32_t)in[9] << 16 |
		       (uint32_t)in[10] << 8 | in[11];

	memset(f, 0, sizeof(*f));
	if (magic != PEER_MAGIC) {
		return PEER_E_MAGIC;
	}
	if (in[5] != PEER_VERSION) {
		return PEER_E_VERSION;
	}
	if (in[4] < PEER_PROPOSE || in[4] > PEER_ADMIN_RESULT) {
		return PEER_E_TYPE;
	}
	if (in[6] != 0 || in[7] != 0) {
		return PEER_E_RESERVED;
	}
	if ((uint64_t)len > max_payload) {
		return PEER_E_TOOBIG;
	}
	f->type = in[4];
	f->len = len;
	f->req = be64_get(in + 12);
	return 0;
}

const char *peer_strerror(int err)
{
	switch (err) {
	case PEER_E_MAGIC:
		return "bad magic";
	case PEER_E_VERSION:
		return "unknown frame version";
	case PEER_E_TYPE:
		return "unknown frame type";
	case PEER_E_RESERVED:
		return "reserved field not zero";
	case PEER_E_TOOBIG:
		return "frame larger than allowed";
	case PEER_E_NOMEM:
		return "out of memory";
	default:
		return "frame error";
	}
}

void peer_reader_init(struct peer_reader *r, uint64_t max_payload)
{
	memset(r, 0, sizeof(*r));
	r->max_payload = max_payload;
}

void peer_reader_free(struct peer_reader *r)
{
	free(r->cur.payload);
	r->cur.payload = NULL;
	r->in_payload = 0;
	r->hdr_got = 0;
	r->got = 0;
}

int peer_reader_feed(struct peer_reader *r, const uint8_t *p, size_t n,
		     size_t *used, struct peer_frame *out)
{
	size_t off = 0;

	*used = 0;
	while (off < n || (r->in_payload && r->got == r->cur.len)) {
		if (!r->in_payload) {
			size_t take = PEER_HDR_LEN - r->hdr_got;
			int rv;
			if (take > n - off) {
				take = n - off;
			}
			memcpy(r->hdr + r->hdr_got, p + off, take);
			r->hdr_got += take;
			off += take;
			if (r->hdr_got < PEER_HDR_LEN) {
				/* refuse junk as soon as the magic is in */
				if (r->hdr_got >= 4 &&
				    memcmp(r->hdr, "SCF1", 4) != 0) {
					*used = off;
					return PEER_E_MAGIC;
				}
				break;
			}
			rv = peer_hdr_decode(r->hdr, r->max_payload, &r->cur);
			if (rv != 0) {
				*used = off;
				return rv;
			}
			if (r->cur.len > 0) {
				r->cur.payload = malloc(r->cur.len);
				if (r->cur.payload == NULL) {
					*used = off;
					return PEER_E_NOMEM;
				}
			}
			r->in_payload = 1;
			r->got = 0;
		}
		if (r->got < r->cur.len) {
			size_t take = r->cur.len - r->got;
			if (take > n - off) {
				take = n - off;
			}
			memcpy(r->cur.payload + r->got, p + off, take);
			r->got += take;
			off += take;
		}
		if (r->got == r->cur.len) {
			*out = r->cur;
			memset(&r->cur, 0, sizeof(r->cur));
			r->in_payload = 0;
			r->hdr_got = 0;
			r->got = 0;
			*used = off;
			return 1;
		}
	}
	*used = off;
	return 0;
}

uint8_t *peer_admin_encode(const struct peer_admin *a, size_t *len)
{
	struct wbuf wb;

	wbuf_init(&wb);
	wbuf_u8(&wb, a->op);
	wbuf_u64(&wb, a->id);
	wbuf_str(&wb, a->address);
	wbuf_u64(&wb, a->a);
	wbuf_u64(&wb, a->b);
	wbuf_u64(&wb, a->c);
	if (wb.err) {
		wbuf_free(&wb);
		return NULL;
	}
	return wbuf_take(&wb, len);
}

int peer_admin_decode(struct peer_admin *a, const uint8_t *p, size_t len)
{
	struct rbuf rb;

	memset(a, 0, sizeof(*a));
	rbuf_init(&rb, p, len);
	a->op = rbuf_u8(&rb);
	a->id = rbuf_u64(&rb);
	a->address = rbuf_str(&rb, 255);
	a->a = rbuf_u64(&rb);
	a->b = rbuf_u64(&rb);
	a->c = rbuf_u64(&rb);
	if (rbuf_done(&rb) != 0 || a->op < PEER_OP_ADD ||
	    a->op > PEER_OP_REPORT) {
		return -1;
	}
	return 0;
}

/* The checks both directions share: op, mask bits, SHOW without values. */
static int service_ok(const struct peer_service *s)
{
	if (s->op != PEER_OP_SERVICE_SHOW && s->op != PEER_OP_SERVICE_SET)
		return 0;
	if (s->mask >> PEER_SERVICE_VALUES != 0)
		return 0;
	return s->op == PEER_OP_SERVICE_SET || s->mask == 0;
}

uint8_t *peer_service_encode(const struct peer_service *s, size_t *len)
{
	struct wbuf wb;

	if (!service_ok(s))
		return NULL;
	wbuf_init(&wb);
	wbuf_u8(&wb, s->op);
	wbuf_u64(&wb, s->node);
	wbuf_u32(&wb, s->mask);
	for (unsigned k = 0; k < PEER_SERVICE_VALUES; k++) {
		if (!(s->mask & 1u << k))
			continue;
		if (s->values[k] == NULL ||
		    strlen(s->values[k]) > PEER_SERVICE_VALUE_MAX) {
			wbuf_free(&wb);
			return NULL;
		}
		wbuf_str(&wb, s->values[k]);
	}
	if (wb.err) {
		wbuf_free(&wb);
		return NULL;
	}
	return wbuf_take(&wb, len);
}

int peer_service_decode(struct peer_service *s, const uint8_t *p, size_t len)
{
	struct rbuf rb;

	memset(s, 0, sizeof(*s));
	rbuf_init(&rb, p, len);
	s->op = rbuf_u8(&rb);
	s->node = rbuf_u64(&rb);
	s->mask = rbuf_u32(&rb);
	if (rb.err || !service_ok(s))
		return -1;
	for (unsigned k = 0; k < PEER_SERVICE_VALUES; k++)
		if (s->mask & 1u << k)
			s->values[k] = rbuf_str(&rb, PEER_SERVICE_VALUE_MAX);
	if (rbuf_done(&rb) != 0) {
		memset(s, 0, sizeof(*s));
		return -1;
	}
	return 0;
}

int peer_admin_is_service(const uint8_t *p, size_t len)
{
	return len > 0 &&
	       (p[0] == PEER_OP_SERVICE_SHOW || p[0] == PEER_OP_SERVICE_SET);
}

uint8_t *peer_status_encode(int32_t status, const void *body, size_t blen,
			    int as_string, size_t *len)
{
	struct wbuf wb;

	wbuf_init(&wb);
	wbuf_u32(&wb, (uint32_t)status);
	if (as_string) {
		wbuf_str(&wb, body != NULL ? (const char *)body : "");
	} else if (blen > 0) {
		wbuf_raw(&wb, body, blen);
	}
	if (wb.err) {
		wbuf_free(&wb);
		return NULL;
	}
	return wbuf_take(&wb, len);
}

/* Two's complement u32 back to int32 without implementation-defined
 * conversions. */
static int32_t s32(uint32_t v)
{
	if (v <= INT32_MAX) {
		return (int32_t)v;
	}
	return -(int32_t)(UINT32_MAX - v) - 1;
}

int peer_result_decode(const uint8_t *p, size_t len, int32_t *status,
		       const uint8_t **body, size_t *blen)
{
	struct rbuf rb;

	rbuf_init(&rb, p, len);
	*status = s32(rbuf_u32(&rb));
	if (rb.err) {
		return -1;
	}
	*body = p + 4;
	*blen = len - 4;
	return 0;
}

int peer_admin_result_decode(const uint8_t *p, size_t len, int32_t *status,
			     const char **msg)
{
	struct rbuf rb;

	rbuf_init(&rb, p, len);
	*status = s32(rbuf_u32(&rb));
	*msg = rbuf_str(&rb, len);
	return rbuf_done(&rb) == 0 ? 0 : -1;
}

/* ---- the hello ---- */

void peer_hello_encode(uint8_t out[PEER_HELLO_LEN], uint64_t id)
{
	be64_put(out, (uint64_t)PEER_HELLO_MAGIC << 32 | 1u);
	be64_put(out + 8, id);
}

int peer_hello_decode(const uint8_t in[PEER_HELLO_LEN], uint64_t *id)
{
	if (be64_get(in) != ((uint64_t)PEER_HELLO_MAGIC << 32 | 1u))
		return -1;
	*id = be64_get(in + 8);
	return *id != 0 ? 0 : -1;
}
