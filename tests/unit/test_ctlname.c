/*
 * test_ctlname.c — unit tests of spool/codec/ctlname.c: making and parsing
 * control-file names yymmddhhmmsscc_user-name_seq.TCPIP_scnode, the UTC
 * conversion (checked against gmtime_r), date limits and round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "spool/codec/ctlname.h"
#include "spool/codec/err.h"

#define MS_2000 946684800000ull
#define MS_2100 4102444800000ull

/* Deterministic generator for the bounded random round trips. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Fill s with n random characters from set. */
static void rand_str(char *s, size_t n, const char *set)
{
	size_t k = strlen(set);

	for (size_t i = 0; i < n; i++)
		s[i] = set[rng() % k];
	s[n] = '\0';
}

static void test_make_known_time(void **state)
{
	char buf[256];

	/* 2024-02-29T13:45:07.890Z */
	assert_int_equal(ctlname_make(buf, sizeof(buf), 1709214307890ull,
				      "TCPIP$SMTP", 0x1a2bu, "node1"),
			 0);
	assert_string_equal(buf,
			    "24022913450789_TCPIP$SMTP_00001a2b.TCPIP_node1");
}

static void test_make_first_and_last_instant_of_the_century(void **state)
{
	char buf[256];

	assert_int_equal(
	    ctlname_make(buf, sizeof(buf), MS_2000, "SYSTEM", 0, "n"), 0);
	assert_string_equal(buf, "00010100000000_SYSTEM_00000000.TCPIP_n");
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2100 - 1, "SYSTEM",
				      0xffffffffu, "n"),
			 0);
	assert_string_equal(buf, "99123123595999_SYSTEM_ffffffff.TCPIP_n");
}

static void test_make_refuses_times_outside_2000_to_2099(void **state)
{
	char buf[256];

	assert_int_equal(
	    ctlname_make(buf, sizeof(buf), MS_2000 - 1, "u", 1, "n"),
	    SPOOL_E_INVAL);
	assert_string_equal(buf, "");
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2100, "u", 1, "n"),
			 SPOOL_E_INVAL);
	assert_int_equal(ctlname_make(buf, sizeof(buf), 0, "u", 1, "n"),
			 SPOOL_E_INVAL);
	assert_int_equal(
	    ctlname_make(buf, sizeof(buf), UINT64_MAX, "u", 1, "n"),
	    SPOOL_E_INVAL);
}

static void test_make_truncates_to_hundredths(void **state)
{
	char buf[256];

	assert_int_equal(
	    ctlname_make(buf, sizeof(buf), MS_2000 + 999, "u", 1, "n"), 0);
	assert_memory_equal(buf, "00010100000099_", 15);
	assert_int_equal(
	    ctlname_make(buf, sizeof(buf), MS_2000 + 9, "u", 1, "n"), 0);
	assert_memory_equal(buf, "00010100000000_", 15);
}

static void test_make_leap_days(void **state)
{
	char buf[256];

	/* 2000-02-29T23:59:59.999Z: 2000 is a leap year (divisible by 400) */
	assert_int_equal(
	    ctlname_make(buf, sizeof(buf), 951868799999ull, "u", 1, "n"), 0);
	assert_memory_equal(buf, "00022923595999", 14);
	/* one millisecond later is March 1st */
	assert_int_equal(
	    ctlname_make(buf, sizeof(buf), 951868800000ull, "u", 1, "n"), 0);
	assert_memory_equal(buf, "00030100000000", 14);
	/* 2096-02-29T00:00:00Z */
	assert_int_equal(
	    ctlname_make(buf, sizeof(buf), 3981312000000ull, "u", 1, "n"), 0);
	assert_memory_equal(buf, "96022900000000", 14);
	/* 2001 is not a leap year: Feb 28 + 1 day is March 1st */
	assert_int_equal(
	    ctlname_make(buf, sizeof(buf), 983404800000ull - 1, "u", 1, "n"),
	    0);
	assert_memory_equal(buf, "01022823595999", 14);
}

static void test_make_refuses_bad_user_or_node(void **state)
{
	char buf[256], u65[66];

	memset(u65, 'u', 65);
	u65[65] = '\0';
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2000, "", 1, "n"),
			 SPOOL_E_BADNAME);
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2000, NULL, 1, "n"),
			 SPOOL_E_BADNAME);
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2000, "a b", 1, "n"),
			 SPOOL_E_BADNAME);
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2000, "a/b", 1, "n"),
			 SPOOL_E_BADNAME);
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2000, u65, 1, "n"),
			 SPOOL_E_BADNAME);
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2000, "u", 1, ""),
			 SPOOL_E_BADNAME);
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2000, "u", 1, "a.b"),
			 SPOOL_E_BADNAME);
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2000, "u", 1, "a$b"),
			 SPOOL_E_BADNAME);
	assert_int_equal(ctlname_make(buf, sizeof(buf), MS_2000, "u", 1, u65),
			 SPOOL_E_BADNAME);
}

static void test_user_and_node_limits_at_64_and_65(void **state)
{
	char s[66];

	memset(s, 'a', 65);
	s[64] = '\0';
	assert_true(ctlname_user_ok(s));
	assert_true(ctlname_node_ok(s));
	s[64] = 'a';
	s[65] = '\0';
	assert_false(ctlname_user_ok(s));
	assert_false(ctlname_node_ok(s));
}

static void test_user_and_node_character_sets(void **state)
{
	assert_true(ctlname_user_ok("TCPIP$SMTP"));
	assert_true(ctlname_user_ok("MAIL$SERVER"));
	assert_true(ctlname_user_ok("john.doe_x-1"));
	assert_false(ctlname_user_ok("a@b"));
	assert_false(ctlname_user_ok("a\xc3\xa9"));
	assert_false(ctlname_user_ok(NULL));
	assert_false(ctlname_user_ok(""));
	assert_true(ctlname_node_ok("node_1-B"));
	assert_false(ctlname_node_ok("node.1"));
	assert_false(ctlname_node_ok("node$1"));
	assert_false(ctlname_node_ok(NULL));
	assert_false(ctlname_node_ok(""));
}

static void test_make_reports_limit_for_small_buffer(void **state)
{
	const char *want = "00010100000000_u_00000001.TCPIP_n";
	size_t need = strlen(want) + 1;
	char buf[64];

	assert_int_equal(ctlname_make(buf, need, MS_2000, "u", 1, "n"), 0);
	assert_string_equal(buf, want);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(ctlname_make(buf, need - 1, MS_2000, "u", 1, "n"),
			 SPOOL_E_LIMIT);
	assert_string_equal(buf, "");
	assert_int_equal(buf[need - 1], 'x'); /* nothing written past size */
	assert_int_equal(ctlname_make(NULL, 0, MS_2000, "u", 1, "n"),
			 SPOOL_E_LIMIT);
}

static void test_parse_known_name(void **state)
{
	struct ctlname c;

	assert_int_equal(
	    ctlname_parse("24022913450789_TCPIP$SMTP_00001a2b.TCPIP_node1", &c),
	    0);
	assert_int_equal(c.year, 2024);
	assert_int_equal(c.month, 2);
	assert_int_equal(c.day, 29);
	assert_int_equal(c.hour, 13);
	assert_int_equal(c.min, 45);
	assert_int_equal(c.sec, 7);
	assert_int_equal(c.centi, 89);
	assert_string_equal(c.user, "TCPIP$SMTP");
	assert_int_equal(c.seq, 0x1a2b);
	assert_string_equal(c.node, "node1");
}

static void test_parse_user_with_underscores_dots_and_tag(void **state)
{
	struct ctlname c;

	assert_int_equal(ctlname_parse("00010100000000_a_b.c__d_0000000f."
				       "TCPIP_node_x-1",
				       &c),
			 0);
	assert_string_equal(c.user, "a_b.c__d");
	assert_int_equal(c.seq, 15);
	assert_string_equal(c.node, "node_x-1");
	/* a user-name may even contain ".TCPIP_": parsing is from the right */
	assert_int_equal(ctlname_parse("00010100000000_x.TCPIP_y_00000001."
				       "TCPIP_n",
				       &c),
			 0);
	assert_string_equal(c.user, "x.TCPIP_y");
	assert_string_equal(c.node, "n");
	/* a user-name that looks like a seq */
	assert_int_equal(ctlname_parse("00010100000000_12345678_00000002."
				       "TCPIP_n",
				       &c),
			 0);
	assert_string_equal(c.user, "12345678");
	assert_int_equal(c.seq, 2);
}

static void test_parse_accepts_null_out(void **state)
{
	assert_int_equal(
	    ctlname_parse("00010100000000_u_00000001.TCPIP_n", NULL), 0);
	assert_int_equal(ctlname_parse("garbage", NULL), SPOOL_E_BADNAME);
}

static void test_parse_leaves_out_untouched_on_error(void **state)
{
	struct ctlname c;

	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(ctlname_parse("00013100000000_u_00000001.TCPIP_n", &c),
			 0);
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(ctlname_parse("00023000000000_u_00000001.TCPIP_n", &c),
			 SPOOL_E_BADNAME);
	assert_int_equal(c.year, 0x5a5a5a5a);
}

/* Expect stamp (14 digits) in an otherwise valid name to parse or not. */
static void expect_stamp(const char *stamp, int ok)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_u_00000001.TCPIP_n", stamp);
	assert_int_equal(ctlname_parse(name, NULL), ok ? 0 : SPOOL_E_BADNAME);
}

static void test_parse_checks_dates_and_leap_years(void **state)
{
	expect_stamp("00022900000000", 1); /* 2000: leap (400) */
	expect_stamp("00023000000000", 0);
	expect_stamp("01022900000000", 0); /* 2001: not leap */
	expect_stamp("01022800000000", 1);
	expect_stamp("04022900000000", 1); /* 2004: leap */
	expect_stamp("96022900000000", 1); /* 2096: leap */
	expect_stamp("99022900000000", 0); /* 2099: not leap */
	expect_stamp("99123123595999", 1);
	expect_stamp("00010100000000", 1);
	expect_stamp("00000100000000", 0); /* month 0 */
	expect_stamp("00130100000000", 0); /* month 13 */
	expect_stamp("00010000000000", 0); /* day 0 */
	expect_stamp("00013100000000", 1);
	expect_stamp("00013200000000", 0); /* day 32 */
	expect_stamp("00043100000000", 0); /* April 31 */
	expect_stamp("00043000000000", 1);
	expect_stamp("00010123000000", 1);
	expect_stamp("00010124000000", 0); /* hour 24 */
	expect_stamp("00010100590000", 1);
	expect_stamp("00010100600000", 0); /* minute 60 */
	expect_stamp("00010100005900", 1);
	expect_stamp("00010100006000", 0); /* second 60: no leap seconds */
	expect_stamp("0001010000000a", 0);
	expect_stamp("0001010000000 ", 0);
	expect_stamp("-0010100000000", 0);
}

static void test_parse_refuses_malformed_names(void **state)
{
	static const char *const bad[] = {
	    "",
	    "00010100000000",
	    "00010100000000_u_00000001",
	    "00010100000000_u_00000001.tcpip_n",   /* tag is upper case */
	    "00010100000000_u_00000001.TCPIP_",	   /* empty node */
	    "00010100000000_u_00000001.TCPIP-n",   /* no '_' in tag */
	    "00010100000000_u_00000001.TCPIP_n.x", /* '.' after the tag */
	    "00010100000000_u_00000001.TCPIP_n$",  /* bad node char */
	    "00010100000000_u_0000001.TCPIP_n",	   /* 7 hex digits */
	    "00010100000000_u_000000001.TCPIP_n",  /* 9 hex digits */
	    "00010100000000_u_0000000A.TCPIP_n",   /* upper-case hex */
	    "00010100000000_u_0000000g.TCPIP_n",
	    "00010100000000__00000001.TCPIP_n", /* empty user */
	    "00010100000000_u@x_00000001.TCPIP_n",
	    "00010100000000_u x_00000001.TCPIP_n",
	    "00010100000000u_00000001.TCPIP_n", /* no '_' after stamp */
	    "00010100000000_u00000001.TCPIP_n", /* no '_' before seq */
	    "0001010000000_u_00000001.TCPIP_n", /* 13-digit stamp */
	    "_u_00000001.TCPIP_n",
	    ".TCPIP_n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ctlname_parse(bad[i], NULL) != SPOOL_E_BADNAME)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(ctlname_parse(NULL, NULL), SPOOL_E_BADNAME);
}

static void test_parse_user_and_node_length_limits(void **state)
{
	char name[300], s64[65], s65[66];

	memset(s64, 'a', 64);
	s64[64] = '\0';
	memset(s65, 'a', 65);
	s65[65] = '\0';
	snprintf(name, sizeof(name), "00010100000000_%s_00000001.TCPIP_%s", s64,
		 s64);
	assert_int_equal(ctlname_parse(name, NULL), 0);
	snprintf(name, sizeof(name), "00010100000000_%s_00000001.TCPIP_n", s65);
	assert_int_equal(ctlname_parse(name, NULL), SPOOL_E_BADNAME);
	snprintf(name, sizeof(name), "00010100000000_u_00000001.TCPIP_%s", s65);
	assert_int_equal(ctlname_parse(name, NULL), SPOOL_E_BADNAME);
}

static void test_parse_refuses_names_over_255_bytes(void **state)
{
	char name[400];

	memset(name, 'a', sizeof(name));
	memcpy(name, "00010100000000_u_00000001.TCPIP_", 32);
	name[256] = '\0';
	assert_int_equal(ctlname_parse(name, NULL), SPOOL_E_BADNAME);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(ctlname_parse(name, NULL), SPOOL_E_BADNAME);
}

static void test_make_matches_gmtime_and_round_trips(void **state)
{
	static const char uset[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789$._-";
	static const char nset[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-";

	rng_state = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 20000; i++) {
		uint64_t ms = MS_2000 + rng() % (MS_2100 - MS_2000);
		uint32_t seq = (uint32_t)rng();
		char user[CTLNAME_USER_MAX + 1], node[CTLNAME_NODE_MAX + 1];
		char buf[256], again[256];
		struct ctlname c;
		struct tm tm;
		time_t t;

		if (i == 0)
			ms = MS_2000;
		else if (i == 1)
			ms = MS_2100 - 1;
		rand_str(user, 1 + rng() % CTLNAME_USER_MAX, uset);
		rand_str(node, 1 + rng() % CTLNAME_NODE_MAX, nset);
		t = (time_t)(ms / 1000);
		assert_int_equal(
		    ctlname_make(buf, sizeof(buf), ms, user, seq, node), 0);
		assert_int_equal(ctlname_parse(buf, &c), 0);
		assert_non_null(gmtime_r(&t, &tm));
		assert_int_equal(c.year, tm.tm_year + 1900);
		assert_int_equal(c.month, tm.tm_mon + 1);
		assert_int_equal(c.day, tm.tm_mday);
		assert_int_equal(c.hour, tm.tm_hour);
		assert_int_equal(c.min, tm.tm_min);
		assert_int_equal(c.sec, tm.tm_sec);
		assert_int_equal(c.centi, (int)(ms % 1000 / 10));
		assert_string_equal(c.user, user);
		assert_string_equal(c.node, node);
		assert_int_equal(c.seq, seq);
		/* the parsed fields name the same file again */
		assert_int_equal(ctlname_make(again, sizeof(again),
					      ms - ms % 10, c.user, c.seq,
					      c.node),
				 0);
		assert_string_equal(again, buf);
	}
}

static void test_every_day_boundary_matches_gmtime(void **state)
{
	/* Each midnight of 2000..2099, and the millisecond before it. */
	for (uint64_t ms = MS_2000; ms < MS_2100; ms += 86400000ull) {
		struct ctlname c;
		struct tm tm;
		char buf[128];
		time_t t = (time_t)(ms / 1000);

		assert_int_equal(
		    ctlname_make(buf, sizeof(buf), ms, "u", 0, "n"), 0);
		assert_int_equal(ctlname_parse(buf, &c), 0);
		gmtime_r(&t, &tm);
		assert_int_equal(c.year, tm.tm_year + 1900);
		assert_int_equal(c.month, tm.tm_mon + 1);
		assert_int_equal(c.day, tm.tm_mday);
		assert_int_equal(c.hour + c.min + c.sec + c.centi, 0);
		if (ms > MS_2000) {
			t = (time_t)((ms - 1) / 1000);
			assert_int_equal(
			    ctlname_make(buf, sizeof(buf), ms - 1, "u", 0, "n"),
			    0);
			assert_int_equal(ctlname_parse(buf, &c), 0);
			gmtime_r(&t, &tm);
			assert_int_equal(c.day, tm.tm_mday);
			assert_int_equal(c.hour, 23);
			assert_int_equal(c.sec, 59);
			assert_int_equal(c.centi, 99);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_make_known_time),
	    cmocka_unit_test(test_make_first_and_last_instant_of_the_century),
	    cmocka_unit_test(test_make_refuses_times_outside_2000_to_2099),
	    cmocka_unit_test(test_make_truncates_to_hundredths),
	    cmocka_unit_test(test_make_leap_days),
	    cmocka_unit_test(test_make_refuses_bad_user_or_node),
	    cmocka_unit_test(test_user_and_node_limits_at_64_and_65),
	    cmocka_unit_test(test_user_and_node_character_sets),
	    cmocka_unit_test(test_make_reports_limit_for_small_buffer),
	    cmocka_unit_test(test_parse_known_name),
	    cmocka_unit_test(test_parse_user_with_underscores_dots_and_tag),
	    cmocka_unit_test(test_parse_accepts_null_out),
	    cmocka_unit_test(test_parse_leaves_out_untouched_on_error),
	    cmocka_unit_test(test_parse_checks_dates_and_leap_years),
	    cmocka_unit_test(test_parse_refuses_malformed_names),
	    cmocka_unit_test(test_parse_user_and_node_length_limits),
	    cmocka_unit_test(test_parse_refuses_names_over_255_bytes),
	    cmocka_unit_test(test_make_matches_gmtime_and_round_trips),
	    cmocka_unit_test(test_every_day_boundary_matches_gmtime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
