/*
 * submit_bs.h — "sendmail -bs": an SMTP server on standard input and
 * output (RFC 5321 replies, CRLF or LF accepted from the client), the way
 * MUAs that speak SMTP to a local sendmail submit mail. Each message is
 * handed, at the end of DATA, to the caller's queue callback (submit.c:
 * the control socket's submit request, with MAIL FROM as the -f sender,
 * so the node applies the same sender rule); its answer becomes the reply
 * to DATA.
 *
 * Pure over the two streams and the callback: no socket, no JSON, so the
 * dialogue runs under the unit tests with memory streams.
 */
#ifndef CLI_SUBMIT_BS_H
#define CLI_SUBMIT_BS_H

#include <stddef.h>
#include <stdio.h>

#include "cli/submit.h"

#define SUBMIT_BS_LINE_MAX 4096 /* longest command or message line */
#define SUBMIT_BS_ERRORS_MAX 20 /* errors allowed; one more: 421 */

struct submit_bs_env {
	void *arg;
	const char *hostname; /* in the greeting and the EHLO reply */
	/* Queue one message: sender ("" for <>), the recipients, the
	 * message (the callback may change it in place: Bcc: removal) of
	 * *len bytes. Writes the whole reply line to DATA (without CRLF,
	 * e.g. "250 2.0.0 Ok: queued as NAME") into reply. */
	void (*queue)(void *arg, const char *sender,
		      const struct submit_rcpts *rcpts, char *msg, size_t *len,
		      char *reply, size_t size);
};

/* Serve one session on in / out until QUIT, end of input, or too many
 * errors. 0, or EX_IOERR when out cannot be written. */
int submit_bs_run(FILE *in, FILE *out, const struct submit_bs_env *env);

#endif
