/*
 * test_ctlalloc.c — the node's one control-file name allocator
 * (src/base/ctlalloc.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/ctlname.h"
#include "src/base/ctlalloc.h"

static void test_sequence_counts_up_from_the_seed(void **state)
{
	(void)state;
	ctlalloc_seed(41);
	assert_int_equal(ctlalloc_next_seq(), 42);
	assert_int_equal(ctlalloc_next_seq(), 43);
	ctlalloc_seed(UINT32_MAX);
	assert_int_equal(ctlalloc_next_seq(), 0); /* wraps */
}

static void test_two_producers_in_one_instant_get_two_names(void **state)
{
	char a[128], b[128];
	struct ctlname pa, pb;
	const uint64_t ms = 1795465436000ull;

	(void)state;
	/* the receiver and smtpctl submit, same hundredth, same user */
	assert_int_equal(ctlalloc_name(a, sizeof(a), ms, "TCPIP$SMTP", "n1"),
			 0);
	assert_int_equal(ctlalloc_name(b, sizeof(b), ms, "TCPIP$SMTP", "n1"),
			 0);
	assert_string_not_equal(a, b);
	assert_int_equal(ctlname_parse(a, &pa), 0);
	assert_int_equal(ctlname_parse(b, &pb), 0);
	assert_int_equal(pb.seq, pa.seq + 1);
}

static void test_bad_node_is_refused(void **state)
{
	char a[128];

	(void)state;
	assert_true(ctlalloc_name(a, sizeof(a), 1795465436000ull, "u",
				  "bad node") != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sequence_counts_up_from_the_seed),
	    cmocka_unit_test(test_two_producers_in_one_instant_get_two_names),
	    cmocka_unit_test(test_bad_node_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
