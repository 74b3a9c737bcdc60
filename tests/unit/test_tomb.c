/*
 * test_tomb.c — tombstones of finished control files (spool/store/tomb.c):
 * an ENQUEUE retried after its file was delivered (COMPLETE) or removed
 * (REMOVE) is a duplicate, not a second copy; tombstones expire by the
 * stamp alone after SPOOL_TOMB_KEEP_MS, a bounded number per command;
 * they travel in the snapshot image; an image of schema 1 (without the
 * tombstone tables) still restores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/cmd.h"
#include "spool/codec/wire.h"
#include "spool/store/spool.h"
#include "tests/unit/spool_fixture.h"

#define LEASE 60000ull
#define SNAP_HDR 20 /* magic 8, format 4, schema 4, table count 4 */
#define TB_CTL 0
#define TB_TOMB 11   /* table ids 11 and 12: tomb, tombexp */
#define TB__COUNT 14 /* and 13: tlspolicy (schema 3) */

static int setup(void **st)
{
	struct fx *f = calloc(1, sizeof(*f));

	fx_open(f);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	fx_close(*st);
	free(*st);
	return 0;
}

/* Entries of table t, read from sp's snapshot image. */
static uint64_t table_entries(struct spool *sp, int t)
{
	return fx_table_entries(sp, t, TB__COUNT);
}

static int do_remove(struct spool *sp, const char *name, uint64_t stamp)
{
	struct spool_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_REMOVE;
	c.stamp = stamp;
	c.node = 1;
	c.u.remove.name = name;
	return fx_status(sp, &c);
}

/* Enqueue, claim and complete name as delivered at t0. */
static void deliver(struct spool *sp, const char *name, uint64_t t0)
{
	uint64_t fence = 0;

	assert_int_equal(fx_enqueue(sp, name, t0, 1), 0);
	assert_int_equal(fx_claim(sp, name, 2, t0 + 1, LEASE, &fence), 0);
	assert_int_equal(
	    fx_complete(sp, name, 2, fence, t0 + 2, 1, OUT_DELIVERED, NULL), 0);
}

static int exists(struct spool *sp, const char *name)
{
	struct spool_ctl ctl;
	int rc = spool_ctl_get(sp, name, &ctl);

	if (rc == 0)
		spool_ctl_free(&ctl);
	return rc == 0;
}

static void test_enqueue_after_delivered_complete_is_a_duplicate(void **st)
{
	struct fx *f = *st;
	char name[96];
	uint32_t flags = 0;

	fx_name(name, sizeof(name), 1);
	deliver(f->sp, name, T0);
	assert_false(exists(f->sp, name));
	assert_int_equal(fx_enqueue_flags(f->sp, name, T0 + 5000, 1, &flags),
			 0);
	assert_true(flags & RES_F_DUPLICATE);
	assert_false(exists(f->sp, name));
	assert_false(fx_is_due(f->sp, name, T0 + 10000));
}

static void test_enqueue_after_remove_does_not_bring_it_back(void **st)
{
	struct fx *f = *st;
	char name[96];
	uint32_t flags = 0;

	fx_name(name, sizeof(name), 2);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
	assert_int_equal(do_remove(f->sp, name, T0 + 10), 0);
	assert_int_equal(fx_enqueue_flags(f->sp, name, T0 + 20, 1, &flags), 0);
	assert_true(flags & RES_F_DUPLICATE);
	assert_false(exists(f->sp, name));
}

static void test_a_refused_remove_leaves_no_tombstone(void **st)
{
	struct fx *f = *st;
	char name[96];
	uint64_t fence = 0;

	fx_name(name, sizeof(name), 3);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
	assert_int_equal(fx_claim(f->sp, name, 2, T0 + 1, LEASE, &fence), 0);
	assert_int_equal(do_remove(f->sp, name, T0 + 2), SPOOL_E_CLAIMED);
	assert_int_equal(table_entries(f->sp, TB_TOMB), 0);
	assert_true(exists(f->sp, name));
}

static void test_deferred_complete_leaves_no_tombstone(void **st)
{
	struct fx *f = *st;
	char name[96];
	uint64_t fence = 0;

	fx_name(name, sizeof(name), 4);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
	assert_int_equal(fx_claim(f->sp, name, 2, T0 + 1, LEASE, &fence), 0);
	assert_int_equal(
	    fx_complete(f->sp, name, 2, fence, T0 + 2, 1, OUT_DEFERRED, NULL),
	    0);
	assert_int_equal(table_entries(f->sp, TB_TOMB), 0);
}

static void test_tombstone_expires_after_the_keep_time(void **st)
{
	struct fx *f = *st;
	char name[96];
	uint32_t flags = 0;

	fx_name(name, sizeof(name), 5);
	deliver(f->sp, name, T0);
	/* the COMPLETE was stamped T0 + 2: kept until T0 + 2 + KEEP */
	assert_int_equal(fx_enqueue_flags(f->sp, name,
					  T0 + 1 + SPOOL_TOMB_KEEP_MS, 1,
					  &flags),
			 0);
	assert_true(flags & RES_F_DUPLICATE);
	assert_int_equal(fx_enqueue_flags(f->sp, name,
					  T0 + 2 + SPOOL_TOMB_KEEP_MS, 1,
					  &flags),
			 0);
	assert_false(flags & RES_F_DUPLICATE);
	assert_true(exists(f->sp, name));
	assert_int_equal(table_entries(f->sp, TB_TOMB), 0);
}

static void test_pruning_is_bounded_per_command(void **st)
{
	struct fx *f = *st;
	char name[96], other[96];

	for (uint32_t i = 0; i < 100; i++) {
		fx_name(name, sizeof(name), 100 + i);
		assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
		assert_int_equal(do_remove(f->sp, name, T0 + 1), 0);
	}
	assert_int_equal(table_entries(f->sp, TB_TOMB), 100);
	assert_int_equal(table_entries(f->sp, TB_TOMB + 1), 100);
	fx_name(other, sizeof(other), 999);
	assert_int_equal(
	    fx_enqueue(f->sp, other, T0 + 1 + SPOOL_TOMB_KEEP_MS, 1), 0);
	assert_int_equal(table_entries(f->sp, TB_TOMB), 36);
	assert_int_equal(table_entries(f->sp, TB_TOMB + 1), 36);
	assert_int_equal(do_remove(f->sp, other, T0 + 2 + SPOOL_TOMB_KEEP_MS),
			 0);
	/* the remaining 36 expired ones go, the new one stays */
	assert_int_equal(table_entries(f->sp, TB_TOMB), 1);
}

static void test_tombstones_travel_in_the_snapshot(void **st)
{
	struct fx *f = *st, g;
	struct wbuf wb;
	char name[96];
	uint32_t flags = 0;

	fx_name(name, sizeof(name), 6);
	deliver(f->sp, name, T0);
	wbuf_init(&wb);
	assert_int_equal(spool_snapshot(f->sp, &wb), 0);
	fx_open(&g);
	assert_int_equal(spool_restore(g.sp, wb.p, wb.len), 0);
	assert_int_equal(fx_enqueue_flags(g.sp, name, T0 + 100, 1, &flags), 0);
	assert_true(flags & RES_F_DUPLICATE);
	assert_false(exists(g.sp, name));
	fx_close(&g);
	wbuf_free(&wb);
}

/* CRC-32 (IEEE, reflected), as the image's trailer. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
	}
	return crc ^ 0xFFFFFFFFu;
}

static void test_schema_1_image_restores_without_tombstones(void **st)
{
	struct fx *f = *st, g;
	struct wbuf wb, old;
	struct rbuf rb;
	char name[96];
	size_t cut = 0;

	/* an image whose last two tables are empty, cut to the 11 tables of
	 * schema 1 with its header and CRC rewritten */
	fx_name(name, sizeof(name), 7);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
	wbuf_init(&wb);
	assert_int_equal(spool_snapshot(f->sp, &wb), 0);
	rbuf_init(&rb, wb.p, wb.len);
	rbuf_raw(&rb, SNAP_HDR);
	for (int i = 0; i < TB__COUNT; i++) {
		if (i == TB_TOMB)
			cut = rb.off;
		rbuf_u8(&rb);
		uint64_t cnt = rbuf_u64(&rb);

		if (i >= TB_TOMB)
			assert_int_equal(cnt, 0);
		for (uint64_t j = 0; j < cnt; j++) {
			rbuf_raw(&rb, rbuf_u32(&rb));
			rbuf_raw(&rb, rbuf_u32(&rb));
		}
	}
	assert_int_equal(rb.err, 0);
	wbuf_init(&old);
	wbuf_raw(&old, wb.p, 12);
	wbuf_u32(&old, 1);  /* schema 1 */
	wbuf_u32(&old, 11); /* its 11 tables */
	wbuf_raw(&old, wb.p + SNAP_HDR, cut - SNAP_HDR);
	wbuf_u32(&old, crc32_ieee(old.p, old.len));
	assert_int_equal(old.err, 0);

	fx_open(&g);
	assert_int_equal(spool_restore(g.sp, old.p, old.len), 0);
	assert_true(exists(g.sp, name));
	/* schema 1 with the table count of schema 2 is malformed */
	old.p[19] = 13;
	assert_int_not_equal(spool_restore(g.sp, old.p, old.len), 0);
	fx_close(&g);
	wbuf_free(&old);
	wbuf_free(&wb);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_enqueue_after_delivered_complete_is_a_duplicate),
	    T(test_enqueue_after_remove_does_not_bring_it_back),
	    T(test_a_refused_remove_leaves_no_tombstone),
	    T(test_deferred_complete_leaves_no_tombstone),
	    T(test_tombstone_expires_after_the_keep_time),
	    T(test_pruning_is_bounded_per_command),
	    T(test_tombstones_travel_in_the_snapshot),
	    T(test_schema_1_image_restores_without_tombstones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
