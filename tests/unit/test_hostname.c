/*
 * test_hostname.c — the one rule set for domains, address literals and IP
 * addresses (spool/codec/hostname.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/hostname.h"

#define DOM(s) hostname_domain_ok(s, strlen(s), HOSTNAME_DNS_MAX)
#define LIT(s, f) hostname_literal_ok(s, strlen(s), f)

static void test_ldh_domains_are_accepted(void **state)
{
	(void)state;
	assert_true(DOM("a"));
	assert_true(DOM("example.com"));
	assert_true(DOM("a-b.c-d.e"));
	assert_true(DOM("123.example"));
}

static void test_bad_domains_name_their_first_problem(void **state)
{
	size_t at = 99;

	(void)state;
	assert_int_equal(hostname_domain_check("", 0, 253, NULL),
			 HOSTNAME_P_EMPTY);
	assert_int_equal(hostname_domain_check("a..b", 4, 253, NULL),
			 HOSTNAME_P_EMPTY_LABEL);
	assert_int_equal(hostname_domain_check("a.", 2, 253, NULL),
			 HOSTNAME_P_EMPTY_LABEL);
	assert_int_equal(hostname_domain_check("-a", 2, 253, NULL),
			 HOSTNAME_P_HYPHEN);
	assert_int_equal(hostname_domain_check("a-.b", 4, 253, NULL),
			 HOSTNAME_P_HYPHEN);
	assert_int_equal(hostname_domain_check("a_b", 3, 253, &at),
			 HOSTNAME_P_CHAR);
	assert_int_equal(at, 1);
	assert_int_equal(hostname_domain_check("abcd", 4, 3, NULL),
			 HOSTNAME_P_TOO_LONG);
}

static void test_labels_and_names_have_limits(void **state)
{
	char s[300];

	(void)state;
	memset(s, 'a', 63);
	s[63] = '\0';
	assert_true(DOM(s));
	memset(s, 'a', 64);
	s[64] = '\0';
	assert_int_equal(hostname_domain_check(s, 64, 253, NULL),
			 HOSTNAME_P_LABEL_LONG);
	for (int i = 0; i < 254; i++)
		s[i] = i % 2 ? '.' : 'a';
	s[253] = '\0'; /* "a.a. ... a", 253 characters */
	assert_true(DOM(s));
	assert_false(hostname_domain_ok(s, 253, 252));
	assert_true(hostname_domain_ok(s, 253, 255));
}

static void test_ipv4_canonical_or_with_leading_zeros(void **state)
{
	(void)state;
	assert_true(hostname_ipv4_ok("1.2.3.4", 7, 0));
	assert_true(hostname_ipv4_ok("0.0.0.0", 7, 0));
	assert_false(hostname_ipv4_ok("01.2.3.4", 8, 0));
	assert_true(hostname_ipv4_ok("01.2.3.4", 8, HOSTNAME_V4_LEADING_ZERO));
	assert_false(hostname_ipv4_ok("1.2.3", 5, HOSTNAME_V4_LEADING_ZERO));
	assert_false(
	    hostname_ipv4_ok("1.2.3.256", 9, HOSTNAME_V4_LEADING_ZERO));
	assert_false(hostname_ipv4_ok("1.2.3.4.", 8, HOSTNAME_V4_LEADING_ZERO));
	assert_false(
	    hostname_ipv4_ok("1.2.3.0004", 10, HOSTNAME_V4_LEADING_ZERO));
}

static void test_ip_addresses(void **state)
{
	(void)state;
	assert_true(hostname_ip_ok("192.0.2.1"));
	assert_true(hostname_ip_ok("2001:db8::1"));
	assert_false(hostname_ip_ok("example.com"));
	assert_false(hostname_ip_ok(""));
}

static void test_address_literals_want_the_ipv6_tag(void **state)
{
	(void)state;
	assert_true(LIT("[192.0.2.1]", 0));
	assert_true(LIT("[IPv6:2001:db8::1]", 0));
	assert_true(LIT("[ipv6:::1]", 0));
	assert_false(LIT("[::1]", 0));
	assert_true(LIT("[::1]", HOSTNAME_V6_UNTAGGED));
	assert_false(LIT("[IPv6:1.2.3.4]", HOSTNAME_V6_UNTAGGED));
	assert_false(LIT("[010.0.0.1]", 0));
	assert_true(LIT("[010.0.0.1]", HOSTNAME_V4_LEADING_ZERO));
	assert_false(LIT("192.0.2.1", 0));
	assert_false(LIT("[]", 0));
	assert_false(LIT("[192.0.2.1", 0));
}

static void test_loose_rules_of_configured_addresses(void **state)
{
	(void)state;
	assert_true(hostname_loose_ok("node_1", 6));
	assert_true(hostname_loose_ok("a..b", 4));
	assert_false(hostname_loose_ok("a b", 3));
	assert_false(hostname_loose_ok("", 0));
	assert_true(hostname_loose6_ok("2001:db8::1", 11));
	assert_true(hostname_loose6_ok("::ffff:1.2.3.4", 14));
	assert_false(hostname_loose6_ok("::g", 3));
	assert_false(hostname_loose6_ok("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ldh_domains_are_accepted),
	    cmocka_unit_test(test_bad_domains_name_their_first_problem),
	    cmocka_unit_test(test_labels_and_names_have_limits),
	    cmocka_unit_test(test_ipv4_canonical_or_with_leading_zeros),
	    cmocka_unit_test(test_ip_addresses),
	    cmocka_unit_test(test_address_literals_want_the_ipv6_tag),
	    cmocka_unit_test(test_loose_rules_of_configured_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
