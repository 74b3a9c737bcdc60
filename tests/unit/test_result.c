/*
 * test_result.c — the spool_result codec (spool/store/result.c): round trip with
 * spool and cluster status codes, and every refusal of the decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/store/spool.h"

static struct spool_item_result sample_items[4] = {
    {.status = 0, .fence = 0x0102030405060708ull},
    {.status = SPOOL_E_CLAIMED, .fence = 0},
    {.status = SPOOL_E__LAST + 1, .fence = 1},
    {.status = -104, .fence = UINT64_MAX},
};

static struct spool_result sample_result(void)
{
	struct spool_result r = {
	    .status = SPOOL_E_NOTDUE,
	    .flags = 0x80000005u,
	    .value = 0xCAFEBABEDEADBEEFull,
	    .n = 4,
	    .items = sample_items,
	};

	return r;
}

static uint8_t *encode_ok(const struct spool_result *r, size_t *len)
{
	struct wbuf wb;

	wbuf_init(&wb);
	assert_int_equal(spool_result_encode(r, &wb), 0);
	return wbuf_take(&wb, len);
}

static int res_is_zero(const struct spool_result *r)
{
	static const struct spool_result zero;

	return memcmp(r, &zero, sizeof(zero)) == 0;
}

/* Decode a copy of buf with byte off replaced by v (off >= len: none). */
static int decode_patched(const uint8_t *buf, size_t len, size_t off, uint8_t v)
{
	struct spool_result out;
	uint8_t *cp = malloc(len ? len : 1);
	int rc;

	memcpy(cp, buf, len);
	if (off < len)
		cp[off] = v;
	memset(&out, 0x3C, sizeof(out));
	rc = spool_result_decode(&out, cp, len);
	if (rc == 0)
		spool_result_free(&out);
	assert_true(res_is_zero(&out));
	free(cp);
	return rc;
}

static void test_result_round_trip_keeps_negative_codes(void **state)
{
	struct spool_result in = sample_result(), out;
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	assert_int_equal(len, 1 + 4 + 4 + 8 + 4 + 4 * 12);
	assert_int_equal(buf[0], 1);
	/* i32 status big-endian: -6 is FF FF FF FA */
	assert_int_equal(buf[1], 0xFF);
	assert_int_equal(buf[4], 0xFA);
	assert_int_equal(spool_result_decode(&out, buf, len), 0);
	assert_int_equal(out.status, SPOOL_E_NOTDUE);
	assert_int_equal(out.flags, 0x80000005u);
	assert_true(out.value == 0xCAFEBABEDEADBEEFull);
	assert_int_equal(out.n, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(out.items[i].status, sample_items[i].status);
		assert_true(out.items[i].fence == sample_items[i].fence);
	}
	spool_result_free(&out);
	assert_true(res_is_zero(&out));
	free(buf);
}

static void test_result_without_items_round_trips(void **state)
{
	struct spool_result in = {.status = 0, .value = 3}, out;
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	assert_int_equal(spool_result_decode(&out, buf, len), 0);
	assert_int_equal(out.status, 0);
	assert_null(out.items);
	assert_true(out.value == 3);
	spool_result_free(&out);
	free(buf);
}

static void test_result_decode_refuses_every_truncation(void **state)
{
	struct spool_result in = sample_result();
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	for (size_t n = 0; n < len; n++)
		assert_int_equal(decode_patched(buf, n, SIZE_MAX, 0),
				 SPOOL_E_MALFORMED);
	free(buf);
}

static void test_result_decode_refuses_extra_byte(void **state)
{
	struct spool_result in = sample_result();
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);
	uint8_t *big = calloc(1, len + 1);

	memcpy(big, buf, len);
	assert_int_equal(decode_patched(big, len + 1, SIZE_MAX, 0),
			 SPOOL_E_MALFORMED);
	free(big);
	free(buf);
}

static void test_result_decode_refuses_other_version(void **state)
{
	struct spool_result in = sample_result();
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	assert_int_equal(decode_patched(buf, len, 0, 2), SPOOL_E_VERSION);
	assert_int_equal(decode_patched(buf, len, 0, 0), SPOOL_E_VERSION);
	free(buf);
}

static void test_result_decode_refuses_status_out_of_range(void **state)
{
	struct spool_result in = sample_result();
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	/* positive status */
	assert_int_equal(decode_patched(buf, len, 1, 0x00), SPOOL_E_MALFORMED);
	/* -201: FF FF FF 37 */
	assert_int_equal(decode_patched(buf, len, 4, 0x37), SPOOL_E_MALFORMED);
	/* -200: FF FF FF 38 is accepted */
	assert_int_equal(decode_patched(buf, len, 4, 0x38), 0);
	/* an item status: first item starts at 21 */
	assert_int_equal(decode_patched(buf, len, 24, 0x01), SPOOL_E_MALFORMED);
	free(buf);
}

static void test_result_decode_refuses_count_mismatch(void **state)
{
	struct spool_result in = sample_result();
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	/* u32 n at 17 */
	assert_int_equal(buf[20], 4);
	assert_int_equal(decode_patched(buf, len, 20, 3), SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, 20, 5), SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, 17, 0xFF), SPOOL_E_MALFORMED);
	free(buf);
}

static void test_result_decode_refuses_too_many_items(void **state)
{
	struct spool_result out;
	struct wbuf wb;

	wbuf_init(&wb);
	wbuf_u8(&wb, 1);
	wbuf_u32(&wb, 0);
	wbuf_u32(&wb, 0);
	wbuf_u64(&wb, 0);
	wbuf_u32(&wb, SPOOL_CLAIM_MAX + 1);
	for (int i = 0; i < SPOOL_CLAIM_MAX + 1; i++) {
		wbuf_u32(&wb, 0);
		wbuf_u64(&wb, (uint64_t)i);
	}
	assert_int_equal(spool_result_decode(&out, wb.p, wb.len),
			 SPOOL_E_MALFORMED);
	assert_true(res_is_zero(&out));
	wbuf_free(&wb);
}

static void test_result_encode_refuses_what_decode_refuses(void **state)
{
	struct spool_item_result bad = {.status = 1};
	struct spool_result r;
	struct wbuf wb;

	wbuf_init(&wb);
	r = sample_result();
	r.status = 1;
	assert_int_equal(spool_result_encode(&r, &wb), SPOOL_E_INVAL);
	r.status = -201;
	assert_int_equal(spool_result_encode(&r, &wb), SPOOL_E_INVAL);
	r = sample_result();
	r.n = SPOOL_CLAIM_MAX + 1;
	assert_int_equal(spool_result_encode(&r, &wb), SPOOL_E_INVAL);
	r = sample_result();
	r.items = NULL;
	assert_int_equal(spool_result_encode(&r, &wb), SPOOL_E_INVAL);
	r = sample_result();
	r.n = 1;
	r.items = &bad;
	assert_int_equal(spool_result_encode(&r, &wb), SPOOL_E_INVAL);
	assert_int_equal(wb.len, 0);
	wbuf_free(&wb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_result_round_trip_keeps_negative_codes),
	    cmocka_unit_test(test_result_without_items_round_trips),
	    cmocka_unit_test(test_result_decode_refuses_every_truncation),
	    cmocka_unit_test(test_result_decode_refuses_extra_byte),
	    cmocka_unit_test(test_result_decode_refuses_other_version),
	    cmocka_unit_test(test_result_decode_refuses_status_out_of_range),
	    cmocka_unit_test(test_result_decode_refuses_count_mismatch),
	    cmocka_unit_test(test_result_decode_refuses_too_many_items),
	    cmocka_unit_test(test_result_encode_refuses_what_decode_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
