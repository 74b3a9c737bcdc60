/*
 * test_peer_frame.c — the forwarding frame codec and incremental
 * reader (src/cluster/peer_frame.c): headers, refusals before allocation,
 * split and coalesced input, and the admin/result payloads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/cluster/peer.h"

#define MAXP 1024

static void test_header_round_trip(void **state)
{
	uint8_t h[PEER_HDR_LEN];
	struct peer_frame f;

	(void)state;
	peer_hdr_encode(h, PEER_ADMIN, 77, 0x1122334455667788ull);
	assert_memory_equal(h, "SCF1", 4);
	assert_int_equal(peer_hdr_decode(h, MAXP, &f), 0);
	assert_int_equal(f.type, PEER_ADMIN);
	assert_int_equal(f.len, 77);
	assert_int_equal(f.req, 0x1122334455667788ull);
}

static void test_header_refuses_magic_version_type_reserved(void **state)
{
	uint8_t h[PEER_HDR_LEN];
	struct peer_frame f;

	(void)state;
	peer_hdr_encode(h, PEER_PROPOSE, 1, 1);
	h[0] = 'X';
	assert_int_equal(peer_hdr_decode(h, MAXP, &f), PEER_E_MAGIC);
	peer_hdr_encode(h, PEER_PROPOSE, 1, 1);
	h[5] = 2;
	assert_int_equal(peer_hdr_decode(h, MAXP, &f), PEER_E_VERSION);
	peer_hdr_encode(h, PEER_PROPOSE, 1, 1);
	h[4] = 0;
	assert_int_equal(peer_hdr_decode(h, MAXP, &f), PEER_E_TYPE);
	h[4] = PEER_ADMIN_RESULT + 1;
	assert_int_equal(peer_hdr_decode(h, MAXP, &f), PEER_E_TYPE);
	peer_hdr_encode(h, PEER_PROPOSE, 1, 1);
	h[7] = 1;
	assert_int_equal(peer_hdr_decode(h, MAXP, &f), PEER_E_RESERVED);
}

static void
test_reader_refuses_bad_magic_before_the_header_is_whole(void **state)
{
	struct peer_reader r;
	struct peer_frame f;
	size_t used;

	(void)state;
	peer_reader_init(&r, MAXP);
	assert_int_equal(
	    peer_reader_feed(&r, (const uint8_t *)"SCF", 3, &used, &f), 0);
	assert_int_equal(
	    peer_reader_feed(&r, (const uint8_t *)"2", 1, &used, &f),
	    PEER_E_MAGIC);
	peer_reader_free(&r);
}

static void test_reader_refuses_oversized_frame_before_allocating(void **state)
{
	struct peer_reader r;
	struct peer_frame f;
	uint8_t h[PEER_HDR_LEN];
	size_t used;

	(void)state;
	peer_reader_init(&r, MAXP);
	peer_hdr_encode(h, PEER_PROPOSE, 0xffffffffu, 9);
	assert_int_equal(peer_reader_feed(&r, h, sizeof(h), &used, &f),
			 PEER_E_TOOBIG);
	assert_null(r.cur.payload);
	peer_reader_free(&r);
	/* one byte over the limit is refused too */
	peer_reader_init(&r, MAXP);
	peer_hdr_encode(h, PEER_PROPOSE, MAXP + 1, 9);
	assert_int_equal(peer_reader_feed(&r, h, sizeof(h), &used, &f),
			 PEER_E_TOOBIG);
	peer_reader_free(&r);
}

/* Two frames, fed one byte at a time, come out whole and in order. */
static void test_reader_reassembles_byte_by_byte(void **state)
{
	uint8_t buf[2 * PEER_HDR_LEN + 5];
	struct peer_reader r;
	struct peer_frame f;
	unsigned got = 0;

	(void)state;
	peer_hdr_encode(buf, PEER_RESULT, 5, 1);
	memcpy(buf + PEER_HDR_LEN, "hello", 5);
	peer_hdr_encode(buf + PEER_HDR_LEN + 5, PEER_RESULT, 0, 2);
	peer_reader_init(&r, MAXP);
	for (size_t i = 0; i < sizeof(buf); i++) {
		size_t used;
		int rv = peer_reader_feed(&r, buf + i, 1, &used, &f);
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
	peer_reader_free(&r);
}

/* Both frames in one buffer: the first call stops after the first. */
static void test_reader_stops_after_each_frame(void **state)
{
	uint8_t buf[2 * PEER_HDR_LEN + 3];
	struct peer_reader r;
	struct peer_frame f;
	size_t used;

	(void)state;
	peer_hdr_encode(buf, PEER_PROPOSE, 3, 7);
	memcpy(buf + PEER_HDR_LEN, "abc", 3);
	peer_hdr_encode(buf + PEER_HDR_LEN + 3, PEER_ADMIN, 0, 8);
	peer_reader_init(&r, MAXP);
	assert_int_equal(peer_reader_feed(&r, buf, sizeof(buf), &used, &f), 1);
	assert_int_equal(used, PEER_HDR_LEN + 3);
	assert_int_equal(f.req, 7);
	free(f.payload);
	assert_int_equal(
	    peer_reader_feed(&r, buf + used, sizeof(buf) - used, &used, &f), 1);
	assert_int_equal(f.req, 8);
	assert_int_equal(f.type, PEER_ADMIN);
	peer_reader_free(&r);
}

static void test_admin_payload_round_trip_and_refusals(void **state)
{
	struct peer_admin a = {.op = PEER_OP_ADD,
			       .id = 4,
			       .address = "127.0.0.4:7001",
			       .a = 1,
			       .b = 2,
			       .c = 3};
	struct peer_admin out;
	size_t len;
	uint8_t *p = peer_admin_encode(&a, &len);
	uint8_t *longer;

	(void)state;
	assert_non_null(p);
	assert_int_equal(peer_admin_decode(&out, p, len), 0);
	assert_int_equal(out.op, PEER_OP_ADD);
	assert_int_equal(out.id, 4);
	assert_string_equal(out.address, "127.0.0.4:7001");
	assert_int_equal(out.c, 3);
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(peer_admin_decode(&out, p, cut), -1);
	}
	longer = malloc(len + 1);
	memcpy(longer, p, len);
	longer[len] = 0;
	assert_int_equal(peer_admin_decode(&out, longer, len + 1), -1);
	p[0] = 0; /* unknown op */
	assert_int_equal(peer_admin_decode(&out, p, len), -1);
	free(longer);
	free(p);
}

static void test_result_payloads_carry_negative_statuses(void **state)
{
	size_t len;
	uint8_t *p = peer_status_encode(-104, "no leader", 0, 1, &len);
	const char *msg;
	const uint8_t *body;
	size_t blen;
	int32_t st;

	(void)state;
	assert_int_equal(peer_admin_result_decode(p, len, &st, &msg), 0);
	assert_int_equal(st, -104);
	assert_string_equal(msg, "no leader");
	free(p);
	p = peer_status_encode(PEER_R_OK, "xyz", 3, 0, &len);
	assert_int_equal(peer_result_decode(p, len, &st, &body, &blen), 0);
	assert_int_equal(st, PEER_R_OK);
	assert_int_equal(blen, 3);
	assert_memory_equal(body, "xyz", 3);
	assert_int_equal(peer_result_decode(p, 3, &st, &body, &blen), -1);
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
