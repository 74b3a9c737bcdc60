/*
 * test_logdir.c — the /LOG rule (src/base/logdir.c): a file directly in
 * [node] log_dir, opened without following a link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/base/logdir.h"

static int check(const char *dir, const char *v, char *name)
{
	char why[512];

	return logdir_check(dir, v, name, 256, why, sizeof(why));
}

static void test_names_inside_the_directory_are_accepted(void **st)
{
	char name[256];

	(void)st;
	assert_int_equal(check("/var/log/smtp", "a.log", name), 0);
	assert_string_equal(name, "a.log");
	assert_int_equal(check("/var/log/smtp", "/var/log/smtp/a.log", name),
			 0);
	assert_string_equal(name, "a.log");
	assert_int_equal(check("/var/log/smtp/", "/var/log/smtp/b", name), 0);
	assert_string_equal(name, "b");
}

static void test_paths_outside_or_escaping_are_refused(void **st)
{
	char name[256];

	(void)st;
	assert_int_equal(check("", "a.log", name), -1);
	assert_int_equal(check("/var/log/smtp", "/var/lib/raft/0001", name),
			 -1);
	assert_int_equal(check("/var/log/smtp", "/var/log/smtp/../x", name),
			 -1);
	assert_int_equal(check("/var/log/smtp", "/var/log/smtp/d/x", name), -1);
	assert_int_equal(check("/var/log/smtp", "/var/log/smtpx/a", name), -1);
	assert_int_equal(check("/var/log/smtp", "../x", name), -1);
	assert_int_equal(check("/var/log/smtp", "..", name), -1);
	assert_int_equal(check("/var/log/smtp", ".", name), -1);
	assert_int_equal(check("/var/log/smtp", "/var/log/smtp/", name), -1);
	assert_int_equal(check("/var/log/smtp", "a\nb", name), -1);
}

static void test_a_symbolic_link_is_not_followed(void **st)
{
	char dir[] = "/tmp/test_logdir.XXXXXX", target[600], link[600];
	char why[512];
	struct stat sb;
	int fd;

	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(link, sizeof(link), "%s/link.log", dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(logdir_verify(dir, "link.log", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "symbolic link"));
	assert_true(logdir_open(dir, "link.log", why, sizeof(why)) < 0);
	assert_int_not_equal(stat(target, &sb), 0); /* never created */
	fd = logdir_open(dir, "ok.log", why, sizeof(why));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
	assert_int_equal(logdir_verify(dir, "ok.log", why, sizeof(why)), 0);
	unlink(link);
	snprintf(link, sizeof(link), "%s/ok.log", dir);
	unlink(link);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_inside_the_directory_are_accepted),
	    cmocka_unit_test(test_paths_outside_or_escaping_are_refused),
	    cmocka_unit_test(test_a_symbolic_link_is_not_followed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
