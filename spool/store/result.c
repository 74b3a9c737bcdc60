/*
 * result.c — the codec of struct spool_result (spool.h): what spool_apply()
 * tells the proposer of a command, sent back across the cluster.
 *
 * Layout (big-endian): u8 version (1), i32 status, u32 flags, u64 value,
 * u32 n (at most SPOOL_CLAIM_MAX), then n times i32 status and u64 fence.
 * A status is 0 or a negative code no lower than RESULT_STATUS_MIN (spool
 * codes and the cluster's -100..-104 both fit). Flags are carried as they
 * are, so a new RES_F_* bit needs no codec change.
 *
 * Owns: the items array of a decoded result (spool_result_free()).
 * Failures: encode returns SPOOL_E_INVAL for a result that would not decode,
 * SPOOL_E_NOMEM when the buffer cannot grow; decode returns SPOOL_E_VERSION,
 * SPOOL_E_MALFORMED or SPOOL_E_NOMEM and then leaves *res zeroed.
 */
#include <stdlib.h>
#include <string.h>

#include "spool/codec/err.h"
#include "spool/store/spool.h"

#define RESULT_VERSION 1
#define RESULT_STATUS_MIN (-200)
#define RESULT_ITEM_LEN (4 + 8)

/* 1 if status is a code a result may carry. */
static int status_ok(int status)
{
	return status <= 0 && status >= RESULT_STATUS_MIN;
}

/* 1 if the result would decode. */
static int result_valid(const struct spool_result *res)
{
	if (!status_ok(res->status) || res->n > SPOOL_CLAIM_MAX ||
	    (res->n > 0 && res->items == NULL))
		return 0;
	for (uint32_t i = 0; i < res->n; i++)
		if (!status_ok(res->items[i].status))
			return 0;
	return 1;
}

void spool_result_free(struct spool_result *res)
{
	if (res == NULL)
		return;
	free(res->items);
	memset(res, 0, sizeof(*res));
}

/* Append the encoding of res; nothing is appended when it is invalid. */
int spool_result_encode(const struct spool_result *res, struct wbuf *wb)
{
	if (!result_valid(res))
		return SPOOL_E_INVAL;
	wbuf_u8(wb, RESULT_VERSION);
	wbuf_u32(wb, (uint32_t)res->status);
	wbuf_u32(wb, res->flags);
	wbuf_u64(wb, res->value);
	wbuf_u32(wb, res->n);
	for (uint32_t i = 0; i < res->n; i++) {
		wbuf_u32(wb, (uint32_t)res->items[i].status);
		wbuf_u64(wb, res->items[i].fence);
	}
	return wb->err;
}

/* Two's complement u32 back to int without implementation-defined casts. */
static int status_from_wire(uint32_t v)
{
	if (v <= INT32_MAX)
		return (int)v;
	return -(int)(UINT32_MAX - v) - 1;
}

/* Decode a whole result; every byte must be used. */
int spool_result_decode(struct spool_result *res, const void *p, size_t len)
{
	struct rbuf rb;
	uint8_t ver;
	int rc = SPOOL_E_MALFORMED;

	memset(res, 0, sizeof(*res));
	rbuf_init(&rb, p, len);
	ver = rbuf_u8(&rb);
	if (rb.err)
		return SPOOL_E_MALFORMED;
	if (ver != RESULT_VERSION)
		return SPOOL_E_VERSION;
	res->status = status_from_wire(rbuf_u32(&rb));
	res->flags = rbuf_u32(&rb);
	res->value = rbuf_u64(&rb);
	res->n = rbuf_u32(&rb);
	if (rb.err || res->n > SPOOL_CLAIM_MAX ||
	    (size_t)res->n * RESULT_ITEM_LEN != rbuf_left(&rb))
		goto err_zero;
	if (res->n > 0) {
		res->items = calloc(res->n, sizeof(*res->items));
		if (res->items == NULL) {
			rc = SPOOL_E_NOMEM;
			goto err_zero;
		}
	}
	for (uint32_t i = 0; i < res->n; i++) {
		res->items[i].status = status_from_wire(rbuf_u32(&rb));
		res->items[i].fence = rbuf_u64(&rb);
	}
	if (rbuf_done(&rb) != 0 || !result_valid(res))
		goto err_after_alloc;
	return 0;

err_after_alloc:
	free(res->items);
err_zero:
	memset(res, 0, sizeof(*res));
	return rc;
}
