/*
 * batch.c — codec of the group-commit raft entry and of its results array
 * (see batch.h). Pure: no I/O, no clock; the stamp comes from the caller
 * and is written through spool's codec (spool_cmd_set_stamp).
 * Fails by returning -1; never reads past the buffer it is given.
 */
#include "raft/batch.h"

#include <raft.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/cmd.h"

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

size_t rbatch_size(const struct rbatch_cmd *cmds, uint32_t n)
{
	size_t total = RBATCH_HDR_LEN;
	for (uint32_t i = 0; i < n; i++) {
		total += 4 + cmds[i].len;
	}
	return (total + 7) & ~(size_t)7;
}

int rbatch_encode(const struct rbatch_cmd *cmds, uint32_t n, uint64_t stamp,
		  void **out, size_t *outlen)
{
	size_t total, off;
	uint8_t *buf;

	*out = NULL;
	*outlen = 0;
	if (n == 0 || n > RBATCH_MAX_COUNT) {
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (cmds[i].len < SPOOL_CMD_HDR_LEN ||
		    cmds[i].len > UINT32_MAX) {
			return -1;
		}
	}
	total = rbatch_size(cmds, n);
	buf = raft_malloc(total);
	if (buf == NULL) {
		return -1;
	}
	buf[0] = RBATCH_VERSION;
	put_u32(buf + 1, n);
	off = RBATCH_HDR_LEN;
	for (uint32_t i = 0; i < n; i++) {
		put_u32(buf + off, (uint32_t)cmds[i].len);
		off += 4;
		memcpy(buf + off, cmds[i].p, cmds[i].len);
		spool_cmd_set_stamp(buf + off, cmds[i].len,
				    stamp); /* checked */
		off += cmds[i].len;
	}
	memset(buf + off, 0, total - off); /* padding */
	*out = buf;
	*outlen = total;
	return 0;
}

int rbatch_iter_init(struct rbatch_iter *it, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t off = RBATCH_HDR_LEN;
	uint32_t count;

	memset(it, 0, sizeof(*it));
	if (p == NULL || len < RBATCH_HDR_LEN || b[0] != RBATCH_VERSION) {
		return -1;
	}
	count = get_u32(b + 1);
	if (count == 0 || count > RBATCH_MAX_COUNT) {
		return -1;
	}
	/* Walk once to check every length before anything is applied. */
	for (uint32_t i = 0; i < count; i++) {
		uint32_t l;
		if (len - off < 4) {
			return -1;
		}
		l = get_u32(b + off);
		off += 4;
		if (len - off < l) {
			return -1;
		}
		off += l;
	}
	if (len - off > 7) {
		return -1;
	}
	for (size_t i = off; i < len; i++) {
		if (b[i] != 0) {
			return -1;
		}
	}
	it->p = b;
	it->len = len;
	it->off = RBATCH_HDR_LEN;
	it->count = count;
	it->next = 0;
	return 0;
}

int rbatch_iter_next(struct rbatch_iter *it, const void **p, size_t *len)
{
	uint32_t l;

	if (it->next >= it->count) {
		return 0;
	}
	l = get_u32(it->p + it->off);
	*p = it->p + it->off + 4;
	*len = l;
	it->off += 4 + (size_t)l;
	it->next++;
	return 1;
}

struct rbatch_results *rbatch_results_new(uint32_t n)
{
	struct rbatch_results *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return NULL;
	}
	r->n = n;
	r->items = calloc(n > 0 ? n : 1, sizeof(*r->items));
	if (r->items == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

int rbatch_results_add(struct rbatch_results *r, const void *p, size_t len)
{
	if (r->filled >= r->n || len > UINT32_MAX ||
	    r->data_len + len > UINT32_MAX) {
		return -1;
	}
	if (r->data_len + len > r->data_cap) {
		size_t cap = r->data_cap ? r->data_cap * 2 : 256;
		uint8_t *d;
		while (cap < r->data_len + len) {
			cap *= 2;
		}
		d = realloc(r->data, cap);
		if (d == NULL) {
			return -1;
		}
		r->data = d;
		r->data_cap = cap;
	}
	if (len > 0) {
		memcpy(r->data + r->data_len, p, len);
	}
	r->items[r->filled].off = (uint32_t)r->data_len;
	r->items[r->filled].len = (uint32_t)len;
	r->data_len += len;
	r->filled++;
	return 0;
}

int rbatch_results_get(const struct rbatch_results *r, uint32_t i,
		       const void **p, size_t *len)
{
	if (r == NULL || i >= r->filled) {
		return -1;
	}
	*p = r->data + r->items[i].off;
	*len = r->items[i].len;
	return 0;
}

void rbatch_results_free(struct rbatch_results *r)
{
	if (r == NULL) {
		return;
	}
	free(r->items);
	free(r->data);
	free(r);
}
