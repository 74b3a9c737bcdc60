/*
 * test_peer_frame.c — the forwarding frame codec and incremental
 * reader (src/cluster/peer_frame.c): headers, refusals before allocation,
 * split and coalesced input, and the admin/result payloads, the
 * receiver-settings requests (SERVICE_SET / SERVICE_SHOW) among them.
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

static void
test_service_set_round_trip_keeps_each_value_at_its_bit(void **state)
{
	struct peer_service s = {
	    .op = PEER_OP_SERVICE_SET, .node = 2, .mask = 0x01u | 0x10u};
	struct peer_service out;
	size_t len;
	uint8_t *p, *longer;

	(void)state;
	s.values[0] = "127.0.0.1:2525";
	s.values[4] = "7";
	s.values[2] = "ignored: its bit is not in the mask";
	p = peer_service_encode(&s, &len);
	assert_non_null(p);
	assert_true(peer_admin_is_service(p, len));
	assert_int_equal(peer_service_decode(&out, p, len), 0);
	assert_int_equal(out.op, PEER_OP_SERVICE_SET);
	assert_int_equal(out.node, 2);
	assert_int_equal(out.mask, 0x11u);
	assert_string_equal(out.values[0], "127.0.0.1:2525");
	assert_string_equal(out.values[4], "7");
	assert_null(out.values[2]);
	assert_null(out.values[1]);
	/* an ADMIN of the old layout does not take it, nor it an ADMIN */
	{
		struct peer_admin a;
		assert_int_equal(peer_admin_decode(&a, p, len), -1);
	}
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(peer_service_decode(&out, p, cut), -1);
	longer = malloc(len + 1);
	memcpy(longer, p, len);
	longer[len] = 0;
	assert_int_equal(peer_service_decode(&out, longer, len + 1), -1);
	free(longer);
	free(p);
}

static void test_service_show_carries_no_values(void **state)
{
	struct peer_service s = {.op = PEER_OP_SERVICE_SHOW, .node = 3};
	struct peer_service out;
	size_t len;
	uint8_t *p = peer_service_encode(&s, &len);

	(void)state;
	assert_non_null(p);
	assert_int_equal(len, 1 + 8 + 4);
	assert_int_equal(peer_service_decode(&out, p, len), 0);
	assert_int_equal(out.op, PEER_OP_SERVICE_SHOW);
	assert_int_equal(out.node, 3);
	assert_int_equal(out.mask, 0);
	p[12] = 1; /* SHOW with a mask */
	assert_int_equal(peer_service_decode(&out, p, len), -1);
	free(p);
	s.mask = 1;
	s.values[0] = "x";
	assert_null(peer_service_encode(&s, &len));
}

static void test_service_refuses_bad_op_mask_and_long_values(void **state)
{
	char big[PEER_SERVICE_VALUE_MAX + 2];
	struct peer_service s = {.op = PEER_OP_SERVICE_SET, .node = 2};
	struct peer_service out;
	struct peer_admin adm = {.op = PEER_OP_STATUS, .address = ""};
	size_t len;
	uint8_t *p;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s.mask = 1u << PEER_SERVICE_VALUES; /* no such bit */
	s.values[0] = "x";
	assert_null(peer_service_encode(&s, &len));
	s.mask = 0x02u; /* a bit without a value */
	assert_null(peer_service_encode(&s, &len));
	s.values[1] = big; /* one byte too long */
	assert_null(peer_service_encode(&s, &len));
	big[PEER_SERVICE_VALUE_MAX] = '\0'; /* exactly the maximum */
	p = peer_service_encode(&s, &len);
	assert_non_null(p);
	assert_int_equal(peer_service_decode(&out, p, len), 0);
	assert_int_equal(strlen(out.values[1]), PEER_SERVICE_VALUE_MAX);
	p[11] = 0x01; /* bit 8 too: out of range */
	assert_int_equal(peer_service_decode(&out, p, len), -1);
	p[11] = 0;
	p[12] = 0x01; /* the value at another bit decodes: still one value */
	assert_int_equal(peer_service_decode(&out, p, len), 0);
	p[12] = 0x03; /* two bits, one value */
	assert_int_equal(peer_service_decode(&out, p, len), -1);
	p[12] = 0x02;
	p[0] = PEER_OP_REPORT; /* another op */
	assert_int_equal(peer_service_decode(&out, p, len), -1);
	assert_false(peer_admin_is_service(p, len));
	free(p);
	s.op = PEER_OP_STATUS;
	assert_null(peer_service_encode(&s, &len));
	p = peer_admin_encode(&adm, &len);
	assert_false(peer_admin_is_service(p, len));
	assert_int_equal(peer_service_decode(&out, p, len), -1);
	free(p);
	assert_false(peer_admin_is_service(NULL, 0));
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
	    cmocka_unit_test(
		test_service_set_round_trip_keeps_each_value_at_its_bit),
	    cmocka_unit_test(test_service_show_carries_no_values),
	    cmocka_unit_test(test_service_refuses_bad_op_mask_and_long_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
