/*
 * test_readfile.c — src/base/readfile.c: a file read whole and
 * NUL-terminated; one of exactly max bytes is read, one byte more is
 * -EFBIG; a missing file is -ENOENT; nothing is left allocated on error.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/base/readfile.h"

static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_readfile.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void test_reads_the_whole_file(void **state)
{
	char *text;
	size_t n;

	(void)state;
	assert_int_equal(readfile(path, 100, &text, &n), 0);
	assert_int_equal(n, 10);
	assert_string_equal(text, "0123456789");
	free(text);
	assert_int_equal(readfile(path, 10, &text, &n), 0); /* exactly max */
	assert_int_equal(n, 10);
	free(text);
}

static void test_one_byte_over_is_efbig(void **state)
{
	char *text = (char *)1;
	size_t n = 7;

	(void)state;
	assert_int_equal(readfile(path, 9, &text, &n), -EFBIG);
	assert_null(text);
	assert_int_equal(n, 0);
}

static void test_missing_file_is_enoent(void **state)
{
	char *text;
	size_t n;

	(void)state;
	assert_int_equal(readfile("/nonexistent/readfile", 10, &text, &n),
			 -ENOENT);
	assert_null(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reads_the_whole_file, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_one_byte_over_is_efbig, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file_is_enoent, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
