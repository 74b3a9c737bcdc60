/*
 * test_smtp_senderlogin.c — the sender-login map (src/smtpd/
 * smtp_senderlogin.c): the file's syntax, every refused line with its
 * number, the lookup order (address, then @domain), and the rule without
 * a map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/err.h"
#include "src/smtpd/smtp_senderlogin.h"

static void parse_ok(const char *text, struct senderlogin_map *m)
{
	int rc = senderlogin_parse(text, strlen(text), m);

	if (rc != 0)
		fail_msg("line %d: %s", m->err_line, m->err);
}

/* The line number of text's refusal (which must be SPOOL_E_INVAL). */
static int refused_at(const char *text)
{
	struct senderlogin_map m;

	assert_int_equal(senderlogin_parse(text, strlen(text), &m),
			 SPOOL_E_INVAL);
	assert_true(m.err[0] != '\0');
	assert_int_equal(m.n, 0);
	assert_null(m.e);
	return m.err_line;
}

static void test_parse_keys_logins_comments_and_blank_lines(void **state)
{
	struct senderlogin_map m;

	parse_ok("# who may send as whom\n"
		 "\n"
		 "Alice@Example.ORG   alice@example.org\n"
		 "sales@example.org\tbob, carol ,dave   # the team\n"
		 "@example.net  admin\r\n"
		 "   \t\n"
		 "last@example.org eve",
		 &m);
	assert_int_equal(m.n, 4);
	/* sorted by key, keys folded to lower case */
	assert_string_equal(m.e[0].key, "@example.net");
	assert_string_equal(m.e[1].key, "alice@example.org");
	assert_string_equal(m.e[2].key, "last@example.org");
	assert_string_equal(m.e[3].key, "sales@example.org");
	assert_int_equal(m.e[3].nlogins, 3);
	assert_string_equal(m.e[3].logins[0], "bob");
	assert_string_equal(m.e[3].logins[1], "carol");
	assert_string_equal(m.e[3].logins[2], "dave");
	assert_int_equal(m.e[3].line, 4);
	senderlogin_free(&m);
	assert_int_equal(m.n, 0);
}

static void test_parse_empty_file_is_an_empty_map(void **state)
{
	struct senderlogin_map m;

	parse_ok("", &m);
	assert_int_equal(m.n, 0);
	parse_ok("# nothing\n\n", &m);
	assert_int_equal(m.n, 0);
	senderlogin_free(&m);
}

static void test_parse_refuses_bad_lines_naming_the_line(void **state)
{
	char big[400];

	/* a key without a login */
	assert_int_equal(refused_at("a@example.org x\nb@example.org\n"), 2);
	assert_int_equal(refused_at("a@example.org   # only a comment\n"), 1);
	/* keys that are no address nor @domain */
	assert_int_equal(refused_at("\n\nnoat alice\n"), 3);
	assert_int_equal(refused_at("a@ alice\n"), 1);
	assert_int_equal(refused_at("a@exa..mple alice\n"), 1);
	assert_int_equal(refused_at("a@.example alice\n"), 1);
	assert_int_equal(refused_at("a@exa_mple.org alice\n"), 1);
	assert_int_equal(refused_at("a,b@example.org alice\n"), 1);
	/* a key listed twice, whatever its case: the second line */
	assert_int_equal(
	    refused_at("a@example.org x\n@example.org y\nA@EXAMPLE.org z\n"),
	    3);
	/* a NUL octet */
	{
		struct senderlogin_map m;
		const char t[] = "a@example.org x\nb@example.org \0y\n";

		assert_int_equal(senderlogin_parse(t, sizeof(t) - 1, &m),
				 SPOOL_E_INVAL);
		assert_int_equal(m.err_line, 2);
	}
	/* over-long key and login */
	memset(big, 'k', sizeof(big));
	memcpy(big + 300, "@example.org alice\n", 20);
	assert_int_equal(refused_at(big), 1);
	memcpy(big, "a@example.org ", 14);
	memset(big + 14, 'l', 256);
	big[270] = '\0';
	assert_int_equal(refused_at(big), 1);
	big[269] = '\0'; /* 255 octets: fine */
	{
		struct senderlogin_map m;

		parse_ok(big, &m);
		assert_int_equal(strlen(m.e[0].logins[0]), 255);
		senderlogin_free(&m);
	}
}

static void test_owns_exact_address_before_its_domain(void **state)
{
	struct senderlogin_map m;

	parse_ok("alice@example.org alice\n"
		 "sales@example.org bob, carol\n"
		 "@example.org admin\n",
		 &m);
	assert_int_equal(senderlogin_owns(&m, "alice", "alice@example.org"), 1);
	assert_int_equal(senderlogin_owns(&m, "bob", "sales@example.org"), 1);
	assert_int_equal(senderlogin_owns(&m, "carol", "sales@example.org"), 1);
	/* the address has an entry: the domain's is not consulted */
	assert_int_equal(senderlogin_owns(&m, "admin", "alice@example.org"), 0);
	assert_int_equal(senderlogin_owns(&m, "bob", "alice@example.org"), 0);
	/* no entry of its own: the domain's */
	assert_int_equal(senderlogin_owns(&m, "admin", "anyone@example.org"),
			 1);
	assert_int_equal(senderlogin_owns(&m, "alice", "anyone@example.org"),
			 0);
	senderlogin_free(&m);
}

static void test_owns_ignores_case_of_address_and_login(void **state)
{
	struct senderlogin_map m;

	parse_ok("alice@example.org Alice@Example.org\n@example.net x\n", &m);
	assert_int_equal(
	    senderlogin_owns(&m, "alice@example.ORG", "ALICE@example.org"), 1);
	assert_int_equal(senderlogin_owns(&m, "X", "who@EXAMPLE.NET"), 1);
	senderlogin_free(&m);
}

static void test_owns_nothing_unlisted_with_a_map(void **state)
{
	struct senderlogin_map m;
	char longaddr[400];

	parse_ok("alice@example.org alice\n", &m);
	assert_int_equal(senderlogin_owns(&m, "alice", "alice@example.com"), 0);
	assert_int_equal(senderlogin_owns(&m, "alice", "alice@sub.example.org"),
			 0);
	assert_int_equal(senderlogin_owns(&m, "alice", "postmaster"), 0);
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	assert_int_equal(senderlogin_owns(&m, "alice", longaddr), 0);
	/* the empty map owns nothing either */
	senderlogin_free(&m);
	parse_ok("", &m);
	assert_int_equal(senderlogin_owns(&m, "alice", "alice@example.org"), 0);
	senderlogin_free(&m);
}

static void test_null_sender_is_always_allowed(void **state)
{
	struct senderlogin_map m;

	parse_ok("alice@example.org alice\n", &m);
	assert_int_equal(senderlogin_owns(&m, "bob", ""), 1);
	assert_int_equal(senderlogin_owns(NULL, "bob@example.org", ""), 1);
	senderlogin_free(&m);
}

static void test_without_map_an_address_login_owns_itself(void **state)
{
	assert_int_equal(
	    senderlogin_owns(NULL, "alice@example.org", "alice@example.org"),
	    1);
	/* the domain without regard to case, the local part exact */
	assert_int_equal(
	    senderlogin_owns(NULL, "alice@Example.Org", "alice@EXAMPLE.org"),
	    1);
	assert_int_equal(
	    senderlogin_owns(NULL, "alice@example.org", "Alice@example.org"),
	    0);
	assert_int_equal(
	    senderlogin_owns(NULL, "alice@example.org", "bob@example.org"), 0);
	assert_int_equal(
	    senderlogin_owns(NULL, "alice@example.org", "alice@example.com"),
	    0);
	assert_int_equal(
	    senderlogin_owns(NULL, "alice@example.org", "alic@example.org"), 0);
	assert_int_equal(senderlogin_owns(NULL, "alice@example.org", "alice"),
			 0);
}

static void test_without_map_a_bare_login_may_use_any_sender(void **state)
{
	assert_int_equal(senderlogin_owns(NULL, "alice", "bob@example.org"), 1);
	assert_int_equal(senderlogin_owns(NULL, "alice", "alice@example.org"),
			 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_keys_logins_comments_and_blank_lines),
	    cmocka_unit_test(test_parse_empty_file_is_an_empty_map),
	    cmocka_unit_test(test_parse_refuses_bad_lines_naming_the_line),
	    cmocka_unit_test(test_owns_exact_address_before_its_domain),
	    cmocka_unit_test(test_owns_ignores_case_of_address_and_login),
	    cmocka_unit_test(test_owns_nothing_unlisted_with_a_map),
	    cmocka_unit_test(test_null_sender_is_always_allowed),
	    cmocka_unit_test(test_without_map_an_address_login_owns_itself),
	    cmocka_unit_test(test_without_map_a_bare_login_may_use_any_sender),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
