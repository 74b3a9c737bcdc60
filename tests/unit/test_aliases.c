/*
 * test_aliases.c — unit tests of spool/codec/aliases.c: the local alias file
 * format of seed section 18.3 (comments, blank lines, CRLF, folding,
 * duplicates, the 64-character and 255-name limits, errors with their line
 * numbers) and the domain syntax check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/aliases.h"
#include "spool/codec/err.h"

/* Parse a NUL-terminated text. */
static int parse(const char *text, struct aliases *a)
{
	return aliases_parse(text, strlen(text), a);
}

/* Expect text to fail on line ln with exactly the message msg. */
static void expect_error(const char *text, int ln, const char *msg)
{
	struct aliases a;

	assert_int_equal(parse(text, &a), SPOOL_E_INVAL);
	assert_int_equal(a.err_line, ln);
	assert_string_equal(a.err, msg);
	assert_int_equal(a.n, 0);
	assert_null(a.names);
	aliases_free(&a);
}

/* A name of n characters: labels of "a"s joined by dots. */
static void make_name(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (i % 10 == 9) ? '.' : 'a';
	if (n > 0 && s[n - 1] == '.')
		s[n - 1] = 'b';
	s[n] = '\0';
}

static void test_seed_example_parses(void **state)
{
	const char *text = "!\n"
			   "! This is the local alias file.\n"
			   "!\n"
			   "ourdomain.edu\n"
			   "ourdomain1.edu\n"
			   "ourdomain2.edu\n"
			   "ourdomain3.edu\n";
	struct aliases a;

	assert_int_equal(parse(text, &a), 0);
	assert_int_equal(a.n, 4);
	assert_string_equal(a.names[0], "ourdomain.edu");
	assert_string_equal(a.names[1], "ourdomain1.edu");
	assert_string_equal(a.names[2], "ourdomain2.edu");
	assert_string_equal(a.names[3], "ourdomain3.edu");
	assert_int_equal(a.err_line, 0);
	assert_string_equal(a.err, "");
	aliases_free(&a);
}

static void test_names_folded_to_lower_case(void **state)
{
	struct aliases a;

	assert_int_equal(parse("X.Y.COM\nMail-1.Example.Org\n", &a), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.names[0], "x.y.com");
	assert_string_equal(a.names[1], "mail-1.example.org");
	aliases_free(&a);
}

static void test_duplicates_kept_once(void **state)
{
	struct aliases a;

	assert_int_equal(parse("a.com\nb.com\nA.COM\na.com.\nb.com\n", &a), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.names[0], "a.com");
	assert_string_equal(a.names[1], "b.com");
	aliases_free(&a);
}

static void test_crlf_line_ends_accepted(void **state)
{
	struct aliases a;

	assert_int_equal(parse("! c\r\na.com\r\n\r\nb.com\r\n", &a), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.names[0], "a.com");
	assert_string_equal(a.names[1], "b.com");
	aliases_free(&a);
	/* line numbers count CRLF lines too */
	expect_error("a.com\r\n\r\nb_c.com\r\n", 3,
		     "line 3: invalid character '_' in domain");
}

static void test_trailing_dot_removed(void **state)
{
	struct aliases a;

	assert_int_equal(parse("x.y.com.\n", &a), 0);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.names[0], "x.y.com");
	aliases_free(&a);
	/* only one dot is the root; two leave an empty label */
	expect_error("x.y.com..\n", 1, "line 1: empty label in domain");
	expect_error(".\n", 1, "line 1: empty domain name");
}

static void test_comments_whitespace_and_blank_lines(void **state)
{
	struct aliases a;

	assert_int_equal(parse("\n   \n\t\n  a.com   ! a comment\n"
			       "\tb.com\t\n!c.com\n! d.com\nlast.org",
			       &a),
			 0);
	assert_int_equal(a.n, 3);
	assert_string_equal(a.names[0], "a.com");
	assert_string_equal(a.names[1], "b.com");
	assert_string_equal(a.names[2], "last.org");
	aliases_free(&a);
}

static void test_empty_input_gives_no_names(void **state)
{
	struct aliases a;

	assert_int_equal(aliases_parse(NULL, 0, &a), 0);
	assert_int_equal(a.n, 0);
	aliases_free(&a);
	assert_int_equal(parse("! only a comment\n\n", &a), 0);
	assert_int_equal(a.n, 0);
	aliases_free(&a);
	assert_int_equal(aliases_parse(NULL, 1, &a), SPOOL_E_INVAL);
	assert_int_equal(aliases_parse("a.com", 5, NULL), SPOOL_E_INVAL);
}

static void test_name_of_64_characters_accepted(void **state)
{
	char text[100];
	struct aliases a;

	make_name(text, 64);
	assert_int_equal(parse(text, &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(strlen(a.names[0]), 64);
	aliases_free(&a);
	/* the root dot does not count */
	strcat(text, ".");
	assert_int_equal(parse(text, &a), 0);
	assert_int_equal(strlen(a.names[0]), 64);
	aliases_free(&a);
}

static void test_name_of_65_characters_refused_with_line(void **state)
{
	char text[200], name[70];

	make_name(name, 65);
	snprintf(text, sizeof(text), "! aliases\na.com\n\n%s\nb.com\n", name);
	expect_error(text, 4, "line 4: name longer than 64 characters");
	/* the length is checked before the characters */
	memset(name, '_', 65);
	name[65] = '\0';
	snprintf(text, sizeof(text), "%s\n", name);
	expect_error(text, 1, "line 1: name longer than 64 characters");
}

static void test_255_names_accepted(void **state)
{
	char *text = malloc(300 * 16);
	size_t off = 0;
	struct aliases a;

	assert_non_null(text);
	for (int i = 0; i < 255; i++)
		off += (size_t)sprintf(text + off, "d%d.example\n", i);
	/* repeats do not count towards the limit */
	off += (size_t)sprintf(text + off, "D0.EXAMPLE\nd254.example\n");
	assert_int_equal(aliases_parse(text, off, &a), 0);
	assert_int_equal(a.n, 255);
	assert_string_equal(a.names[0], "d0.example");
	assert_string_equal(a.names[254], "d254.example");
	aliases_free(&a);
	free(text);
}

static void test_256th_name_refused_with_line(void **state)
{
	char *text = malloc(300 * 16);
	size_t off = 0;

	assert_non_null(text);
	off += (size_t)sprintf(text + off, "! header\n");
	for (int i = 0; i < 256; i++)
		off += (size_t)sprintf(text + off, "d%d.example\n", i);
	expect_error(text, 257, "line 257: more than 255 names");
	free(text);
}

static void test_invalid_characters_refused_with_line(void **state)
{
	expect_error("a.com\nb.com\nbad_domain.com\n", 3,
		     "line 3: invalid character '_' in domain");
	expect_error("a b.com\n", 1, "line 1: invalid character ' ' in domain");
	expect_error("user@a.com\n", 1,
		     "line 1: invalid character '@' in domain");
	expect_error("a.com\n\ncaf\xc3\xa9.com\n", 3,
		     "line 3: invalid character 0xc3 in domain");
	expect_error("a.com,b.com\n", 1,
		     "line 1: invalid character ',' in domain");
}

static void test_nul_byte_refused(void **state)
{
	static const char text[] = "a.com\nb\0c.com\n";
	struct aliases a;

	assert_int_equal(aliases_parse(text, sizeof(text) - 1, &a),
			 SPOOL_E_INVAL);
	assert_int_equal(a.err_line, 2);
	assert_string_equal(a.err, "line 2: invalid character 0x00 in domain");
	aliases_free(&a);
}

static void test_bad_labels_refused_with_line(void **state)
{
	char text[100];

	expect_error("a..b\n", 1, "line 1: empty label in domain");
	expect_error("ok.com\n.a.b\n", 2, "line 2: empty label in domain");
	expect_error("-a.com\n", 1, "line 1: label starts or ends with '-'");
	expect_error("a-.com\n", 1, "line 1: label starts or ends with '-'");
	expect_error("a.-b\n", 1, "line 1: label starts or ends with '-'");
	/* a single 64-character label fits the name limit, not the label one */
	memset(text, 'x', 64);
	strcpy(text + 64, "\n");
	expect_error(text, 1, "line 1: label longer than 63 characters");
}

static void test_error_discards_names_already_read(void **state)
{
	struct aliases a;

	assert_int_equal(parse("a.com\nb.com\nc!d\n-x\n", &a), SPOOL_E_INVAL);
	assert_int_equal(a.err_line, 4);
	assert_int_equal(a.n, 0);
	assert_null(a.names);
	aliases_free(&a);
}

static void test_free_twice_is_harmless(void **state)
{
	struct aliases a;

	assert_int_equal(parse("a.com\n", &a), 0);
	aliases_free(&a);
	aliases_free(&a);
	assert_int_equal(a.n, 0);
	aliases_free(NULL);
}

static void test_domain_ok_labels(void **state)
{
	char s[80];

	assert_true(aliases_domain_ok("example.com"));
	assert_true(aliases_domain_ok("EXAMPLE.com"));
	assert_true(aliases_domain_ok("a-b.c-d.e"));
	assert_true(aliases_domain_ok("localhost"));
	assert_true(aliases_domain_ok("123.example"));
	assert_false(aliases_domain_ok(NULL));
	assert_false(aliases_domain_ok(""));
	assert_false(aliases_domain_ok("example.com."));
	assert_false(aliases_domain_ok(".example.com"));
	assert_false(aliases_domain_ok("a..b"));
	assert_false(aliases_domain_ok("-a.b"));
	assert_false(aliases_domain_ok("a.b-"));
	assert_false(aliases_domain_ok("a_b.c"));
	assert_false(aliases_domain_ok("a b"));
	memset(s, 'l', 63);
	strcpy(s + 63, ".com");
	assert_true(aliases_domain_ok(s));
	memset(s, 'l', 64);
	strcpy(s + 64, ".com");
	assert_false(aliases_domain_ok(s));
}

static void test_domain_ok_total_length(void **state)
{
	char s[300];

	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	memset(s, 'b', sizeof(s));
	s[63] = s[127] = s[191] = '.';
	s[253] = '\0';
	assert_true(aliases_domain_ok(s));
	s[253] = 'b';
	s[254] = '\0';
	assert_false(aliases_domain_ok(s));
	s[254] = 'b';
	s[299] = '\0';
	assert_false(aliases_domain_ok(s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_example_parses),
	    cmocka_unit_test(test_names_folded_to_lower_case),
	    cmocka_unit_test(test_duplicates_kept_once),
	    cmocka_unit_test(test_crlf_line_ends_accepted),
	    cmocka_unit_test(test_trailing_dot_removed),
	    cmocka_unit_test(test_comments_whitespace_and_blank_lines),
	    cmocka_unit_test(test_empty_input_gives_no_names),
	    cmocka_unit_test(test_name_of_64_characters_accepted),
	    cmocka_unit_test(test_name_of_65_characters_refused_with_line),
	    cmocka_unit_test(test_255_names_accepted),
	    cmocka_unit_test(test_256th_name_refused_with_line),
	    cmocka_unit_test(test_invalid_characters_refused_with_line),
	    cmocka_unit_test(test_nul_byte_refused),
	    cmocka_unit_test(test_bad_labels_refused_with_line),
	    cmocka_unit_test(test_error_discards_names_already_read),
	    cmocka_unit_test(test_free_twice_is_harmless),
	    cmocka_unit_test(test_domain_ok_labels),
	    cmocka_unit_test(test_domain_ok_total_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
