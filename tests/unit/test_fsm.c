/*
 * test_fsm.c — the raft FSM over the spool (raft/fsm.c), driven through
 * its struct raft_fsm callbacks as libraft drives them: batch apply,
 * refusal of malformed entries without failing, and snapshot/restore.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>

#include "raft/batch.h"
#include "raft/fsm.h"
#include "spool_fixture.h"

static int fatal_calls;

static void on_fatal(void *arg, int err)
{
	(void)arg;
	(void)err;
	fatal_calls++;
}

/* An encoded ALIAS_ADD for domain (malloc'd, *len set). */
static uint8_t *alias_cmd(const char *domain, size_t *len)
{
	struct spool_cmd c;
	struct wbuf wb;

	memset(&c, 0, sizeof(c));
	c.type = CMD_ALIAS_ADD;
	c.stamp = T0;
	c.u.alias.domain = domain;
	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(&c, &wb), 0);
	return wbuf_take(&wb, len);
}

/* A batch entry of ALIAS_ADDs, as raft hands it to apply. */
static struct raft_buffer alias_batch(const char *const *domains, unsigned n)
{
	struct rbatch_cmd cmds[8];
	uint8_t *bufs[8];
	struct raft_buffer b;

	assert_true(n <= 8);
	for (unsigned i = 0; i < n; i++) {
		bufs[i] = alias_cmd(domains[i], &cmds[i].len);
		cmds[i].p = bufs[i];
	}
	assert_int_equal(rbatch_encode(cmds, n, T0, &b.base, &b.len), 0);
	for (unsigned i = 0; i < n; i++) {
		free(bufs[i]);
	}
	return b;
}

static int count_alias(const char *a, const char *b, uint64_t n, void *arg)
{
	(void)a;
	(void)b;
	(void)n;
	(*(int *)arg)++;
	return 0;
}

static int alias_count(struct spool *sp)
{
	int n = 0;
	assert_int_equal(spool_alias_foreach(sp, count_alias, &n), 0);
	return n;
}

static void test_apply_runs_every_command_of_a_batch(void **state)
{
	static const char *const d[3] = {"a.example", "b.example", "c.example"};
	struct raft_buffer b = alias_batch(d, 3);
	struct rfsm f;
	struct fx fx = {.sp = NULL};
	void *result = (void *)1;

	(void)state;
	fx_open(&fx);
	rfsm_init(&f, fx.sp, on_fatal, NULL);
	assert_int_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	/* no raft request waits for this index: no results are built */
	assert_null(result);
	assert_int_equal(alias_count(fx.sp), 3);
	assert_int_equal(spool_alias_has(fx.sp, "b.example"), 1);
	assert_int_equal(f.applied_cmds, 3);
	assert_int_equal(f.max_stamp, T0);
	raft_free(b.base);
	rfsm_close(&f);
	fx_close(&fx);
}

static void test_apply_ignores_a_malformed_entry_without_failing(void **state)
{
	static const char *const d[1] = {"a.example"};
	struct raft_buffer b = alias_batch(d, 1);
	struct rfsm f;
	struct fx fx = {.sp = NULL};
	void *result = NULL;
	uint8_t *p = b.base;

	(void)state;
	fx_open(&fx);
	fatal_calls = 0;
	rfsm_init(&f, fx.sp, on_fatal, NULL);
	p[0] = 0x7f; /* unknown batch version */
	assert_int_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	assert_int_equal(f.malformed_entries, 1);
	assert_int_equal(alias_count(fx.sp), 0);
	assert_int_equal(fatal_calls, 0);
	assert_false(f.failed);
	raft_free(b.base);
	rfsm_close(&f);
	fx_close(&fx);
}

static void
test_malformed_command_inside_a_batch_is_a_business_outcome(void **state)
{
	uint8_t junk[40];
	struct rbatch_cmd cmd = {junk, sizeof(junk)};
	struct raft_buffer b;
	struct rfsm f;
	struct fx fx = {.sp = NULL};
	void *result = NULL;

	(void)state;
	memset(junk, 0xee, sizeof(junk));
	assert_int_equal(rbatch_encode(&cmd, 1, T0, &b.base, &b.len), 0);
	fx_open(&fx);
	rfsm_init(&f, fx.sp, on_fatal, NULL);
	assert_int_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	assert_false(f.failed);
	assert_int_equal(f.applied_entries, 1);
	raft_free(b.base);
	rfsm_close(&f);
	fx_close(&fx);
}

/* snapshot (loop) + snapshot_async + finalize, then restore elsewhere. */
static void test_snapshot_restores_into_an_identical_spool(void **state)
{
	static const char *const d[2] = {"x.example", "y.example"};
	struct raft_buffer b = alias_batch(d, 2);
	struct raft_buffer *bufs = NULL;
	struct raft_buffer copy;
	unsigned n = 0;
	struct rfsm f, g;
	struct fx fx = {.sp = NULL}, gx = {.sp = NULL};
	struct wbuf w1, w2;
	void *result = NULL;

	(void)state;
	fx_open(&fx);
	fx_open(&gx);
	rfsm_init(&f, fx.sp, on_fatal, NULL);
	rfsm_init(&g, gx.sp, on_fatal, NULL);
	assert_int_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	assert_int_equal(f.fsm.snapshot(&f.fsm, &bufs, &n), 0);
	assert_int_equal(f.fsm.snapshot_async(&f.fsm, &bufs, &n), 0);
	assert_int_equal(n, 1);
	assert_non_null(bufs);
	/* restore takes a raft_malloc'd buffer and frees it */
	copy.len = bufs[0].len;
	copy.base = raft_malloc(copy.len);
	memcpy(copy.base, bufs[0].base, copy.len);
	assert_int_equal(f.fsm.snapshot_finalize(&f.fsm, &bufs, &n), 0);
	assert_null(bufs);
	assert_null(f.snap);
	assert_int_equal(g.fsm.restore(&g.fsm, &copy), 0);
	assert_int_equal(alias_count(gx.sp), 2);
	wbuf_init(&w1);
	wbuf_init(&w2);
	assert_int_equal(spool_snapshot(fx.sp, &w1), 0);
	assert_int_equal(spool_snapshot(gx.sp, &w2), 0);
	assert_int_equal(w1.len, w2.len);
	assert_memory_equal(w1.p, w2.p, w1.len);
	wbuf_free(&w1);
	wbuf_free(&w2);
	raft_free(b.base);
	rfsm_close(&f);
	rfsm_close(&g);
	fx_close(&fx);
	fx_close(&gx);
}

static void test_restore_refuses_garbage_and_keeps_the_spool(void **state)
{
	static const char *const d[1] = {"kept.example"};
	struct raft_buffer b = alias_batch(d, 1);
	struct raft_buffer junk;
	struct rfsm f;
	struct fx fx = {.sp = NULL};
	void *result = NULL;

	(void)state;
	fx_open(&fx);
	fatal_calls = 0;
	rfsm_init(&f, fx.sp, on_fatal, NULL);
	assert_int_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	junk.len = 64;
	junk.base = raft_malloc(junk.len);
	memset(junk.base, 0x5a, junk.len);
	assert_int_not_equal(f.fsm.restore(&f.fsm, &junk), 0);
	/* on failure the buffer is still the caller's (raft frees it) */
	raft_free(junk.base);
	assert_int_equal(spool_alias_has(fx.sp, "kept.example"), 1);
	assert_int_equal(fatal_calls, 1);
	/* sticky: nothing is applied after a failure */
	assert_int_not_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	raft_free(b.base);
	rfsm_close(&f);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_apply_runs_every_command_of_a_batch),
	    cmocka_unit_test(
		test_apply_ignores_a_malformed_entry_without_failing),
	    cmocka_unit_test(
		test_malformed_command_inside_a_batch_is_a_business_outcome),
	    cmocka_unit_test(test_snapshot_restores_into_an_identical_spool),
	    cmocka_unit_test(test_restore_refuses_garbage_and_keeps_the_spool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
