/*
 * sendmail.c — smtpctl run under the name "sendmail" (submit.h): the
 * sendmail option syntax (-t, -i / -oi, -f / -r, -F, -bm, -bp; the usual
 * no-effect options accepted), and -bs, SMTP on standard input and output
 * (submit_bs.c) whose messages go through the same control-socket submit
 * request, MAIL FROM standing for -f: the node applies the sender rule of
 * src/control/submit_sender.c (only an admin may send as another user).
 *
 * Owns the option parsing and the mapping of the node's answer to the
 * reply of DATA in -bs. Does not own reading, chunking or sending a
 * message (submit.c) nor the SMTP dialogue (submit_bs.c).
 *
 * Fails as sendmail does: usage errors exit with EX_USAGE (64), the
 * node's refusals with smtpctl's exit status; in -bs mode every refusal
 * is an SMTP reply and the exit status is 0 unless standard output fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/exec.h"
#include "cli/output.h"
#include "cli/submit.h"
#include "cli/submit_bs.h"

/* The reply to DATA for the node's answer to one -bs message. */
static void bs_answer(json_object *answer, char *reply, size_t size)
{
	json_object *v = NULL, *res = NULL;
	const char *code = "failed", *text = "not queued";
	const char *smtp = "451 4.3.0";
	char clean[512];
	size_t i;

	if (client_answer_ok(answer)) {
		if (json_object_object_get_ex(answer, "result", &res) &&
		    json_object_object_get_ex(res, "name", &v))
			snprintf(reply, size, "250 2.0.0 Ok: queued as %s",
				 json_object_get_string(v));
		else
			snprintf(reply, size, "250 2.0.0 Ok: queued");
		return;
	}
	client_answer_error(answer, &code, &text);
	if (strcmp(code, "not_admin") == 0)
		smtp = "550 5.7.1"; /* the sender rule of -f */
	else if (strcmp(code, "usage") == 0 || strcmp(code, "bad_request") == 0)
		smtp = "550 5.5.4";
	else if (strcmp(code, "storage_full") == 0)
		smtp = "452 4.3.1";
	for (i = 0; text[i] != '\0' && i + 1 < sizeof(clean); i++)
		clean[i] = (text[i] == '\r' || text[i] == '\n') ? ' ' : text[i];
	clean[i] = '\0';
	snprintf(reply, size, "%s %s", smtp, clean);
}

/* submit_bs_env.queue: one message through the control socket. */
static void bs_queue(void *arg, const char *sender,
		     const struct submit_rcpts *rcpts, char *msg, size_t *len,
		     char *reply, size_t size)
{
	const struct submission *base = arg;
	struct submission s;
	json_object *answer = NULL;
	char err[512];
	int rc;

	memset(&s, 0, sizeof(s));
	s.sock = base->sock;
	s.sender = sender;
	s.fullname = base->fullname;
	for (size_t i = 0; i < rcpts->n; i++) {
		if (submit_rcpt_add(&s.rcpts, rcpts->v[i],
				    strlen(rcpts->v[i])) != 0)
			goto err_nomem;
	}
	/* Bcc: is removed, as sendmail does for a message on its input */
	if (submit_read_headers(msg, len, NULL) != 0)
		goto err_nomem;
	s.msg = msg;
	s.len = *len;
	rc = submission_exchange(&s, &answer, err, sizeof(err));
	s.msg = NULL; /* the dialogue's buffer */
	if (rc != 0)
		snprintf(reply, size,
			 "451 4.3.0 Error: the mail system cannot be reached "
			 "(%.300s)",
			 err);
	else
		bs_answer(answer, reply, size);
	json_object_put(answer);
	submission_free(&s);
	return;

err_nomem:
	submission_free(&s);
	snprintf(reply, size, "452 4.3.1 Insufficient system storage");
}

/* sendmail -bs: SMTP on stdin / stdout; the exit status. */
static int sendmail_bs(const struct submission *base)
{
	char host[256] = "localhost";
	struct submit_bs_env env;

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	memset(&env, 0, sizeof(env));
	env.arg = (void *)base;
	env.hostname = host;
	env.queue = bs_queue;
	return submit_bs_run(stdin, stdout, &env);
}

static int sendmail_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "sendmail: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: sendmail [-t] [-i] [-f SENDER] [-F NAME] "
			"[RECIPIENT...] < MESSAGE\n"
			"       sendmail -bs   (SMTP on standard input and "
			"output)\n");
	return EX_USAGE;
}

int sendmail_main(int argc, char **argv)
{
	struct submission s;
	const char *sock = getenv("SMTPCTL_SOCKET");
	int read_rcpts = 0, dot_ends = 1, bs = 0, i, rc;

	memset(&s, 0, sizeof(s));
	s.sock = sock != NULL && *sock != '\0' ? sock : SUBMIT_DEFAULT_SOCKET;
	s.quiet = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		for (const char *c = a + 1; *c != '\0'; c++) {
			const char *val = NULL;
			switch (*c) {
			case 't':
				read_rcpts = 1;
				continue;
			case 'i':
				dot_ends = 0;
				continue;
			case 'v':
			case 'n':
			case 'm':
			case 'U':
				continue; /* verbose, no aliasing, me too,
					     initial submission: no effect */
			case 'o':
				/* -oi; -odq, -oem, -oX... are ignored */
				if (c[1] == 'i' && c[2] == '\0')
					dot_ends = 0;
				else if (c[1] == '\0' && i + 1 < argc)
					i++;
				break;
			case 'b':
				if (strcmp(c, "bm") == 0)
					break;
				if (strcmp(c, "bs") == 0) {
					bs = 1;
					break;
				}
				if (strcmp(c, "bp") == 0) {
					/* mailq: this user's queue */
					return exec_request(
					    s.sock, "show mail", NULL,
					    output_show_mail, 0);
				}
				return sendmail_usage("-%s is not supported",
						      c);
			case 'f':
			case 'r':
			case 'F':
			case 'B':
			case 'N':
			case 'R':
			case 'V':
			case 'X':
			case 'L':
				if (c[1] != '\0')
					val = c + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					return sendmail_usage(
					    "option -%s needs a value", c);
				if (*c == 'f' || *c == 'r')
					s.sender = val;
				else if (*c == 'F')
					s.fullname = val;
				break;
			default:
				return sendmail_usage("unknown option -%s", c);
			}
			break; /* the rest of the word was a value */
		}
	}
	if (bs) {
		if (i < argc || read_rcpts)
			return sendmail_usage("%s", "-bs takes no recipients "
						    "and no -t");
		return sendmail_bs(&s);
	}
	for (; i < argc; i++) {
		if (submit_rcpt_add(&s.rcpts, argv[i], strlen(argv[i])) != 0) {
			submission_free(&s);
			return EX_OSERR;
		}
	}
	if (s.sender != NULL && strcmp(s.sender, "<>") == 0)
		s.sender = "";
	rc = submission_run(&s, NULL, dot_ends, read_rcpts, EX_USAGE);
	submission_free(&s);
	return rc == EXEC_USAGE ? EX_USAGE : rc;
}
