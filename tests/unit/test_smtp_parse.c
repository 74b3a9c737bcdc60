/*
 * test_smtp_parse.c — unit tests of src/smtpd/smtp_parse.c: the verb split,
 * strict RFC 5321 paths (null path, postmaster, source routes, quoted local
 * parts, address literals, length limits), the MAIL and RCPT parameters
 * and xtext.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/record.h"
#include "src/smtpd/smtp_parse.h"

/* Parse "FROM:..." and return the code; mb/mp filled. */
static int mail(const char *args, struct smtp_mailbox *mb,
		struct smtp_mail_params *mp)
{
	return smtp_parse_mail(args, mb, mp);
}

static int rcpt(const char *args, struct smtp_mailbox *mb,
		struct smtp_rcpt_params *rp)
{
	return smtp_parse_rcpt(args, mb, rp);
}

static void test_split_upper_cases_the_verb_and_skips_spaces(void **state)
{
	char verb[SMTP_VERB_MAX + 1];
	const char *args;

	assert_int_equal(
	    smtp_split_command("mail  FROM:<a@b>", verb, sizeof(verb), &args),
	    0);
	assert_string_equal(verb, "MAIL");
	assert_string_equal(args, "FROM:<a@b>");
	assert_int_equal(smtp_split_command("QUIT", verb, sizeof(verb), &args),
			 0);
	assert_string_equal(verb, "QUIT");
	assert_string_equal(args, "");
}

static void test_split_refuses_empty_and_non_letter_verbs(void **state)
{
	char verb[SMTP_VERB_MAX + 1];
	const char *args;

	assert_int_equal(smtp_split_command("", verb, sizeof(verb), &args),
			 SMTP_PE_SYNTAX);
	assert_int_equal(smtp_split_command(" MAIL", verb, sizeof(verb), &args),
			 SMTP_PE_SYNTAX);
	assert_int_equal(
	    smtp_split_command("HE1O x", verb, sizeof(verb), &args),
	    SMTP_PE_SYNTAX);
	assert_int_equal(
	    smtp_split_command("ABCDEFGHIJKLMNOPQ", verb, sizeof(verb), &args),
	    SMTP_PE_SYNTAX);
}

static void test_mail_plain_path(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<alice@example.org>", &mb, &mp), 0);
	assert_string_equal(mb.addr, "alice@example.org");
	assert_string_equal(mb.local, "alice");
	assert_string_equal(mb.domain, "example.org");
	assert_false(mb.null);
	assert_false(mp.has_size);
}

static void
test_mail_from_is_case_insensitive_and_tolerates_a_space(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(mail("from: <a@b.c>", &mb, &mp), 0);
	assert_string_equal(mb.addr, "a@b.c");
}

static void test_mail_null_path(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<>", &mb, &mp), 0);
	assert_true(mb.null);
	assert_string_equal(mb.addr, "");
}

static void test_rcpt_refuses_null_path(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	assert_int_equal(rcpt("TO:<>", &mb, &rp), SMTP_PE_ADDR);
}

static void test_rcpt_accepts_bare_postmaster_in_any_case(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	assert_int_equal(rcpt("TO:<PostMaster>", &mb, &rp), 0);
	assert_true(mb.postmaster);
	assert_string_equal(mb.domain, "");
}

static void test_mail_refuses_bare_postmaster(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<postmaster>", &mb, &mp), SMTP_PE_ADDR);
}

static void test_missing_brackets_colon_or_keyword_is_syntax(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:a@b", &mb, &mp), SMTP_PE_SYNTAX);
	assert_int_equal(mail("FROM <a@b>", &mb, &mp), SMTP_PE_SYNTAX);
	assert_int_equal(mail("TO:<a@b>", &mb, &mp), SMTP_PE_SYNTAX);
	assert_int_equal(mail("FROM:<a@b>x", &mb, &mp), SMTP_PE_SYNTAX);
}

static void test_bad_mailboxes_are_address_errors(void **state)
{
	static const char *const bad[] = {
	    "FROM:<a@b",
	    "FROM:<@b>",
	    "FROM:<a@>",
	    "FROM:<a>",
	    "FROM:<a@b@c>",
	    "FROM:<.a@b>",
	    "FROM:<a.@b>",
	    "FROM:<a..b@c>",
	    "FROM:<a@-b.c>",
	    "FROM:<a@b-.c>",
	    "FROM:<a@b..c>",
	    "FROM:<a b@c>",
	    "FROM:<a@b.c..>",
	    "FROM:<\"a@b.c>",
	    "FROM:<a@[1.2.3]>",
	    "FROM:<a@[x]>",
	    "FROM:<\xc3@b.c>",
	    "FROM:<a@b_c.d>",
	    /* not UTF-8: overlong, surrogate, over U+10FFFF, lone byte */
	    "FROM:<\xc0\xa9@b.c>",
	    "FROM:<\xed\xa0\x80@b.c>",
	    "FROM:<\xf4\x90\x80\x80@b.c>",
	    "FROM:<a@\xa9.c>",
	    "FROM:<\"\xe2\x82\"@b.c>",
	    "FROM:<a\\b@c>",
	    "FROM:<\"\"@b.c>",
	    "FROM:< a@b.c>",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct smtp_mailbox mb;
		struct smtp_mail_params mp;
		int rc = mail(bad[i], &mb, &mp);

		if (rc != SMTP_PE_ADDR)
			fail_msg("%s: got %d", bad[i], rc);
	}
}

static void test_trailing_dot_of_domain_is_removed(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	assert_int_equal(rcpt("TO:<u@Local.Test.>", &mb, &rp), 0);
	assert_string_equal(mb.domain, "Local.Test");
	assert_string_equal(mb.addr, "u@Local.Test");
}

static void test_source_route_is_dropped_and_flagged(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	assert_int_equal(
	    rcpt("TO:<@local.test,@hop.test:user@other.test>", &mb, &rp), 0);
	assert_true(mb.routed);
	assert_string_equal(mb.addr, "user@other.test");
	assert_string_equal(mb.domain, "other.test");
}

static void test_bad_source_routes_are_refused(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	assert_int_equal(rcpt("TO:<@local.test user@x.test>", &mb, &rp),
			 SMTP_PE_ADDR);
	assert_int_equal(rcpt("TO:<@:user@x.test>", &mb, &rp), SMTP_PE_ADDR);
	assert_int_equal(rcpt("TO:<@a,b:user@x.test>", &mb, &rp), SMTP_PE_ADDR);
	assert_int_equal(rcpt("TO:<@a:postmaster>", &mb, &rp), SMTP_PE_ADDR);
}

static void test_quoted_local_part_keeps_quotes_and_dequotes(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	assert_int_equal(rcpt("TO:<\"user@other\"@local.test>", &mb, &rp), 0);
	assert_true(mb.quoted);
	assert_string_equal(mb.local, "\"user@other\"");
	assert_string_equal(mb.local_plain, "user@other");
	assert_string_equal(mb.domain, "local.test");
	assert_int_equal(rcpt("TO:<\"a\\\"b\"@c.d>", &mb, &rp), 0);
	assert_string_equal(mb.local_plain, "a\"b");
}

static void test_address_literals(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	assert_int_equal(rcpt("TO:<u@[192.0.2.1]>", &mb, &rp), 0);
	assert_true(mb.literal);
	assert_string_equal(mb.domain, "[192.0.2.1]");
	assert_int_equal(rcpt("TO:<u@[IPv6:2001:db8::1]>", &mb, &rp), 0);
	assert_true(mb.literal);
	assert_int_equal(rcpt("TO:<u@[IPv6:zz]>", &mb, &rp), SMTP_PE_ADDR);
	assert_int_equal(rcpt("TO:<u@[tag:stuff]>", &mb, &rp), SMTP_PE_ADDR);
}

static void test_length_limits(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;
	char args[600];
	char local[70];
	char label[70];

	memset(local, 'a', 64);
	local[64] = '\0';
	snprintf(args, sizeof(args), "TO:<%s@b.c>", local);
	assert_int_equal(rcpt(args, &mb, &rp), 0);
	memset(local, 'a', 65);
	local[65] = '\0';
	snprintf(args, sizeof(args), "TO:<%s@b.c>", local);
	assert_int_equal(rcpt(args, &mb, &rp), SMTP_PE_ADDR);
	memset(label, 'x', 64);
	label[64] = '\0';
	snprintf(args, sizeof(args), "TO:<a@%s.c>", label);
	assert_int_equal(rcpt(args, &mb, &rp), SMTP_PE_ADDR);
	/* 4 labels of 63 = 255 octets of domain: path over 256 */
	memset(label, 'x', 63);
	label[63] = '\0';
	snprintf(args, sizeof(args), "TO:<a@%s.%s.%s.%s>", label, label, label,
		 label);
	assert_int_equal(rcpt(args, &mb, &rp), SMTP_PE_ADDR);
}

static void test_mail_parameters(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<a@b.c> SIZE=1000 BODY=8bitmime RET=hdrs "
			      "ENVID=QQ+2Bx",
			      &mb, &mp),
			 0);
	assert_true(mp.has_size);
	assert_int_equal(mp.size, 1000);
	assert_int_equal(mp.body, SMTP_BODY_8BITMIME);
	assert_int_equal(mp.ret, DSN_RET_HDRS);
	assert_string_equal(mp.envid, "QQ+2Bx");
	assert_int_equal(mail("FROM:<a@b.c> BODY=7BIT RET=FULL", &mb, &mp), 0);
	assert_int_equal(mp.body, SMTP_BODY_7BIT);
	assert_int_equal(mp.ret, DSN_RET_FULL);
}

static void test_utf8_paths_are_parsed_and_flagged(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<a@b.c> SMTPUTF8", &mb, &mp), 0);
	assert_int_equal(mp.smtputf8, 1);
	assert_int_equal(mb.utf8, 0);
	assert_int_equal(mail("FROM:<j\xc3\xb6rg@b\xc3\xbc"
			      "cher.example> "
			      "SMTPUTF8",
			      &mb, &mp),
			 0);
	assert_int_equal(mb.utf8, 1);
	assert_string_equal(mb.addr, "j\xc3\xb6rg@b\xc3\xbc"
				     "cher.example");
	/* the grammar does not need the parameter: the session does */
	assert_int_equal(mail("FROM:<\"\xe2\x82\xac x\"@b.c>", &mb, &mp), 0);
	assert_int_equal(mb.utf8, 1);
	assert_int_equal(mp.smtputf8, 0);
	assert_int_equal(mail("FROM:<\xf0\x9f\x98\x80@b.c>", &mb, &mp), 0);
	assert_int_equal(mb.utf8, 1);
}

static void test_mail_parameter_errors(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<a@b.c> FOO=1", &mb, &mp),
			 SMTP_PE_UNKNOWN_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SMTPUTF8=YES", &mb, &mp),
			 SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SMTPUTF8 SMTPUTF8", &mb, &mp),
			 SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SIZE=", &mb, &mp), SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SIZE", &mb, &mp), SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SIZE=12x", &mb, &mp),
			 SMTP_PE_PARAM);
	assert_int_equal(
	    mail("FROM:<a@b.c> SIZE=99999999999999999999999", &mb, &mp),
	    SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SIZE=1 SIZE=2", &mb, &mp),
			 SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> BODY=BINARYMIME", &mb, &mp),
			 SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> RET=ALL", &mb, &mp), SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> ENVID=a+zz", &mb, &mp),
			 SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> ENVID=a+00", &mb, &mp),
			 SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SIZE==1", &mb, &mp), SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> -X=1", &mb, &mp), SMTP_PE_SYNTAX);
}

static void test_size_parameter_edges(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(
	    mail("FROM:<a@b.c> SIZE=18446744073709551615", &mb, &mp), 0);
	assert_true(mp.size == UINT64_MAX);
	assert_int_equal(
	    mail("FROM:<a@b.c> SIZE=18446744073709551616", &mb, &mp),
	    SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SIZE=0", &mb, &mp), 0);
	assert_int_equal(mp.size, 0);
}

static void test_envid_decoded_length_is_limited_to_100(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;
	char args[512];
	char v[120];

	memset(v, 'e', 100);
	v[100] = '\0';
	snprintf(args, sizeof(args), "FROM:<a@b.c> ENVID=%s", v);
	assert_int_equal(mail(args, &mb, &mp), 0);
	memset(v, 'e', 101);
	v[101] = '\0';
	snprintf(args, sizeof(args), "FROM:<a@b.c> ENVID=%s", v);
	assert_int_equal(mail(args, &mb, &mp), SMTP_PE_PARAM);
}

/* AUTH=<> or AUTH=xtext mailbox (RFC 4954 5), once, kept as sent. */
static void test_mail_auth_parameter(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<a@b.c> AUTH=<>", &mb, &mp), 0);
	assert_true(mp.has_auth);
	assert_string_equal(mp.auth, "<>");
	assert_int_equal(
	    mail("FROM:<a@b.c> SIZE=10 AUTH=alice+40b.c", &mb, &mp), 0);
	assert_string_equal(mp.auth, "alice+40b.c");
	assert_int_equal(mp.size, 10);
	assert_int_equal(mail("FROM:<a@b.c>", &mb, &mp), 0);
	assert_false(mp.has_auth);
	assert_int_equal(mail("FROM:<a@b.c> AUTH=", &mb, &mp), SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> AUTH", &mb, &mp), SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> AUTH=a+zz", &mb, &mp),
			 SMTP_PE_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> AUTH=<> AUTH=<>", &mb, &mp),
			 SMTP_PE_PARAM);
}

static void test_rcpt_notify_and_orcpt(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=SUCCESS,failure,DELAY "
			      "ORCPT=rfc822;a+40b.c",
			      &mb, &rp),
			 0);
	assert_int_equal(rp.notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE |
					DSN_NOTIFY_DELAY);
	assert_string_equal(rp.orcpt, "rfc822;a+40b.c");
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=NEVER", &mb, &rp), 0);
	assert_int_equal(rp.notify, DSN_NOTIFY_NEVER);
}

static void test_rcpt_parameter_errors(void **state)
{
	struct smtp_mailbox mb;
	struct smtp_rcpt_params rp;

	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=NEVER,SUCCESS", &mb, &rp),
			 SMTP_PE_PARAM);
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=SUCCESS,SUCCESS", &mb, &rp),
			 SMTP_PE_PARAM);
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=SOMETIMES", &mb, &rp),
			 SMTP_PE_PARAM);
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=SUCCESS,", &mb, &rp),
			 SMTP_PE_PARAM);
	assert_int_equal(rcpt("TO:<a@b.c> ORCPT=a@b.c", &mb, &rp),
			 SMTP_PE_PARAM);
	assert_int_equal(rcpt("TO:<a@b.c> ORCPT=rfc822;", &mb, &rp),
			 SMTP_PE_PARAM);
	assert_int_equal(rcpt("TO:<a@b.c> SIZE=1", &mb, &rp),
			 SMTP_PE_UNKNOWN_PARAM);
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=NEVER NOTIFY=NEVER", &mb, &rp),
			 SMTP_PE_PARAM);
}

static void test_xtext_decode(void **state)
{
	char out[16];

	assert_int_equal(smtp_xtext_decode("a+2Bb+3D", out, sizeof(out)), 4);
	assert_string_equal(out, "a+b=");
	assert_int_equal(smtp_xtext_decode("a+2", out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("a=b", out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("a b", out, sizeof(out)), -1);
	assert_int_equal(
	    smtp_xtext_decode("0123456789abcdefg", out, sizeof(out)), -1);
	assert_true(smtp_xtext_ok("x", 1));
	assert_false(smtp_xtext_ok("", 1));
	assert_false(smtp_xtext_ok("xy", 1));
}

static void test_domain_grammar(void **state)
{
	assert_true(smtp_domain_ok("a", 1));
	assert_true(smtp_domain_ok("a-b.c1", 6));
	assert_false(smtp_domain_ok("", 0));
	assert_false(smtp_domain_ok("a.", 2));
	assert_false(smtp_domain_ok(".a", 2));
	assert_false(smtp_domain_ok("-a", 2));
	assert_false(smtp_domain_ok("a-", 2));
}

static void test_every_error_has_a_reply_with_an_enhanced_code(void **state)
{
	assert_string_equal(smtp_parse_reply(SMTP_PE_SYNTAX),
			    "501 5.5.2 Syntax error in parameters or "
			    "arguments");
	assert_memory_equal(smtp_parse_reply(SMTP_PE_ADDR), "553 5.1.3", 9);
	assert_memory_equal(smtp_parse_reply(SMTP_PE_PARAM), "501 5.5.4", 9);
	assert_memory_equal(smtp_parse_reply(SMTP_PE_UNKNOWN_PARAM),
			    "555 5.5.4", 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_upper_cases_the_verb_and_skips_spaces),
	    cmocka_unit_test(test_split_refuses_empty_and_non_letter_verbs),
	    cmocka_unit_test(test_mail_plain_path),
	    cmocka_unit_test(
		test_mail_from_is_case_insensitive_and_tolerates_a_space),
	    cmocka_unit_test(test_mail_null_path),
	    cmocka_unit_test(test_rcpt_refuses_null_path),
	    cmocka_unit_test(test_rcpt_accepts_bare_postmaster_in_any_case),
	    cmocka_unit_test(test_mail_refuses_bare_postmaster),
	    cmocka_unit_test(test_missing_brackets_colon_or_keyword_is_syntax),
	    cmocka_unit_test(test_bad_mailboxes_are_address_errors),
	    cmocka_unit_test(test_trailing_dot_of_domain_is_removed),
	    cmocka_unit_test(test_source_route_is_dropped_and_flagged),
	    cmocka_unit_test(test_bad_source_routes_are_refused),
	    cmocka_unit_test(test_quoted_local_part_keeps_quotes_and_dequotes),
	    cmocka_unit_test(test_address_literals),
	    cmocka_unit_test(test_length_limits),
	    cmocka_unit_test(test_mail_parameters),
	    cmocka_unit_test(test_mail_parameter_errors),
	    cmocka_unit_test(test_utf8_paths_are_parsed_and_flagged),
	    cmocka_unit_test(test_size_parameter_edges),
	    cmocka_unit_test(test_envid_decoded_length_is_limited_to_100),
	    cmocka_unit_test(test_mail_auth_parameter),
	    cmocka_unit_test(test_rcpt_notify_and_orcpt),
	    cmocka_unit_test(test_rcpt_parameter_errors),
	    cmocka_unit_test(test_xtext_decode),
	    cmocka_unit_test(test_domain_grammar),
	    cmocka_unit_test(
		test_every_error_has_a_reply_with_an_enhanced_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
