/*
 * test_client.c — reading the envelope of a control answer (cli/client.h),
 * the one place exec.c, sendmail.c and submit.c read it: "ok" true or
 * not, and a failure's "code" and "error", each keeping the caller's
 * default where the answer has none or not a string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli/client.h"

static int ok_of(const char *json)
{
	json_object *o = json_tokener_parse(json);
	int ok;

	assert_non_null(o);
	ok = client_answer_ok(o);
	json_object_put(o);
	return ok;
}

static void test_answer_ok_only_when_ok_is_true(void **state)
{
	assert_true(ok_of("{\"v\":1,\"ok\":true,\"result\":{}}"));
	assert_false(ok_of("{\"v\":1,\"ok\":false,\"code\":\"usage\"}"));
	assert_false(ok_of("{\"v\":1}"));
}

static void test_answer_error_reads_code_and_text(void **state)
{
	json_object *o = json_tokener_parse(
	    "{\"v\":1,\"ok\":false,\"code\":\"not_admin\",\"error\":\"no\"}");
	const char *code = "failed", *text = "failed";

	client_answer_error(o, &code, &text);
	assert_string_equal(code, "not_admin");
	assert_string_equal(text, "no");
	json_object_put(o);
}

static void test_answer_error_keeps_defaults_for_missing_or_odd(void **state)
{
	json_object *o =
	    json_tokener_parse("{\"v\":1,\"ok\":false,\"code\":7}");
	const char *code = "failed", *text = "not queued";

	client_answer_error(o, &code, &text);
	assert_string_equal(code, "failed");
	assert_string_equal(text, "not queued");
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_answer_ok_only_when_ok_is_true),
	    cmocka_unit_test(test_answer_error_reads_code_and_text),
	    cmocka_unit_test(
		test_answer_error_keeps_defaults_for_missing_or_odd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
