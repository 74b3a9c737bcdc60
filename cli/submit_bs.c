/*
 * submit_bs.c — "sendmail -bs" (submit_bs.h): the SMTP dialogue on
 * standard input and output. HELO, EHLO (PIPELINING, 8BITMIME,
 * ENHANCEDSTATUSCODES), MAIL, RCPT, DATA (dot-unstuffed, up to
 * SUBMIT_MAX bytes), RSET, NOOP, HELP, VRFY, QUIT; every other verb 502.
 *
 * Owns the verbs' order and replies, the envelope of the transaction and
 * the message being read. Does not own the sender rule or the control
 * file: MAIL FROM is given to the node as sendmail -f would be
 * (src/control/submit_sender.c decides; a refusal is the reply to DATA,
 * as the node sees the whole submission only then), recipients are
 * checked there too.
 *
 * Fails with SMTP replies: a protocol error is 5xx and counted, more than
 * SUBMIT_BS_ERRORS_MAX end the session with 421; a message over
 * SUBMIT_MAX is 552 and dropped; out of memory is 452 / 421. End of input
 * without QUIT drops the transaction, as an SMTP server does when its
 * client goes away.
 */
#include "cli/submit_bs.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

struct bs {
	FILE *in, *out;
	const struct submit_bs_env *env;
	int in_mail, errors, done, out_failed;
	char sender[SUBMIT_BS_LINE_MAX];
	struct submit_rcpts rcpts;
};

static void reply(struct bs *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reply(struct bs *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vfprintf(b->out, fmt, ap) < 0 || fputs("\r\n", b->out) == EOF)
		b->out_failed = 1;
	va_end(ap);
}

/* A counted protocol error; too many end the session. */
static void error(struct bs *b, const char *text)
{
	reply(b, "%s", text);
	if (++b->errors > SUBMIT_BS_ERRORS_MAX) {
		reply(b, "421 4.7.0 %s Error: too many errors",
		      b->env->hostname);
		b->done = 1;
	}
}

static void reset(struct bs *b)
{
	b->in_mail = 0;
	b->sender[0] = '\0';
	submit_rcpts_free(&b->rcpts);
}

/* One line into buf without its line end (CRLF or LF). Its length, -1 at
 * end of input, -2 when longer than size - 1 (the rest is skipped). */
static long read_line(FILE *in, char *buf, size_t size)
{
	size_t n = 0;
	int c, over = 0;

	while ((c = getc(in)) != EOF && c != '\n') {
		if (n + 1 < size)
			buf[n++] = (char)c;
		else
			over = 1;
	}
	if (c == EOF && n == 0 && !over)
		return -1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return over ? -2 : (long)n;
}

/* "<path>" after FROM: / TO: (prefix already matched at p): the address
 * into out. 0 or -1. Parameters after the path are accepted and
 * ignored (SIZE, BODY, the node takes the message as it is). */
static int parse_path(const char *p, char *out, size_t size)
{
	const char *e;

	while (*p == ' ')
		p++;
	if (*p != '<' || (e = strchr(p, '>')) == NULL)
		return -1;
	if ((size_t)(e - p - 1) >= size || (e[1] != '\0' && e[1] != ' '))
		return -1;
	for (const char *q = p + 1; q < e; q++) {
		if ((unsigned char)*q <= ' ' || *q == '<' || *q == 127)
			return -1;
	}
	memcpy(out, p + 1, (size_t)(e - p - 1));
	out[e - p - 1] = '\0';
	return 0;
}

static int verb_is(const char *line, const char *verb)
{
	size_t n = strlen(verb);

	return strncasecmp(line, verb, n) == 0 &&
	       (line[n] == '\0' || line[n] == ' ');
}

static void do_greet(struct bs *b, const char *line, int esmtp)
{
	if (line[4] != ' ' || line[5] == '\0') {
		error(b, esmtp ? "501 5.5.4 Syntax: EHLO hostname"
			       : "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	reset(b);
	if (!esmtp) {
		reply(b, "250 %s", b->env->hostname);
		return;
	}
	reply(b, "250-%s", b->env->hostname);
	reply(b, "250-PIPELINING");
	reply(b, "250-8BITMIME");
	reply(b, "250 ENHANCEDSTATUSCODES");
}

static void do_mail(struct bs *b, const char *line)
{
	if (b->in_mail) {
		error(b, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (strncasecmp(line, "MAIL FROM:", 10) != 0 ||
	    parse_path(line + 10, b->sender, sizeof(b->sender)) != 0) {
		error(b, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	b->in_mail = 1;
	reply(b, "250 2.1.0 Ok");
}

static void do_rcpt(struct bs *b, const char *line)
{
	char addr[SUBMIT_BS_LINE_MAX];

	if (!b->in_mail) {
		error(b, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (strncasecmp(line, "RCPT TO:", 8) != 0 ||
	    parse_path(line + 8, addr, sizeof(addr)) != 0 || addr[0] == '\0') {
		error(b, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (submit_rcpt_add(&b->rcpts, addr, strlen(addr)) != 0) {
		reply(b, "452 4.3.1 Insufficient system storage");
		return;
	}
	reply(b, "250 2.1.5 Ok");
}

/* Read the message up to the "." line; NULL when it was too big (the
 * rest is read and dropped) or memory ran out (*why says which), or the
 * input ended first (*why = NULL). */
static char *read_data(struct bs *b, size_t *len, const char **why)
{
	char line[SUBMIT_BS_LINE_MAX];
	size_t n = 0, cap = 0;
	char *msg = NULL;
	long r;

	*why = NULL;
	while ((r = read_line(b->in, line, sizeof(line))) != -1) {
		const char *p = line;
		size_t l;

		if (r == -2) {
			*why = "500 5.5.6 Error: message line too long";
			continue;
		}
		if (strcmp(line, ".") == 0) {
			if (*why == NULL && msg == NULL)
				msg = calloc(1, 1); /* an empty message */
			if (msg == NULL && *why == NULL)
				*why = "452 4.3.1 Insufficient system storage";
			if (*why != NULL) {
				free(msg);
				return NULL;
			}
			*len = n;
			return msg;
		}
		if (*why != NULL)
			continue; /* dropping the rest */
		if (p[0] == '.')
			p++; /* dot-stuffing (RFC 5321 4.5.2) */
		l = strlen(p);
		if (n + l + 2 > SUBMIT_MAX) {
			*why = "552 5.3.4 Message size exceeds fixed maximum "
			       "message size";
			continue;
		}
		if (n + l + 3 > cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *q;

			while (ncap < n + l + 3)
				ncap *= 2;
			q = realloc(msg, ncap);
			if (q == NULL) {
				*why = "452 4.3.1 Insufficient system storage";
				continue;
			}
			msg = q;
			cap = ncap;
		}
		memcpy(msg + n, p, l);
		n += l;
		msg[n++] = '\r';
		msg[n++] = '\n';
		msg[n] = '\0';
	}
	free(msg); /* end of input inside DATA */
	*why = NULL;
	return NULL;
}

static void do_data(struct bs *b, const char *line)
{
	char answer[1024];
	const char *why;
	size_t len = 0;
	char *msg;

	if (line[4] != '\0') {
		error(b, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (!b->in_mail || b->rcpts.n == 0) {
		error(b, b->in_mail ? "503 5.5.1 Error: need RCPT command"
				    : "503 5.5.1 Error: need MAIL command");
		return;
	}
	reply(b, "354 End data with <CR><LF>.<CR><LF>");
	if (fflush(b->out) == EOF)
		b->out_failed = 1;
	msg = read_data(b, &len, &why);
	if (msg == NULL) {
		if (why == NULL) {
			b->done = 1; /* input ended: nothing is queued */
			return;
		}
		reply(b, "%s", why);
		reset(b);
		return;
	}
	snprintf(answer, sizeof(answer), "451 4.3.0 Error: not queued");
	b->env->queue(b->env->arg, b->sender, &b->rcpts, msg, &len, answer,
		      sizeof(answer));
	free(msg);
	reply(b, "%s", answer);
	reset(b);
}

/* One command line. */
static void command(struct bs *b, const char *line)
{
	if (verb_is(line, "HELO"))
		do_greet(b, line, 0);
	else if (verb_is(line, "EHLO"))
		do_greet(b, line, 1);
	else if (verb_is(line, "MAIL"))
		do_mail(b, line);
	else if (verb_is(line, "RCPT"))
		do_rcpt(b, line);
	else if (verb_is(line, "DATA"))
		do_data(b, line);
	else if (verb_is(line, "RSET")) {
		reset(b);
		reply(b, "250 2.0.0 Ok");
	} else if (verb_is(line, "NOOP"))
		reply(b, "250 2.0.0 Ok");
	else if (verb_is(line, "HELP"))
		reply(b, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET "
			 "NOOP QUIT HELP VRFY");
	else if (verb_is(line, "VRFY"))
		reply(b, "252 2.5.2 Cannot VRFY user, but will accept message "
			 "and attempt delivery");
	else if (verb_is(line, "QUIT")) {
		reply(b, "221 2.0.0 Bye");
		b->done = 1;
	} else if (verb_is(line, "STARTTLS") || verb_is(line, "AUTH") ||
		   verb_is(line, "BDAT") || verb_is(line, "EXPN") ||
		   verb_is(line, "ETRN") || verb_is(line, "TURN"))
		error(b, "502 5.5.1 Error: command not implemented");
	else
		error(b, "500 5.5.2 Error: command not recognized");
}

int submit_bs_run(FILE *in, FILE *out, const struct submit_bs_env *env)
{
	char line[SUBMIT_BS_LINE_MAX];
	struct bs b;
	long r;

	memset(&b, 0, sizeof(b));
	b.in = in;
	b.out = out;
	b.env = env;
	reply(&b, "220 %s ESMTP smtpctl sendmail -bs", env->hostname);
	while (!b.done && !b.out_failed) {
		if (fflush(out) == EOF) {
			b.out_failed = 1;
			break;
		}
		r = read_line(in, line, sizeof(line));
		if (r == -1)
			break;
		if (r == -2) {
			error(&b, "500 5.5.2 Error: line too long");
			continue;
		}
		command(&b, line);
	}
	reset(&b);
	if (fflush(out) == EOF)
		b.out_failed = 1;
	return b.out_failed ? EX_IOERR : 0;
}
