/*
 * test_smtp_data.c — unit tests of src/smtpd/smtp_data.c, the DATA reader: the
 * terminator and nothing else ends a message, dot-unstuffing (with bounded
 * random round trips), bare CR / bare LF, both smuggling sequences, line
 * length, size limit, Received: counting, byte-at-a-time feeding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/smtpd/smtp_data.h"

/* Feed the whole string at once; returns octets used. */
static size_t feed_all(struct smtp_data *d, const char *s)
{
	return smtp_data_feed(d, s, strlen(s));
}

/* Feed one octet at a time until done; returns octets used. */
static size_t feed_bytes(struct smtp_data *d, const char *s, size_t n)
{
	size_t used = 0;

	for (size_t i = 0; i < n && !d->done; i++)
		used += smtp_data_feed(d, s + i, 1);
	return used;
}

static void assert_body(struct smtp_data *d, const char *want)
{
	assert_int_equal(d->len, strlen(want));
	assert_memory_equal(d->buf, want, d->len);
}

static void test_message_ends_at_crlf_dot_crlf(void **state)
{
	struct smtp_data d;
	const char *in = "Subject: x\r\n\r\nhello\r\n.\r\n";

	smtp_data_init(&d, 0);
	assert_int_equal(feed_all(&d, in), strlen(in));
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), 0);
	assert_body(&d, "Subject: x\r\n\r\nhello\r\n");
	smtp_data_free(&d);
}

static void test_octets_after_the_terminator_are_left_unread(void **state)
{
	struct smtp_data d;
	const char *in = "a\r\n.\r\nQUIT\r\n";

	smtp_data_init(&d, 0);
	assert_int_equal(feed_all(&d, in), strlen("a\r\n.\r\n"));
	assert_true(d.done);
	smtp_data_free(&d);
}

static void test_empty_message(void **state)
{
	struct smtp_data d;

	smtp_data_init(&d, 0);
	assert_int_equal(feed_all(&d, ".\r\n"), 3);
	assert_true(d.done);
	assert_int_equal(d.len, 0);
	assert_int_equal(smtp_data_status(&d), 0);
	smtp_data_free(&d);
}

static void test_leading_dots_are_unstuffed(void **state)
{
	struct smtp_data d;

	smtp_data_init(&d, 0);
	feed_all(&d, "..one\r\n...\r\n. two\r\n..\r\n.\r\n");
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), 0);
	assert_body(&d, ".one\r\n..\r\n two\r\n.\r\n");
	smtp_data_free(&d);
}

static void test_a_dot_inside_a_line_is_content(void **state)
{
	struct smtp_data d;

	smtp_data_init(&d, 0);
	feed_all(&d, "a.\r\nb\r\n.c\r\n.\r\n");
	assert_body(&d, "a.\r\nb\r\nc\r\n");
	smtp_data_free(&d);
}

/* Dot-stuff src into dst (which must be big enough); returns length. */
static size_t stuff(const char *src, size_t n, char *dst)
{
	size_t o = 0;
	int bol = 1;

	for (size_t i = 0; i < n; i++) {
		if (bol && src[i] == '.')
			dst[o++] = '.';
		dst[o++] = src[i];
		bol = src[i] == '\n';
	}
	memcpy(dst + o, ".\r\n", 3);
	return o + 3;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_dot_stuffing_round_trips(void **state)
{
	static const char alphabet[] = "..ab \t:.";
	char msg[4096], wire[8192];

	for (int round = 0; round < 200; round++) {
		struct smtp_data d;
		size_t n = 0, w;
		int lines = 1 + (int)(rng() % 20);

		for (int l = 0; l < lines; l++) {
			int len = (int)(rng() % 40);

			for (int k = 0; k < len; k++)
				msg[n++] =
				    alphabet[rng() % (sizeof(alphabet) - 1)];
			msg[n++] = '\r';
			msg[n++] = '\n';
		}
		w = stuff(msg, n, wire);
		smtp_data_init(&d, 0);
		if (round % 2)
			assert_int_equal(feed_bytes(&d, wire, w), w);
		else
			assert_int_equal(smtp_data_feed(&d, wire, w), w);
		assert_true(d.done);
		assert_int_equal(smtp_data_status(&d), 0);
		assert_int_equal(d.len, n);
		assert_memory_equal(d.buf, msg, n);
		smtp_data_free(&d);
	}
}

static void test_bare_lf_is_refused_at_the_real_end(void **state)
{
	struct smtp_data d;
	const char *in = "a\nb\r\n.\r\n";

	smtp_data_init(&d, 0);
	assert_int_equal(feed_all(&d, in), strlen(in));
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), SMTP_DE_BARE);
	smtp_data_free(&d);
}

static void test_bare_cr_is_refused_at_the_real_end(void **state)
{
	struct smtp_data d;
	const char *in = "a\rb\r\n.\r\n";

	smtp_data_init(&d, 0);
	assert_int_equal(feed_all(&d, in), strlen(in));
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), SMTP_DE_BARE);
	smtp_data_free(&d);
}

/* A smuggling attempt: the fake end must not end the message, the
 * injected "second message" is content, the real end comes later. */
static void check_smuggling(const char *fake_end)
{
	char in[512];
	struct smtp_data d;
	size_t n;

	n = (size_t)snprintf(in, sizeof(in),
			     "Subject: one\r\n\r\nbody%s"
			     "MAIL FROM:<evil@x.test>\r\nRCPT TO:<v@y.test>\r\n"
			     "DATA\r\nSubject: two\r\n\r\n.\r\n",
			     fake_end);
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		smtp_data_init(&d, 0);
		if (bytewise)
			assert_int_equal(feed_bytes(&d, in, n), n);
		else
			assert_int_equal(smtp_data_feed(&d, in, n), n);
		assert_true(d.done);
		assert_int_equal(smtp_data_status(&d), SMTP_DE_BARE);
		smtp_data_free(&d);
	}
}

static void test_smuggling_lf_dot_lf_does_not_end_the_message(void **state)
{
	check_smuggling("\n.\n");
}

static void test_smuggling_lf_dot_crlf_does_not_end_the_message(void **state)
{
	check_smuggling("\n.\r\n");
}

static void test_smuggling_crlf_dot_lf_does_not_end_the_message(void **state)
{
	check_smuggling("\r\n.\n");
}

static void test_smuggling_cr_dot_cr_does_not_end_the_message(void **state)
{
	check_smuggling("\r.\r");
}

static void test_dot_cr_then_other_is_bare_cr_and_not_the_end(void **state)
{
	struct smtp_data d;
	const char *in = ".\rx\r\n.\r\n";

	smtp_data_init(&d, 0);
	assert_int_equal(feed_all(&d, in), strlen(in));
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), SMTP_DE_BARE);
	smtp_data_free(&d);
}

static void test_line_of_998_octets_is_accepted_999_refused(void **state)
{
	char *in = malloc(1200);
	struct smtp_data d;

	assert_non_null(in);
	memset(in, 'x', 998);
	memcpy(in + 998, "\r\n.\r\n", 6);
	smtp_data_init(&d, 0);
	feed_all(&d, in);
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), 0);
	smtp_data_free(&d);

	memset(in, 'x', 999);
	memcpy(in + 999, "\r\n.\r\n", 6);
	smtp_data_init(&d, 0);
	feed_all(&d, in);
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), SMTP_DE_LONG);
	smtp_data_free(&d);
	free(in);
}

static void test_stuffing_dot_counts_toward_the_line_length(void **state)
{
	char *in = malloc(1200);
	struct smtp_data d;

	assert_non_null(in);
	memset(in, '.', 999); /* 998 after unstuffing, 999 on the wire */
	memcpy(in + 999, "\r\n.\r\n", 6);
	smtp_data_init(&d, 0);
	feed_all(&d, in);
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), SMTP_DE_LONG);
	smtp_data_free(&d);
	free(in);
}

static void test_size_limit_is_exact_and_reading_goes_on(void **state)
{
	struct smtp_data d;
	const char *ok = "12345678\r\n.\r\n";		/* 10 octets */
	const char *big = "123456789\r\nmore\r\n.\r\n"; /* 17 octets */

	smtp_data_init(&d, 10);
	assert_int_equal(feed_all(&d, ok), strlen(ok));
	assert_int_equal(smtp_data_status(&d), 0);
	smtp_data_free(&d);

	smtp_data_init(&d, 10);
	assert_int_equal(feed_all(&d, big), strlen(big));
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), SMTP_DE_SIZE);
	assert_null(d.buf); /* storing stopped */
	assert_int_equal(d.total, 17);
	smtp_data_free(&d);
}

static void test_prefix_is_kept_and_not_counted(void **state)
{
	struct smtp_data d;
	char *body;
	size_t len;

	smtp_data_init(&d, 5);
	assert_int_equal(smtp_data_prefix(&d, "Received: x\r\n", 13), 0);
	feed_all(&d, "abc\r\n.\r\n");
	assert_int_equal(smtp_data_status(&d), 0);
	body = smtp_data_take(&d, &len);
	assert_int_equal(len, 18);
	assert_memory_equal(body, "Received: x\r\nabc\r\n", 18);
	assert_null(d.buf);
	free(body);
	smtp_data_free(&d);
}

static void test_received_fields_in_the_header_are_counted(void **state)
{
	struct smtp_data d;

	smtp_data_init(&d, 0);
	feed_all(&d, "Received: from a\r\n\tby b\r\nRECEIVED: c\r\n"
		     "X-Received: no\r\nSubject: s\r\n\r\n"
		     "Received: in the body\r\n.\r\n");
	assert_true(d.done);
	assert_int_equal(d.received, 2);
	smtp_data_free(&d);
}

static void test_terminator_split_across_every_boundary(void **state)
{
	const char *in = "x\r\n.\r\n";
	size_t n = strlen(in);

	for (size_t cut = 0; cut < n; cut++) {
		struct smtp_data d;
		size_t used;

		smtp_data_init(&d, 0);
		used = smtp_data_feed(&d, in, cut);
		assert_int_equal(used, cut);
		assert_false(d.done);
		used += smtp_data_feed(&d, in + cut, n - cut);
		assert_int_equal(used, n);
		assert_true(d.done);
		assert_body(&d, "x\r\n");
		smtp_data_free(&d);
	}
}

/* ---- raw mode (BDAT chunks) ---- */

static void test_raw_takes_dots_as_content_and_never_ends(void **state)
{
	struct smtp_data d;
	const char *in = "Received: x\r\n\r\n.\r\n..a\r\n.\r\n";

	smtp_data_init(&d, 0);
	smtp_data_set_raw(&d);
	assert_int_equal(feed_bytes(&d, in, strlen(in)), strlen(in));
	assert_false(d.done);
	smtp_data_finish(&d);
	assert_true(d.done);
	assert_int_equal(smtp_data_status(&d), 0);
	assert_int_equal(d.received, 1);
	assert_body(&d, in);
	smtp_data_free(&d);
}

static void
test_raw_finish_closes_the_last_line_or_finds_a_bare_cr(void **state)
{
	struct smtp_data d;

	smtp_data_init(&d, 0);
	smtp_data_set_raw(&d);
	feed_all(&d, "a\r\nb");
	smtp_data_finish(&d);
	assert_int_equal(smtp_data_status(&d), 0);
	assert_body(&d, "a\r\nb\r\n");
	smtp_data_free(&d);

	smtp_data_init(&d, 0);
	smtp_data_set_raw(&d);
	feed_all(&d, "a\r");
	assert_int_equal(smtp_data_status(&d), 0); /* an LF may follow */
	smtp_data_finish(&d);
	assert_int_equal(smtp_data_status(&d), SMTP_DE_BARE);
	smtp_data_free(&d);
}

static void test_raw_keeps_the_checks_and_the_limit(void **state)
{
	struct smtp_data d;

	smtp_data_init(&d, 4);
	smtp_data_set_raw(&d);
	feed_all(&d, "abc\r\n");
	assert_int_equal(smtp_data_status(&d), SMTP_DE_SIZE);
	smtp_data_free(&d);
	smtp_data_init(&d, 0);
	smtp_data_set_raw(&d);
	feed_all(&d, "a\nb\r\n");
	assert_int_equal(smtp_data_status(&d), SMTP_DE_BARE);
	smtp_data_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_message_ends_at_crlf_dot_crlf),
	    cmocka_unit_test(test_octets_after_the_terminator_are_left_unread),
	    cmocka_unit_test(test_empty_message),
	    cmocka_unit_test(test_leading_dots_are_unstuffed),
	    cmocka_unit_test(test_a_dot_inside_a_line_is_content),
	    cmocka_unit_test(test_dot_stuffing_round_trips),
	    cmocka_unit_test(test_bare_lf_is_refused_at_the_real_end),
	    cmocka_unit_test(test_bare_cr_is_refused_at_the_real_end),
	    cmocka_unit_test(test_smuggling_lf_dot_lf_does_not_end_the_message),
	    cmocka_unit_test(
		test_smuggling_lf_dot_crlf_does_not_end_the_message),
	    cmocka_unit_test(
		test_smuggling_crlf_dot_lf_does_not_end_the_message),
	    cmocka_unit_test(test_smuggling_cr_dot_cr_does_not_end_the_message),
	    cmocka_unit_test(test_dot_cr_then_other_is_bare_cr_and_not_the_end),
	    cmocka_unit_test(test_line_of_998_octets_is_accepted_999_refused),
	    cmocka_unit_test(test_stuffing_dot_counts_toward_the_line_length),
	    cmocka_unit_test(test_size_limit_is_exact_and_reading_goes_on),
	    cmocka_unit_test(test_prefix_is_kept_and_not_counted),
	    cmocka_unit_test(test_received_fields_in_the_header_are_counted),
	    cmocka_unit_test(test_terminator_split_across_every_boundary),
	    cmocka_unit_test(test_raw_takes_dots_as_content_and_never_ends),
	    cmocka_unit_test(
		test_raw_finish_closes_the_last_line_or_finds_a_bare_cr),
	    cmocka_unit_test(test_raw_keeps_the_checks_and_the_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
