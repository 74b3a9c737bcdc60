/*
 * test_output_tables.c — smtpctl's table printers (cli/output_tables.c):
 * show mx, show tls-policy, show host and show forward print their rows
 * in fixed columns under a title line, say so when the table is empty,
 * and print the result as JSON when it has no such table. The expected
 * text is the layout the printers had before they shared one table
 * printer, to the byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli/output.h"

/* What print(result of the JSON text) writes to stdout, in a buffer the
 * caller frees. */
static char *printed(int (*print)(json_object *), const char *json)
{
	json_object *o = json_tokener_parse(json);
	FILE *tmp = tmpfile();
	int saved = dup(STDOUT_FILENO);
	char *out;
	long n;

	assert_non_null(o);
	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stdout);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	assert_int_equal(print(o), 0);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	n = lseek(fileno(tmp), 0, SEEK_END);
	assert_true(n >= 0);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	assert_int_equal(pread(fileno(tmp), out, (size_t)n, 0), n);
	fclose(tmp);
	json_object_put(o);
	return out;
}

#define ASSERT_PRINTS(print, json, want)                                       \
	do {                                                                   \
		char *got_ = printed(print, json);                             \
		assert_string_equal(got_, want);                               \
		free(got_);                                                    \
	} while (0)

static void test_show_mx_prints_domain_preference_gateway_columns(void **state)
{
	ASSERT_PRINTS(
	    output_show_mx,
	    "{\"mx\":[{\"domain\":\"a.example\",\"preference\":10,"
	    "\"gateway\":\"gw.example\"},{\"domain\":\"b.example\","
	    "\"gateway\":\"gw2.example\"}]}",
	    "DOMAIN                           PREFERENCE GATEWAY\n"
	    "a.example                        10         gw.example\n"
	    "b.example                        0          gw2.example\n");
}

static void test_show_mx_without_rows_says_none(void **state)
{
	ASSERT_PRINTS(output_show_mx, "{\"mx\":[]}", "No local MX records\n");
}

static void test_show_mx_without_its_table_prints_the_json(void **state)
{
	char *got = printed(output_show_mx, "{\"other\":1}");

	assert_non_null(strstr(got, "\"other\": 1"));
	free(got);
}

static void test_show_tls_policy_prints_domain_level_columns(void **state)
{
	ASSERT_PRINTS(output_show_tls_policy,
		      "{\"policies\":[{\"domain\":\"a.example\",\"level\":"
		      "\"verify\"},{\"domain\":\".b.example\",\"level\":"
		      "\"none\"}]}",
		      "DOMAIN                                   LEVEL\n"
		      "a.example                                verify\n"
		      ".b.example                               none\n");
}

static void test_show_tls_policy_without_rows_says_may(void **state)
{
	ASSERT_PRINTS(output_show_tls_policy, "{\"policies\":[]}",
		      "No TLS policies (every domain: may)\n");
}

static void test_show_tls_policy_lookup_prints_one_line(void **state)
{
	ASSERT_PRINTS(output_show_tls_policy,
		      "{\"policies\":[],\"lookup\":{\"domain\":\"x.example\","
		      "\"level\":\"encrypt\",\"matched\":\".example\"}}",
		      "Mail to x.example: encrypt (.example)\n");
	ASSERT_PRINTS(output_show_tls_policy,
		      "{\"policies\":[],\"lookup\":{\"domain\":\"x.example\","
		      "\"level\":\"may\",\"matched\":\"\"}}",
		      "Mail to x.example: may (no entry: the default)\n");
}

static void
test_show_tls_policy_lookup_without_table_prints_the_json(void **state)
{
	char *got = printed(output_show_tls_policy,
			    "{\"lookup\":{\"domain\":\"x.example\"}}");

	assert_null(strstr(got, "Mail to"));
	assert_non_null(strstr(got, "\"lookup\""));
	free(got);
}

static void test_show_host_prints_addresses_parted_by_spaces(void **state)
{
	ASSERT_PRINTS(
	    output_show_host,
	    "{\"hosts\":[{\"name\":\"h.example\",\"addresses\":"
	    "[\"192.0.2.1\",\"2001:db8::1\"]},{\"name\":\"bare."
	    "example\",\"addresses\":[]},{\"name\":\"none.example\"}]}",
	    "NAME                             ADDRESSES\n"
	    "h.example                        192.0.2.1 2001:db8::1\n"
	    "bare.example                    \n"
	    "none.example                    \n");
}

static void test_show_host_without_rows_says_none(void **state)
{
	ASSERT_PRINTS(output_show_host, "{\"hosts\":[]}",
		      "No local host records\n");
}

static void test_show_forward_prints_user_target_columns(void **state)
{
	ASSERT_PRINTS(output_show_forward,
		      "{\"forward\":[{\"user\":\"alice\",\"target\":"
		      "\"alice@b.example\"}]}",
		      "USER                     FORWARDED TO\n"
		      "alice                    alice@b.example\n");
	ASSERT_PRINTS(output_show_forward, "{\"forward\":[]}",
		      "No forwarded users\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_show_mx_prints_domain_preference_gateway_columns),
	    cmocka_unit_test(test_show_mx_without_rows_says_none),
	    cmocka_unit_test(test_show_mx_without_its_table_prints_the_json),
	    cmocka_unit_test(test_show_tls_policy_prints_domain_level_columns),
	    cmocka_unit_test(test_show_tls_policy_without_rows_says_may),
	    cmocka_unit_test(test_show_tls_policy_lookup_prints_one_line),
	    cmocka_unit_test(
		test_show_tls_policy_lookup_without_table_prints_the_json),
	    cmocka_unit_test(test_show_host_prints_addresses_parted_by_spaces),
	    cmocka_unit_test(test_show_host_without_rows_says_none),
	    cmocka_unit_test(test_show_forward_prints_user_target_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
