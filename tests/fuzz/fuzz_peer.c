/*
 * fuzz_peer.c — libFuzzer target for the node-to-node frame codec
 * (src/cluster/peer_frame.c): what a peer on the forwarding port sends.
 * The input is fed to the incremental frame reader twice, once whole and
 * once in pieces whose sizes come from the input, and every complete
 * frame's payload goes through the ADMIN, RESULT and ADMIN_RESULT
 * decoders. Invariants that abort when broken:
 *   - both feedings give the same frames (type, request id, payload) and
 *     stop at the same error;
 *   - a frame's payload is never larger than the reader's maximum;
 *   - a decoded ADMIN re-encodes to exactly its payload, and so does a
 *     decoded SERVICE_SET / SERVICE_SHOW request (peer_service), whose
 *     values are each no longer than PEER_SERVICE_VALUE_MAX, one per bit
 *     of its mask; no payload decodes as both layouts;
 *   - a decoded header re-encodes to exactly its 20 bytes;
 *   - the first 16 bytes as a forwarding hello (what a peer sends right
 *     after the TLS handshake): a hello that decodes names a node id
 *     other than 0 and re-encodes to exactly those 16 bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/cluster/peer.h"
#include "src/cluster/peer_frame.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAYLOAD 4096u
#define FRAMES_MAX 64

struct seen {
	unsigned n;
	int err;
	uint8_t type[FRAMES_MAX];
	uint64_t req[FRAMES_MAX];
	uint32_t len[FRAMES_MAX];
	uint64_t sum[FRAMES_MAX]; /* FNV-1a of the payload */
};

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* The payload decoders on one frame. */
static void check_payload(const struct peer_frame *f)
{
	struct peer_admin a;
	struct peer_service sv;
	const uint8_t *body;
	const char *msg;
	size_t blen, elen;
	int32_t st;

	if (f->len > MAX_PAYLOAD)
		abort();
	if (peer_admin_decode(&a, f->payload, f->len) == 0) {
		uint8_t *e = peer_admin_encode(&a, &elen);
		if (e == NULL || elen != f->len ||
		    (elen > 0 && memcmp(e, f->payload, elen) != 0))
			abort();
		free(e);
	}
	if (peer_service_decode(&sv, f->payload, f->len) == 0) {
		uint8_t *e;
		if (!peer_admin_is_service(f->payload, f->len) ||
		    peer_admin_decode(&a, f->payload, f->len) == 0)
			abort();
		for (unsigned k = 0; k < PEER_SERVICE_VALUES; k++)
			if ((sv.values[k] != NULL) != !!(sv.mask & 1u << k) ||
			    (sv.values[k] != NULL &&
			     strlen(sv.values[k]) > PEER_SERVICE_VALUE_MAX))
				abort();
		e = peer_service_encode(&sv, &elen);
		if (e == NULL || elen != f->len ||
		    memcmp(e, f->payload, elen) != 0)
			abort();
		free(e);
	}
	if (peer_result_decode(f->payload, f->len, &st, &body, &blen) == 0 &&
	    (blen + 4 != f->len || body != f->payload + 4))
		abort();
	(void)peer_admin_result_decode(f->payload, f->len, &st, &msg);
}

/* Feed data in pieces: sizes from cuts (1..16 each), or whole if ncuts 0. */
static void feed(const uint8_t *data, size_t size, const uint8_t *cuts,
		 size_t ncuts, struct seen *s)
{
	struct peer_reader r;
	size_t off = 0, ci = 0;

	memset(s, 0, sizeof(*s));
	peer_reader_init(&r, MAX_PAYLOAD);
	while (off < size && s->err == 0) {
		size_t n = size - off, used = 0;
		struct peer_frame f;
		int rv;
		if (ncuts > 0) {
			size_t want = (size_t)(cuts[ci++ % ncuts] % 16) + 1;
			if (want < n)
				n = want;
		}
		rv = peer_reader_feed(&r, data + off, n, &used, &f);
		if (used > n)
			abort();
		off += used;
		if (rv < 0) {
			s->err = rv;
			break;
		}
		if (rv == 1) {
			check_payload(&f);
			if (s->n < FRAMES_MAX) {
				s->type[s->n] = f.type;
				s->req[s->n] = f.req;
				s->len[s->n] = f.len;
				s->sum[s->n] = fnv(f.payload, f.len);
			}
			s->n++;
			free(f.payload);
		} else if (used == 0 && n > 0) {
			abort(); /* no progress and no frame */
		}
	}
	peer_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole, pieces;
	struct peer_frame f;
	size_t ncuts;

	if (size >= PEER_HELLO_LEN) {
		uint64_t id;
		if (peer_hello_decode(data, &id) == 0) {
			uint8_t again[PEER_HELLO_LEN];
			peer_hello_encode(again, id);
			if (id == 0 || memcmp(again, data, PEER_HELLO_LEN) != 0)
				abort();
		}
	}
	if (size >= PEER_HDR_LEN &&
	    peer_hdr_decode(data, MAX_PAYLOAD, &f) == 0) {
		uint8_t again[PEER_HDR_LEN];
		peer_hdr_encode(again, f.type, f.len, f.req);
		if (memcmp(again, data, PEER_HDR_LEN) != 0)
			abort();
	}
	(void)peer_strerror(size > 0 ? -(int)(data[0] % 8) : 0);
	ncuts = size > 0 ? (size_t)(data[0] % 8) + 1 : 0;
	if (ncuts > size)
		ncuts = size;
	feed(data, size, NULL, 0, &whole);
	feed(data, size, data, ncuts, &pieces);
	if (whole.n != pieces.n || whole.err != pieces.err)
		abort();
	for (unsigned i = 0; i < whole.n && i < FRAMES_MAX; i++)
		if (whole.type[i] != pieces.type[i] ||
		    whole.req[i] != pieces.req[i] ||
		    whole.len[i] != pieces.len[i] ||
		    whole.sum[i] != pieces.sum[i])
			abort();
	return 0;
}
