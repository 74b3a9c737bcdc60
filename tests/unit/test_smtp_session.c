/*
 * test_smtp_session.c — unit tests of src/smtpd/smtp_session.c driven through a
 * fake transport (replies collected in a buffer) and a fake propose
 * function (the ENQUEUE is captured and decoded; the test answers it as the
 * cluster would). Covers every verb, every error path, pipelining with
 * replies held behind a proposal, STARTTLS state reset and injection
 * defence, DATA refusals (bare CR/LF, smuggling, long lines, size, hops),
 * recipient limits, relay refusals, timeouts and shutdown.
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
#include "spool/codec/ctlname.h"
#include "spool/codec/err.h"
#include "spool/store/spool.h"
#include "src/smtpd/smtp_session.h"

#define NOW_MS 1709214307890ull /* 2024-02-29T13:45:07.890Z */

struct fake {
	struct smtp_session *s;
	char out[1 << 16];
	size_t out_len, out_read;
	int writes;
	int closed;
	int starttls_calls, starttls_rc;
	int proposals, propose_rc;
	int answer_sync; /* answer inside propose: applied, status 0 */
	uint8_t *cmd;
	size_t cmd_len;
	uint32_t seq;
	int alias_fails;
	int accepted, discarded;
	uint64_t accepted_octets;
	int rejects[SMTP_REJ__COUNT];
};

static void f_write(void *arg, const char *p, size_t n)
{
	struct fake *f = arg;

	assert_true(f->out_len + n < sizeof(f->out));
	memcpy(f->out + f->out_len, p, n);
	f->out_len += n;
	f->writes++;
}

static int f_propose(void *arg, const void *cmd, size_t len)
{
	struct fake *f = arg;

	f->proposals++;
	if (f->propose_rc != 0)
		return f->propose_rc;
	free(f->cmd);
	f->cmd = malloc(len);
	assert_non_null(f->cmd);
	memcpy(f->cmd, cmd, len);
	f->cmd_len = len;
	if (f->answer_sync)
		smtp_session_proposed(f->s, 1, 0, 0);
	return 0;
}

static int f_starttls(void *arg)
{
	struct fake *f = arg;

	f->starttls_calls++;
	return f->starttls_rc;
}

static void f_close(void *arg)
{
	struct fake *f = arg;

	f->closed++;
}

static int f_alias_has(void *arg, const char *domain)
{
	struct fake *f = arg;

	if (f->alias_fails)
		return SPOOL_E_IO;
	return strcmp(domain, "alias.test") == 0;
}

static uint64_t f_now(void *arg)
{
	return NOW_MS;
}

static uint32_t f_seq(void *arg)
{
	struct fake *f = arg;

	return ++f->seq;
}

static void f_event(void *arg, int ev, uint64_t n)
{
	struct fake *f = arg;

	if (ev == SMTP_EV_ACCEPTED) {
		f->accepted++;
		f->accepted_octets += n;
	} else if (ev == SMTP_EV_REJECTED) {
		assert_true(n < SMTP_REJ__COUNT);
		f->rejects[n]++;
	} else if (ev == SMTP_EV_DISCARDED) {
		f->discarded++;
	}
}

static struct smtp_session_conf default_conf(void)
{
	struct smtp_session_conf c = {
	    .node_name = "NODE1",
	    .node_domain = "node1.cluster.test",
	    .cluster_domain = "cluster.test",
	    .client_ip = "192.0.2.10",
	    .node_id = 7,
	    .max_size = 1000,
	    .max_rcpt = 3,
	    .hop_max = 5,
	    .policy_allowed = 0,
	    .tls_available = 1,
	};
	return c;
}

/* A started session with conf c; the greeting is consumed. */
static struct fake *open_with(const struct smtp_session_conf *c)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct smtp_session_env env = {
	    .write = f_write,
	    .propose = f_propose,
	    .starttls = f_starttls,
	    .close = f_close,
	    .alias_has = f_alias_has,
	    .now_ms = f_now,
	    .next_seq = f_seq,
	    .event = f_event,
	};

	assert_non_null(f);
	env.arg = f;
	f->s = smtp_session_new(c, &env);
	assert_non_null(f->s);
	smtp_session_start(f->s);
	return f;
}

static struct fake *open_default(void)
{
	struct smtp_session_conf c = default_conf();

	return open_with(&c);
}

static void done(struct fake *f)
{
	smtp_session_free(f->s);
	free(f->cmd);
	free(f);
}

static void send_str(struct fake *f, const char *s)
{
	smtp_session_input(f->s, s, strlen(s));
}

/* The next reply line (without CRLF) into line; 0 when none is left. */
static int next_line(struct fake *f, char *line, size_t size)
{
	const char *p = f->out + f->out_read;
	size_t avail = f->out_len - f->out_read;
	const char *e = memchr(p, '\n', avail);
	size_t n;

	if (e == NULL)
		return 0;
	assert_true(e > p && e[-1] == '\r');
	n = (size_t)(e - p) - 1;
	assert_true(n < size);
	memcpy(line, p, n);
	line[n] = '\0';
	f->out_read += (size_t)(e - p) + 1;
	return 1;
}

/* The next reply line must begin with want. */
static void expect_impl(struct fake *f, const char *want, int lineno)
{
	char line[2048];

	if (!next_line(f, line, sizeof(line)))
		fail_msg("line %d: no reply, wanted \"%s\"", lineno, want);
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("line %d: got \"%s\", wanted \"%s\"", lineno, line,
			 want);
}
#define expect(f, want) expect_impl((f), (want), __LINE__)

static void expect_nothing_impl(struct fake *f, int lineno)
{
	char line[2048];

	if (next_line(f, line, sizeof(line)))
		fail_msg("line %d: unexpected reply \"%s\"", lineno, line);
}
#define expect_nothing(f) expect_nothing_impl((f), __LINE__)

/* EHLO and consume its reply. */
static void ehlo(struct fake *f)
{
	char line[256];

	send_str(f, "EHLO client.test\r\n");
	do {
		assert_true(next_line(f, line, sizeof(line)));
		assert_memory_equal(line, "250", 3);
	} while (line[3] == '-');
}

/* EHLO, MAIL, one RCPT, DATA: ready for the message. */
static void to_data(struct fake *f)
{
	ehlo(f);
	send_str(f, "MAIL FROM:<alice@client.test>\r\n"
		    "RCPT TO:<bob@node1.cluster.test>\r\nDATA\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
}

/* Decode the captured ENQUEUE. */
static void decode_cmd(struct fake *f, struct spool_cmd *cmd)
{
	assert_non_null(f->cmd);
	assert_int_equal(spool_cmd_decode(cmd, f->cmd, f->cmd_len), 0);
	assert_int_equal(cmd->type, CMD_ENQUEUE);
}

/* 1 if the proposed body contains needle (bodies are not NUL-terminated). */
static int body_has(const struct spool_cmd *cmd, const char *needle)
{
	return memmem(cmd->u.enqueue.body, cmd->u.enqueue.body_len, needle,
		      strlen(needle)) != NULL;
}

/* ---- greeting and EHLO/HELO ---- */

static void test_greeting_is_220_with_the_node_domain(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 node1.cluster.test ESMTP");
	expect_nothing(f);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_CONNECTED);
	done(f);
}

static void test_ehlo_advertises_the_extensions(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	send_str(f, "EHLO client.test\r\n");
	expect(f, "250-node1.cluster.test Hello client.test [192.0.2.10]");
	expect(f, "250-PIPELINING");
	expect(f, "250-SIZE 1000");
	expect(f, "250-8BITMIME");
	expect(f, "250-ENHANCEDSTATUSCODES");
	expect(f, "250-STARTTLS");
	expect(f, "250 DSN");
	expect_nothing(f);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_GREETED);
	done(f);
}

static void test_ehlo_without_tls_does_not_offer_starttls(void **state)
{
	struct smtp_session_conf c = default_conf();
	struct fake *f;

	c.tls_available = 0;
	f = open_with(&c);
	expect(f, "220 ");
	send_str(f, "EHLO client.test\r\n");
	expect(f, "250-node1");
	expect(f, "250-PIPELINING");
	expect(f, "250-SIZE 1000");
	expect(f, "250-8BITMIME");
	expect(f, "250-ENHANCEDSTATUSCODES");
	expect(f, "250 DSN");
	send_str(f, "STARTTLS\r\n");
	expect(f, "502 5.5.1");
	assert_int_equal(f->starttls_calls, 0);
	done(f);
}

static void test_helo_greets_and_refuses_esmtp_parameters(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	send_str(f, "HELO client.test\r\n");
	expect(f, "250 node1.cluster.test");
	send_str(f, "MAIL FROM:<a@b.test> SIZE=10\r\n");
	expect(f, "555 5.5.4");
	send_str(f, "MAIL FROM:<a@b.test>\r\n");
	expect(f, "250 2.1.0");
	send_str(f, "RCPT TO:<u@node1.cluster.test> NOTIFY=NEVER\r\n");
	expect(f, "555 5.5.4");
	done(f);
}

static void test_helo_and_ehlo_need_a_valid_argument(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	send_str(f, "HELO\r\nEHLO\r\nEHLO a\x80z\r\n");
	expect(f, "501 5.5.4 Syntax: HELO");
	expect(f, "501 5.5.4 Syntax: EHLO");
	expect(f, "501 5.5.4 Syntax: EHLO");
	assert_int_equal(smtp_session_state(f->s), SMTP_S_CONNECTED);
	done(f);
}

static void test_ehlo_during_a_transaction_resets_it(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\n");
	expect(f, "250 2.1.0");
	ehlo(f);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_GREETED);
	send_str(f, "RCPT TO:<u@node1.cluster.test>\r\n");
	expect(f, "503 5.5.1");
	done(f);
}

/* ---- sequence errors ---- */

static void test_mail_before_helo_is_a_bad_sequence(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	send_str(f, "MAIL FROM:<a@b.test>\r\n");
	expect(f, "503 5.5.1 Error: send HELO/EHLO first");
	done(f);
}

static void test_rcpt_and_data_before_mail_are_bad_sequences(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "RCPT TO:<u@node1.cluster.test>\r\nDATA\r\n");
	expect(f, "503 5.5.1 Error: need MAIL command");
	expect(f, "503 5.5.1 Error: need MAIL command");
	done(f);
}

static void test_data_without_recipient_is_a_bad_sequence(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<u@other.test>\r\n"
		    "DATA\r\n");
	expect(f, "250 2.1.0");
	expect(f, "550 5.7.1");
	expect(f, "503 5.5.1 Error: need RCPT command");
	assert_int_equal(smtp_session_state(f->s), SMTP_S_MAIL);
	done(f);
}

static void test_nested_mail_is_a_bad_sequence(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\nMAIL FROM:<c@d.test>\r\n");
	expect(f, "250 2.1.0");
	expect(f, "503 5.5.1 Error: nested MAIL command");
	done(f);
}

/* ---- simple verbs ---- */

static void test_rset_noop_help_vrfy(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<u@node1.cluster.test>\r\n"
		    "RSET\r\nDATA\r\nNOOP\r\nNOOP anything\r\nHELP\r\n"
		    "HELP MAIL\r\nVRFY root\r\nVRFY\r\nRSET x\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "250 2.0.0");
	expect(f, "503 5.5.1"); /* RSET forgot the transaction */
	expect(f, "250 2.0.0");
	expect(f, "250 2.0.0");
	expect(f, "214 2.0.0 Commands:");
	expect(f, "214 2.0.0 Commands:");
	expect(f, "252 2.5.2");
	expect(f, "501 5.5.4 Syntax: VRFY");
	expect(f, "501 5.5.4 Syntax: RSET");
	expect_nothing(f);
	done(f);
}

static void test_rset_before_helo_stays_connected(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	send_str(f, "RSET\r\n");
	expect(f, "250 2.0.0");
	assert_int_equal(smtp_session_state(f->s), SMTP_S_CONNECTED);
	done(f);
}

static void test_quit_says_bye_closes_and_ignores_the_rest(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	send_str(f, "QUIT\r\nNOOP\r\n");
	expect(f, "221 2.0.0");
	expect_nothing(f);
	assert_int_equal(f->closed, 1);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_CLOSED);
	send_str(f, "NOOP\r\n");
	expect_nothing(f);
	done(f);
}

static void test_unknown_and_unoffered_commands(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	send_str(f, "FOO\r\nEXPN list\r\nAUTH PLAIN\r\n\r\n123\r\n"
		    "DATA now\r\nQUIT now\r\n");
	expect(f, "500 5.5.2");
	expect(f, "502 5.5.1");
	expect(f, "502 5.5.1");
	expect(f, "500 5.5.2"); /* empty line */
	expect(f, "500 5.5.2");
	expect(f, "501 5.5.4 Syntax: DATA");
	expect(f, "501 5.5.4 Syntax: QUIT");
	assert_int_equal(f->closed, 0);
	done(f);
}

static void test_verbs_are_case_insensitive(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	send_str(f, "ehlo client.test\r\n");
	expect(f, "250-");
	f->out_read = f->out_len;
	send_str(f, "mail from:<a@b.test>\r\nrcpt to:<u@node1.cluster.test>\r\n"
		    "noop\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "250 2.0.0");
	done(f);
}

/* ---- command line framing ---- */

static void test_command_with_bare_lf_is_refused(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	send_str(f, "NOOP\nNOOP\r\n");
	expect(f, "500 5.5.2 Error: command lines must end with <CR><LF>");
	expect(f, "250 2.0.0");
	done(f);
}

static void test_control_characters_in_a_command_are_refused(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	smtp_session_input(f->s, "NO\0OP\r\nNO\rOP\r\n", 14);
	expect(f, "500 5.5.2 Error: control character");
	expect(f, "500 5.5.2 Error: control character");
	done(f);
}

static void test_over_long_command_line_is_refused_once(void **state)
{
	struct fake *f = open_default();
	char *big = malloc(5000);

	assert_non_null(big);
	expect(f, "220 ");
	memset(big, 'A', 4999);
	big[4999] = '\0';
	send_str(f, "NOOP ");
	send_str(f, big);
	send_str(f, big);
	send_str(f, "\r\nNOOP\r\n");
	expect(f, "500 5.5.2 Error: line too long");
	expect(f, "250 2.0.0");
	expect_nothing(f);
	free(big);
	done(f);
}

static void test_input_split_at_every_octet_works(void **state)
{
	struct fake *f = open_default();
	const char *in = "EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nNOOP\r\n";

	expect(f, "220 ");
	for (size_t i = 0; in[i] != '\0'; i++)
		smtp_session_input(f->s, in + i, 1);
	expect(f, "250-node1");
	f->out_read = f->out_len - strlen("250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.0.0");
	done(f);
}

static void test_too_many_errors_end_the_session(void **state)
{
	struct fake *f = open_default();
	char line[256];
	int n = 0;

	expect(f, "220 ");
	for (int i = 0; i < 30; i++)
		send_str(f, "BOGUS\r\n");
	while (next_line(f, line, sizeof(line)) &&
	       strncmp(line, "500 5.5.2", 9) == 0)
		n++;
	assert_int_equal(n, 20);
	assert_string_equal(line, "421 4.7.0 node1.cluster.test Error: too "
				  "many errors");
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->rejects[SMTP_REJ_ERRORS], 1);
	done(f);
}

/* ---- MAIL and RCPT ---- */

static void test_mail_syntax_errors(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL\r\nMAIL FROM:a@b.test\r\nMAIL FROM:<a@@b>\r\n"
		    "MAIL FROM:<a@b.test> FOO=BAR\r\n"
		    "MAIL FROM:<a@b.test> BODY=BINARY\r\n");
	expect(f, "501 5.5.4 Syntax: MAIL FROM:<address>");
	expect(f, "501 5.5.2");
	expect(f, "553 5.1.3");
	expect(f, "555 5.5.4");
	expect(f, "501 5.5.4");
	assert_int_equal(smtp_session_state(f->s), SMTP_S_GREETED);
	done(f);
}

static void test_mail_size_over_the_limit_is_refused(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test> SIZE=1001\r\n"
		    "MAIL FROM:<a@b.test> SIZE=1000\r\n");
	expect(f, "552 5.3.4");
	expect(f, "250 2.1.0");
	assert_int_equal(f->rejects[SMTP_REJ_SIZE], 1);
	done(f);
}

static void test_relaying_is_denied_to_untrusted_clients(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\n"
		    "RCPT TO:<u@other.test>\r\n"
		    "RCPT TO:<u%other.test@node1.cluster.test>\r\n"
		    "RCPT TO:<@node1.cluster.test:u@other.test>\r\n"
		    "RCPT TO:<u@[192.0.2.1]>\r\n"
		    "RCPT TO:<u@alias.test>\r\n"
		    "RCPT TO:<u@CLUSTER.test.>\r\n");
	expect(f, "250 2.1.0");
	expect(f, "550 5.7.1 <u@other.test>: Relay access denied");
	expect(f, "550 5.7.1");
	expect(f, "550 5.7.1 <u@other.test>");
	expect(f, "550 5.7.1");
	expect(f, "250 2.1.5");
	expect(f, "250 2.1.5");
	assert_int_equal(f->rejects[SMTP_REJ_RELAY], 4);
	done(f);
}

static void test_relaying_is_allowed_when_configured(void **state)
{
	struct smtp_session_conf c = default_conf();
	struct fake *f;

	c.policy_allowed = 1;
	f = open_with(&c);
	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<u@other.test>\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	done(f);
}

static void test_failed_alias_lookup_is_451(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	f->alias_fails = 1;
	send_str(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<u@maybe.test>\r\n");
	expect(f, "250 2.1.0");
	expect(f, "451 4.3.0");
	done(f);
}

/* rcpt_known hook: "nobody" is unknown, "broken" fails the lookup; every
 * address asked is recorded. */
struct known {
	char asked[8][256];
	int n;
};

static int f_rcpt_known(void *arg, const char *addr)
{
	struct known *k = arg;

	if (k->n < 8)
		snprintf(k->asked[k->n++], sizeof(k->asked[0]), "%s", addr);
	if (strncmp(addr, "nobody@", 7) == 0)
		return 0;
	if (strncmp(addr, "broken@", 7) == 0)
		return SPOOL_E_IO;
	return 1;
}

static void test_unknown_local_user_is_550_5_1_1(void **state)
{
	struct smtp_session_conf c = default_conf();
	struct known k = {.n = 0};
	struct spool_cmd cmd;
	struct fake *f;

	c.rcpt_known = f_rcpt_known;
	c.rcpt_arg = &k;
	f = open_with(&c);
	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\n"
		    "RCPT TO:<nobody@node1.cluster.test>\r\n"
		    "RCPT TO:<broken@cluster.test>\r\n"
		    "RCPT TO:<alice@node1.cluster.test>\r\n"
		    "RCPT TO:<Postmaster>\r\n"
		    "DATA\r\nhi\r\n.\r\n");
	expect(f, "250 2.1.0");
	expect(f, "550 5.1.1 <nobody@node1.cluster.test>: no such user here");
	expect(f, "451 4.3.0 <broken@cluster.test>");
	expect(f, "250 2.1.5");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
	smtp_session_proposed(f->s, 1, 0, 0);
	expect(f, "250 2.0.0 Ok: queued as");
	assert_int_equal(f->rejects[SMTP_REJ_USER], 1);
	assert_int_equal(f->rejects[SMTP_REJ_SPOOL], 1);
	/* postmaster is accepted without asking (RFC 5321 4.5.1) */
	assert_int_equal(k.n, 3);
	decode_cmd(f, &cmd);
	assert_int_equal(cmd.u.enqueue.rec.nrcpt, 2);
	assert_string_equal(cmd.u.enqueue.rec.rcpt[0].addr,
			    "alice@node1.cluster.test");
	spool_cmd_free(&cmd);
	done(f);
}

static void test_relayed_recipient_skips_the_user_check(void **state)
{
	struct smtp_session_conf c = default_conf();
	struct known k = {.n = 0};
	struct fake *f;

	c.policy_allowed = 1;
	c.rcpt_known = f_rcpt_known;
	c.rcpt_arg = &k;
	f = open_with(&c);
	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\n"
		    "RCPT TO:<nobody@other.test>\r\n"
		    "RCPT TO:<nobody@alias.test>\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "550 5.1.1 <nobody@alias.test>");
	assert_int_equal(k.n, 1);
	assert_string_equal(k.asked[0], "nobody@alias.test");
	done(f);
}

static void test_too_many_recipients_is_452(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\n"
		    "RCPT TO:<a@node1.cluster.test>\r\n"
		    "RCPT TO:<b@node1.cluster.test>\r\n"
		    "RCPT TO:<c@node1.cluster.test>\r\n"
		    "RCPT TO:<d@node1.cluster.test>\r\n"
		    "DATA\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "250 2.1.5");
	expect(f, "250 2.1.5");
	expect(f, "452 4.5.3");
	expect(f, "354 ");
	send_str(f, "hi\r\n.\r\n");
	smtp_session_proposed(f->s, 1, 0, 0);
	expect(f, "250 2.0.0 Ok: queued as");
	{
		struct spool_cmd cmd;

		decode_cmd(f, &cmd);
		assert_int_equal(cmd.u.enqueue.rec.nrcpt, 3);
		spool_cmd_free(&cmd);
	}
	done(f);
}

static void test_duplicate_recipient_is_listed_once(void **state)
{
	struct fake *f = open_default();
	struct spool_cmd cmd;

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<x@node1.cluster.test>\r\n"
		    "RCPT TO:<x@node1.cluster.test>\r\nDATA\r\nhi\r\n.\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
	decode_cmd(f, &cmd);
	assert_int_equal(cmd.u.enqueue.rec.nrcpt, 1);
	spool_cmd_free(&cmd);
	done(f);
}

static void test_postmaster_is_accepted_and_qualified(void **state)
{
	struct fake *f = open_default();
	struct spool_cmd cmd;

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "MAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nDATA\r\nhi\r\n"
		    ".\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
	decode_cmd(f, &cmd);
	assert_string_equal(cmd.u.enqueue.rec.sender, "");
	assert_string_equal(cmd.u.enqueue.rec.rcpt[0].addr,
			    "postmaster@node1.cluster.test");
	spool_cmd_free(&cmd);
	done(f);
}

/* ---- a whole message ---- */

static void test_message_is_proposed_and_250_only_after_commit(void **state)
{
	struct fake *f = open_default();
	struct spool_cmd cmd;
	struct spool_cmd_enqueue *e;
	struct ctlname cn;
	char want[128];
	const char *body;

	expect(f, "220 ");
	to_data(f);
	send_str(f, "Subject: hi\r\n\r\nHello\r\n.\r\n");
	expect_nothing(f); /* nothing before the quorum has it */
	assert_int_equal(smtp_session_state(f->s), SMTP_S_QUEUEING);
	assert_int_equal(f->proposals, 1);
	decode_cmd(f, &cmd);
	e = &cmd.u.enqueue;
	assert_int_equal(ctlname_parse(e->name, &cn), 0);
	assert_string_equal(cn.user, "TCPIP$SMTP");
	assert_string_equal(cn.node, "NODE1");
	assert_int_equal(cn.seq, 1);
	assert_string_equal(e->rec.user, "TCPIP$SMTP");
	assert_string_equal(e->rec.sender, "alice@client.test");
	assert_string_equal(e->rec.client, "192.0.2.10");
	assert_string_equal(e->rec.helo, "client.test");
	assert_int_equal(e->rec.origin_node, 7);
	assert_int_equal(e->rec.hops, 0);
	assert_int_equal(e->rec.nrcpt, 1);
	assert_string_equal(e->rec.rcpt[0].addr, "bob@node1.cluster.test");
	body = e->body;
	snprintf(want, sizeof(want),
		 "Received: from client.test ([192.0.2.10])\r\n"
		 "\tby node1.cluster.test (smtpcluster NODE1) with ESMTP id %s"
		 "\r\n",
		 e->name);
	assert_true(e->body_len > strlen(want));
	assert_memory_equal(body, want, strlen(want));
	assert_true(body_has(&cmd, "\tfor <bob@node1.cluster.test>; Thu, 29 "
				   "Feb 2024 13:45:07 +0000\r\n"
				   "Subject: hi\r\n\r\nHello\r\n"));
	assert_memory_equal(body + e->body_len - 7, "Hello\r\n", 7);

	smtp_session_proposed(f->s, 1, 0, 0);
	snprintf(want, sizeof(want), "250 2.0.0 Ok: queued as %s", e->name);
	expect(f, want);
	expect_nothing(f);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_GREETED);
	assert_int_equal(f->accepted, 1);
	assert_int_equal(f->accepted_octets, e->body_len);
	spool_cmd_free(&cmd);
	done(f);
}

static void test_dsn_parameters_reach_the_control_file(void **state)
{
	struct fake *f = open_default();
	struct spool_cmd cmd;

	expect(f, "220 ");
	ehlo(f);
	send_str(f,
		 "MAIL FROM:<a@b.test> RET=HDRS ENVID=id+2B1 BODY=8BITMIME\r\n"
		 "RCPT TO:<x@node1.cluster.test> NOTIFY=FAILURE,DELAY "
		 "ORCPT=rfc822;x+40node1.cluster.test\r\n"
		 "RCPT TO:<y@node1.cluster.test>\r\nDATA\r\nhi\r\n.\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
	decode_cmd(f, &cmd);
	assert_int_equal(cmd.u.enqueue.rec.ret, DSN_RET_HDRS);
	assert_string_equal(cmd.u.enqueue.rec.envid, "id+2B1");
	assert_int_equal(cmd.u.enqueue.rec.rcpt[0].notify,
			 DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
	assert_string_equal(cmd.u.enqueue.rec.rcpt[0].orcpt,
			    "rfc822;x+40node1.cluster.test");
	assert_int_equal(cmd.u.enqueue.rec.rcpt[1].notify, 0);
	assert_string_equal(cmd.u.enqueue.rec.rcpt[1].orcpt, "");
	/* more than one recipient: no "for" clause */
	assert_false(body_has(&cmd, "\tfor <"));
	spool_cmd_free(&cmd);
	done(f);
}

static void test_helo_session_is_received_with_smtp(void **state)
{
	struct fake *f = open_default();
	struct spool_cmd cmd;

	expect(f, "220 ");
	send_str(f, "HELO old.test\r\nMAIL FROM:<a@b.test>\r\n"
		    "RCPT TO:<x@node1.cluster.test>\r\nDATA\r\nhi\r\n.\r\n");
	decode_cmd(f, &cmd);
	assert_true(body_has(&cmd, " with SMTP id "));
	spool_cmd_free(&cmd);
	done(f);
}

static void test_retried_duplicate_entry_is_still_250(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	to_data(f);
	send_str(f, "hi\r\n.\r\n");
	smtp_session_proposed(f->s, 1, 0, RES_F_DUPLICATE);
	expect(f, "250 2.0.0 Ok: queued as");
	done(f);
}

static void test_proposal_outcomes_map_to_replies(void **state)
{
	static const struct {
		int applied, status;
		const char *want;
		int reject;
	} cases[] = {
	    {0, 0, "451 4.3.0", SMTP_REJ_NOQUORUM},
	    {1, SPOOL_E_FULL, "452 4.3.1", SMTP_REJ_FULL},
	    {1, SPOOL_E_HOPS, "554 5.4.6", SMTP_REJ_HOPS},
	    {1, SPOOL_E_INVAL, "554 5.3.0", SMTP_REJ_SPOOL},
	    {1, SPOOL_E_BADNAME, "554 5.3.0", SMTP_REJ_SPOOL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake *f = open_default();

		expect(f, "220 ");
		to_data(f);
		send_str(f, "hi\r\n.\r\n");
		smtp_session_proposed(f->s, cases[i].applied, cases[i].status,
				      0);
		expect(f, cases[i].want);
		assert_int_equal(f->rejects[cases[i].reject], 1);
		assert_int_equal(f->accepted, 0);
		assert_int_equal(smtp_session_state(f->s), SMTP_S_GREETED);
		/* the session goes on */
		send_str(f, "MAIL FROM:<a@b.test>\r\n");
		expect(f, "250 2.1.0");
		done(f);
	}
}

static void test_propose_refused_at_once(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	f->propose_rc = SMTP_PROPOSE_E_TOOBIG;
	to_data(f);
	send_str(f, "hi\r\n.\r\n");
	expect(f, "552 5.3.4");
	f->propose_rc = SMTP_PROPOSE_E_FAILED;
	send_str(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<x@node1.cluster.test>\r\n"
		    "DATA\r\nhi\r\n.\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
	expect(f, "451 4.3.0");
	assert_int_equal(smtp_session_state(f->s), SMTP_S_GREETED);
	done(f);
}

static void test_synchronous_answer_inside_propose(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	f->answer_sync = 1;
	to_data(f);
	send_str(f, "hi\r\n.\r\nNOOP\r\n");
	expect(f, "250 2.0.0 Ok: queued as");
	expect(f, "250 2.0.0 Ok");
	expect_nothing(f);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_GREETED);
	done(f);
}

/* ---- pipelining ---- */

static void test_pipelined_envelope_in_one_write(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	f->writes = 0;
	send_str(f,
		 "MAIL FROM:<a@b.test>\r\nRCPT TO:<x@node1.cluster.test>\r\n"
		 "RCPT TO:<nobody@other.test>\r\nRCPT TO:<y@cluster.test>\r\n"
		 "DATA\r\n");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "550 5.7.1");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
	assert_int_equal(f->writes, 1); /* one batch of replies */
	done(f);
}

static void test_replies_are_held_until_the_proposal_answers(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	to_data(f);
	send_str(f, "hi\r\n.\r\nMAIL FROM:<c@d.test>\r\nNOOP\r\nQUIT\r\n");
	expect_nothing(f);
	assert_true(smtp_session_buffered(f->s) > 0);
	send_str(f, "NOOP\r\n"); /* still held */
	expect_nothing(f);
	smtp_session_proposed(f->s, 1, 0, 0);
	expect(f, "250 2.0.0 Ok: queued as");
	expect(f, "250 2.1.0");
	expect(f, "250 2.0.0 Ok");
	expect(f, "221 2.0.0");
	expect_nothing(f); /* the NOOP after QUIT is ignored */
	assert_int_equal(f->closed, 1);
	done(f);
}

static void test_two_pipelined_messages_are_answered_in_order(void **state)
{
	struct fake *f = open_default();
	const char *txn = "MAIL FROM:<a@b.test>\r\n"
			  "RCPT TO:<x@node1.cluster.test>\r\nDATA\r\n";

	expect(f, "220 ");
	ehlo(f);
	send_str(f, txn);
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
	send_str(f, "one\r\n.\r\n");
	send_str(f, txn);
	expect_nothing(f);
	smtp_session_proposed(f->s, 0, 0, 0);
	expect(f, "451 4.3.0");
	expect(f, "250 2.1.0");
	expect(f, "250 2.1.5");
	expect(f, "354 ");
	send_str(f, "two\r\n.\r\n");
	assert_int_equal(f->proposals, 2);
	smtp_session_proposed(f->s, 1, 0, 0);
	expect(f, "250 2.0.0 Ok: queued as");
	done(f);
}

/* ---- DATA refusals ---- */

/* Send body (after DATA), expect one reply, no proposal, still in step. */
static void refused_body(const char *body, const char *want, int reject)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	to_data(f);
	send_str(f, body);
	expect(f, want);
	expect_nothing(f);
	assert_int_equal(f->proposals, 0);
	assert_int_equal(f->rejects[reject], 1);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_GREETED);
	send_str(f, "NOOP\r\n");
	expect(f, "250 2.0.0");
	done(f);
}

static void test_bare_lf_in_data_is_554(void **state)
{
	refused_body("a\nb\r\n.\r\n", "554 5.6.0", SMTP_REJ_BARE);
}

static void test_bare_cr_in_data_is_554(void **state)
{
	refused_body("a\rb\r\n.\r\n", "554 5.6.0", SMTP_REJ_BARE);
}

static void test_smuggling_lf_dot_lf_injects_nothing(void **state)
{
	refused_body("one\n.\nMAIL FROM:<evil@x.test>\r\n"
		     "RCPT TO:<v@node1.cluster.test>\r\nDATA\r\nevil\r\n.\r\n",
		     "554 5.6.0", SMTP_REJ_BARE);
}

static void test_smuggling_lf_dot_crlf_injects_nothing(void **state)
{
	refused_body("one\n.\r\nMAIL FROM:<evil@x.test>\r\n"
		     "RCPT TO:<v@node1.cluster.test>\r\nDATA\r\nevil\r\n.\r\n",
		     "554 5.6.0", SMTP_REJ_BARE);
}

static void test_long_line_in_data_is_500(void **state)
{
	char body[1100];

	memset(body, 'x', 999);
	strcpy(body + 999, "\r\n.\r\n");
	refused_body(body, "500 5.5.6", SMTP_REJ_LONG);
}

static void test_message_over_the_size_limit_is_552(void **state)
{
	char body[1200];
	size_t n = 0;

	for (int i = 0; i < 10; i++) { /* 10 lines of 102 octets > 1000 */
		memset(body + n, 'x', 100);
		memcpy(body + n + 100, "\r\n", 2);
		n += 102;
	}
	strcpy(body + n, ".\r\n");
	refused_body(body, "552 5.3.4", SMTP_REJ_SIZE);
}

static void test_too_many_received_headers_is_554_hops(void **state)
{
	refused_body("Received: 1\r\nReceived: 2\r\nReceived: 3\r\n"
		     "Received: 4\r\nReceived: 5\r\nReceived: 6\r\n\r\nx\r\n"
		     ".\r\n",
		     "554 5.4.6", SMTP_REJ_HOPS);
}

static void test_hops_at_the_limit_are_accepted_and_recorded(void **state)
{
	struct fake *f = open_default();
	struct spool_cmd cmd;

	expect(f, "220 ");
	to_data(f);
	send_str(f, "Received: 1\r\nReceived: 2\r\nReceived: 3\r\n"
		    "Received: 4\r\nReceived: 5\r\n\r\nx\r\n.\r\n");
	decode_cmd(f, &cmd);
	assert_int_equal(cmd.u.enqueue.rec.hops, 5);
	spool_cmd_free(&cmd);
	done(f);
}

static void test_dot_stuffed_message_is_unstuffed(void **state)
{
	struct fake *f = open_default();
	struct spool_cmd cmd;
	const char *b;

	expect(f, "220 ");
	to_data(f);
	send_str(f, "..\r\n...x\r\n.\r\n");
	decode_cmd(f, &cmd);
	b = cmd.u.enqueue.body;
	assert_memory_equal(b + cmd.u.enqueue.body_len - 8, ".\r\n..x\r\n", 8);
	spool_cmd_free(&cmd);
	done(f);
}

/* ---- STARTTLS ---- */

static void test_starttls_resets_and_drops_pipelined_plaintext(void **state)
{
	struct fake *f = open_default();
	struct spool_cmd cmd;
	char line[256];

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "STARTTLS\r\nMAIL FROM:<injected@x.test>\r\n");
	expect(f, "220 2.0.0 Ready to start TLS");
	expect_nothing(f); /* the injected MAIL got no reply */
	assert_int_equal(f->starttls_calls, 1);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_CONNECTED);
	send_str(f, "MAIL FROM:<a@b.test>\r\n");
	expect(f, "503 5.5.1 Error: send HELO/EHLO first");
	send_str(f, "EHLO client.test\r\n");
	do {
		assert_true(next_line(f, line, sizeof(line)));
		assert_null(strstr(line, "STARTTLS"));
	} while (line[3] == '-');
	send_str(f, "STARTTLS\r\n");
	expect(f, "554 5.5.1 Error: TLS already active");
	send_str(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<x@node1.cluster.test>\r\n"
		    "DATA\r\nhi\r\n.\r\n");
	decode_cmd(f, &cmd);
	assert_true(body_has(&cmd, " with ESMTPS id "));
	spool_cmd_free(&cmd);
	done(f);
}

static void test_starttls_refusals(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	ehlo(f);
	send_str(f, "STARTTLS now\r\nMAIL FROM:<a@b.test>\r\nSTARTTLS\r\n");
	expect(f, "501 5.5.4 Syntax: STARTTLS");
	expect(f, "250 2.1.0");
	expect(f, "503 5.5.1");
	assert_int_equal(f->starttls_calls, 0);
	done(f);
}

static void test_starttls_failure_closes(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	f->starttls_rc = -1;
	send_str(f, "STARTTLS\r\n");
	expect(f, "220 2.0.0");
	assert_int_equal(f->closed, 1);
	assert_int_equal(smtp_session_state(f->s), SMTP_S_CLOSED);
	done(f);
}

/* ---- timeouts, disconnects, shutdown ---- */

static void test_timeout_says_421_and_closes(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	smtp_session_timeout(f->s);
	expect(f, "421 4.4.2 node1.cluster.test Error: timeout exceeded");
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->rejects[SMTP_REJ_TIMEOUT], 1);
	done(f);
}

static void test_timeout_in_data_discards_the_partial_message(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	to_data(f);
	send_str(f, "partial\r\n");
	smtp_session_timeout(f->s);
	expect(f, "421 4.4.2");
	assert_int_equal(f->discarded, 1);
	assert_int_equal(f->proposals, 0);
	send_str(f, ".\r\n");
	assert_int_equal(f->proposals, 0);
	done(f);
}

static void test_disconnect_in_data_discards_the_partial_message(void **state)
{
	struct fake *f = open_default();
	int *discarded;

	expect(f, "220 ");
	to_data(f);
	send_str(f, "partial\r\n");
	discarded = &f->discarded;
	smtp_session_free(f->s);
	assert_int_equal(*discarded, 1);
	assert_int_equal(f->proposals, 0);
	f->s = NULL;
	done(f);
}

static void test_shutdown_says_421(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	smtp_session_shutdown(f->s);
	expect(f, "421 4.3.2");
	assert_int_equal(f->closed, 1);
	done(f);
}

static void test_shutdown_while_queueing_waits_for_the_answer(void **state)
{
	struct fake *f = open_default();

	expect(f, "220 ");
	to_data(f);
	send_str(f, "hi\r\n.\r\n");
	smtp_session_shutdown(f->s);
	smtp_session_timeout(f->s);
	expect_nothing(f);
	assert_int_equal(f->closed, 0);
	smtp_session_proposed(f->s, 1, 0, 0);
	expect(f, "250 2.0.0 Ok: queued as");
	expect(f, "421 4.3.2");
	assert_int_equal(f->closed, 1);
	done(f);
}

/* ---- reply format ---- */

/* 1 if line is "ddd d.d.d ..." with a class matching the reply code. */
static int has_enhanced_code(const char *line)
{
	int a, b, c;
	unsigned d1, d2, d3;
	char sep;

	if (sscanf(line, "%1d%1d%1d%c%u.%u.%u", &a, &b, &c, &sep, &d1, &d2,
		   &d3) != 7)
		return 0;
	return (sep == ' ' || sep == '-') && (int)d1 == a && d2 < 1000 &&
	       d3 < 1000;
}

static void
test_every_reply_but_greeting_ehlo_354_has_an_enhanced_code(void **state)
{
	struct fake *f = open_default();
	char line[2048];
	int checked = 0;

	expect(f, "220 ");
	ehlo(f);
	send_str(f,
		 "NOOP\r\nHELP\r\nVRFY x\r\nBOGUS\r\nEXPN x\r\nDATA\r\n"
		 "MAIL FROM:<a@b.test> SIZE=999999\r\nMAIL FROM:<a@@b>\r\n"
		 "MAIL FROM:<a@b.test> X=1\r\nMAIL FROM:<a@b.test>\r\n"
		 "RCPT TO:<u@other.test>\r\nRCPT TO:<u@node1.cluster.test>\r\n"
		 "RCPT TO:<v@node1.cluster.test> NOTIFY=BAD\r\n"
		 "RSET\r\nSTARTTLS x\r\n");
	while (next_line(f, line, sizeof(line))) {
		if (!has_enhanced_code(line))
			fail_msg("no enhanced code: \"%s\"", line);
		checked++;
	}
	assert_int_equal(checked, 15);
	done(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_greeting_is_220_with_the_node_domain),
	    cmocka_unit_test(test_ehlo_advertises_the_extensions),
	    cmocka_unit_test(test_ehlo_without_tls_does_not_offer_starttls),
	    cmocka_unit_test(test_helo_greets_and_refuses_esmtp_parameters),
	    cmocka_unit_test(test_helo_and_ehlo_need_a_valid_argument),
	    cmocka_unit_test(test_ehlo_during_a_transaction_resets_it),
	    cmocka_unit_test(test_mail_before_helo_is_a_bad_sequence),
	    cmocka_unit_test(test_rcpt_and_data_before_mail_are_bad_sequences),
	    cmocka_unit_test(test_data_without_recipient_is_a_bad_sequence),
	    cmocka_unit_test(test_nested_mail_is_a_bad_sequence),
	    cmocka_unit_test(test_rset_noop_help_vrfy),
	    cmocka_unit_test(test_rset_before_helo_stays_connected),
	    cmocka_unit_test(test_quit_says_bye_closes_and_ignores_the_rest),
	    cmocka_unit_test(test_unknown_and_unoffered_commands),
	    cmocka_unit_test(test_verbs_are_case_insensitive),
	    cmocka_unit_test(test_command_with_bare_lf_is_refused),
	    cmocka_unit_test(test_control_characters_in_a_command_are_refused),
	    cmocka_unit_test(test_over_long_command_line_is_refused_once),
	    cmocka_unit_test(test_input_split_at_every_octet_works),
	    cmocka_unit_test(test_too_many_errors_end_the_session),
	    cmocka_unit_test(test_mail_syntax_errors),
	    cmocka_unit_test(test_mail_size_over_the_limit_is_refused),
	    cmocka_unit_test(test_relaying_is_denied_to_untrusted_clients),
	    cmocka_unit_test(test_relaying_is_allowed_when_configured),
	    cmocka_unit_test(test_failed_alias_lookup_is_451),
	    cmocka_unit_test(test_unknown_local_user_is_550_5_1_1),
	    cmocka_unit_test(test_relayed_recipient_skips_the_user_check),
	    cmocka_unit_test(test_too_many_recipients_is_452),
	    cmocka_unit_test(test_duplicate_recipient_is_listed_once),
	    cmocka_unit_test(test_postmaster_is_accepted_and_qualified),
	    cmocka_unit_test(
		test_message_is_proposed_and_250_only_after_commit),
	    cmocka_unit_test(test_dsn_parameters_reach_the_control_file),
	    cmocka_unit_test(test_helo_session_is_received_with_smtp),
	    cmocka_unit_test(test_retried_duplicate_entry_is_still_250),
	    cmocka_unit_test(test_proposal_outcomes_map_to_replies),
	    cmocka_unit_test(test_propose_refused_at_once),
	    cmocka_unit_test(test_synchronous_answer_inside_propose),
	    cmocka_unit_test(test_pipelined_envelope_in_one_write),
	    cmocka_unit_test(test_replies_are_held_until_the_proposal_answers),
	    cmocka_unit_test(test_two_pipelined_messages_are_answered_in_order),
	    cmocka_unit_test(test_bare_lf_in_data_is_554),
	    cmocka_unit_test(test_bare_cr_in_data_is_554),
	    cmocka_unit_test(test_smuggling_lf_dot_lf_injects_nothing),
	    cmocka_unit_test(test_smuggling_lf_dot_crlf_injects_nothing),
	    cmocka_unit_test(test_long_line_in_data_is_500),
	    cmocka_unit_test(test_message_over_the_size_limit_is_552),
	    cmocka_unit_test(test_too_many_received_headers_is_554_hops),
	    cmocka_unit_test(test_hops_at_the_limit_are_accepted_and_recorded),
	    cmocka_unit_test(test_dot_stuffed_message_is_unstuffed),
	    cmocka_unit_test(
		test_starttls_resets_and_drops_pipelined_plaintext),
	    cmocka_unit_test(test_starttls_refusals),
	    cmocka_unit_test(test_starttls_failure_closes),
	    cmocka_unit_test(test_timeout_says_421_and_closes),
	    cmocka_unit_test(test_timeout_in_data_discards_the_partial_message),
	    cmocka_unit_test(
		test_disconnect_in_data_discards_the_partial_message),
	    cmocka_unit_test(test_shutdown_says_421),
	    cmocka_unit_test(test_shutdown_while_queueing_waits_for_the_answer),
	    cmocka_unit_test(
		test_every_reply_but_greeting_ehlo_354_has_an_enhanced_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
