/*
 * test_forward_frame.c — the forwarding frame codec and incremental
 * reader (src/forward_frame.c): headers, refusals before allocation,
 * split and coalesced input, and the admin/result payloads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/forward.h"

#define MAXP 1024

static void test_header_round_trip(void **state)
{
	uint8_t h[FWD_HDR_LEN];
	struct fwd_frame f;

	(void)state;
	fwd_hdr_encode(h, FWD_ADMIN, 77, 0x1122334455667788ull);
	assert_memory_equal(h, "SCF1", 4);
	assert_int_equal(fwd_hdr_decode(h, MAXP, &f), 0);
	assert_int_equal(f.type, FWD_ADMIN);
	assert_int_equal(f.len, 77);
	assert_int_equal(f.req, 0x1122334455667788ull);
}

static void test_header_refuses_magic_version_type_reserved(void **state)
{
	uint8_t h[FWD_HDR_LEN];
	struct fwd_frame f;

	(void)state;
	fwd_hdr_encode(h, FWD_PROPOSE, 1, 1);
	h[0] = 'X';
	assert_int_equal(fwd_hdr_decode(h, MAXP, &f), FWD_E_MAGIC);
	fwd_hdr_encode(h, FWD_PROPOSE, 1, 1);
	h[5] = 2;
	assert_int_equal(fwd_hdr_decode(h, MAXP, &f), FWD_E_VERSION);
	fwd_hdr_encode(h, FWD_PROPOSE, 1, 1);
	h[4] = 0;
	assert_int_equal(fwd_hdr_decode(h, MAXP, &f), FWD_E_TYPE);
	h[4] = FWD_ADMIN_RESULT + 1;
	assert_int_equal(fwd_hdr_decode(h, MAXP, &f), FWD_E_TYPE);
	fwd_hdr_encode(h, FWD_PROPOSE, 1, 1);
	h[7] = 1;
	assert_int_equal(fwd_hdr_decode(h, MAXP, &f), FWD_E_RESERVED);
}

static void
test_reader_refuses_bad_magic_before_the_header_is_whole(void **state)
{
	struct fwd_reader r;
	struct fwd_frame f;
	size_t used;

	(void)state;
	fwd_reader_init(&r, MAXP);
	assert_int_equal(
	    fwd_reader_feed(&r, (const uint8_t *)"SCF", 3, &used, &f), 0);
	assert_int_equal(
	    fwd_reader_feed(&r, (const uint8_t *)"2", 1, &used, &f),
	    FWD_E_MAGIC);
	fwd_reader_free(&r);
}

static void test_reader_refuses_oversized_frame_before_allocating(void **state)
{
	struct fwd_reader r;
	struct fwd_frame f;
	uint8_t h[FWD_HDR_LEN];
	size_t used;

	(void)state;
	fwd_reader_init(&r, MAXP);
	fwd_hdr_encode(h, FWD_PROPOSE, 0xffffffffu, 9);
	assert_int_equal(fwd_reader_feed(&r, h, sizeof(h), &used, &f),
			 FWD_E_TOOBIG);
	assert_null(r.cur.payload);
	fwd_reader_free(&r);
	/* one byte over the limit is refused too */
	fwd_reader_init(&r, MAXP);
	fwd_hdr_encode(h, FWD_PROPOSE, MAXP + 1, 9);
	assert_int_equal(fwd_reader_feed(&r, h, sizeof(h), &used, &f),
			 FWD_E_TOOBIG);
	fwd_reader_free(&r);
}

/* Two frames, fed one byte at a time, come out whole and in order. */
static void test_reader_reassembles_byte_by_byte(void **state)
{
	uint8_t buf[2 * FWD_HDR_LEN + 5];
	struct fwd_reader r;
	struct fwd_frame f;
	unsigned got = 0;

	(void)state;
	fwd_hdr_encode(buf, FWD_RESULT, 5, 1);
	memcpy(buf + FWD_HDR_LEN, "hello", 5);
	fwd_hdr_encode(buf + FWD_HDR_LEN + 5, FWD_RESULT, 0, 2);
	fwd_reader_init(&r, MAXP);
	for (size_t i = 0; i < sizeof(buf); i++) {
		size_t used;
		int rv = fwd_reader_feed(&r, buf + i, 1, &used, &f);
		assert_int_equal(used, 1);
		assert_true(rv >= 0);
		if (rv == 1) {
			got++;
			if (got == 1) {
				assert_int_equal(f.req, 1);
				assert_int_equal(f.len, 5);
				assert_memory_equal(f.payload, "hello", 5);
			} else {
				assert_int_equal(f.req, 2);
				assert_int_equal(f.len, 0);
			}
			free(f.payload);
		}
	}
	assert_int_equal(got, 2);
	fwd_reader_free(&r);
}

/* Both frames in one buffer: the first call stops after the first. */
static void test_reader_stops_after_each_frame(void **state)
{
	uint8_t buf[2 * FWD_HDR_LEN + 3];
	struct fwd_reader r;
	struct fwd_frame f;
	size_t used;

	(void)state;
	fwd_hdr_encode(buf, FWD_PROPOSE, 3, 7);
	memcpy(buf + FWD_HDR_LEN, "abc", 3);
	fwd_hdr_encode(buf + FWD_HDR_LEN + 3, FWD_ADMIN, 0, 8);
	fwd_reader_init(&r, MAXP);
	assert_int_equal(fwd_reader_feed(&r, buf, sizeof(buf), &used, &f), 1);
	assert_int_equal(used, FWD_HDR_LEN + 3);
	assert_int_equal(f.req, 7);
	free(f.payload);
	assert_int_equal(
	    fwd_reader_feed(&r, buf + used, sizeof(buf) - used, &used, &f), 1);
	assert_int_equal(f.req, 8);
	assert_int_equal(f.type, FWD_ADMIN);
	fwd_reader_free(&r);
}

static void test_admin_payload_round_trip_and_refusals(void **state)
{
	struct fwd_admin a = {.op = FWD_OP_ADD,
			      .id = 4,
			      .address = "127.0.0.4:7001",
			      .a = 1,
			      .b = 2,
			      .c = 3};
	struct fwd_admin out;
	size_t len;
	uint8_t *p = fwd_admin_encode(&a, &len);
	uint8_t *longer;

	(void)state;
	assert_non_null(p);
	assert_int_equal(fwd_admin_decode(&out, p, len), 0);
	assert_int_equal(out.op, FWD_OP_ADD);
	assert_int_equal(out.id, 4);
	assert_string_equal(out.address, "127.0.0.4:7001");
	assert_int_equal(out.c, 3);
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(fwd_admin_decode(&out, p, cut), -1);
	}
	longer = malloc(len + 1);
	memcpy(longer, p, len);
	longer[len] = 0;
	assert_int_equal(fwd_admin_decode(&out, longer, len + 1), -1);
	p[0] = 0; /* unknown op */
	assert_int_equal(fwd_admin_decode(&out, p, len), -1);
	free(longer);
	free(p);
}

static void test_result_payloads_carry_negative_statuses(void **state)
{
	size_t len;
	uint8_t *p = fwd_status_encode(-104, "no leader", 0, 1, &len);
	const char *msg;
	const uint8_t *body;
	size_t blen;
	int32_t st;

	(void)state;
	assert_int_equal(fwd_admin_result_decode(p, len, &st, &msg), 0);
	assert_int_equal(st, -104);
	assert_string_equal(msg, "no leader");
	free(p);
	p = fwd_status_encode(FWD_R_OK, "xyz", 3, 0, &len);
	assert_int_equal(fwd_result_decode(p, len, &st, &body, &blen), 0);
	assert_int_equal(st, FWD_R_OK);
	assert_int_equal(blen, 3);
	assert_memory_equal(body, "xyz", 3);
	assert_int_equal(fwd_result_decode(p, 3, &st, &body, &blen), -1);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_round_trip),
	    cmocka_unit_test(test_header_refuses_magic_version_type_reserved),
	    cmocka_unit_test(
		test_reader_refuses_bad_magic_before_the_header_is_whole),
	    cmocka_unit_test(
		test_reader_refuses_oversized_frame_before_allocating),
	    cmocka_unit_test(test_reader_reassembles_byte_by_byte),
	    cmocka_unit_test(test_reader_stops_after_each_frame),
	    cmocka_unit_test(test_admin_payload_round_trip_and_refusals),
	    cmocka_unit_test(test_result_payloads_carry_negative_statuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
