/*
 * test_smtp_policy.c — unit tests of src/smtpd/smtp_policy.c: which recipients are local,
 * which may be relayed, the open-relay battery (classic tricks from an
 * untrusted client, parsed exactly as the session parses them: none may be
 * relayed), failed alias lookups, and the trusted-network matcher.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "src/smtpd/smtp_policy.h"
#include "src/smtpd/smtp_parse.h"

#define LOCAL_DOMAIN "node1.cluster.test"

static int alias_fails;

/* The cluster-wide alias table of the tests: one alias. */
static int fake_alias_has(void *arg, const char *domain)
{
	if (alias_fails)
		return -14;
	return strcmp(domain, "alias.test") == 0;
}

static struct smtp_policy policy(int policy_allowed)
{
	struct smtp_policy p = {LOCAL_DOMAIN, "cluster.test", policy_allowed,
				fake_alias_has, NULL};
	return p;
}

enum { PARSE_ERROR = 100 };

/* Verdict for "RCPT TO:<path>" as the session computes it. */
static int verdict(const char *path, int policy_allowed)
{
	struct smtp_policy p = policy(policy_allowed);
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;
	char args[600];

	snprintf(args, sizeof(args), "TO:%s", path);
	if (smtp_parse_rcpt(args, &mb, &rp) != 0)
		return PARSE_ERROR;
	return policy_check(&p, &mb);
}

static void test_local_domains_are_accepted(void **state)
{
	assert_int_equal(verdict("<user@node1.cluster.test>", 0), POLICY_LOCAL);
	assert_int_equal(verdict("<user@cluster.test>", 0), POLICY_LOCAL);
	assert_int_equal(verdict("<user@alias.test>", 0), POLICY_LOCAL);
	assert_int_equal(verdict("<postmaster>", 0), POLICY_LOCAL);
}

static void test_local_domains_ignore_case_and_one_trailing_dot(void **state)
{
	assert_int_equal(verdict("<user@NODE1.Cluster.TEST>", 0), POLICY_LOCAL);
	assert_int_equal(verdict("<user@node1.cluster.test.>", 0),
			 POLICY_LOCAL);
	assert_int_equal(verdict("<user@ALIAS.test.>", 0), POLICY_LOCAL);
}

static void test_remote_domain_is_denied_without_relay(void **state)
{
	assert_int_equal(verdict("<user@other.test>", 0), POLICY_DENIED);
}

static void test_remote_domain_is_relayed_when_allowed(void **state)
{
	assert_int_equal(verdict("<user@other.test>", 1), POLICY_RELAY);
	assert_int_equal(verdict("<user@[192.0.2.1]>", 1), POLICY_RELAY);
	assert_int_equal(verdict("<user%other.test@node1.cluster.test>", 1),
			 POLICY_LOCAL);
}

static void test_open_relay_battery_from_an_untrusted_client(void **state)
{
	static const struct {
		const char *path;
		int want;
	} tricks[] = {
	    /* percent hack */
	    {"<user%other.test@node1.cluster.test>", POLICY_DENIED},
	    {"<\"user%other.test\"@node1.cluster.test>", POLICY_DENIED},
	    /* source routes: the final mailbox decides */
	    {"<@node1.cluster.test:user@other.test>", POLICY_DENIED},
	    {"<@node1.cluster.test,@cluster.test:user@other.test>",
	     POLICY_DENIED},
	    /* quoted local part hiding an address */
	    {"<\"user@other.test\"@node1.cluster.test>", POLICY_DENIED},
	    {"<\"user@other.test\">", PARSE_ERROR},
	    /* two @ */
	    {"<user@other.test@node1.cluster.test>", PARSE_ERROR},
	    {"<user\\@other.test@node1.cluster.test>", PARSE_ERROR},
	    /* bang paths */
	    {"<other.test!user@node1.cluster.test>", POLICY_DENIED},
	    {"<other.test!user>", PARSE_ERROR},
	    /* trailing dots */
	    {"<user@other.test.>", POLICY_DENIED},
	    {"<user@node1.cluster.test..>", PARSE_ERROR},
	    /* address literals: never local */
	    {"<user@[192.0.2.1]>", POLICY_DENIED},
	    {"<user@[127.0.0.1]>", POLICY_DENIED},
	    {"<user@[IPv6:::1]>", POLICY_DENIED},
	    /* case games */
	    {"<user@OTHER.test>", POLICY_DENIED},
	    /* look-alike domains */
	    {"<user@other.node1.cluster.test>", POLICY_DENIED},
	    {"<user@xnode1.cluster.test>", POLICY_DENIED},
	    {"<user@node1.cluster.test.other.test>", POLICY_DENIED},
	    {"<user@notcluster.test>", POLICY_DENIED},
	    /* empty or missing domain */
	    {"<user@>", PARSE_ERROR},
	    {"<user>", PARSE_ERROR},
	    /* postmaster with a route is no bare postmaster */
	    {"<@other.test:postmaster>", PARSE_ERROR},
	    /* spaces and junk around the path */
	    {"<user@other.test >", PARSE_ERROR},
	    {"<user@other.test>>", PARSE_ERROR},
	};
	size_t n = sizeof(tricks) / sizeof(tricks[0]);

	assert_true(n >= 10);
	for (size_t i = 0; i < n; i++) {
		int got = verdict(tricks[i].path, 0);

		if (got != tricks[i].want)
			fail_msg("%s: got %d, want %d", tricks[i].path, got,
				 tricks[i].want);
		if (got == POLICY_RELAY)
			fail_msg("%s was relayed", tricks[i].path);
	}
}

static void test_failed_alias_lookup_is_a_temporary_failure(void **state)
{
	alias_fails = 1;
	assert_int_equal(verdict("<user@maybe-alias.test>", 0),
			 POLICY_TEMPFAIL);
	/* the node and cluster domains need no lookup */
	assert_int_equal(verdict("<user@node1.cluster.test>", 0), POLICY_LOCAL);
	alias_fails = 0;
}

static void test_no_alias_callback_means_no_aliases(void **state)
{
	struct smtp_policy p = policy(0);
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	p.alias_has = NULL;
	assert_int_equal(smtp_parse_rcpt("TO:<u@alias.test>", &mb, &rp), 0);
	assert_int_equal(policy_check(&p, &mb), POLICY_DENIED);
}

static void test_empty_configured_domains_match_nothing(void **state)
{
	struct smtp_policy p = {"", "", 0, NULL, NULL};

	assert_int_equal(policy_domain_local(&p, "x.test"), 0);
	assert_false(policy_domain_eq("", ""));
	assert_false(policy_domain_eq(".", "."));
	assert_true(policy_domain_eq("A.b.", "a.B"));
}

static void test_cidr_parse(void **state)
{
	struct policy_net n;

	assert_int_equal(policy_net_parse("127.0.0.1/32", &n), 0);
	assert_int_equal(n.bits, 32);
	assert_int_equal(policy_net_parse("10.0.0.0/8", &n), 0);
	assert_int_equal(policy_net_parse("::1/128", &n), 0);
	assert_int_equal(policy_net_parse("192.0.2.7", &n), 0);
	assert_int_equal(n.bits, 32);
	assert_int_equal(policy_net_parse("10.0.0.0/33", &n), -1);
	assert_int_equal(policy_net_parse("::/129", &n), -1);
	assert_int_equal(policy_net_parse("10.0.0.0/", &n), -1);
	assert_int_equal(policy_net_parse("/8", &n), -1);
	assert_int_equal(policy_net_parse("10.0.0.0/8x", &n), -1);
	assert_int_equal(policy_net_parse("10.0.0.0/-1", &n), -1);
	assert_int_equal(policy_net_parse("example.test", &n), -1);
}

static void test_cidr_match(void **state)
{
	struct policy_net nets[3];

	assert_int_equal(policy_net_parse("127.0.0.1/32", &nets[0]), 0);
	assert_int_equal(policy_net_parse("10.1.0.0/15", &nets[1]), 0);
	assert_int_equal(policy_net_parse("2001:db8::/32", &nets[2]), 0);
	assert_true(policy_net_match(nets, 3, "127.0.0.1"));
	assert_false(policy_net_match(nets, 3, "127.0.0.2"));
	assert_true(policy_net_match(nets, 3, "10.0.255.255"));
	assert_true(policy_net_match(nets, 3, "10.1.2.3"));
	assert_false(policy_net_match(nets, 3, "10.2.0.0"));
	assert_true(policy_net_match(nets, 3, "::ffff:10.1.2.3"));
	assert_true(policy_net_match(nets, 3, "2001:db8:1::5"));
	assert_false(policy_net_match(nets, 3, "2001:db9::5"));
	assert_false(policy_net_match(nets, 3, "not-an-address"));
	assert_false(policy_net_match(nets, 0, "127.0.0.1"));
}

static void test_cidr_zero_bits_matches_the_whole_family(void **state)
{
	struct policy_net n;

	assert_int_equal(policy_net_parse("0.0.0.0/0", &n), 0);
	assert_true(policy_net_match(&n, 1, "203.0.113.9"));
	assert_false(policy_net_match(&n, 1, "2001:db8::1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_local_domains_are_accepted),
	    cmocka_unit_test(
		test_local_domains_ignore_case_and_one_trailing_dot),
	    cmocka_unit_test(test_remote_domain_is_denied_without_relay),
	    cmocka_unit_test(test_remote_domain_is_relayed_when_allowed),
	    cmocka_unit_test(test_open_relay_battery_from_an_untrusted_client),
	    cmocka_unit_test(test_failed_alias_lookup_is_a_temporary_failure),
	    cmocka_unit_test(test_no_alias_callback_means_no_aliases),
	    cmocka_unit_test(test_empty_configured_domains_match_nothing),
	    cmocka_unit_test(test_cidr_parse),
	    cmocka_unit_test(test_cidr_match),
	    cmocka_unit_test(test_cidr_zero_bits_matches_the_whole_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
