/*
 * test_config.c — unit tests of spool/codec/config.c: the SET CONFIGURATION SMTP
 * key table (names, VMS spellings, defaults, ranges), lookup by name,
 * defaults and value checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/config.h"
#include "spool/codec/err.h"

#define SEC 1000ull
#define MIN (60ull * SEC)
#define DAY (24ull * 60ull * MIN)
#define KIB 1024ull
#define MIB (1024ull * KIB)

/* One expected row of the table. */
struct want {
	int key;
	const char *name, *vms;
	int kind;
	uint64_t def, min, max;
	int is_time;
};

static const struct want wants[] = {
    {CFG_ADDRESS_RETRIES, "address_retries", "/ADDRESS_RETRIES", CFG_KIND_NUM,
     16, 1, 1000, 0},
    {CFG_GATEWAY_ALTERNATE, "gateway_alternate", "/GATEWAY=ALTERNATE",
     CFG_KIND_STR, 0, 0, 0, 0},
    {CFG_HOP_COUNT_MAXIMUM, "hop_count_maximum", "/HOP_COUNT_MAXIMUM",
     CFG_KIND_NUM, 16, 1, 1000, 0},
    {CFG_INTERVAL_INITIAL, "interval_initial", "/INTERVAL=INITIAL",
     CFG_KIND_NUM, 30 * MIN, SEC, 365 * DAY, 1},
    {CFG_INTERVAL_RETRY, "interval_retry", "/INTERVAL=RETRY", CFG_KIND_NUM,
     60 * MIN, SEC, 365 * DAY, 1},
    {CFG_INTERVAL_MAXIMUM, "interval_maximum", "/INTERVAL=MAXIMUM",
     CFG_KIND_NUM, 3 * DAY, SEC, 365 * DAY, 1},
    {CFG_LOG, "log", "/LOG", CFG_KIND_STR, 0, 0, 0, 0},
    {CFG_OPT_EIGHT_BIT, "opt_eight_bit", "/OPTIONS=EIGHT_BIT", CFG_KIND_NUM, 0,
     0, 1, 0},
    {CFG_OPT_HEADERS, "opt_headers", "/OPTIONS=HEADERS", CFG_KIND_NUM,
     CFG_HEADERS_ALL, 0, 2, 0},
    {CFG_OPT_RELAY, "opt_relay", "/OPTIONS=RELAY", CFG_KIND_NUM, 0, 0, 1, 0},
    {CFG_QUEUES, "queues", "/QUEUES", CFG_KIND_NUM, 20, 1, 64, 0},
    {CFG_RECEIVE_TIMEOUT, "receive_timeout", "/RECEIVE_TIMEOUT", CFG_KIND_NUM,
     5 * MIN, SEC, DAY, 1},
    {CFG_SEND_TIMEOUT_DATA, "send_timeout_data", "/SEND_TIMEOUT=DATA",
     CFG_KIND_NUM, 3 * MIN, SEC, DAY, 1},
    {CFG_SEND_TIMEOUT_INITIAL, "send_timeout_initial", "/SEND_TIMEOUT=INITIAL",
     CFG_KIND_NUM, 5 * MIN, SEC, DAY, 1},
    {CFG_SEND_TIMEOUT_MAIL, "send_timeout_mail", "/SEND_TIMEOUT=MAIL",
     CFG_KIND_NUM, 5 * MIN, SEC, DAY, 1},
    {CFG_SEND_TIMEOUT_RECEIPT, "send_timeout_receipt", "/SEND_TIMEOUT=RECEIPT",
     CFG_KIND_NUM, 5 * MIN, SEC, DAY, 1},
    {CFG_SEND_TIMEOUT_TERMINATION, "send_timeout_termination",
     "/SEND_TIMEOUT=TERMINATION", CFG_KIND_NUM, 10 * MIN, SEC, DAY, 1},
    {CFG_SUBSTITUTE_DOMAIN, "substitute_domain", "/SUBSTITUTE_DOMAIN=NAME",
     CFG_KIND_STR, 0, 0, 0, 0},
    {CFG_ZONE, "zone", "/ZONE", CFG_KIND_STR, 0, 0, 0, 0},
    {CFG_MAX_MESSAGE_SIZE, "max_message_size", "(none)", CFG_KIND_NUM, 10 * MIB,
     KIB, 256 * MIB, 0},
    {CFG_MAX_RECIPIENTS, "max_recipients", "(none)", CFG_KIND_NUM, 100, 1,
     10000, 0},
    {CFG_POSTMASTER_ALIAS, "postmaster_alias", "TCPIP$SMTP_POSTMASTER_ALIAS",
     CFG_KIND_STR, 0, 0, 0, 0},
    {CFG_CLUSTER_DOMAIN, "cluster_domain", "(none)", CFG_KIND_STR, 0, 0, 0, 0},
    {CFG_DELAY_WARNING, "delay_warning", "(none)", CFG_KIND_NUM, 4 * 60 * MIN,
     0, 365 * DAY, 1},
};

#define NWANTS (sizeof(wants) / sizeof(wants[0]))

static void test_table_covers_every_key(void **state)
{
	int seen[CFG__COUNT] = {0};

	assert_int_equal(NWANTS, CFG__COUNT);
	for (size_t i = 0; i < NWANTS; i++)
		seen[wants[i].key]++;
	for (int k = 0; k < CFG__COUNT; k++)
		assert_int_equal(seen[k], 1);
}

static void test_table_matches_vms_reference_defaults(void **state)
{
	for (size_t i = 0; i < NWANTS; i++) {
		const struct spool_cfg_def *d = &spool_cfg_defs[wants[i].key];

		assert_string_equal(d->name, wants[i].name);
		assert_string_equal(d->vms, wants[i].vms);
		assert_int_equal(d->kind, wants[i].kind);
		assert_int_equal(d->is_time, wants[i].is_time);
		if (d->kind == CFG_KIND_NUM) {
			assert_int_equal(d->def_num, wants[i].def);
			assert_int_equal(d->min, wants[i].min);
			assert_int_equal(d->max, wants[i].max);
		} else {
			assert_non_null(d->def_str);
			assert_string_equal(d->def_str, "");
		}
	}
}

static void test_names_are_unique_lower_snake_case(void **state)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		const char *n = spool_cfg_defs[k].name;

		assert_true(strlen(n) > 0);
		for (const char *p = n; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
		for (int j = 0; j < k; j++)
			assert_string_not_equal(n, spool_cfg_defs[j].name);
	}
}

static void test_defaults_lie_within_their_ranges(void **state)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct spool_cfg_def *d = &spool_cfg_defs[k];

		if (d->kind == CFG_KIND_NUM)
			assert_int_equal(spool_cfg_check(k, d->def_num, NULL),
					 0);
		else
			assert_int_equal(spool_cfg_check(k, 0, d->def_str), 0);
	}
}

static void test_lookup_finds_every_key_by_its_name(void **state)
{
	for (int k = 0; k < CFG__COUNT; k++)
		assert_int_equal(spool_cfg_lookup(spool_cfg_defs[k].name), k);
}

static void test_lookup_ignores_case_and_accepts_dashes(void **state)
{
	assert_int_equal(spool_cfg_lookup("INTERVAL_INITIAL"),
			 CFG_INTERVAL_INITIAL);
	assert_int_equal(spool_cfg_lookup("interval-initial"),
			 CFG_INTERVAL_INITIAL);
	assert_int_equal(spool_cfg_lookup("Send-Timeout_Termination"),
			 CFG_SEND_TIMEOUT_TERMINATION);
	assert_int_equal(spool_cfg_lookup("OPT-EIGHT-BIT"), CFG_OPT_EIGHT_BIT);
}

static void test_lookup_refuses_unknown_and_partial_names(void **state)
{
	assert_int_equal(spool_cfg_lookup(NULL), -1);
	assert_int_equal(spool_cfg_lookup(""), -1);
	assert_int_equal(spool_cfg_lookup("address_retrie"), -1);
	assert_int_equal(spool_cfg_lookup("address_retriess"), -1);
	assert_int_equal(spool_cfg_lookup("/ADDRESS_RETRIES"), -1);
	assert_int_equal(spool_cfg_lookup("interval"), -1);
	assert_int_equal(spool_cfg_lookup("interval initial"), -1);
}

static void test_config_defaults_fills_every_key_unset(void **state)
{
	struct spool_config cfg;

	memset(&cfg, 0xAB, sizeof(cfg));
	spool_config_defaults(&cfg);
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct spool_cfg_def *d = &spool_cfg_defs[k];

		assert_int_equal(cfg.is_set[k], 0);
		if (d->kind == CFG_KIND_NUM) {
			assert_int_equal(cfg.num[k], d->def_num);
		} else {
			assert_int_equal(cfg.num[k], 0);
			assert_string_equal(cfg.str[k], d->def_str);
		}
	}
	assert_int_equal(cfg.num[CFG_INTERVAL_MAXIMUM], 259200000ull);
	assert_int_equal(cfg.num[CFG_MAX_MESSAGE_SIZE], 10485760ull);
}

static void test_check_numbers_accepts_bounds_refuses_outside(void **state)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct spool_cfg_def *d = &spool_cfg_defs[k];

		if (d->kind != CFG_KIND_NUM)
			continue;
		assert_int_equal(spool_cfg_check(k, d->min, NULL), 0);
		assert_int_equal(spool_cfg_check(k, d->max, NULL), 0);
		assert_int_equal(spool_cfg_check(k, d->max + 1, NULL),
				 SPOOL_E_INVAL);
		assert_int_equal(spool_cfg_check(k, UINT64_MAX, NULL),
				 SPOOL_E_INVAL);
		if (d->min > 0)
			assert_int_equal(spool_cfg_check(k, d->min - 1, NULL),
					 SPOOL_E_INVAL);
	}
}

static void test_check_specific_limits(void **state)
{
	assert_int_equal(spool_cfg_check(CFG_ADDRESS_RETRIES, 0, NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_QUEUES, 65, NULL), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_OPT_HEADERS, 3, NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(
	    spool_cfg_check(CFG_OPT_HEADERS, CFG_HEADERS_NONE, NULL), 0);
	assert_int_equal(spool_cfg_check(CFG_INTERVAL_RETRY, 999, NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_SEND_TIMEOUT_DATA, DAY + 1, NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_MAX_MESSAGE_SIZE, 1023, NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_MAX_RECIPIENTS, 10001, NULL),
			 SPOOL_E_INVAL);
}

static void test_check_refuses_unknown_key(void **state)
{
	assert_int_equal(spool_cfg_check(-1, 1, NULL), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG__COUNT, 1, NULL), SPOOL_E_INVAL);
}

static void test_check_string_length_limit(void **state)
{
	char s[SPOOL_CFG_STR_MAX + 2];

	memset(s, 'a', sizeof(s));
	s[SPOOL_CFG_STR_MAX] = '\0';
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, s), 0);
	s[SPOOL_CFG_STR_MAX] = 'a';
	s[SPOOL_CFG_STR_MAX + 1] = '\0';
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, s), SPOOL_E_INVAL);
}

static void test_check_string_refuses_spaces_and_non_printables(void **state)
{
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, "/var/log/smtp.log"), 0);
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, "/var/log/a b"),
			 SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, "a\tb"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, "a\nb"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, "a\x7f"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, "caf\xc3\xa9"),
			 SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_POSTMASTER_ALIAS, 0, "SYSTEM"), 0);
	assert_int_equal(
	    spool_cfg_check(CFG_POSTMASTER_ALIAS, 0, "postmaster@a.example"),
	    0);
}

static void test_check_empty_string_means_none(void **state)
{
	for (int k = 0; k < CFG__COUNT; k++)
		if (spool_cfg_defs[k].kind == CFG_KIND_STR)
			assert_int_equal(spool_cfg_check(k, 0, ""), 0);
}

static void test_check_null_string_refused(void **state)
{
	assert_int_equal(spool_cfg_check(CFG_ZONE, 0, NULL), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, NULL), SPOOL_E_INVAL);
}

static void test_check_domain_keys_need_valid_domains(void **state)
{
	static const int keys[] = {CFG_ZONE, CFG_SUBSTITUTE_DOMAIN,
				   CFG_CLUSTER_DOMAIN, CFG_GATEWAY_ALTERNATE};
	char lab63[64], lab64[65], long254[256];

	memset(lab63, 'a', 63);
	lab63[63] = '\0';
	memset(lab64, 'a', 64);
	lab64[64] = '\0';
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	memset(long254, 'b', sizeof(long254));
	long254[63] = long254[127] = long254[191] = '.';
	long254[253] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int k = keys[i];

		assert_int_equal(spool_cfg_check(k, 0, "example.com"), 0);
		assert_int_equal(spool_cfg_check(k, 0, "Mail-1.Example.COM"),
				 0);
		assert_int_equal(spool_cfg_check(k, 0, "localhost"), 0);
		assert_int_equal(spool_cfg_check(k, 0, lab63), 0);
		assert_int_equal(spool_cfg_check(k, 0, long254), 0);
		assert_int_equal(spool_cfg_check(k, 0, lab64), SPOOL_E_INVAL);
		assert_int_equal(spool_cfg_check(k, 0, "a..b"), SPOOL_E_INVAL);
		assert_int_equal(spool_cfg_check(k, 0, ".a.b"), SPOOL_E_INVAL);
		assert_int_equal(spool_cfg_check(k, 0, "a.b."), SPOOL_E_INVAL);
		assert_int_equal(spool_cfg_check(k, 0, "-a.b"), SPOOL_E_INVAL);
		assert_int_equal(spool_cfg_check(k, 0, "a-.b"), SPOOL_E_INVAL);
		assert_int_equal(spool_cfg_check(k, 0, "a_b.com"),
				 SPOOL_E_INVAL);
		assert_int_equal(spool_cfg_check(k, 0, "user@a.com"),
				 SPOOL_E_INVAL);
	}
	/* 254 characters: one over the DNS limit. */
	long254[253] = 'b';
	long254[254] = '\0';
	assert_int_equal(spool_cfg_check(CFG_ZONE, 0, long254), SPOOL_E_INVAL);
}

static void test_check_log_is_not_a_domain(void **state)
{
	assert_int_equal(spool_cfg_check(CFG_LOG, 0, "a..b_c"), 0);
}

static void test_check_gateway_accepts_ip_literals(void **state)
{
	int k = CFG_GATEWAY_ALTERNATE;

	assert_int_equal(spool_cfg_check(k, 0, "192.0.2.1"), 0);
	assert_int_equal(spool_cfg_check(k, 0, "255.255.255.255"), 0);
	assert_int_equal(spool_cfg_check(k, 0, "[192.0.2.1]"), 0);
	assert_int_equal(spool_cfg_check(k, 0, "[2001:db8::1]"), 0);
	assert_int_equal(spool_cfg_check(k, 0, "[IPv6:2001:db8::1]"), 0);
	assert_int_equal(spool_cfg_check(k, 0, "[::1]"), 0);
}

static void test_check_gateway_refuses_bad_ip_literals(void **state)
{
	int k = CFG_GATEWAY_ALTERNATE;

	assert_int_equal(spool_cfg_check(k, 0, "256.0.2.1"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(k, 0, "1.2.3"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(k, 0, "1.2.3.4.5"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(k, 0, "1.2.3.0004"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(k, 0, "1..3.4"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(k, 0, "2001:db8::1"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(k, 0, "[2001:db8::g]"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(k, 0, "[300.1.1.1]"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(k, 0, "[]"), SPOOL_E_INVAL);
	assert_int_equal(spool_cfg_check(k, 0, "[192.0.2.1"), SPOOL_E_INVAL);
	/* "." is /ZONE without a value; only the zone takes it. */
	assert_int_equal(spool_cfg_check(CFG_ZONE, 0, "."), 0);
	assert_int_equal(spool_cfg_check(CFG_CLUSTER_DOMAIN, 0, "."),
			 SPOOL_E_INVAL);
	/* Only the gateway takes address literals. */
	assert_int_equal(spool_cfg_check(CFG_ZONE, 0, "[192.0.2.1]"),
			 SPOOL_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_covers_every_key),
	    cmocka_unit_test(test_table_matches_vms_reference_defaults),
	    cmocka_unit_test(test_names_are_unique_lower_snake_case),
	    cmocka_unit_test(test_defaults_lie_within_their_ranges),
	    cmocka_unit_test(test_lookup_finds_every_key_by_its_name),
	    cmocka_unit_test(test_lookup_ignores_case_and_accepts_dashes),
	    cmocka_unit_test(test_lookup_refuses_unknown_and_partial_names),
	    cmocka_unit_test(test_config_defaults_fills_every_key_unset),
	    cmocka_unit_test(test_check_numbers_accepts_bounds_refuses_outside),
	    cmocka_unit_test(test_check_specific_limits),
	    cmocka_unit_test(test_check_refuses_unknown_key),
	    cmocka_unit_test(test_check_string_length_limit),
	    cmocka_unit_test(
		test_check_string_refuses_spaces_and_non_printables),
	    cmocka_unit_test(test_check_empty_string_means_none),
	    cmocka_unit_test(test_check_null_string_refused),
	    cmocka_unit_test(test_check_domain_keys_need_valid_domains),
	    cmocka_unit_test(test_check_log_is_not_a_domain),
	    cmocka_unit_test(test_check_gateway_accepts_ip_literals),
	    cmocka_unit_test(test_check_gateway_refuses_bad_ip_literals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
