/*
 * test_smtp_client.c — unit tests of the delivery client's engine
 * (src/delivery/smtp_client.c) through a fake transport: the server's replies are
 * scripted, what the client writes is recorded, timeouts and lost
 * connections are events. Covers EHLO -> HELO fallback, PIPELINING,
 * per-recipient 250/450/550, 4xx and 5xx at MAIL, 5xx at DATA and after
 * the dot, multi-line replies, per-phase timeouts, over-long and malformed
 * replies, STARTTLS, LMTP's reply per recipient, and the data-phase bytes
 * (dot-stuffing, line ends).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "spool/codec/record.h"
#include "src/delivery/smtp_client.h"

/* ---- the fake transport ---- */

struct fake {
	char out[65536]; /* everything the client wrote */
	size_t out_len;
	uint64_t timer; /* last armed value, 0 = stopped */
	int finished;
	int starttls_calls;
	int starttls_rc;
	int ready; /* io.ready calls */
};

static struct fake T;

static void f_write(void *arg, const void *p, size_t n)
{
	assert_true(T.out_len + n < sizeof(T.out));
	memcpy(T.out + T.out_len, p, n);
	T.out_len += n;
	T.out[T.out_len] = '\0';
}

static int f_starttls(void *arg)
{
	T.starttls_calls++;
	return T.starttls_rc;
}

static void f_timer(void *arg, uint64_t ms)
{
	T.timer = ms;
}

static void f_finish(void *arg)
{
	T.finished++;
}

static void f_ready(void *arg)
{
	T.ready++;
}

static const struct smtp_client_io IO = {NULL,	  f_write,  f_starttls,
					 f_timer, f_finish, NULL};
static const struct smtp_client_io IO_NOTLS = {NULL,	f_write,  NULL,
					       f_timer, f_finish, NULL};
static const struct smtp_client_io IO_REUSE = {NULL,	f_write,  NULL,
					       f_timer, f_finish, f_ready};

static struct smtp_client_cfg cfg(int lmtp)
{
	struct smtp_client_cfg c;

	memset(&c, 0, sizeof(c));
	c.lmtp = lmtp;
	c.helo = "node1.cluster.test";
	c.sender = "alice@cluster.test";
	c.data = "Subject: x\r\n\r\nhi\r\n.\r\n";
	c.data_len = strlen(c.data);
	c.size = 1234;
	c.tls_allowed = 1;
	c.peer = "mx.test[192.0.2.1]:25";
	c.t_initial = 5000;
	c.t_mail = 6000;
	c.t_rcpt = 7000;
	c.t_data = 8000;
	c.t_term = 9000;
	c.t_quit = 1000;
	return c;
}

static struct smtp_client_rcpt R[4];

/* A client for n recipients a@x.test, b@x.test, ...; connected. */
static struct smtp_client *client(const struct smtp_client_cfg *c,
				  const struct smtp_client_io *io, uint32_t n)
{
	static const char *const addr[4] = {"a@x.test", "b@x.test", "c@x.test",
					    "d@x.test"};
	struct smtp_client *sc;

	memset(&T, 0, sizeof(T));
	memset(R, 0, sizeof(R));
	for (uint32_t i = 0; i < n; i++)
		R[i].addr = addr[i];
	assert_int_equal(smtp_client_new(&sc, c, io, R, n), 0);
	smtp_client_begin(sc);
	assert_int_equal(T.timer, c->t_initial);
	smtp_client_connected(sc);
	return sc;
}

static void say(struct smtp_client *sc, const char *s)
{
	smtp_client_input(sc, s, strlen(s));
}

/* The client's output since the last take, then cleared. */
static const char *take(void)
{
	static char buf[65536];

	memcpy(buf, T.out, T.out_len + 1);
	T.out_len = 0;
	T.out[0] = '\0';
	return buf;
}

/* Greeting + EHLO with the given extension lines ("" = none). */
static void greet(struct smtp_client *sc, const char *ext)
{
	char r[512];

	say(sc, "220 mx.test ESMTP\r\n");
	assert_string_equal(take(), "EHLO node1.cluster.test\r\n");
	snprintf(r, sizeof(r), "250%smx.test hello\r\n%s", ext[0] ? "-" : " ",
		 ext);
	say(sc, r);
}

/* Recipients for the next transaction on the same engine. */
static void next_rcpts(uint32_t n)
{
	static const char *const addr[4] = {"e@y.test", "f@y.test", "g@y.test",
					    "h@y.test"};

	memset(R, 0, sizeof(R));
	for (uint32_t i = 0; i < n; i++)
		R[i].addr = addr[i];
}

/* ---- tests ---- */

static void test_plain_transaction_step_by_step(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 2);

	greet(sc, "");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n");
	assert_int_equal(T.timer, 6000); /* MAIL */
	say(sc, "250 2.1.0 ok\r\n");
	assert_string_equal(take(), "RCPT TO:<a@x.test>\r\n");
	assert_int_equal(T.timer, 7000); /* RECEIPT */
	say(sc, "250 2.1.5 ok\r\n");
	assert_string_equal(take(), "RCPT TO:<b@x.test>\r\n");
	say(sc, "250 2.1.5 ok\r\n");
	assert_string_equal(take(), "DATA\r\n");
	assert_int_equal(T.timer, 8000); /* DATA */
	say(sc, "354 go\r\n");
	assert_string_equal(take(), c.data);
	assert_int_equal(smtp_client_state(sc), SC_BODY);
	smtp_client_drained(sc);
	assert_int_equal(T.timer, 9000); /* TERMINATION */
	say(sc, "250 2.0.0 queued as X\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].outcome, OUT_DELIVERED);
	assert_int_equal(R[1].outcome, OUT_DELIVERED);
	assert_string_equal(R[0].reply, "250 2.0.0 queued as X");
	assert_int_equal(T.finished, 0);
	say(sc, "221 bye\r\n");
	assert_int_equal(T.finished, 1);
	assert_int_equal(smtp_client_state(sc), SC_DONE);
	assert_int_equal(T.timer, 0);
	smtp_client_free(sc);
}

static void test_ehlo_refused_falls_back_to_helo(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	say(sc, "220 old.test SMTP\r\n");
	assert_string_equal(take(), "EHLO node1.cluster.test\r\n");
	say(sc, "502 5.5.2 command not recognized\r\n");
	assert_string_equal(take(), "HELO node1.cluster.test\r\n");
	assert_int_equal(smtp_client_state(sc), SC_HELO);
	say(sc, "250 old.test\r\n");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n");
	assert_int_equal(smtp_client_extensions(sc), 0);
	smtp_client_free(sc);
}

static void test_helo_refused_too_is_host_level_hard(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	say(sc, "220 old.test SMTP\r\n");
	say(sc, "500 no\r\n");
	take();
	say(sc, "550 5.7.1 go away\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_int_equal(R[0].hard, 1);
	assert_string_equal(R[0].reply, "550 5.7.1 go away");
	smtp_client_free(sc);
}

static void test_pipelining_sends_mail_rcpts_and_data_at_once(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 3);

	greet(sc, "250-PIPELINING\r\n250 8BITMIME\r\n");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n"
				    "RCPT TO:<a@x.test>\r\n"
				    "RCPT TO:<b@x.test>\r\n"
				    "RCPT TO:<c@x.test>\r\n"
				    "DATA\r\n");
	/* all replies in one read */
	say(sc, "250 ok\r\n250 ok\r\n450 4.2.0 mailbox busy\r\n"
		"550 5.1.1 no such user\r\n354 go\r\n");
	assert_string_equal(take(), c.data);
	smtp_client_drained(sc);
	say(sc, "250 2.0.0 ok\r\n");
	assert_int_equal(R[0].outcome, OUT_DELIVERED);
	assert_int_equal(R[1].outcome, OUT_DEFERRED);
	assert_int_equal(R[1].answered, 1);
	assert_string_equal(R[1].reply, "450 4.2.0 mailbox busy");
	assert_int_equal(R[2].outcome, OUT_FAILED);
	assert_string_equal(R[2].reply, "550 5.1.1 no such user");
	smtp_client_free(sc);
}

static void test_per_recipient_outcomes_without_pipelining(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 3);

	greet(sc, "");
	take();
	say(sc, "250 ok\r\n");
	take();
	say(sc, "550 5.1.1 unknown\r\n");
	assert_string_equal(take(), "RCPT TO:<b@x.test>\r\n");
	say(sc, "450 4.2.1 later\r\n");
	assert_string_equal(take(), "RCPT TO:<c@x.test>\r\n");
	say(sc, "250 ok\r\n");
	assert_string_equal(take(), "DATA\r\n");
	say(sc, "354 go\r\n");
	take();
	smtp_client_drained(sc);
	say(sc, "250 ok\r\n");
	assert_int_equal(R[0].outcome, OUT_FAILED);
	assert_int_equal(R[1].outcome, OUT_DEFERRED);
	assert_int_equal(R[1].hard, 0);
	assert_int_equal(R[2].outcome, OUT_DELIVERED);
	smtp_client_free(sc);
}

static void test_no_recipient_accepted_sends_no_data(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	greet(sc, "");
	take();
	say(sc, "250 ok\r\n");
	take();
	say(sc, "550 5.1.1 unknown\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].outcome, OUT_FAILED);
	smtp_client_free(sc);
}

static void test_pipelined_354_without_recipients_ends_empty(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	greet(sc, "250 PIPELINING\r\n");
	take();
	say(sc, "250 ok\r\n550 5.1.1 unknown\r\n354 go\r\n");
	assert_string_equal(take(), ".\r\n"); /* never the message */
	say(sc, "554 5.5.1 no valid recipients\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].outcome, OUT_FAILED);
	assert_string_equal(R[0].reply, "550 5.1.1 unknown");
	smtp_client_free(sc);
}

static void test_4xx_at_mail_defers_every_recipient(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 2);

	greet(sc, "");
	take();
	say(sc, "451 4.3.0 try later\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(R[i].outcome, OUT_DEFERRED);
		assert_int_equal(R[i].hard, 0);
		assert_string_equal(R[i].reply, "451 4.3.0 try later");
	}
	assert_string_equal(smtp_client_reply(sc), "451 4.3.0 try later");
	smtp_client_free(sc);
}

static void test_5xx_at_mail_is_hard_for_the_host(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 2);

	greet(sc, "");
	take();
	say(sc, "553 5.7.1 sender refused\r\n");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(R[i].outcome, OUT_DEFERRED);
		assert_int_equal(R[i].hard, 1);
	}
	smtp_client_free(sc);
}

static void test_5xx_at_data_fails_the_accepted_ones(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 2);

	greet(sc, "250 PIPELINING\r\n");
	take();
	say(sc, "250 ok\r\n250 ok\r\n450 4.2.0 busy\r\n554 5.3.0 no DATA\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].outcome, OUT_FAILED);
	assert_string_equal(R[0].reply, "554 5.3.0 no DATA");
	assert_int_equal(R[1].outcome, OUT_DEFERRED);
	assert_string_equal(R[1].reply, "450 4.2.0 busy");
	smtp_client_free(sc);
}

static void test_5xx_after_the_dot_fails_and_4xx_defers(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	greet(sc, "250 PIPELINING\r\n");
	take();
	say(sc, "250 ok\r\n250 ok\r\n354 go\r\n");
	take();
	smtp_client_drained(sc);
	say(sc, "554 5.7.1 spam\r\n");
	assert_int_equal(R[0].outcome, OUT_FAILED);
	smtp_client_free(sc);

	sc = client(&c, &IO, 1);
	greet(sc, "250 PIPELINING\r\n");
	take();
	say(sc, "250 ok\r\n250 ok\r\n354 go\r\n");
	take();
	smtp_client_drained(sc);
	say(sc, "452 4.3.1 full\r\n");
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_int_equal(R[0].hard, 0);
	smtp_client_free(sc);
}

static void test_multiline_replies_are_joined(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	say(sc, "220-mx.test first line\r\n220-second\r\n");
	assert_string_equal(take(), ""); /* not complete yet */
	say(sc, "220 third\r\n");
	assert_string_equal(take(), "EHLO node1.cluster.test\r\n");
	/* extensions across lines, a reply split mid-line between reads */
	say(sc, "250-mx.test\r\n250-SIZE 1000000\r\n250-PIPE");
	say(sc, "LINING\r\n250-DSN\r\n250 STARTTLS\r\n");
	assert_int_equal(smtp_client_extensions(sc),
			 SC_EXT_SIZE | SC_EXT_PIPELINING | SC_EXT_DSN |
			     SC_EXT_STARTTLS);
	assert_string_equal(take(), "STARTTLS\r\n");
	smtp_client_free(sc);

	sc = client(&c, &IO, 1);
	greet(sc, "");
	take();
	say(sc, "250 ok\r\n");
	take();
	say(sc, "550-5.1.1 the mailbox\r\n550-does not\r\n550 exist\r\n");
	assert_string_equal(R[0].reply, "550-5.1.1 the mailbox does not exist");
	assert_int_equal(R[0].outcome, OUT_FAILED);
	smtp_client_free(sc);
}

static void test_timeouts_defer_and_name_the_phase(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	/* no greeting */
	smtp_client_timeout(sc);
	assert_int_equal(T.finished, 1);
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_non_null(strstr(R[0].reply, "4.4.2"));
	assert_non_null(strstr(R[0].reply, "greeting"));
	smtp_client_free(sc);

	/* accepted, then no answer to the end of data */
	sc = client(&c, &IO, 1);
	greet(sc, "250 PIPELINING\r\n");
	take();
	say(sc, "250 ok\r\n250 ok\r\n354 go\r\n");
	smtp_client_drained(sc);
	assert_int_equal(T.timer, 9000);
	smtp_client_timeout(sc);
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_non_null(strstr(R[0].reply, "end of data"));
	smtp_client_free(sc);

	/* a timeout after the outcome (waiting for QUIT) changes nothing */
	sc = client(&c, &IO, 1);
	greet(sc, "250 PIPELINING\r\n");
	take();
	say(sc, "250 ok\r\n250 ok\r\n354 go\r\n");
	smtp_client_drained(sc);
	say(sc, "250 ok\r\n");
	assert_int_equal(T.timer, 1000);
	smtp_client_timeout(sc);
	assert_int_equal(T.finished, 1);
	assert_int_equal(R[0].outcome, OUT_DELIVERED);
	smtp_client_free(sc);
}

static void test_reply_line_over_4k_is_a_protocol_error(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);
	char *big = malloc(10000);

	memset(big, 'x', 10000);
	memcpy(big, "220 ", 4);
	smtp_client_input(sc, big, 10000);
	assert_int_equal(T.finished, 1);
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_non_null(strstr(R[0].reply, "4.5.0"));
	/* later bytes are ignored */
	say(sc, "220 ok\r\n");
	assert_int_equal(T.finished, 1);
	free(big);
	smtp_client_free(sc);
}

static void test_malformed_replies_are_protocol_errors(void **state)
{
	static const char *const bad[] = {
	    "hello there\r\n", "22\r\n", "620 what\r\n",       "220x nope\r\n",
	    "1xx\r\n",	       "\r\n",	 "220-a\r\n250 b\r\n",
	};
	struct smtp_client_cfg c = cfg(0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct smtp_client *sc = client(&c, &IO, 1);

		say(sc, bad[i]);
		assert_int_equal(T.finished, 1);
		assert_int_equal(R[0].outcome, OUT_DEFERRED);
		smtp_client_free(sc);
	}
}

static void test_binary_garbage_never_crashes(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	unsigned seed = 12345;

	for (int round = 0; round < 200; round++) {
		struct smtp_client *sc = client(&c, &IO, 2);
		char buf[300];

		say(sc, "220 ok\r\n");
		for (int k = 0; k < 20 && T.finished == 0; k++) {
			for (size_t i = 0; i < sizeof(buf); i++) {
				seed = seed * 1103515245u + 12345u;
				buf[i] = (char)(seed >> 16);
				if ((seed >> 8) % 17 == 0)
					buf[i] = '\n';
			}
			smtp_client_input(sc, buf, sizeof(buf));
		}
		smtp_client_timeout(sc);
		assert_int_equal(T.finished, 1);
		for (int i = 0; i < 2; i++)
			assert_true(R[i].outcome >= OUT_DELIVERED &&
				    R[i].outcome <= OUT_FAILED);
		smtp_client_free(sc);
	}
}

static void test_connection_lost_defers_everyone(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	memset(&T, 0, sizeof(T));
	memset(R, 0, sizeof(R));
	R[0].addr = "a@x.test";
	assert_int_equal(smtp_client_new(&sc, &c, &IO, R, 1), 0);
	smtp_client_begin(sc);
	smtp_client_closed(sc, "connection refused");
	assert_int_equal(T.finished, 1);
	assert_non_null(strstr(R[0].reply, "4.4.1"));
	assert_non_null(strstr(R[0].reply, "connection refused"));
	smtp_client_free(sc);

	sc = client(&c, &IO, 1);
	greet(sc, "");
	take();
	smtp_client_closed(sc, "reset");
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_int_equal(R[0].hard, 0);
	smtp_client_free(sc);
}

static void test_greeting_554_is_hard_and_421_is_not(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	say(sc, "554 5.7.1 no service\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].hard, 1);
	smtp_client_free(sc);
	sc = client(&c, &IO, 1);
	say(sc, "421 4.3.2 busy\r\n");
	assert_int_equal(R[0].hard, 0);
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	smtp_client_free(sc);
}

static void test_starttls_then_ehlo_again_and_plaintext_dropped(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	greet(sc, "250 STARTTLS\r\n");
	assert_string_equal(take(), "STARTTLS\r\n");
	/* bytes after the 220 in the same read are an injection attempt */
	say(sc, "220 go ahead\r\n250 injected\r\n");
	assert_int_equal(T.starttls_calls, 1);
	assert_int_equal(smtp_client_state(sc), SC_TLS);
	assert_string_equal(take(), "");
	smtp_client_tls_done(sc, 1, NULL);
	assert_true(smtp_client_tls_active(sc));
	assert_string_equal(take(), "EHLO node1.cluster.test\r\n");
	say(sc, "250-mx.test\r\n250 PIPELINING\r\n");
	/* no second STARTTLS */
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n"
				    "RCPT TO:<a@x.test>\r\nDATA\r\n");
	smtp_client_free(sc);
}

static void test_starttls_refused_goes_on_in_clear(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	greet(sc, "250 STARTTLS\r\n");
	take();
	say(sc, "454 4.7.0 TLS not available\r\n");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n");
	assert_false(smtp_client_tls_active(sc));
	smtp_client_free(sc);
}

static void test_tls_handshake_failure_defers_and_is_flagged(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO, 1);

	greet(sc, "250 STARTTLS\r\n");
	take();
	say(sc, "220 go\r\n");
	smtp_client_tls_done(sc, 0, "bad record mac");
	assert_true(smtp_client_tls_failed(sc));
	assert_int_equal(T.finished, 1);
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_non_null(strstr(R[0].reply, "4.7.5"));
	smtp_client_free(sc);
}

static void test_no_starttls_without_transport_support(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc = client(&c, &IO_NOTLS, 1);

	greet(sc, "250 STARTTLS\r\n");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n");
	smtp_client_free(sc);
}

/* The TLS policy encrypt/verify (cfg.tls_required): a far end without
 * STARTTLS, one that refuses it, one that refuses EHLO, and a transport
 * without TLS all end the session before MAIL, every recipient deferred
 * 4.7.4; nothing of the message is sent. */
static void test_tls_required_never_sends_in_clear(void **state)
{
	static const char *const ext[] = {"250 PIPELINING\r\n",
					  "250 STARTTLS\r\n"};
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	c.tls_required = 1;
	for (int k = 0; k < 3; k++) {
		sc = client(&c, k == 2 ? &IO_NOTLS : &IO, 2);
		greet(sc, ext[k == 0 ? 0 : 1]);
		if (k == 1) {
			assert_string_equal(take(), "STARTTLS\r\n");
			say(sc, "454 4.7.0 TLS not available\r\n");
		}
		assert_string_equal(take(), "QUIT\r\n");
		for (int i = 0; i < 2; i++) {
			assert_int_equal(R[i].outcome, OUT_DEFERRED);
			assert_int_equal(R[i].hard, 0);
			assert_non_null(strstr(R[i].reply, "451 4.7.4"));
		}
		assert_false(smtp_client_tls_active(sc));
		smtp_client_free(sc);
	}
	/* EHLO refused: HELO cannot offer STARTTLS */
	sc = client(&c, &IO, 1);
	say(sc, "220 mx.test ESMTP\r\n");
	take();
	say(sc, "502 5.5.2 no EHLO\r\n");
	assert_string_equal(take(), "HELO node1.cluster.test\r\n");
	say(sc, "250 mx.test\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_non_null(strstr(R[0].reply, "451 4.7.4"));
	smtp_client_free(sc);
	/* with TLS the transaction goes on as usual */
	sc = client(&c, &IO, 1);
	greet(sc, "250 STARTTLS\r\n");
	take();
	say(sc, "220 go\r\n");
	smtp_client_tls_done(sc, 1, NULL);
	take();
	say(sc, "250 mx.test\r\n");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n");
	smtp_client_free(sc);
}

static void test_mail_parameters_follow_the_extensions(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	c.eightbit = 1;
	c.ret = DSN_RET_HDRS;
	c.envid = "QQ314159";
	sc = client(&c, &IO, 1);
	R[0].notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE;
	R[0].orcpt = "rfc822;a@x.test";
	greet(sc, "250-SIZE 100000\r\n250-8BITMIME\r\n250 DSN\r\n");
	assert_string_equal(take(),
			    "MAIL FROM:<alice@cluster.test> SIZE=1234 "
			    "BODY=8BITMIME RET=HDRS ENVID=QQ314159\r\n");
	say(sc, "250 ok\r\n");
	assert_string_equal(take(), "RCPT TO:<a@x.test> NOTIFY=SUCCESS,FAILURE "
				    "ORCPT=rfc822;a@x.test\r\n");
	smtp_client_free(sc);

	/* none offered: no parameters; the null sender stays <>; 8-bit
	 * content goes as it is under /OPTIONS=EIGHT_BIT */
	c = cfg(0);
	c.sender = "";
	c.eightbit = 1;
	c.eightbit_asis = 1;
	sc = client(&c, &IO, 1);
	R[0].notify = DSN_NOTIFY_NEVER;
	greet(sc, "");
	assert_string_equal(take(), "MAIL FROM:<>\r\n");
	say(sc, "250 ok\r\n");
	assert_string_equal(take(), "RCPT TO:<a@x.test>\r\n");
	smtp_client_free(sc);
}

static void test_message_over_the_servers_size_is_refused_early(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	c.size = 5000000;
	sc = client(&c, &IO, 1);
	greet(sc, "250 SIZE 1000000\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_int_equal(R[0].hard, 1);
	assert_non_null(strstr(R[0].reply, "5.3.4"));
	smtp_client_free(sc);
}

static void test_eight_bit_without_8bitmime_follows_the_option(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	/* NOEIGHT_BIT: not sent as it is (RFC 6152 3): hard, 5.6.3 */
	c.eightbit = 1;
	sc = client(&c, &IO, 1);
	greet(sc, "250 PIPELINING\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_int_equal(R[0].hard, 1);
	assert_non_null(strstr(R[0].reply, "5.6.3"));
	smtp_client_free(sc);
	/* offered: BODY=8BITMIME whatever the option */
	sc = client(&c, &IO, 1);
	greet(sc, "250 8BITMIME\r\n");
	assert_string_equal(take(),
			    "MAIL FROM:<alice@cluster.test> BODY=8BITMIME\r\n");
	smtp_client_free(sc);
}

static void test_smtputf8_needs_the_servers_smtputf8(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	/* a UTF-8 sender toward a server without SMTPUTF8: 5.6.7, hard */
	c.smtputf8 = 1;
	c.sender = "j\xc3\xb6rg@cluster.test";
	sc = client(&c, &IO, 1);
	greet(sc, "250 8BITMIME\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].hard, 1);
	assert_non_null(strstr(R[0].reply, "550 5.6.7"));
	smtp_client_free(sc);
	/* offered: MAIL carries SMTPUTF8 */
	sc = client(&c, &IO, 1);
	greet(sc, "250-8BITMIME\r\n250 SMTPUTF8\r\n");
	assert_string_equal(take(), "MAIL FROM:<j\xc3\xb6rg@cluster.test> "
				    "SMTPUTF8\r\n");
	smtp_client_free(sc);
	/* ASCII addresses, UTF-8 header fields: 5.6.9 */
	c.sender = "alice@cluster.test";
	c.head8bit = 1;
	c.eightbit = 1;
	sc = client(&c, &IO, 1);
	greet(sc, "250 8BITMIME\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_non_null(strstr(R[0].reply, "550 5.6.9"));
	smtp_client_free(sc);
	/* nothing non-ASCII at all: sent, without the parameter */
	c.head8bit = 0;
	c.eightbit = 0;
	sc = client(&c, &IO, 1);
	greet(sc, "250 8BITMIME\r\n");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n");
	smtp_client_free(sc);
}

static void test_lmtp_one_reply_per_recipient_after_data(void **state)
{
	struct smtp_client_cfg c = cfg(1);
	struct smtp_client *sc = client(&c, &IO, 3);

	say(sc, "220 dovecot LMTP ready\r\n");
	assert_string_equal(take(), "LHLO node1.cluster.test\r\n");
	say(sc, "250-dovecot\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	/* no STARTTLS in LMTP */
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n"
				    "RCPT TO:<a@x.test>\r\n"
				    "RCPT TO:<b@x.test>\r\n"
				    "RCPT TO:<c@x.test>\r\n"
				    "DATA\r\n");
	say(sc, "250 ok\r\n250 ok\r\n550 5.1.1 no b\r\n250 ok\r\n354 go\r\n");
	take();
	smtp_client_drained(sc);
	say(sc, "250 2.0.0 <a> saved\r\n");
	assert_int_equal(smtp_client_state(sc), SC_DOT);
	assert_string_equal(take(), "");
	say(sc, "452 4.2.2 <c> over quota\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].outcome, OUT_DELIVERED);
	assert_int_equal(R[1].outcome, OUT_FAILED);
	assert_int_equal(R[2].outcome, OUT_DEFERRED);
	assert_string_equal(R[2].reply, "452 4.2.2 <c> over quota");
	smtp_client_free(sc);
}

static void test_lmtp_lhlo_refused_is_not_retried_as_helo(void **state)
{
	struct smtp_client_cfg c = cfg(1);
	struct smtp_client *sc = client(&c, &IO, 1);

	say(sc, "220 lmtp\r\n");
	take();
	say(sc, "500 5.5.1 what\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	smtp_client_free(sc);
}

static void test_bad_recipient_address_is_never_sent(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	memset(&T, 0, sizeof(T));
	memset(R, 0, sizeof(R));
	R[0].addr = "evil@x.test>\r\nRSET";
	R[1].addr = "ok@x.test";
	assert_int_equal(smtp_client_new(&sc, &c, &IO, R, 2), 0);
	smtp_client_begin(sc);
	smtp_client_connected(sc);
	greet(sc, "250 PIPELINING\r\n");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n"
				    "RCPT TO:<ok@x.test>\r\nDATA\r\n");
	assert_int_equal(R[0].outcome, OUT_FAILED);
	smtp_client_free(sc);
	/* a bad sender refuses the whole session up front */
	c.sender = "a\r\nb";
	assert_int_equal(smtp_client_new(&sc, &c, &IO, R, 2), SPOOL_E_INVAL);
}

static void test_prepare_stuffs_dots_and_fixes_line_ends(void **state)
{
	static const char msg[] = ".hidden\r\nline\nbare lf\r\n..two\r\nend";
	char *out;
	size_t len;
	int eight;

	assert_int_equal(smtp_client_prepare("X-H: 1\n", 7, msg,
					     sizeof(msg) - 1, &out, &len,
					     &eight),
			 0);
	assert_int_equal(len, 49);
	assert_memory_equal(
	    out,
	    "X-H: 1\r\n..hidden\r\nline\r\nbare lf\r\n...two\r\n"
	    "end\r\n.\r\n",
	    len);
	assert_int_equal(eight, 0);
	free(out);

	assert_int_equal(smtp_client_prepare(NULL, 0, "caf\xc3\xa9\r\n", 7,
					     &out, &len, &eight),
			 0);
	assert_int_equal(eight, 1);
	assert_memory_equal(out, "caf\xc3\xa9\r\n.\r\n", len);
	assert_int_equal(len, 10);
	free(out);

	assert_int_equal(smtp_client_prepare(NULL, 0, "", 0, &out, &len, NULL),
			 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, ".\r\n", 3);
	free(out);
}

/* ---- connection reuse ---- */

static void test_reuse_keeps_the_connection_and_pipelines_rset(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	c.reuse = 3;
	c.t_idle = 1500;
	sc = client(&c, &IO_REUSE, 1);
	greet(sc, "250 PIPELINING\r\n");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n"
				    "RCPT TO:<a@x.test>\r\n"
				    "DATA\r\n");
	say(sc, "250 ok\r\n250 ok\r\n354 go\r\n");
	assert_string_equal(take(), c.data);
	smtp_client_drained(sc);
	say(sc, "250 2.0.0 one\r\n");
	/* no QUIT: the connection waits for the next message */
	assert_string_equal(take(), "");
	assert_int_equal(T.ready, 1);
	assert_int_equal(T.finished, 0);
	assert_int_equal(smtp_client_state(sc), SC_READY);
	assert_int_equal(T.timer, 1500);
	assert_int_equal(R[0].outcome, OUT_DELIVERED);
	assert_int_equal(smtp_client_transactions(sc), 1);

	/* the second message: RSET, MAIL, RCPTs and DATA in one write */
	next_rcpts(2);
	c.sender = "bob@cluster.test";
	assert_int_equal(smtp_client_next(sc, &c, R, 2), 0);
	assert_string_equal(take(), "RSET\r\n"
				    "MAIL FROM:<bob@cluster.test>\r\n"
				    "RCPT TO:<e@y.test>\r\n"
				    "RCPT TO:<f@y.test>\r\n"
				    "DATA\r\n");
	assert_int_equal(smtp_client_state(sc), SC_RSET);
	say(sc, "250 reset\r\n250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n");
	assert_string_equal(take(), c.data);
	smtp_client_drained(sc);
	say(sc, "250 2.0.0 two\r\n");
	assert_int_equal(T.ready, 2);
	assert_int_equal(R[0].outcome, OUT_DELIVERED);
	assert_string_equal(R[0].reply, "250 2.0.0 two");
	assert_int_equal(R[1].outcome, OUT_FAILED);
	assert_int_equal(smtp_client_reuse_failed(sc), 0);

	/* the third is the last this connection carries: QUIT after it */
	next_rcpts(1);
	assert_int_equal(smtp_client_next(sc, &c, R, 1), 0);
	take();
	say(sc, "250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	take();
	smtp_client_drained(sc);
	say(sc, "250 2.0.0 three\r\n");
	assert_string_equal(take(), "QUIT\r\n");
	assert_int_equal(T.ready, 2);
	assert_int_equal(R[0].outcome, OUT_DELIVERED);
	say(sc, "221 bye\r\n");
	assert_int_equal(T.finished, 1);
	smtp_client_free(sc);
}

static void test_reuse_without_pipelining_waits_for_rset(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	c.reuse = 2;
	sc = client(&c, &IO_REUSE, 1);
	greet(sc, "");
	take();
	say(sc, "250 ok\r\n");
	take();
	say(sc, "250 ok\r\n");
	assert_string_equal(take(), "DATA\r\n");
	say(sc, "354 go\r\n");
	take();
	smtp_client_drained(sc);
	say(sc, "250 ok\r\n");
	assert_int_equal(T.ready, 1);
	/* only the idle state may start a transaction */
	next_rcpts(1);
	assert_int_equal(smtp_client_next(sc, &c, R, 1), 0);
	assert_int_equal(smtp_client_next(sc, &c, R, 1), SPOOL_E_INVAL);
	assert_string_equal(take(), "RSET\r\n");
	say(sc, "250 reset\r\n");
	assert_string_equal(take(), "MAIL FROM:<alice@cluster.test>\r\n");
	say(sc, "250 ok\r\n");
	assert_string_equal(take(), "RCPT TO:<e@y.test>\r\n");
	smtp_client_free(sc);
}

static void test_stale_reused_connection_is_flagged(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	c.reuse = 5;
	sc = client(&c, &IO_REUSE, 1);
	greet(sc, "250 PIPELINING\r\n");
	take();
	say(sc, "250 ok\r\n250 ok\r\n354 go\r\n");
	smtp_client_drained(sc);
	say(sc, "250 ok\r\n");
	assert_int_equal(T.ready, 1);
	next_rcpts(1);
	assert_int_equal(smtp_client_next(sc, &c, R, 1), 0);
	/* the far end had closed the idle connection */
	smtp_client_closed(sc, "connection reset by peer");
	assert_int_equal(smtp_client_reuse_failed(sc), 1);
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	assert_int_equal(R[0].answered, 0);
	assert_int_equal(T.finished, 1);
	smtp_client_free(sc);

	/* a refusal after the RSET was answered is the message's own */
	sc = client(&c, &IO_REUSE, 1);
	greet(sc, "250 PIPELINING\r\n");
	say(sc, "250 ok\r\n250 ok\r\n354 go\r\n");
	smtp_client_drained(sc);
	say(sc, "250 ok\r\n");
	next_rcpts(1);
	assert_int_equal(smtp_client_next(sc, &c, R, 1), 0);
	say(sc, "250 reset\r\n451 4.3.0 not now\r\n");
	assert_int_equal(smtp_client_reuse_failed(sc), 0);
	assert_int_equal(R[0].outcome, OUT_DEFERRED);
	smtp_client_free(sc);
}

static void test_idle_connection_times_out_or_closes_quietly(void **state)
{
	struct smtp_client_cfg c = cfg(0);
	struct smtp_client *sc;

	c.reuse = 5;
	sc = client(&c, &IO_REUSE, 1);
	greet(sc, "250 PIPELINING\r\n");
	take();
	say(sc, "250 ok\r\n250 ok\r\n354 go\r\n");
	take();
	smtp_client_drained(sc);
	say(sc, "250 ok\r\n");
	assert_int_equal(smtp_client_state(sc), SC_READY);
	smtp_client_timeout(sc);
	assert_string_equal(take(), "QUIT\r\n");
	say(sc, "221 bye\r\n");
	assert_int_equal(T.finished, 1);
	smtp_client_free(sc);

	sc = client(&c, &IO_REUSE, 1);
	greet(sc, "250 PIPELINING\r\n");
	say(sc, "250 ok\r\n250 ok\r\n354 go\r\n");
	smtp_client_drained(sc);
	say(sc, "250 ok\r\n");
	smtp_client_closed(sc, "connection closed by peer");
	assert_int_equal(T.finished, 1);
	assert_string_equal(smtp_client_reply(sc), "");
	smtp_client_free(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_transaction_step_by_step),
	    cmocka_unit_test(test_ehlo_refused_falls_back_to_helo),
	    cmocka_unit_test(test_helo_refused_too_is_host_level_hard),
	    cmocka_unit_test(test_pipelining_sends_mail_rcpts_and_data_at_once),
	    cmocka_unit_test(test_per_recipient_outcomes_without_pipelining),
	    cmocka_unit_test(test_no_recipient_accepted_sends_no_data),
	    cmocka_unit_test(test_pipelined_354_without_recipients_ends_empty),
	    cmocka_unit_test(test_4xx_at_mail_defers_every_recipient),
	    cmocka_unit_test(test_5xx_at_mail_is_hard_for_the_host),
	    cmocka_unit_test(test_5xx_at_data_fails_the_accepted_ones),
	    cmocka_unit_test(test_5xx_after_the_dot_fails_and_4xx_defers),
	    cmocka_unit_test(test_multiline_replies_are_joined),
	    cmocka_unit_test(test_timeouts_defer_and_name_the_phase),
	    cmocka_unit_test(test_reply_line_over_4k_is_a_protocol_error),
	    cmocka_unit_test(test_malformed_replies_are_protocol_errors),
	    cmocka_unit_test(test_binary_garbage_never_crashes),
	    cmocka_unit_test(test_connection_lost_defers_everyone),
	    cmocka_unit_test(test_greeting_554_is_hard_and_421_is_not),
	    cmocka_unit_test(
		test_starttls_then_ehlo_again_and_plaintext_dropped),
	    cmocka_unit_test(test_starttls_refused_goes_on_in_clear),
	    cmocka_unit_test(test_tls_handshake_failure_defers_and_is_flagged),
	    cmocka_unit_test(test_no_starttls_without_transport_support),
	    cmocka_unit_test(test_tls_required_never_sends_in_clear),
	    cmocka_unit_test(test_mail_parameters_follow_the_extensions),
	    cmocka_unit_test(
		test_message_over_the_servers_size_is_refused_early),
	    cmocka_unit_test(
		test_eight_bit_without_8bitmime_follows_the_option),
	    cmocka_unit_test(test_smtputf8_needs_the_servers_smtputf8),
	    cmocka_unit_test(test_lmtp_one_reply_per_recipient_after_data),
	    cmocka_unit_test(test_lmtp_lhlo_refused_is_not_retried_as_helo),
	    cmocka_unit_test(test_bad_recipient_address_is_never_sent),
	    cmocka_unit_test(test_prepare_stuffs_dots_and_fixes_line_ends),
	    cmocka_unit_test(
		test_reuse_keeps_the_connection_and_pipelines_rset),
	    cmocka_unit_test(test_reuse_without_pipelining_waits_for_rset),
	    cmocka_unit_test(test_stale_reused_connection_is_flagged),
	    cmocka_unit_test(test_idle_connection_times_out_or_closes_quietly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
