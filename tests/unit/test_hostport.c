/*
 * test_hostport.c — the HOST:PORT splitter (spool/codec/hostport.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/err.h"
#include "spool/codec/hostport.h"

static void test_name_and_port(void **state)
{
	struct hostport hp;

	(void)state;
	assert_int_equal(hostport_parse("mx.example:25", &hp), 0);
	assert_int_equal(hp.host_len, 10);
	assert_memory_equal(hp.host, "mx.example", 10);
	assert_int_equal(hp.port, 25);
	assert_false(hp.bracketed);
}

static void test_bracketed_ipv6(void **state)
{
	char host[64];
	unsigned port = 0;

	(void)state;
	assert_int_equal(
	    hostport_split("[::1]:2525", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 2525);
}

static void test_port_is_digits_1_to_65535(void **state)
{
	struct hostport hp;

	(void)state;
	assert_int_equal(hostport_parse("h:65535", &hp), 0);
	assert_int_equal(hostport_parse("h:0025", &hp), 0);
	assert_int_equal(hp.port, 25);
	assert_int_equal(hostport_parse("h:0", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("h:65536", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("h:", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("h:+25", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("h: 25", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("h:25x", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("h:99999999999999999999", &hp),
			 SPOOL_E_INVAL);
}

static void test_malformed_is_refused(void **state)
{
	struct hostport hp;
	char small[4];

	(void)state;
	assert_int_equal(hostport_parse("host", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse(":25", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("::1:25", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("[::1]25", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("[::1:25", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse("[]:25", &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_parse(NULL, &hp), SPOOL_E_INVAL);
	assert_int_equal(hostport_split("host:25", small, sizeof(small), NULL),
			 SPOOL_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_and_port),
	    cmocka_unit_test(test_bracketed_ipv6),
	    cmocka_unit_test(test_port_is_digits_1_to_65535),
	    cmocka_unit_test(test_malformed_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
