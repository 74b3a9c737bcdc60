/*
 * test_wire.c — the bounded big-endian writer and reader (spool/codec/wire.c):
 * byte order, bounds, sticky errors, strings and blobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/err.h"
#include "spool/codec/wire.h"

static void test_integers_written_big_endian(void **state)
{
	static const uint8_t want[] = {0xAB, 0x12, 0x34, 0xDE, 0xAD,
				       0xBE, 0xEF, 0x01, 0x02, 0x03,
				       0x04, 0x05, 0x06, 0x07, 0x08};
	struct wbuf wb;

	wbuf_init(&wb);
	wbuf_u8(&wb, 0xAB);
	wbuf_u16(&wb, 0x1234);
	wbuf_u32(&wb, 0xDEADBEEF);
	wbuf_u64(&wb, 0x0102030405060708ull);
	assert_int_equal(wb.err, 0);
	assert_int_equal(wb.len, sizeof(want));
	assert_memory_equal(wb.p, want, sizeof(want));
	wbuf_free(&wb);
}

static void test_integers_read_back(void **state)
{
	struct wbuf wb;
	struct rbuf rb;

	wbuf_init(&wb);
	wbuf_u8(&wb, 0xFF);
	wbuf_u16(&wb, 0xFFFE);
	wbuf_u32(&wb, 0x80000001u);
	wbuf_u64(&wb, UINT64_MAX - 1);
	rbuf_init(&rb, wb.p, wb.len);
	assert_int_equal(rbuf_u8(&rb), 0xFF);
	assert_int_equal(rbuf_u16(&rb), 0xFFFE);
	assert_int_equal(rbuf_u32(&rb), 0x80000001u);
	assert_true(rbuf_u64(&rb) == UINT64_MAX - 1);
	assert_int_equal(rbuf_left(&rb), 0);
	assert_int_equal(rbuf_done(&rb), 0);
	wbuf_free(&wb);
}

static void test_be64_helpers_order_keys(void **state)
{
	uint8_t a[8], b[8];

	be64_put(a, 0x00000000000000FFull);
	be64_put(b, 0x0000000000000100ull);
	assert_true(memcmp(a, b, 8) < 0);
	assert_int_equal(a[7], 0xFF);
	assert_int_equal(b[6], 0x01);
	assert_true(be64_get(a) == 0xFF);
	assert_true(be64_get(b) == 0x100);
}

static void test_short_read_sets_error_and_returns_zero(void **state)
{
	static const uint8_t in[] = {0x01, 0x02, 0x03};
	struct rbuf rb;

	rbuf_init(&rb, in, sizeof(in));
	assert_int_equal(rbuf_u32(&rb), 0);
	assert_int_equal(rb.err, SPOOL_E_MALFORMED);
	/* the failed read consumed nothing, but the error is sticky */
	assert_int_equal(rbuf_left(&rb), 3);
	assert_int_equal(rbuf_u8(&rb), 0);
	assert_int_equal(rbuf_done(&rb), SPOOL_E_MALFORMED);
}

static void test_raw_past_end_refused(void **state)
{
	static const uint8_t in[] = {1, 2, 3, 4};
	struct rbuf rb;

	rbuf_init(&rb, in, sizeof(in));
	assert_non_null(rbuf_raw(&rb, 2));
	assert_null(rbuf_raw(&rb, 3));
	assert_int_equal(rb.err, SPOOL_E_MALFORMED);
	assert_null(rbuf_raw(&rb, 0));
}

static void test_leftover_bytes_make_done_fail(void **state)
{
	static const uint8_t in[] = {1, 2};
	struct rbuf rb;

	rbuf_init(&rb, in, sizeof(in));
	(void)rbuf_u8(&rb);
	assert_int_equal(rb.err, 0);
	assert_int_equal(rbuf_done(&rb), SPOOL_E_MALFORMED);
	(void)rbuf_u8(&rb);
	assert_int_equal(rbuf_done(&rb), 0);
}

static void test_null_input_reads_as_empty(void **state)
{
	struct rbuf rb;

	rbuf_init(&rb, NULL, 100);
	assert_int_equal(rbuf_left(&rb), 0);
	assert_int_equal(rbuf_u8(&rb), 0);
	assert_int_equal(rb.err, SPOOL_E_MALFORMED);
}

static void test_string_round_trip_points_into_input(void **state)
{
	struct wbuf wb;
	struct rbuf rb;
	const char *s, *e, *n;

	wbuf_init(&wb);
	wbuf_str(&wb, "hello");
	wbuf_str(&wb, "");
	wbuf_str(&wb, NULL);
	/* u32 length, bytes, NUL */
	assert_int_equal(wb.len, (4 + 5 + 1) + 5 + 5);
	assert_int_equal(wb.p[3], 5);
	assert_int_equal(wb.p[9], 0);
	rbuf_init(&rb, wb.p, wb.len);
	s = rbuf_str(&rb, 5);
	e = rbuf_str(&rb, 5);
	n = rbuf_str(&rb, 0);
	assert_int_equal(rbuf_done(&rb), 0);
	assert_string_equal(s, "hello");
	assert_ptr_equal(s, (const char *)wb.p + 4);
	assert_string_equal(e, "");
	assert_string_equal(n, "");
	/* an empty string still points into the input, at its NUL */
	assert_true((const uint8_t *)e >= wb.p &&
		    (const uint8_t *)e < wb.p + wb.len);
	wbuf_free(&wb);
}

static void test_string_with_embedded_nul_refused(void **state)
{
	struct wbuf wb;
	struct rbuf rb;

	wbuf_init(&wb);
	wbuf_u32(&wb, 3);
	wbuf_raw(&wb, "a\0b", 3);
	wbuf_u8(&wb, 0);
	rbuf_init(&rb, wb.p, wb.len);
	assert_string_equal(rbuf_str(&rb, 100), "");
	assert_int_equal(rbuf_done(&rb), SPOOL_E_MALFORMED);
	wbuf_free(&wb);
}

static void test_string_without_terminating_nul_refused(void **state)
{
	struct wbuf wb;
	struct rbuf rb;

	wbuf_init(&wb);
	wbuf_u32(&wb, 3);
	wbuf_raw(&wb, "abcd", 4);
	rbuf_init(&rb, wb.p, wb.len);
	assert_string_equal(rbuf_str(&rb, 100), "");
	assert_int_equal(rb.err, SPOOL_E_MALFORMED);
	/* and when the input ends right after the bytes */
	rbuf_init(&rb, wb.p, wb.len - 1);
	assert_string_equal(rbuf_str(&rb, 100), "");
	assert_int_equal(rb.err, SPOOL_E_MALFORMED);
	wbuf_free(&wb);
}

static void test_string_over_max_refused(void **state)
{
	struct wbuf wb;
	struct rbuf rb;

	wbuf_init(&wb);
	wbuf_str(&wb, "abcdef");
	rbuf_init(&rb, wb.p, wb.len);
	assert_string_equal(rbuf_str(&rb, 5), "");
	assert_int_equal(rb.err, SPOOL_E_MALFORMED);
	rbuf_init(&rb, wb.p, wb.len);
	assert_string_equal(rbuf_str(&rb, 6), "abcdef");
	assert_int_equal(rbuf_done(&rb), 0);
	wbuf_free(&wb);
}

static void test_huge_length_does_not_overrun(void **state)
{
	static const uint8_t in[] = {0xFF, 0xFF, 0xFF, 0xFF, 'a', 0};
	struct rbuf rb;
	size_t n = 99;

	rbuf_init(&rb, in, sizeof(in));
	assert_null(rbuf_blob(&rb, SIZE_MAX, &n));
	assert_int_equal(n, 0);
	assert_int_equal(rb.err, SPOOL_E_MALFORMED);
	rbuf_init(&rb, in, sizeof(in));
	assert_string_equal(rbuf_str(&rb, SIZE_MAX), "");
	assert_int_equal(rb.err, SPOOL_E_MALFORMED);
}

static void test_blob_round_trip_and_limit(void **state)
{
	static const uint8_t body[] = {0, 1, 0, 2};
	struct wbuf wb;
	struct rbuf rb;
	const uint8_t *q;
	size_t n;

	wbuf_init(&wb);
	wbuf_blob(&wb, body, sizeof(body));
	assert_int_equal(wb.len, 4 + sizeof(body));
	rbuf_init(&rb, wb.p, wb.len);
	q = rbuf_blob(&rb, 4, &n);
	assert_int_equal(n, 4);
	assert_memory_equal(q, body, 4);
	assert_int_equal(rbuf_done(&rb), 0);
	rbuf_init(&rb, wb.p, wb.len);
	assert_null(rbuf_blob(&rb, 3, &n));
	assert_int_equal(rb.err, SPOOL_E_MALFORMED);
	wbuf_free(&wb);
}

static void test_take_hands_over_buffer(void **state)
{
	struct wbuf wb;
	uint8_t *p;
	size_t len = 0;

	wbuf_init(&wb);
	for (int i = 0; i < 1000; i++)
		wbuf_u32(&wb, (uint32_t)i);
	assert_int_equal(wb.len, 4000);
	p = wbuf_take(&wb, &len);
	assert_non_null(p);
	assert_int_equal(len, 4000);
	assert_int_equal(p[3999], 999 & 0xFF);
	assert_null(wb.p);
	assert_int_equal(wb.len, 0);
	free(p);
}

static void test_reserve_overflow_is_nomem(void **state)
{
	struct wbuf wb;

	wbuf_init(&wb);
	wbuf_u8(&wb, 1);
	assert_int_equal(wbuf_reserve(&wb, SIZE_MAX), SPOOL_E_NOMEM);
	/* writes are no-ops after the failure */
	wbuf_u8(&wb, 2);
	assert_int_equal(wb.len, 1);
	assert_int_equal(wb.err, SPOOL_E_NOMEM);
	wbuf_free(&wb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_integers_written_big_endian),
	    cmocka_unit_test(test_integers_read_back),
	    cmocka_unit_test(test_be64_helpers_order_keys),
	    cmocka_unit_test(test_short_read_sets_error_and_returns_zero),
	    cmocka_unit_test(test_raw_past_end_refused),
	    cmocka_unit_test(test_leftover_bytes_make_done_fail),
	    cmocka_unit_test(test_null_input_reads_as_empty),
	    cmocka_unit_test(test_string_round_trip_points_into_input),
	    cmocka_unit_test(test_string_with_embedded_nul_refused),
	    cmocka_unit_test(test_string_without_terminating_nul_refused),
	    cmocka_unit_test(test_string_over_max_refused),
	    cmocka_unit_test(test_huge_length_does_not_overrun),
	    cmocka_unit_test(test_blob_round_trip_and_limit),
	    cmocka_unit_test(test_take_hands_over_buffer),
	    cmocka_unit_test(test_reserve_overflow_is_nomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
