/*
 * test_submit_bs.c — unit tests of cli/submit_bs.c, the "sendmail -bs"
 * dialogue: a client's whole input in a memory stream, the replies
 * collected from another, and a fake queue callback that records what
 * would be submitted (sender, recipients, message) and answers as the
 * node would.
 *
 * Owns the fake; not the dialogue. Fails (cmocka) on the first reply or
 * recorded submission that differs from what the test wants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/submit.h"
#include "cli/submit_bs.h"

struct fake {
	int calls;
	char sender[256];
	char rcpts[1024]; /* comma-separated */
	char msg[8192];
	size_t len;
	const char *answer; /* NULL: "250 2.0.0 Ok: queued as N1" */
};

static void f_queue(void *arg, const char *sender,
		    const struct submit_rcpts *rcpts, char *msg, size_t *len,
		    char *reply, size_t size)
{
	struct fake *f = arg;

	f->calls++;
	snprintf(f->sender, sizeof(f->sender), "%s", sender);
	f->rcpts[0] = '\0';
	for (size_t i = 0; i < rcpts->n; i++) {
		if (i > 0)
			strcat(f->rcpts, ",");
		strcat(f->rcpts, rcpts->v[i]);
	}
	assert_true(*len < sizeof(f->msg));
	memcpy(f->msg, msg, *len);
	f->msg[*len] = '\0';
	f->len = *len;
	snprintf(reply, size, "%s",
		 f->answer ? f->answer : "250 2.0.0 Ok: queued as N1");
}

/* Run the dialogue on input; the replies (malloc'd) and the status. */
static char *run(struct fake *f, const char *input, int *status)
{
	struct submit_bs_env env = {
	    .arg = f, .hostname = "host.test", .queue = f_queue};
	FILE *in = fmemopen((void *)input, strlen(input), "r");
	char *out = NULL;
	size_t outlen = 0;
	FILE *o = open_memstream(&out, &outlen);
	int rc;

	assert_non_null(in);
	assert_non_null(o);
	rc = submit_bs_run(in, o, &env);
	fclose(in);
	fclose(o);
	if (status != NULL)
		*status = rc;
	return out;
}

static void test_one_message_with_dot_stuffing(void **state)
{
	struct fake f = {0};
	int status = -1;
	char *out = run(&f,
			"EHLO mua.test\r\n"
			"MAIL FROM:<me@host.test> BODY=8BITMIME\r\n"
			"RCPT TO:<a@example.com>\r\n"
			"RCPT TO:<b@example.com>\r\n"
			"DATA\r\n"
			"Subject: hi\r\n"
			"\r\n"
			"..leading dot\r\n"
			"last\n"
			".\r\n"
			"QUIT\r\n",
			&status);

	assert_int_equal(status, 0);
	assert_string_equal(out, "220 host.test ESMTP smtpctl sendmail -bs\r\n"
				 "250-host.test\r\n"
				 "250-PIPELINING\r\n"
				 "250-8BITMIME\r\n"
				 "250 ENHANCEDSTATUSCODES\r\n"
				 "250 2.1.0 Ok\r\n"
				 "250 2.1.5 Ok\r\n"
				 "250 2.1.5 Ok\r\n"
				 "354 End data with <CR><LF>.<CR><LF>\r\n"
				 "250 2.0.0 Ok: queued as N1\r\n"
				 "221 2.0.0 Bye\r\n");
	assert_int_equal(f.calls, 1);
	assert_string_equal(f.sender, "me@host.test");
	assert_string_equal(f.rcpts, "a@example.com,b@example.com");
	assert_string_equal(f.msg,
			    "Subject: hi\r\n\r\n.leading dot\r\nlast\r\n");
	free(out);
}

static void
test_refusal_is_the_reply_to_data_and_the_session_goes_on(void **state)
{
	struct fake f = {.answer = "550 5.7.1 submit: only an admin may send "
				   "as \"root\""};
	char *out = run(&f,
			"HELO mua.test\n"
			"MAIL FROM:<root>\n"
			"RCPT TO:<a@example.com>\n"
			"DATA\n"
			"x\n"
			".\n"
			"MAIL FROM:<>\n"
			"RCPT TO:<a@example.com>\n"
			"RSET\n"
			"DATA\n",
			NULL);

	assert_string_equal(out, "220 host.test ESMTP smtpctl sendmail -bs\r\n"
				 "250 host.test\r\n"
				 "250 2.1.0 Ok\r\n"
				 "250 2.1.5 Ok\r\n"
				 "354 End data with <CR><LF>.<CR><LF>\r\n"
				 "550 5.7.1 submit: only an admin may send as "
				 "\"root\"\r\n"
				 "250 2.1.0 Ok\r\n"
				 "250 2.1.5 Ok\r\n"
				 "250 2.0.0 Ok\r\n"
				 "503 5.5.1 Error: need MAIL command\r\n");
	assert_int_equal(f.calls, 1);
	free(out);
}

static void test_sequence_and_syntax_errors(void **state)
{
	struct fake f = {0};
	char *out = run(&f,
			"RCPT TO:<a@example.com>\r\n"
			"DATA\r\n"
			"MAIL FROM:a@b\r\n"
			"MAIL FROM:<a@b>\r\n"
			"MAIL FROM:<a@b>\r\n"
			"DATA\r\n"
			"RCPT TO:<>\r\n"
			"RCPT TO:<a b@c>\r\n"
			"AUTH PLAIN x\r\n"
			"FROB\r\n"
			"NOOP\r\n"
			"VRFY x\r\n",
			NULL);

	assert_string_equal(out, "220 host.test ESMTP smtpctl sendmail -bs\r\n"
				 "503 5.5.1 Error: need MAIL command\r\n"
				 "503 5.5.1 Error: need MAIL command\r\n"
				 "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
				 "250 2.1.0 Ok\r\n"
				 "503 5.5.1 Error: nested MAIL command\r\n"
				 "503 5.5.1 Error: need RCPT command\r\n"
				 "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
				 "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
				 "502 5.5.1 Error: command not implemented\r\n"
				 "500 5.5.2 Error: command not recognized\r\n"
				 "250 2.0.0 Ok\r\n"
				 "252 2.5.2 Cannot VRFY user, but will accept "
				 "message and attempt delivery\r\n");
	assert_int_equal(f.calls, 0);
	free(out);
}

static void test_end_of_input_inside_data_queues_nothing(void **state)
{
	struct fake f = {0};
	int status = -1;
	char *out = run(&f,
			"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
			"partial\r\n",
			&status);

	assert_int_equal(status, 0);
	assert_int_equal(f.calls, 0);
	assert_non_null(strstr(out, "354 "));
	free(out);
}

static void test_too_many_errors_end_the_session(void **state)
{
	struct fake f = {0};
	char input[2048] = "";
	char *out, *last;

	for (int i = 0; i < SUBMIT_BS_ERRORS_MAX + 5; i++)
		strcat(input, "BAD\r\n");
	strcat(input, "NOOP\r\n");
	out = run(&f, input, NULL);
	last = strstr(out, "421 4.7.0 host.test Error: too many errors\r\n");
	assert_non_null(last);
	/* nothing after the 421: the NOOP was never read */
	assert_string_equal(last,
			    "421 4.7.0 host.test Error: too many errors\r\n");
	free(out);
}

static void test_line_too_long_is_refused(void **state)
{
	struct fake f = {0};
	size_t n = SUBMIT_BS_LINE_MAX + 10;
	char *input = malloc(n + 16);
	char *out;

	assert_non_null(input);
	memset(input, 'x', n);
	strcpy(input + n, "\r\nQUIT\r\n");
	out = run(&f, input, NULL);
	assert_string_equal(out, "220 host.test ESMTP smtpctl sendmail -bs\r\n"
				 "500 5.5.2 Error: line too long\r\n"
				 "221 2.0.0 Bye\r\n");
	free(out);
	free(input);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_message_with_dot_stuffing),
	    cmocka_unit_test(
		test_refusal_is_the_reply_to_data_and_the_session_goes_on),
	    cmocka_unit_test(test_sequence_and_syntax_errors),
	    cmocka_unit_test(test_end_of_input_inside_data_queues_nothing),
	    cmocka_unit_test(test_too_many_errors_end_the_session),
	    cmocka_unit_test(test_line_too_long_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
