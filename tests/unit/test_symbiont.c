/*
 * test_symbiont.c — the symbiont's pure decisions (src/delivery/
 * symbiont_place.c, symbiont_job.c, symbiont_bounce.c): which node prefers
 * a control file (rendezvous hashing), the grace rule that lets any node
 * take a file a dead or stopped node left, a node the leader no longer
 * hears from left out of the preference (its share taken at once, its
 * live claims still waiting for their lease), when a lease is renewed, where
 * a bounce goes and when none is sent, and the postmaster address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "spool_fixture.h"
#include "src/delivery/symbiont_bounce.h"
#include "src/delivery/symbiont_job.h"
#include "src/delivery/symbiont_place.h"

#define NAMES 3000

/* The i-th test control-file name. */
static void name_of(int i, char *buf, size_t size)
{
	snprintf(buf, size, "261123%08d_TCPIP$SMTP_%08x.TCPIP_NODE%d", i,
		 (unsigned)(i * 2654435761u), i % 3 + 1);
}

static void test_preferred_node_is_a_member_and_stable(void **state)
{
	const uint64_t nodes[] = {1, 2, 3};
	const uint64_t shuffled[] = {3, 1, 2};
	char name[128];

	for (int i = 0; i < 200; i++) {
		uint64_t p;
		name_of(i, name, sizeof(name));
		p = symbiont_preferred(name, nodes, 3);
		assert_true(p == 1 || p == 2 || p == 3);
		/* the same answer every time, whatever the list order */
		assert_int_equal(symbiont_preferred(name, nodes, 3), p);
		assert_int_equal(symbiont_preferred(name, shuffled, 3), p);
	}
}

static void test_preferences_spread_over_the_nodes(void **state)
{
	const uint64_t nodes[] = {1, 2, 3};
	unsigned count[4] = {0};
	char name[128];

	for (int i = 0; i < NAMES; i++) {
		name_of(i, name, sizeof(name));
		count[symbiont_preferred(name, nodes, 3)]++;
	}
	for (int n = 1; n <= 3; n++) {
		/* a third each, give or take 15% */
		assert_true(count[n] > NAMES / 3 * 85 / 100);
		assert_true(count[n] < NAMES / 3 * 115 / 100);
	}
}

static void test_stopping_a_node_moves_only_its_share(void **state)
{
	const uint64_t all[] = {1, 2, 3};
	const uint64_t without2[] = {1, 3};
	char name[128];
	int moved = 0;

	for (int i = 0; i < NAMES; i++) {
		uint64_t before, after;
		name_of(i, name, sizeof(name));
		before = symbiont_preferred(name, all, 3);
		after = symbiont_preferred(name, without2, 2);
		assert_true(after == 1 || after == 3);
		if (before != 2)
			assert_int_equal(after, before);
		else
			moved++;
	}
	assert_true(moved > 0);
}

static void test_no_started_node_prefers_nobody(void **state)
{
	assert_int_equal(symbiont_preferred("x", NULL, 0), 0);
}

static void test_preferred_node_claims_at_once(void **state)
{
	assert_int_equal(symbiont_should_claim(2, 2, 1000, 1000, 30000), 1);
	/* no started node at all: take it */
	assert_int_equal(symbiont_should_claim(2, 0, 1000, 1000, 30000), 1);
}

static void test_other_nodes_wait_for_the_grace_period(void **state)
{
	/* due at 1000, grace 30 s: another node's file */
	assert_int_equal(symbiont_should_claim(2, 1, 1000, 1000, 30000), 0);
	assert_int_equal(symbiont_should_claim(2, 1, 1000, 30999, 30000), 0);
	assert_int_equal(symbiont_should_claim(2, 1, 1000, 31000, 30000), 1);
	assert_int_equal(symbiont_should_claim(2, 1, 1000, 99000, 30000), 1);
	/* a file due in the future (clock skew) is not taken early */
	assert_int_equal(symbiont_should_claim(2, 1, 50000, 1000, 30000), 0);
	/* grace 0: everybody takes every due file */
	assert_int_equal(symbiont_should_claim(2, 1, 1000, 1000, 0), 1);
}

static void test_a_gone_node_is_left_out_of_the_preference(void **state)
{
	struct symbiont_nodes n = {.ids = {1, 2, 3}, .n = 3, .self_started = 1};
	const uint64_t live[] = {1, 3};
	uint64_t gone[4];

	assert_int_equal(symbiont_nodes_keep_live(&n, 1, live, 2, gone, 4), 1);
	assert_int_equal(gone[0], 2);
	assert_int_equal(n.n, 2);
	assert_int_equal(n.ids[0], 1);
	assert_int_equal(n.ids[1], 3);
}

static void test_self_stays_in_the_preference_whatever_the_view(void **state)
{
	struct symbiont_nodes n = {.ids = {1, 2, 3}, .n = 3, .self_started = 1};
	const uint64_t live[] = {3};
	uint64_t gone[4];

	/* the leader does not hear from this node (cut off from it): this
	 * node still takes its own share; CLAIM decides */
	assert_int_equal(symbiont_nodes_keep_live(&n, 2, live, 1, gone, 4), 1);
	assert_int_equal(gone[0], 1);
	assert_int_equal(n.n, 2);
	assert_int_equal(n.ids[0], 2);
	assert_int_equal(n.ids[1], 3);
}

static int never_held(void *arg, const char *name)
{
	(void)arg;
	(void)name;
	return 0;
}

/* What node 1 picks from a spool of files due at T0, at T0 (grace 60 s,
 * so only its preferred ones), with nodes n; frees the names. */
static uint32_t pick_count(struct spool *sp, const struct symbiont_nodes *n,
			   char **picked_out, uint32_t room)
{
	char *due[64];
	uint64_t prev[64];
	struct symbiont_pick_in in = {.sp = sp,
				      .self = 1,
				      .now_ms = T0,
				      .grace_ms = 60000,
				      .nodes = n,
				      .held = never_held};
	int ndue = spool_due_list(sp, T0, due, 64);
	uint32_t k;

	assert_true(ndue > 0);
	k = symbiont_pick(&in, due, ndue, picked_out, prev, room);
	for (int i = 0; i < ndue; i++)
		free(due[i]);
	return k;
}

static void test_a_gone_nodes_share_is_taken_at_once_not_its_claims(void **st)
{
	struct fx f = {.sp = NULL};
	struct symbiont_nodes all = {
	    .ids = {1, 2, 3}, .n = 3, .self_started = 1};
	struct symbiont_nodes kept = all;
	const uint64_t live[] = {1, 3};
	const uint64_t ids[] = {1, 2, 3};
	uint64_t gone[4];
	char name[SPOOL_NAME_MAX + 1], claimed[SPOOL_NAME_MAX + 1] = "";
	char *picked[64];
	uint32_t before, after, of2 = 0;

	(void)st;
	fx_open(&f);
	for (uint32_t i = 1; i <= 30; i++) {
		fx_name(name, sizeof(name), i);
		assert_int_equal(fx_enqueue(f.sp, name, T0, 1), 0);
		if (symbiont_preferred(name, ids, 3) != 2)
			continue;
		of2++;
		if (claimed[0] == 0) /* node 2 holds one under a live lease */
			snprintf(claimed, sizeof(claimed), "%s", name);
	}
	assert_true(of2 > 1);
	assert_int_equal(fx_claim(f.sp, claimed, 2, T0, 7000, NULL), 0);

	before = pick_count(f.sp, &all, picked, 64);
	for (uint32_t i = 0; i < before; i++) {
		assert_int_equal(symbiont_preferred(picked[i], ids, 3), 1);
		free(picked[i]);
	}
	symbiont_nodes_keep_live(&kept, 1, live, 2, gone, 4);
	after = pick_count(f.sp, &kept, picked, 64);
	/* node 1 now also takes part of node 2's share at once (rendezvous:
	 * each of node 2's files goes to 1 or 3), never the claimed one */
	assert_true(after > before);
	for (uint32_t i = 0; i < after; i++) {
		assert_string_not_equal(picked[i], claimed);
		free(picked[i]);
	}
	fx_close(&f);
}

/* half of (lease - margin): the margin is min(2 s, lease / 3) */
static void test_lease_is_renewed_after_half_of_it(void **state)
{
	assert_int_equal(symbiont_should_renew(10000, 120000, 10000), 0);
	assert_int_equal(symbiont_should_renew(10000, 120000, 68999), 0);
	assert_int_equal(symbiont_should_renew(10000, 120000, 69000), 1);
	/* lease 7 s: margin 2 s, RENEW at 2.5 s */
	assert_int_equal(symbiont_should_renew(10000, 7000, 12499), 0);
	assert_int_equal(symbiont_should_renew(10000, 7000, 12500), 1);
	assert_int_equal(symbiont_should_renew(10000, 120000, 200000), 1);
	/* a clock behind the grant never renews early */
	assert_int_equal(symbiont_should_renew(10000, 120000, 5000), 0);
}

static void test_mail_bounces_to_its_sender(void **state)
{
	assert_int_equal(symbiont_bounce_kind(KIND_MAIL, "alice@example.org"),
			 KIND_BOUNCE);
}

static void test_null_sender_mail_goes_to_the_postmaster(void **state)
{
	assert_int_equal(symbiont_bounce_kind(KIND_MAIL, ""), KIND_POSTMASTER);
	assert_int_equal(symbiont_bounce_kind(KIND_MAIL, "<>"),
			 KIND_POSTMASTER);
	assert_int_equal(symbiont_bounce_kind(KIND_MAIL, NULL),
			 KIND_POSTMASTER);
}

static void test_failed_bounce_goes_to_the_postmaster(void **state)
{
	assert_int_equal(symbiont_bounce_kind(KIND_BOUNCE, ""),
			 KIND_POSTMASTER);
}

static void test_failed_postmaster_copy_is_dropped_not_looped(void **state)
{
	assert_int_equal(symbiont_bounce_kind(KIND_POSTMASTER, ""), -1);
	assert_int_equal(symbiont_bounce_kind(KIND_POSTMASTER, "x@y"), -1);
}

/* Which outcomes ask for a report besides a failure (NOTIFY=SUCCESS,
 * NOTIFY=DELAY once past the delay warning time), and which never do. */
static void test_success_and_delay_reports_follow_notify(void **state)
{
	struct spool_rcpt r[1];
	struct spool_rec rec;
	struct deliver_outcome o;
	const uint64_t H = 3600000, T = 1700000000000ull;

	memset(r, 0, sizeof(r));
	memset(&rec, 0, sizeof(rec));
	memset(&o, 0, sizeof(o));
	rec.sender = "alice@example.org";
	rec.kind = KIND_MAIL;
	rec.created_ms = T;
	rec.nrcpt = 1;
	rec.rcpt = r;
	o.rcpt = 0;
	o.outcome = OUT_DELIVERED;
	/* no NOTIFY, or NOTIFY without SUCCESS: nothing for a delivery */
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T), -1);
	r[0].notify = DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY;
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T), -1);
	r[0].notify = DSN_NOTIFY_SUCCESS;
	o.dsn = DELIVER_DSN_LOCAL;
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T),
			 DSN_ACT_DELIVERED);
	o.dsn = DELIVER_DSN_RELAYED;
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T), DSN_ACT_RELAYED);
	/* the next hop took NOTIFY on: its report, not ours */
	o.dsn = DELIVER_DSN_PASSED;
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T), -1);
	/* never to <> nor for a bounce */
	o.dsn = DELIVER_DSN_LOCAL;
	rec.sender = "";
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T), -1);
	rec.sender = "alice@example.org";
	rec.kind = KIND_BOUNCE;
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T), -1);
	rec.kind = KIND_MAIL;

	/* a deferral: a warning with DELAY, once the time has come */
	o.outcome = OUT_DEFERRED;
	r[0].notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE;
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T + 2 * H), -1);
	r[0].notify = DSN_NOTIFY_DELAY;
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T + H - 1), -1);
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T + H),
			 DSN_ACT_DELAYED);
	assert_int_equal(symbiont_rcpt_report(&rec, &o, 0, T + 100 * H), -1);
	r[0].flags = RCPT_F_DELAYED; /* warned already */
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T + 2 * H), -1);
	r[0].flags = 0;
	o.outcome = OUT_FAILED; /* failures are the bounce's, not this */
	assert_int_equal(symbiont_rcpt_report(&rec, &o, H, T + 2 * H), -1);
}

static void test_notify_never_suppresses_the_bounce(void **state)
{
	struct spool_rcpt r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(symbiont_rcpt_wants_bounce(&r), 1); /* default */
	r.notify = DSN_NOTIFY_NEVER;
	assert_int_equal(symbiont_rcpt_wants_bounce(&r), 0);
	r.notify = DSN_NOTIFY_SUCCESS;
	assert_int_equal(symbiont_rcpt_wants_bounce(&r), 0);
	r.notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE;
	assert_int_equal(symbiont_rcpt_wants_bounce(&r), 1);
	r.notify = DSN_NOTIFY_DELAY | DSN_NOTIFY_FAILURE;
	assert_int_equal(symbiont_rcpt_wants_bounce(&r), 1);
}

static void test_postmaster_address_follows_the_seed(void **state)
{
	char b[256];

	symbiont_postmaster("", "", "node1.example.org", b, sizeof(b));
	assert_string_equal(b, "TCPIP$SMTP@node1.example.org");
	symbiont_postmaster("", "cluster.test", "node1.cluster.test", b,
			    sizeof(b));
	assert_string_equal(b, "TCPIP$SMTP@cluster.test");
	symbiont_postmaster("mailadm", "cluster.test", "node1.cluster.test", b,
			    sizeof(b));
	assert_string_equal(b, "mailadm@cluster.test");
	symbiont_postmaster("ops@example.net", "cluster.test",
			    "node1.cluster.test", b, sizeof(b));
	assert_string_equal(b, "ops@example.net");
}

static void test_postmaster_copy_at_node_domain_is_a_bare_user(void **state)
{
	char b[256];

	symbiont_postmaster_rcpt("TCPIP$SMTP@node1.example.org",
				 "node1.example.org", b, sizeof(b));
	assert_string_equal(b, "TCPIP$SMTP");
	symbiont_postmaster_rcpt("TCPIP$SMTP@cluster.test",
				 "node1.cluster.test", b, sizeof(b));
	assert_string_equal(b, "TCPIP$SMTP@cluster.test");
	symbiont_postmaster_rcpt("ops@example.net", "node1.cluster.test", b,
				 sizeof(b));
	assert_string_equal(b, "ops@example.net");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_preferred_node_is_a_member_and_stable),
	    cmocka_unit_test(test_preferences_spread_over_the_nodes),
	    cmocka_unit_test(test_stopping_a_node_moves_only_its_share),
	    cmocka_unit_test(test_no_started_node_prefers_nobody),
	    cmocka_unit_test(test_preferred_node_claims_at_once),
	    cmocka_unit_test(test_other_nodes_wait_for_the_grace_period),
	    cmocka_unit_test(test_a_gone_node_is_left_out_of_the_preference),
	    cmocka_unit_test(
		test_self_stays_in_the_preference_whatever_the_view),
	    cmocka_unit_test(
		test_a_gone_nodes_share_is_taken_at_once_not_its_claims),
	    cmocka_unit_test(test_lease_is_renewed_after_half_of_it),
	    cmocka_unit_test(test_mail_bounces_to_its_sender),
	    cmocka_unit_test(test_null_sender_mail_goes_to_the_postmaster),
	    cmocka_unit_test(test_failed_bounce_goes_to_the_postmaster),
	    cmocka_unit_test(test_failed_postmaster_copy_is_dropped_not_looped),
	    cmocka_unit_test(test_notify_never_suppresses_the_bounce),
	    cmocka_unit_test(test_success_and_delay_reports_follow_notify),
	    cmocka_unit_test(test_postmaster_address_follows_the_seed),
	    cmocka_unit_test(
		test_postmaster_copy_at_node_domain_is_a_bare_user),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
