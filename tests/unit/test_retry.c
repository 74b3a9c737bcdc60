/*
 * test_retry.c — the retry policy (retry.c) and what COMPLETE does with
 * it: /INTERVAL=INITIAL before the second attempt, RETRY between later
 * ones, failure at MAXIMUM per recipient, and the bounce enqueued in the
 * same COMPLETE.
 */
#include "spool_fixture.h"
#include "spool/store/spool_impl.h"

#define LEASE 60000
#define MIN (60ull * 1000)

static void test_retry_next_uses_initial_then_retry(void **state)
{
	struct spool_config cfg;

	spool_config_defaults(&cfg);
	assert_int_equal(spool_retry_next(&cfg, T0, 1, T0), T0 + 30 * MIN);
	assert_int_equal(spool_retry_next(&cfg, T0, 2, T0 + 30 * MIN),
			 T0 + 90 * MIN);
}

static void test_retry_next_capped_at_maximum_then_zero(void **state)
{
	struct spool_config cfg;
	uint64_t max = 3 * 24 * 60 * MIN;

	spool_config_defaults(&cfg);
	assert_int_equal(spool_retry_next(&cfg, T0, 5, T0 + max - MIN),
			 T0 + max);
	assert_int_equal(spool_retry_next(&cfg, T0, 6, T0 + max), 0);
}

/* Set the three intervals (ms). */
static void set_intervals(struct spool *sp, uint64_t ini, uint64_t retry,
			  uint64_t max)
{
	struct spool_cfg_item it[3] = {
	    {CFG_INTERVAL_INITIAL, 0, ini, ""},
	    {CFG_INTERVAL_RETRY, 0, retry, ""},
	    {CFG_INTERVAL_MAXIMUM, 0, max, ""},
	};
	struct spool_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_SET_CONFIG;
	c.stamp = T0;
	c.u.set_config.n = 3;
	c.u.set_config.items = it;
	assert_int_equal(fx_status(sp, &c), 0);
}

static void test_deferred_recipient_follows_schedule(void **state)
{
	struct fx f;
	char n[64];
	uint64_t fence;
	struct spool_result res;
	struct spool_ctl c;

	fx_open(&f);
	set_intervals(f.sp, 10000, 20000, 100000);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	fx_claim(f.sp, n, 1, T0, LEASE, &fence);
	fx_complete(f.sp, n, 1, fence, T0 + 1000, 1, OUT_DEFERRED, &res);
	assert_int_equal(res.value, T0 + 1000 + 10000); /* INITIAL */
	spool_result_free(&res);
	assert_false(fx_is_due(f.sp, n, T0 + 10999));
	assert_true(fx_is_due(f.sp, n, T0 + 11000));
	assert_int_equal(fx_claim(f.sp, n, 1, T0 + 5000, LEASE, NULL),
			 SPOOL_E_NOTDUE);
	fx_claim(f.sp, n, 1, T0 + 11000, LEASE, &fence);
	fx_complete(f.sp, n, 1, fence, T0 + 12000, 1, OUT_DEFERRED, &res);
	assert_int_equal(res.value, T0 + 12000 + 20000); /* RETRY */
	spool_result_free(&res);
	fx_get(f.sp, n, &c);
	assert_int_equal(c.rec.attempts, 2);
	assert_int_equal(c.rec.rcpt[0].attempts, 2);
	assert_int_equal(c.rec.rcpt[0].state, RCPT_PENDING);
	assert_string_equal(c.rec.rcpt[0].reply, "451 later");
	spool_ctl_free(&c);
	fx_close(&f);
}

static void test_deferral_past_maximum_fails_and_bounce_is_due(void **state)
{
	struct fx f;
	char n[64];
	uint64_t fence, now = T0;
	struct spool_result res;
	struct spool_ctl c;
	int rounds = 0;

	fx_open(&f);
	set_intervals(f.sp, 10000, 20000, 50000);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 2);
	/* defer until the file is past MAXIMUM (bounded) */
	for (;;) {
		assert_true(++rounds < 20);
		assert_int_equal(fx_claim(f.sp, n, 1, now, LEASE, &fence), 0);
		fx_complete(f.sp, n, 1, fence, now, 2, OUT_DEFERRED, &res);
		fx_get(f.sp, n, &c);
		int failed = c.rec.rcpt[0].state == RCPT_FAILED;
		spool_ctl_free(&c);
		if (failed) {
			assert_int_equal(res.value, now); /* due now */
			spool_result_free(&res);
			break;
		}
		assert_true(res.value <= T0 + 50000);
		now = res.value;
		spool_result_free(&res);
	}
	assert_true(now >= T0 + 50000);
	fx_get(f.sp, n, &c);
	assert_int_equal(c.rec.rcpt[0].state, RCPT_FAILED);
	assert_int_equal(c.rec.rcpt[1].state, RCPT_FAILED);
	assert_non_null(strstr(c.rec.rcpt[0].reply, "MAXIMUM"));
	spool_ctl_free(&c);
	assert_true(fx_is_due(f.sp, n, now));
	fx_close(&f);
}

/* COMPLETE carrying a bounce: the failed recipients become BOUNCED, the
 * bounce control file exists, and the original goes away. */
static void test_failed_recipient_bounce_enqueued_in_same_complete(void **state)
{
	struct fx f;
	char n[64], bn[64];
	uint64_t fence;
	struct spool_result res;
	struct spool_ctl c;
	struct spool_rcpt br = {
	    .addr = "alice@example.org", .orcpt = "", .reply = ""};
	struct spool_outcome_item it[2] = {{0, OUT_DELIVERED, "250 ok"},
					   {1, OUT_FAILED, "550 no such user"}};
	struct spool_cmd cmd;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	assert_int_equal(
	    ctlname_make(bn, sizeof(bn), T0 + 5, "SYSTEM", 9, "NODE1"), 0);
	fx_enqueue(f.sp, n, T0, 2);
	fx_claim(f.sp, n, 1, T0, LEASE, &fence);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_COMPLETE;
	cmd.stamp = T0 + 5;
	cmd.u.complete.name = n;
	cmd.u.complete.node = 1;
	cmd.u.complete.fence = fence;
	cmd.u.complete.n = 2;
	cmd.u.complete.items = it;
	cmd.u.complete.has_bounce = 1;
	cmd.u.complete.bounce.name = bn;
	cmd.u.complete.bounce.rec.user = "SYSTEM";
	cmd.u.complete.bounce.rec.sender = "";
	cmd.u.complete.bounce.rec.client = "";
	cmd.u.complete.bounce.rec.helo = "";
	cmd.u.complete.bounce.rec.envid = "";
	cmd.u.complete.bounce.rec.kind = KIND_BOUNCE;
	cmd.u.complete.bounce.rec.nrcpt = 1;
	cmd.u.complete.bounce.rec.rcpt = &br;
	cmd.u.complete.bounce.body = "Subject: failure\r\n\r\nx\r\n";
	cmd.u.complete.bounce.body_len = strlen(cmd.u.complete.bounce.body);
	fx_apply(f.sp, &cmd, &res);
	assert_int_equal(res.status, 0);
	assert_true(res.flags & RES_F_BOUNCED);
	assert_true(res.flags & RES_F_DELETED);
	spool_result_free(&res);
	assert_int_equal(spool_ctl_get(f.sp, n, &c), SPOOL_E_NOTFOUND);
	fx_get(f.sp, bn, &c);
	assert_int_equal(c.rec.kind, KIND_BOUNCE);
	assert_string_equal(c.rec.user, "SYSTEM");
	assert_string_equal(c.rec.sender, "");
	spool_ctl_free(&c);
	fx_close(&f);
}

/* A failure reported without a bounce keeps the file, due now, until a
 * COMPLETE with the bounce (or BOUNCE_DONE) comes. */
static void test_failure_without_bounce_keeps_file_due(void **state)
{
	struct fx f;
	char n[64];
	uint64_t fence;
	struct spool_result res;
	struct spool_ctl c;
	struct spool_cmd cmd;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	fx_claim(f.sp, n, 1, T0, LEASE, &fence);
	fx_complete(f.sp, n, 1, fence, T0 + 5, 1, OUT_FAILED, &res);
	assert_int_equal(res.status, 0);
	assert_false(res.flags & RES_F_DELETED);
	spool_result_free(&res);
	fx_get(f.sp, n, &c);
	assert_int_equal(c.rec.rcpt[0].state, RCPT_FAILED);
	spool_ctl_free(&c);
	assert_true(fx_is_due(f.sp, n, T0 + 5));
	/* the postmaster bounce of a failed bounce is dropped: BOUNCE_DONE
	 * with no bounce attached finishes the file */
	fx_claim(f.sp, n, 2, T0 + 6, LEASE, &fence);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_COMPLETE;
	cmd.stamp = T0 + 7;
	cmd.u.complete.name = n;
	cmd.u.complete.node = 2;
	cmd.u.complete.fence = fence;
	cmd.u.complete.flags = COMPLETE_BOUNCE_DONE;
	fx_apply(f.sp, &cmd, &res);
	assert_int_equal(res.status, 0);
	assert_true(res.flags & RES_F_DELETED);
	spool_result_free(&res);
	fx_close(&f);
}

/* Per recipient: one delivered, one deferred, one failed in the same
 * attempt; only the deferred one is retried. */
static void test_outcomes_are_per_recipient(void **state)
{
	struct fx f;
	char n[64];
	uint64_t fence;
	struct spool_result res;
	struct spool_ctl c;
	struct spool_outcome_item it[3] = {{0, OUT_DELIVERED, "250 ok"},
					   {1, OUT_DEFERRED, "451 busy"},
					   {2, OUT_FAILED, "550 unknown"}};
	struct spool_cmd cmd;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 3);
	fx_claim(f.sp, n, 1, T0, LEASE, &fence);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_COMPLETE;
	cmd.stamp = T0 + 1;
	cmd.u.complete.name = n;
	cmd.u.complete.node = 1;
	cmd.u.complete.fence = fence;
	cmd.u.complete.n = 3;
	cmd.u.complete.items = it;
	cmd.u.complete.flags = COMPLETE_BOUNCE_DONE;
	fx_apply(f.sp, &cmd, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, T0 + 1 + 30 * MIN);
	spool_result_free(&res);
	fx_get(f.sp, n, &c);
	assert_int_equal(c.rec.rcpt[0].state, RCPT_DELIVERED);
	assert_int_equal(c.rec.rcpt[1].state, RCPT_PENDING);
	assert_int_equal(c.rec.rcpt[2].state, RCPT_BOUNCED);
	assert_string_equal(c.rec.rcpt[2].reply, "550 unknown");
	spool_ctl_free(&c);
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_next_uses_initial_then_retry),
	    cmocka_unit_test(test_retry_next_capped_at_maximum_then_zero),
	    cmocka_unit_test(test_deferred_recipient_follows_schedule),
	    cmocka_unit_test(
		test_deferral_past_maximum_fails_and_bounce_is_due),
	    cmocka_unit_test(
		test_failed_recipient_bounce_enqueued_in_same_complete),
	    cmocka_unit_test(test_failure_without_bounce_keeps_file_due),
	    cmocka_unit_test(test_outcomes_are_per_recipient),
	};

	return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}
