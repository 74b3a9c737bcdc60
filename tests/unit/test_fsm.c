/*
 * test_fsm.c — the raft FSM over the spool (raft/fsm.c), driven through
 * its struct raft_fsm callbacks as libraft drives them: batch apply,
 * refusal of malformed entries without failing, snapshot/restore, the
 * fencing of CLAIMs and COMPLETEs that share one entry, the stamp floor
 * (max_stamp) after a restore or over a kept spool, and the snapshot
 * threshold that grows with the image.
 */
#include <pthread.h>
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

/* The daemon's monotonic clock, as the FSM is handed it (raft has none). */
#define FAKE_MONO_MS 424242u
static uint64_t fake_mono_ms(void)
{
	return FAKE_MONO_MS;
}

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
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
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
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
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
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
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
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
	rfsm_init(&g, gx.sp, fake_mono_ms, on_fatal, NULL);
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

/* An install's image restored in the pool (rfsm_restore_run, here on
 * another thread), then restore() of that buffer only takes the result;
 * an entry applied meanwhile is left to the image. */
static void *restore_thread(void *arg)
{
	rfsm_restore_run(arg);
	return NULL;
}

static void test_restore_run_in_the_pool_is_taken_by_restore(void **state)
{
	static const char *const d[2] = {"x.example", "y.example"};
	static const char *const e[1] = {"z.example"};
	struct raft_buffer b = alias_batch(d, 2), late = alias_batch(e, 1);
	struct raft_buffer copy;
	struct rfsm f, g;
	struct fx fx = {.sp = NULL}, gx = {.sp = NULL};
	struct wbuf w;
	void *result = NULL;
	pthread_t th;

	(void)state;
	fx_open(&fx);
	fx_open(&gx);
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
	rfsm_init(&g, gx.sp, fake_mono_ms, on_fatal, NULL);
	assert_int_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	wbuf_init(&w);
	assert_int_equal(spool_snapshot(fx.sp, &w), 0);
	copy.len = w.len;
	copy.base = raft_malloc(copy.len);
	memcpy(copy.base, w.p, copy.len);
	wbuf_free(&w);

	rfsm_restore_begin(&g, &copy);
	assert_int_equal(g.fsm.apply(&g.fsm, &late, &result), 0);
	assert_int_equal(g.skipped_entries, 1);
	assert_int_equal(pthread_create(&th, NULL, restore_thread, &g), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	rfsm_restore_end(&g, 1);
	assert_int_equal(alias_count(gx.sp), 2); /* restored in the pool */
	assert_int_equal(g.fsm.restore(&g.fsm, &copy), 0); /* frees copy */
	assert_int_equal(g.restores, 1);
	assert_int_equal(alias_count(gx.sp), 2);
	/* applying works again after the restore */
	assert_int_equal(g.fsm.apply(&g.fsm, &late, &result), 0);
	assert_int_equal(alias_count(gx.sp), 3);
	raft_free(b.base);
	raft_free(late.base);
	rfsm_close(&f);
	rfsm_close(&g);
	fx_close(&fx);
	fx_close(&gx);
}

struct fill_call {
	struct rfsm *f;
	struct raft_buffer *bufs;
	unsigned n;
	int rv;
};

static void *fill_thread(void *arg)
{
	struct fill_call *c = arg;

	c->rv = rfsm_fill(c->f, &c->bufs, &c->n);
	return NULL;
}

/* Deferred: snapshot_async leaves the buffers empty; rfsm_fill, on
 * another thread while the loop applies more, serializes the state
 * pinned at snapshot(); finalize frees the image. */
static void test_deferred_snapshot_is_filled_on_another_thread(void **state)
{
	static const char *const d[2] = {"x.example", "y.example"};
	static const char *const later[2] = {"z.example", "w.example"};
	struct raft_buffer b = alias_batch(d, 2);
	struct raft_buffer b2 = alias_batch(later, 2);
	struct raft_buffer *bufs = NULL;
	struct raft_buffer copy;
	unsigned n = 0;
	struct rfsm f, g;
	struct fx fx = {.sp = NULL}, gx = {.sp = NULL};
	struct fill_call call;
	pthread_t th;
	void *result = NULL;

	(void)state;
	fx_open(&fx);
	fx_open(&gx);
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
	rfsm_init(&g, gx.sp, fake_mono_ms, on_fatal, NULL);
	rfsm_set_deferred(&f);
	assert_int_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	assert_int_equal(f.fsm.snapshot(&f.fsm, &bufs, &n), 0);
	assert_int_equal(f.fsm.snapshot_async(&f.fsm, &bufs, &n), 0);
	assert_int_equal(n, 0); /* nothing serialized on the loop */
	assert_null(bufs);
	assert_int_equal(f.fsm.apply(&f.fsm, &b2, &result), 0);

	call.f = &f;
	assert_int_equal(pthread_create(&th, NULL, fill_thread, &call), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(call.rv, 0);
	assert_int_equal(call.n, 1);
	assert_ptr_equal(call.bufs, &f.img);
	copy.len = call.bufs[0].len;
	copy.base = raft_malloc(copy.len);
	memcpy(copy.base, call.bufs[0].base, copy.len);
	/* raft's own buffers are still none; finalize frees the image */
	assert_int_equal(f.fsm.snapshot_finalize(&f.fsm, &bufs, &n), 0);
	assert_null(f.img.base);
	assert_null(f.snap);
	assert_int_equal(f.snap_bytes, copy.len);
	assert_int_equal(g.fsm.restore(&g.fsm, &copy), 0);
	assert_int_equal(alias_count(gx.sp), 2); /* as at snapshot() */
	assert_int_equal(alias_count(fx.sp), 4);
	raft_free(b.base);
	raft_free(b2.base);
	rfsm_close(&f);
	rfsm_close(&g);
	fx_close(&fx);
	fx_close(&gx);
}

/* A node that starts from a snapshot (or installs one) keeps the stamp
 * floor of the leader's stamp: restore sets max_stamp from the image. */
static void test_restore_sets_max_stamp(void **state)
{
	static const char *const d[1] = {"s.example"};
	struct raft_buffer b = alias_batch(d, 1);
	struct raft_buffer *bufs = NULL;
	struct raft_buffer copy;
	unsigned n = 0;
	struct rfsm f, g;
	struct fx fx = {.sp = NULL}, gx = {.sp = NULL};
	void *result = NULL;

	(void)state;
	fx_open(&fx);
	fx_open(&gx);
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
	rfsm_init(&g, gx.sp, fake_mono_ms, on_fatal, NULL);
	assert_int_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	assert_int_equal(f.fsm.snapshot(&f.fsm, &bufs, &n), 0);
	assert_int_equal(f.fsm.snapshot_async(&f.fsm, &bufs, &n), 0);
	copy.len = bufs[0].len;
	copy.base = raft_malloc(copy.len);
	memcpy(copy.base, bufs[0].base, copy.len);
	assert_int_equal(f.fsm.snapshot_finalize(&f.fsm, &bufs, &n), 0);
	assert_int_equal(g.max_stamp, 0);
	assert_int_equal(g.fsm.restore(&g.fsm, &copy), 0);
	assert_int_equal(g.max_stamp, T0);
	assert_true(g.max_stamp_mono > 0);
	assert_int_equal(g.max_stamp_mono, FAKE_MONO_MS);
	raft_free(b.base);
	rfsm_close(&f);
	rfsm_close(&g);
	fx_close(&fx);
	fx_close(&gx);
}

/* An FSM over a spool kept from before starts from its stamp. */
static void test_init_over_a_kept_spool_loads_max_stamp(void **state)
{
	static const char *const d[1] = {"k.example"};
	struct raft_buffer b = alias_batch(d, 1);
	struct rfsm f;
	struct fx fx = {.sp = NULL};
	void *result = NULL;

	(void)state;
	fx_open(&fx);
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
	assert_int_equal(f.fsm.apply(&f.fsm, &b, &result), 0);
	rfsm_close(&f);
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
	assert_int_equal(f.max_stamp, T0);
	raft_free(b.base);
	rfsm_close(&f);
	fx_close(&fx);
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
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
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

/* Encode c into cmds[i] (malloc'd; the caller frees bufs[i]). */
static void enc(const struct spool_cmd *c, struct rbatch_cmd *cmd,
		uint8_t **buf)
{
	struct wbuf wb;

	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(c, &wb), 0);
	*buf = wbuf_take(&wb, &cmd->len);
	cmd->p = *buf;
}

static void claim_cmd(struct spool_cmd *c, const char **names, uint64_t node)
{
	memset(c, 0, sizeof(*c));
	c->type = CMD_CLAIM;
	c->node = node;
	c->u.claim.node = node;
	c->u.claim.lease_ms = 60000;
	c->u.claim.n = 1;
	c->u.claim.names = names;
}

/* A COMPLETE of a one-recipient file, deferred: the file stays queued. */
static void complete_cmd(struct spool_cmd *c, struct spool_outcome_item *it,
			 const char *name, uint64_t node, uint64_t fence)
{
	memset(c, 0, sizeof(*c));
	it->rcpt = 0;
	it->outcome = OUT_DEFERRED;
	it->reply = "451 later";
	c->type = CMD_COMPLETE;
	c->node = node;
	c->u.complete.name = name;
	c->u.complete.node = node;
	c->u.complete.fence = fence;
	c->u.complete.n = 1;
	c->u.complete.items = it;
}

/* Apply a two-command entry as the leader that proposed it, with
 * request ids ra and rb (origin: each command's node); the two decoded
 * results. */
static void apply2(struct rfsm *f, struct raft *r, struct spool_cmd *a,
		   uint64_t ra, struct spool_cmd *b, uint64_t rb,
		   struct spool_result out[2])
{
	struct rbatch_cmd cmds[2];
	uint8_t *bufs[2];
	struct raft_buffer e;
	struct rbatch_results *res = NULL;
	const void *p;
	size_t len;

	enc(a, &cmds[0], &bufs[0]);
	enc(b, &cmds[1], &bufs[1]);
	assert_int_equal(
	    spool_cmd_set_origin(bufs[0], cmds[0].len, a->node, ra), 0);
	assert_int_equal(
	    spool_cmd_set_origin(bufs[1], cmds[1].len, b->node, rb), 0);
	assert_int_equal(rbatch_encode(cmds, 2, T0, &e.base, &e.len), 0);
	free(bufs[0]);
	free(bufs[1]);
	f->want_index = r->last_applied + 1;
	assert_int_equal(f->fsm.apply(&f->fsm, &e, (void **)&res), 0);
	r->last_applied++;
	assert_non_null(res);
	assert_int_equal(res->filled, 2);
	for (uint32_t i = 0; i < 2; i++) {
		assert_int_equal(rbatch_results_get(res, i, &p, &len), 0);
		assert_int_equal(spool_result_decode(&out[i], p, len), 0);
	}
	rbatch_results_free(res);
	raft_free(e.base);
}

/* Claims and completes of several nodes batched into one entry keep the
 * fence: of two CLAIMs of one file in an entry only the first is
 * granted, and of two COMPLETEs in an entry only the holder's counts;
 * the other is answered as lost. */
static void
test_claims_and_completes_sharing_an_entry_keep_the_fence(void **state)
{
	static struct raft r; /* only state and last_applied are read */
	struct spool_outcome_item it[2];
	struct spool_result res[2];
	struct spool_cmd a, b;
	char name[64];
	const char *names[1] = {name};
	struct rfsm f;
	struct fx fx = {.sp = NULL};
	uint64_t fence;

	(void)state;
	fx_open(&fx);
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
	r.state = RAFT_LEADER;
	r.last_applied = 0;
	rfsm_set_raft(&f, &r);
	fx_name(name, sizeof(name), 1);
	assert_int_equal(fx_enqueue(fx.sp, name, T0 - 1000, 1), 0);

	claim_cmd(&a, names, 1);
	claim_cmd(&b, names, 2);
	apply2(&f, &r, &a, 1, &b, 1, res);
	assert_int_equal(res[0].status, 0);
	assert_int_equal(res[0].n, 1);
	assert_int_equal(res[0].items[0].status, 0);
	fence = res[0].items[0].fence;
	assert_int_equal(res[1].status, 0);
	assert_int_equal(res[1].n, 1);
	assert_int_equal(res[1].items[0].status, SPOOL_E_CLAIMED);
	spool_result_free(&res[0]);
	spool_result_free(&res[1]);

	/* the loser's COMPLETE first, then the holder's, in one entry */
	complete_cmd(&a, &it[0], name, 2, fence);
	complete_cmd(&b, &it[1], name, 1, fence);
	apply2(&f, &r, &a, 2, &b, 2, res);
	assert_true(res[0].status == SPOOL_E_STALE ||
		    res[0].status == SPOOL_E_NOCLAIM);
	assert_int_equal(res[1].status, 0);
	assert_false(res[1].flags & RES_F_DUPLICATE);
	spool_result_free(&res[0]);
	spool_result_free(&res[1]);

	/* the holder's COMPLETE again (a retry) next to a late CLAIM: the
	 * retry is a duplicate, and the file, deferred, is not due for the
	 * claim */
	complete_cmd(&a, &it[0], name, 1, fence);
	claim_cmd(&b, names, 2);
	apply2(&f, &r, &a, 2, &b, 3, res);
	assert_int_equal(res[0].status, 0);
	assert_true(res[0].flags & RES_F_DUPLICATE);
	assert_int_not_equal(res[1].items[0].status, 0);
	spool_result_free(&res[0]);
	spool_result_free(&res[1]);
	rfsm_close(&f);
	fx_close(&fx);
}

static void test_next_threshold_follows_the_image(void **state)
{
	(void)state;
	/* nothing known yet, or a small image: the configured floor */
	assert_int_equal(rfsm_next_threshold(256, 1 << 20, 0, 0), 256);
	assert_int_equal(rfsm_next_threshold(256, 1 << 20, 4096, 1), 256);
	/* 100 MB image, 40,000-byte entries: 1/RFSM_LOG_RATIO_DIV of it */
	assert_int_equal(rfsm_next_threshold(256, 100000000, 40000000, 1000),
			 100000000 / RFSM_LOG_RATIO_DIV / 40000);
	/* twice the image, twice the entries: the cost per entry is flat */
	assert_int_equal(rfsm_next_threshold(256, 200000000, 40000000, 1000),
			 2 * (100000000 / RFSM_LOG_RATIO_DIV / 40000));
	/* tiny entries do not make the threshold unbounded */
	assert_int_equal(rfsm_next_threshold(256, (size_t)1 << 40, 1, 1),
			 RFSM_THRESHOLD_MAX);
}

/* After a snapshot the FSM sets libraft's threshold from the image and
 * the entries applied before it; without a configured base it leaves
 * libraft's alone. (libraft has no getter: f.threshold is the value last
 * handed to raft_set_snapshot_threshold.) */
static void test_snapshot_sets_the_next_threshold(void **state)
{
	static const char *const d[8] = {"a.example", "b.example", "c.example",
					 "d.example", "e.example", "f.example",
					 "g.example", "h.example"};
	static struct raft r;
	struct raft_buffer b[8];
	struct raft_buffer *bufs = NULL;
	unsigned n = 0, want;
	struct rfsm f;
	struct fx fx = {.sp = NULL};
	void *result = NULL;
	size_t image;

	(void)state;
	fx_open(&fx);
	rfsm_init(&f, fx.sp, fake_mono_ms, on_fatal, NULL);
	rfsm_set_raft(&f, &r);
	rfsm_set_threshold_base(&f, 1);
	for (unsigned i = 0; i < 8; i++) {
		b[i] = alias_batch(&d[i], 1);
		assert_int_equal(f.fsm.apply(&f.fsm, &b[i], &result), 0);
	}
	assert_int_equal(f.fsm.snapshot(&f.fsm, &bufs, &n), 0);
	assert_int_equal(f.fsm.snapshot_async(&f.fsm, &bufs, &n), 0);
	image = bufs[0].len;
	assert_int_equal(f.fsm.snapshot_finalize(&f.fsm, &bufs, &n), 0);
	want = rfsm_next_threshold(1, image, 8 * b[0].len, 8);
	/* f.threshold is what raft_set_snapshot_threshold was given */
	assert_int_equal(f.threshold, want);
	/* an image of 8 aliases is more than twice one entry of one */
	assert_true(want > 1);
	/* the log since this snapshot is counted afresh */
	assert_int_equal(f.log_entries, 0);
	assert_int_equal(f.snap_log_entries, 8);

	/* base 0: libraft's threshold is never touched */
	rfsm_set_threshold_base(&f, 0);
	assert_int_equal(f.fsm.apply(&f.fsm, &b[0], &result), 0);
	assert_int_equal(f.fsm.snapshot(&f.fsm, &bufs, &n), 0);
	assert_int_equal(f.fsm.snapshot_async(&f.fsm, &bufs, &n), 0);
	assert_int_equal(f.fsm.snapshot_finalize(&f.fsm, &bufs, &n), 0);
	assert_int_equal(f.threshold, 0);
	for (unsigned i = 0; i < 8; i++)
		raft_free(b[i].base);
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
	    cmocka_unit_test(test_restore_run_in_the_pool_is_taken_by_restore),
	    cmocka_unit_test(
		test_deferred_snapshot_is_filled_on_another_thread),
	    cmocka_unit_test(test_restore_refuses_garbage_and_keeps_the_spool),
	    cmocka_unit_test(test_restore_sets_max_stamp),
	    cmocka_unit_test(test_init_over_a_kept_spool_loads_max_stamp),
	    cmocka_unit_test(
		test_claims_and_completes_sharing_an_entry_keep_the_fence),
	    cmocka_unit_test(test_next_threshold_follows_the_image),
	    cmocka_unit_test(test_snapshot_sets_the_next_threshold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
