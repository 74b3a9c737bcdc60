/*
 * test_batch.c — the group-commit entry codec and its results array
 * (raft/batch.c): stamping, padding, and every refusal of the decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>

#include "raft/batch.h"
#include "spool/codec/wire.h"

/* Where cmd.h's wire format puts the u64 stamp: after u8 version, u8 type
 * and u16 reserved. */
#define STAMP_OFF 4

/* A fake 28-byte command header plus a tail, stamp field zeroed. */
static void fake_cmd(uint8_t *p, size_t len, uint8_t fill)
{
	memset(p, fill, len);
	memset(p + STAMP_OFF, 0, 8);
}

static void *encode3(size_t *len, uint64_t stamp)
{
	static uint8_t a[28], b[40], c[33];
	struct rbatch_cmd cmds[3] = {
	    {a, sizeof(a)}, {b, sizeof(b)}, {c, sizeof(c)}};
	void *out;

	fake_cmd(a, sizeof(a), 0x11);
	fake_cmd(b, sizeof(b), 0x22);
	fake_cmd(c, sizeof(c), 0x33);
	assert_int_equal(rbatch_encode(cmds, 3, stamp, &out, len), 0);
	return out;
}

static void
test_batch_round_trip_keeps_order_and_stamps_each_command(void **state)
{
	struct rbatch_iter it;
	const void *p;
	size_t len, n;
	void *buf = encode3(&len, 0x0102030405060708ull);
	unsigned count = 0;
	static const size_t lens[3] = {28, 40, 33};
	static const uint8_t fills[3] = {0x11, 0x22, 0x33};

	(void)state;
	assert_int_equal(rbatch_iter_init(&it, buf, len), 0);
	while (rbatch_iter_next(&it, &p, &n)) {
		const uint8_t *b = p;
		assert_true(count < 3);
		assert_int_equal(n, lens[count]);
		assert_int_equal(be64_get(b + STAMP_OFF),
				 0x0102030405060708ull);
		assert_int_equal(b[0], fills[count]);
		assert_int_equal(b[n - 1], fills[count]);
		count++;
	}
	assert_int_equal(count, 3);
	raft_free(buf);
}

static void test_batch_length_is_a_multiple_of_eight(void **state)
{
	size_t len;
	void *buf = encode3(&len, 1);

	(void)state;
	assert_int_equal(len % 8, 0);
	assert_true(len >= RBATCH_HDR_LEN + 3 * 4 + 28 + 40 + 33);
	raft_free(buf);
}

static void test_batch_refuses_every_truncation(void **state)
{
	struct rbatch_iter it;
	size_t len;
	uint8_t *buf = encode3(&len, 1);

	(void)state;
	/* cutting into the last command (past its padding) must fail */
	for (size_t cut = 0; cut < len - 7; cut++) {
		assert_int_equal(rbatch_iter_init(&it, buf, cut), -1);
	}
	raft_free(buf);
}

static void test_batch_refuses_nonzero_padding(void **state)
{
	struct rbatch_iter it;
	size_t len;
	uint8_t *buf = encode3(&len, 1);

	(void)state;
	buf[len - 1] = 1;
	assert_int_equal(rbatch_iter_init(&it, buf, len), -1);
	raft_free(buf);
}

static void test_batch_refuses_bad_version_and_zero_count(void **state)
{
	struct rbatch_iter it;
	uint8_t hdr[8] = {RBATCH_VERSION, 0, 0, 0, 0, 0, 0, 0};
	size_t len;
	uint8_t *buf = encode3(&len, 1);

	(void)state;
	assert_int_equal(rbatch_iter_init(&it, hdr, sizeof(hdr)), -1);
	buf[0] = RBATCH_VERSION + 1;
	assert_int_equal(rbatch_iter_init(&it, buf, len), -1);
	assert_int_equal(rbatch_iter_init(&it, NULL, 0), -1);
	raft_free(buf);
}

static void test_batch_refuses_a_length_past_the_end(void **state)
{
	struct rbatch_iter it;
	size_t len;
	uint8_t *buf = encode3(&len, 1);

	(void)state;
	/* first command's length field: claim one byte more */
	buf[RBATCH_HDR_LEN + 3] += 1;
	assert_int_equal(rbatch_iter_init(&it, buf, len), -1);
	raft_free(buf);
}

static void
test_batch_encode_refuses_short_commands_and_empty_batches(void **state)
{
	uint8_t small[27] = {0};
	struct rbatch_cmd cmd = {small, sizeof(small)};
	void *out = (void *)1;
	size_t len = 1;

	(void)state;
	assert_int_equal(rbatch_encode(&cmd, 1, 1, &out, &len), -1);
	assert_null(out);
	assert_int_equal(rbatch_encode(&cmd, 0, 1, &out, &len), -1);
}

static void test_results_come_back_in_command_order(void **state)
{
	struct rbatch_results *r = rbatch_results_new(3);
	const void *p;
	size_t len;

	(void)state;
	assert_non_null(r);
	assert_int_equal(rbatch_results_add(r, "one", 3), 0);
	assert_int_equal(rbatch_results_add(r, "", 0), 0);
	assert_int_equal(rbatch_results_add(r, "three", 5), 0);
	assert_int_equal(rbatch_results_add(r, "four", 4), -1);
	assert_int_equal(rbatch_results_get(r, 0, &p, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "one", 3);
	assert_int_equal(rbatch_results_get(r, 1, &p, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(rbatch_results_get(r, 2, &p, &len), 0);
	assert_memory_equal(p, "three", 5);
	assert_int_equal(rbatch_results_get(r, 3, &p, &len), -1);
	rbatch_results_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_batch_round_trip_keeps_order_and_stamps_each_command),
	    cmocka_unit_test(test_batch_length_is_a_multiple_of_eight),
	    cmocka_unit_test(test_batch_refuses_every_truncation),
	    cmocka_unit_test(test_batch_refuses_nonzero_padding),
	    cmocka_unit_test(test_batch_refuses_bad_version_and_zero_count),
	    cmocka_unit_test(test_batch_refuses_a_length_past_the_end),
	    cmocka_unit_test(
		test_batch_encode_refuses_short_commands_and_empty_batches),
	    cmocka_unit_test(test_results_come_back_in_command_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
