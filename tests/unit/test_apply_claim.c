/*
 * test_apply_claim.c — the exactly-once rules of apply_claim.c: CLAIM,
 * RENEW and COMPLETE with leases and fencing numbers, for one and for
 * several competing nodes at interleaved stamped times.
 */
#include "spool_fixture.h"

#define LEASE 60000

static void test_claim_granted_when_due_and_free(void **state)
{
	struct fx f;
	char n[64];
	uint64_t fence = 0;
	struct spool_ctl c;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	assert_int_equal(fx_enqueue(f.sp, n, T0, 1), 0);
	assert_int_equal(fx_claim(f.sp, n, 2, T0, LEASE, &fence), 0);
	assert_true(fence > 0);
	fx_get(f.sp, n, &c);
	assert_int_equal(c.rec.claim.node, 2);
	assert_int_equal(c.rec.claim.fence, fence);
	assert_int_equal(c.rec.claim.lease_end, T0 + LEASE);
	spool_ctl_free(&c);
	/* while claimed it is not in the due list; it is again at lease end */
	assert_false(fx_is_due(f.sp, n, T0 + LEASE - 1));
	assert_true(fx_is_due(f.sp, n, T0 + LEASE));
	fx_close(&f);
}

static void test_claim_refused_while_lease_live(void **state)
{
	struct fx f;
	char n[64];

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	assert_int_equal(fx_claim(f.sp, n, 1, T0, LEASE, NULL), 0);
	assert_int_equal(fx_claim(f.sp, n, 2, T0 + 1, LEASE, NULL),
			 SPOOL_E_CLAIMED);
	assert_int_equal(fx_claim(f.sp, n, 3, T0 + LEASE - 1, LEASE, NULL),
			 SPOOL_E_CLAIMED);
	fx_close(&f);
}

static void test_claim_expired_lease_hands_over_with_new_fence(void **state)
{
	struct fx f;
	char n[64];
	uint64_t f1, f2;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	assert_int_equal(fx_claim(f.sp, n, 1, T0, LEASE, &f1), 0);
	assert_int_equal(fx_claim(f.sp, n, 2, T0 + LEASE, LEASE, &f2), 0);
	assert_true(f2 > f1);
	fx_close(&f);
}

static void test_claim_refused_for_missing_held_or_not_due(void **state)
{
	struct fx f;
	char n[64], m[64];
	struct spool_cmd c;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_name(m, sizeof(m), 2);
	assert_int_equal(fx_claim(f.sp, n, 1, T0, LEASE, NULL),
			 SPOOL_E_NOTFOUND);
	fx_enqueue(f.sp, n, T0 + 5000, 1);
	assert_int_equal(fx_claim(f.sp, n, 1, T0, LEASE, NULL), SPOOL_E_NOTDUE);
	fx_enqueue(f.sp, m, T0, 1);
	memset(&c, 0, sizeof(c));
	c.type = CMD_HOLD;
	c.stamp = T0;
	c.u.hold.name = m;
	assert_int_equal(fx_status(f.sp, &c), 0);
	assert_int_equal(fx_claim(f.sp, m, 1, T0 + 1, LEASE, NULL),
			 SPOOL_E_HELD);
	fx_close(&f);
}

static void test_claim_retry_by_same_holder_keeps_fence(void **state)
{
	struct fx f;
	char n[64];
	uint64_t f1, f2;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	assert_int_equal(fx_claim(f.sp, n, 1, T0, LEASE, &f1), 0);
	assert_int_equal(fx_claim(f.sp, n, 1, T0 + 10, LEASE, &f2), 0);
	assert_int_equal(f1, f2);
	fx_close(&f);
}

static void test_claim_batch_reports_each_name(void **state)
{
	struct fx f;
	char a[64], b[64], miss[64];
	const char *names[3] = {a, miss, b};
	struct spool_cmd c;
	struct spool_result res;

	fx_open(&f);
	fx_name(a, sizeof(a), 1);
	fx_name(b, sizeof(b), 2);
	fx_name(miss, sizeof(miss), 3);
	fx_enqueue(f.sp, a, T0, 1);
	fx_enqueue(f.sp, b, T0, 1);
	memset(&c, 0, sizeof(c));
	c.type = CMD_CLAIM;
	c.stamp = T0;
	c.u.claim.node = 7;
	c.u.claim.lease_ms = LEASE;
	c.u.claim.n = 3;
	c.u.claim.names = names;
	fx_apply(f.sp, &c, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.n, 3);
	assert_int_equal(res.items[0].status, 0);
	assert_int_equal(res.items[1].status, SPOOL_E_NOTFOUND);
	assert_int_equal(res.items[2].status, 0);
	assert_int_not_equal(res.items[0].fence, res.items[2].fence);
	assert_int_equal(res.value, 2);
	spool_result_free(&res);
	fx_close(&f);
}

static void test_claim_invalid_lease_refused(void **state)
{
	struct fx f;
	char n[64];
	struct spool_cmd c;
	const char *names[1] = {n};

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	memset(&c, 0, sizeof(c));
	c.type = CMD_CLAIM;
	c.stamp = T0;
	c.u.claim.node = 1;
	c.u.claim.lease_ms = 0;
	c.u.claim.n = 1;
	c.u.claim.names = names;
	assert_int_equal(fx_status(f.sp, &c), SPOOL_E_INVAL);
	c.u.claim.lease_ms = LEASE;
	c.u.claim.node = 0;
	assert_int_equal(fx_status(f.sp, &c), SPOOL_E_INVAL);
	fx_close(&f);
}

/* RENEW */
static struct spool_cmd renew(const char *name, uint64_t node, uint64_t fence,
			      uint64_t stamp)
{
	struct spool_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_RENEW;
	c.stamp = stamp;
	c.u.renew.name = name;
	c.u.renew.node = node;
	c.u.renew.fence = fence;
	c.u.renew.lease_ms = LEASE;
	return c;
}

static void test_renew_extends_live_lease(void **state)
{
	struct fx f;
	char n[64];
	uint64_t fence;
	struct spool_cmd c;
	struct spool_result res;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	fx_claim(f.sp, n, 1, T0, LEASE, &fence);
	c = renew(n, 1, fence, T0 + LEASE / 2);
	fx_apply(f.sp, &c, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, T0 + LEASE / 2 + LEASE);
	spool_result_free(&res);
	/* the old lease end no longer lets another node in */
	assert_int_equal(fx_claim(f.sp, n, 2, T0 + LEASE + 1, LEASE, NULL),
			 SPOOL_E_CLAIMED);
	fx_close(&f);
}

static void test_renew_refused_for_stale_fence_expiry_or_no_claim(void **state)
{
	struct fx f;
	char n[64];
	uint64_t f1, f2;
	struct spool_cmd c;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	c = renew(n, 1, 1, T0);
	assert_int_equal(fx_status(f.sp, &c), SPOOL_E_NOCLAIM);
	fx_claim(f.sp, n, 1, T0, LEASE, &f1);
	c = renew(n, 1, f1, T0 + LEASE);
	assert_int_equal(fx_status(f.sp, &c), SPOOL_E_EXPIRED);
	fx_claim(f.sp, n, 2, T0 + LEASE, LEASE, &f2);
	c = renew(n, 1, f1, T0 + LEASE + 1);
	assert_int_equal(fx_status(f.sp, &c), SPOOL_E_STALE);
	c = renew(n, 2, f1, T0 + LEASE + 1); /* right node, old fence */
	assert_int_equal(fx_status(f.sp, &c), SPOOL_E_STALE);
	c = renew(n, 2, f2, T0 + LEASE + 1);
	assert_int_equal(fx_status(f.sp, &c), 0);
	fx_close(&f);
}

/* COMPLETE */
static void test_complete_delivered_deletes_file(void **state)
{
	struct fx f;
	char n[64];
	uint64_t fence;
	struct spool_result res;
	struct spool_ctl c;
	void *body;
	size_t len;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 2);
	fx_claim(f.sp, n, 1, T0, LEASE, &fence);
	assert_int_equal(
	    fx_complete(f.sp, n, 1, fence, T0 + 100, 2, OUT_DELIVERED, &res),
	    0);
	assert_true(res.flags & RES_F_DELETED);
	spool_result_free(&res);
	assert_int_equal(spool_ctl_get(f.sp, n, &c), SPOOL_E_NOTFOUND);
	assert_int_equal(spool_body_get(f.sp, n, &body, &len),
			 SPOOL_E_NOTFOUND);
	assert_false(fx_is_due(f.sp, n, UINT64_MAX));
	fx_close(&f);
}

static void test_complete_refused_from_stale_holder(void **state)
{
	struct fx f;
	char n[64];
	uint64_t f1, f2;
	struct spool_ctl c;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	fx_claim(f.sp, n, 1, T0, LEASE, &f1);
	/* node 1 stalls past its lease; node 2 takes over */
	fx_claim(f.sp, n, 2, T0 + LEASE + 5, LEASE, &f2);
	assert_int_equal(
	    fx_complete(f.sp, n, 1, f1, T0 + LEASE + 6, 1, OUT_DELIVERED, NULL),
	    SPOOL_E_STALE);
	/* the file is untouched and still node 2's */
	fx_get(f.sp, n, &c);
	assert_int_equal(c.rec.claim.node, 2);
	assert_int_equal(c.rec.rcpt[0].state, RCPT_PENDING);
	spool_ctl_free(&c);
	assert_int_equal(
	    fx_complete(f.sp, n, 2, f2, T0 + LEASE + 7, 1, OUT_DELIVERED, NULL),
	    0);
	fx_close(&f);
}

static void test_complete_refused_after_own_lease_ended(void **state)
{
	struct fx f;
	char n[64];
	uint64_t f1;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	fx_claim(f.sp, n, 1, T0, LEASE, &f1);
	assert_int_equal(
	    fx_complete(f.sp, n, 1, f1, T0 + LEASE, 1, OUT_DELIVERED, NULL),
	    SPOOL_E_EXPIRED);
	fx_close(&f);
}

/* A claim given back before any attempt (COMPLETE_UNTRIED): only by its
 * holder; the file is then free and due at once, its attempt count and
 * recipients unchanged, and another node can claim it without waiting
 * out the lease (issue #10). */
static void test_complete_untried_gives_the_claim_back(void **state)
{
	struct fx f;
	char n[64];
	uint64_t f1, f2;
	struct spool_cmd c;
	struct spool_result res;
	struct spool_ctl ctl;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	fx_claim(f.sp, n, 1, T0, LEASE, &f1);
	memset(&c, 0, sizeof(c));
	c.type = CMD_COMPLETE;
	c.stamp = T0 + 100;
	c.node = 2;
	c.u.complete.name = n;
	c.u.complete.node = 2; /* not the holder */
	c.u.complete.fence = f1;
	c.u.complete.flags = COMPLETE_UNTRIED;
	fx_apply(f.sp, &c, &res);
	assert_int_equal(res.status, SPOOL_E_STALE);
	spool_result_free(&res);
	c.node = c.u.complete.node = 1;
	fx_apply(f.sp, &c, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, T0 + 100);
	spool_result_free(&res);
	fx_get(f.sp, n, &ctl);
	assert_int_equal(ctl.rec.claim.node, 0);
	assert_int_equal(ctl.rec.attempts, 0);
	assert_int_equal(ctl.rec.next_ms, T0 + 100);
	assert_int_equal(ctl.rec.rcpt[0].state, RCPT_PENDING);
	spool_ctl_free(&ctl);
	/* well inside the first lease, another node takes it */
	assert_int_equal(fx_claim(f.sp, n, 2, T0 + 101, LEASE, &f2), 0);
	assert_true(f2 > f1);
	fx_close(&f);
}

static void test_complete_retried_is_duplicate_not_error(void **state)
{
	struct fx f;
	char n[64];
	uint64_t f1;
	struct spool_result res;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 2);
	fx_claim(f.sp, n, 1, T0, LEASE, &f1);
	/* one deferred: the file stays, so the retry can be recognized */
	struct spool_outcome_item it[2] = {{0, OUT_DELIVERED, "250 ok"},
					   {1, OUT_DEFERRED, "451 later"}};
	struct spool_cmd c;
	memset(&c, 0, sizeof(c));
	c.type = CMD_COMPLETE;
	c.stamp = T0 + 10;
	c.u.complete.name = n;
	c.u.complete.node = 1;
	c.u.complete.fence = f1;
	c.u.complete.n = 2;
	c.u.complete.items = it;
	fx_apply(f.sp, &c, &res);
	assert_int_equal(res.status, 0);
	assert_false(res.flags & RES_F_DUPLICATE);
	spool_result_free(&res);
	c.stamp = T0 + 20;
	fx_apply(f.sp, &c, &res);
	assert_int_equal(res.status, 0);
	assert_true(res.flags & RES_F_DUPLICATE);
	spool_result_free(&res);
	fx_close(&f);
}

/* A COMPLETE whose report warns of a delay (OUT_DEFERRED_WARNED) marks the
 * recipient RCPT_F_DELAYED and keeps it pending; without the report it
 * marks nothing, and the warned recipient stays marked on later
 * deferrals (the warning is sent once, whoever holds the next claim). */
static void test_complete_delay_warning_is_recorded_once(void **state)
{
	struct fx f;
	char n[64], bn[64];
	uint64_t f1, f2;
	struct spool_ctl c;
	/* an ENQUEUE's RCPT_F_DELAYED is state: cleared */
	struct spool_rcpt br = {.addr = "alice@example.org",
				.orcpt = "",
				.flags = RCPT_F_DELAYED,
				.reply = ""};
	struct spool_outcome_item it[2] = {
	    {0, OUT_DEFERRED_WARNED, "451 later"},
	    {1, OUT_DEFERRED_WARNED, "451 later"}};
	struct spool_cmd cmd;
	struct spool_result res;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_name(bn, sizeof(bn), 2);
	fx_enqueue(f.sp, n, T0, 2);
	fx_claim(f.sp, n, 1, T0, LEASE, &f1);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_COMPLETE;
	cmd.stamp = T0 + 10;
	cmd.u.complete.name = n;
	cmd.u.complete.node = 1;
	cmd.u.complete.fence = f1;
	cmd.u.complete.n = 1; /* only recipient 0 is warned, with a report */
	cmd.u.complete.items = it;
	cmd.u.complete.flags = COMPLETE_BOUNCE_DONE;
	cmd.u.complete.has_bounce = 1;
	cmd.u.complete.bounce.name = bn;
	cmd.u.complete.bounce.rec.user = "TCPIP$SMTP"; /* fx_name's user */
	cmd.u.complete.bounce.rec.sender = "";
	cmd.u.complete.bounce.rec.client = "";
	cmd.u.complete.bounce.rec.helo = "";
	cmd.u.complete.bounce.rec.envid = "";
	cmd.u.complete.bounce.rec.kind = KIND_BOUNCE;
	cmd.u.complete.bounce.rec.nrcpt = 1;
	cmd.u.complete.bounce.rec.rcpt = &br;
	cmd.u.complete.bounce.body = "Subject: delayed\r\n\r\nx\r\n";
	cmd.u.complete.bounce.body_len = strlen(cmd.u.complete.bounce.body);
	fx_apply(f.sp, &cmd, &res);
	assert_int_equal(res.status, 0);
	assert_true(res.flags & RES_F_BOUNCED);
	spool_result_free(&res);
	fx_get(f.sp, n, &c);
	assert_int_equal(c.rec.rcpt[0].state, RCPT_PENDING);
	assert_true(c.rec.rcpt[0].flags & RCPT_F_DELAYED);
	assert_false(c.rec.rcpt[1].flags & RCPT_F_DELAYED);
	spool_ctl_free(&c);
	/* the report itself is queued, with no flag of its own */
	fx_get(f.sp, bn, &c);
	assert_int_equal(c.rec.kind, KIND_BOUNCE);
	assert_int_equal(c.rec.rcpt[0].flags, 0);
	spool_ctl_free(&c);

	/* next attempt: recipient 1 said warned but no report: not marked */
	fx_claim(f.sp, n, 2, T0 + 4000000, LEASE, &f2);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_COMPLETE;
	cmd.stamp = T0 + 4000010;
	cmd.u.complete.name = n;
	cmd.u.complete.node = 2;
	cmd.u.complete.fence = f2;
	cmd.u.complete.n = 2;
	cmd.u.complete.items = it;
	it[0].outcome = OUT_DEFERRED;
	fx_apply(f.sp, &cmd, &res);
	assert_int_equal(res.status, 0);
	spool_result_free(&res);
	fx_get(f.sp, n, &c);
	assert_true(c.rec.rcpt[0].flags & RCPT_F_DELAYED);
	assert_false(c.rec.rcpt[1].flags & RCPT_F_DELAYED);
	assert_int_equal(c.rec.rcpt[1].state, RCPT_PENDING);
	spool_ctl_free(&c);
	fx_close(&f);
}

static void test_complete_bad_recipient_index_changes_nothing(void **state)
{
	struct fx f;
	char n[64];
	uint64_t f1;
	struct spool_ctl c;
	struct spool_outcome_item it[1] = {{5, OUT_DELIVERED, "250"}};
	struct spool_cmd cmd;

	fx_open(&f);
	fx_name(n, sizeof(n), 1);
	fx_enqueue(f.sp, n, T0, 1);
	fx_claim(f.sp, n, 1, T0, LEASE, &f1);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_COMPLETE;
	cmd.stamp = T0 + 1;
	cmd.u.complete.name = n;
	cmd.u.complete.node = 1;
	cmd.u.complete.fence = f1;
	cmd.u.complete.n = 1;
	cmd.u.complete.items = it;
	assert_int_equal(fx_status(f.sp, &cmd), SPOOL_E_INVAL);
	fx_get(f.sp, n, &c);
	assert_int_equal(c.rec.claim.fence, f1);
	assert_int_equal(c.rec.attempts, 0);
	spool_ctl_free(&c);
	fx_close(&f);
}

/*
 * Three nodes race for the same files at interleaved stamps (a seeded,
 * bounded schedule). At every step at most one node may hold a live
 * lease on a file; every COMPLETE accepted comes from the live holder.
 */
static void test_claim_exclusive_among_three_nodes(void **state)
{
	enum { FILES = 8, STEPS = 3000 };
	struct fx f;
	char names[FILES][64];
	uint64_t fence[4][FILES] = {{0}};
	uint64_t holder_until[4][FILES] = {{0}};
	unsigned seed = 12345;
	uint64_t now = T0;
	int delivered = 0;

	fx_open(&f);
	for (int i = 0; i < FILES; i++) {
		fx_name(names[i], sizeof(names[i]), (uint32_t)i + 1);
		fx_enqueue(f.sp, names[i], T0, 1);
	}
	for (int s = 0; s < STEPS; s++) {
		int node = 1 + (int)(rand_r(&seed) % 3);
		int i = (int)(rand_r(&seed) % FILES);
		int what = (int)(rand_r(&seed) % 4);
		uint64_t fe;

		now += rand_r(&seed) % 20000;
		if (what < 2) {
			if (fx_claim(f.sp, names[i], (uint64_t)node, now, LEASE,
				     &fe) == SPOOL_E_NOTFOUND)
				continue;
			struct spool_ctl c;
			if (spool_ctl_get(f.sp, names[i], &c) != 0)
				continue;
			if (c.rec.claim.node == (uint64_t)node &&
			    c.rec.claim.fence == fe) {
				fence[node][i] = fe;
				holder_until[node][i] = c.rec.claim.lease_end;
			}
			spool_ctl_free(&c);
			/* no other node believes it holds a live lease */
			int live = 0;
			for (int o = 1; o <= 3; o++)
				if (holder_until[o][i] > now && fence[o][i])
					live++;
			assert_true(live <= 1);
		} else if (fence[node][i]) {
			int st = fx_complete(
			    f.sp, names[i], (uint64_t)node, fence[node][i], now,
			    1, what == 2 ? OUT_DELIVERED : OUT_DEFERRED, NULL);
			if (st == 0) {
				assert_true(now < holder_until[node][i]);
				if (what == 2)
					delivered++;
			} else {
				assert_true(st == SPOOL_E_STALE ||
					    st == SPOOL_E_EXPIRED ||
					    st == SPOOL_E_NOCLAIM ||
					    st == SPOOL_E_NOTFOUND);
			}
			fence[node][i] = 0;
			holder_until[node][i] = 0;
		}
	}
	assert_true(delivered > 0 && delivered <= FILES);
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_claim_granted_when_due_and_free),
	    cmocka_unit_test(test_claim_refused_while_lease_live),
	    cmocka_unit_test(
		test_claim_expired_lease_hands_over_with_new_fence),
	    cmocka_unit_test(test_claim_refused_for_missing_held_or_not_due),
	    cmocka_unit_test(test_claim_retry_by_same_holder_keeps_fence),
	    cmocka_unit_test(test_claim_batch_reports_each_name),
	    cmocka_unit_test(test_claim_invalid_lease_refused),
	    cmocka_unit_test(test_renew_extends_live_lease),
	    cmocka_unit_test(
		test_renew_refused_for_stale_fence_expiry_or_no_claim),
	    cmocka_unit_test(test_complete_delivered_deletes_file),
	    cmocka_unit_test(test_complete_refused_from_stale_holder),
	    cmocka_unit_test(test_complete_refused_after_own_lease_ended),
	    cmocka_unit_test(test_complete_untried_gives_the_claim_back),
	    cmocka_unit_test(test_complete_retried_is_duplicate_not_error),
	    cmocka_unit_test(test_complete_bad_recipient_index_changes_nothing),
	    cmocka_unit_test(test_complete_delay_warning_is_recorded_once),
	    cmocka_unit_test(test_claim_exclusive_among_three_nodes),
	};

	return cmocka_run_group_tests_name("apply_claim", tests, NULL, NULL);
}
