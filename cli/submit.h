/*
 * submit.h — smtpctl's client-side commands: submit (the seed's Send From
 * File), the sendmail-compatible entry point (smtpctl run under the name
 * "sendmail"), and import aliases (reads a TCPIP$SMTP_LOCAL_ALIASES.TXT
 * file and sends its list).
 *
 * submit reads the message (a file or stdin) here, takes the recipients
 * from the arguments and, with -t, from the To:, Cc: and Bcc: headers
 * (removing Bcc:), and sends it to the node in chunks of at most
 * SUBMIT_CHUNK bytes on one connection (each request line stays under the
 * node's 1 MiB limit). The node names the control file after the Unix
 * user it sees on the socket (SO_PEERCRED), never after anything sent.
 */
#ifndef CLI_SUBMIT_H
#define CLI_SUBMIT_H

#include <stddef.h>

#include "cli/grammar.h"

#define SUBMIT_CHUNK (512u * 1024)	    /* message bytes per request */
#define SUBMIT_MAX (256u * 1024 * 1024)	    /* largest message read */
#define SUBMIT_RCPT_BATCH (128u * 1024)	    /* recipient bytes per request */
#define ALIASES_FILE_MAX (4u * 1024 * 1024) /* largest alias file read */

/* The runners of grammar_cmds[] (see grammar.h). */
int submit_run(const char *sock, const struct grammar_match *m, int json);
int import_aliases_run(const char *sock, const struct grammar_match *m,
		       int json);

/* smtpctl invoked as "sendmail": parse sendmail's options and submit;
 * returns the exit status. */
int sendmail_main(int argc, char **argv);

/* ---- pieces, for the unit tests ---- */

struct submit_rcpts {
	size_t n, cap;
	char **v; /* malloc'd strings */
};

/* Add one address (deduplicated, case-insensitively). 0 or -1. */
int submit_rcpt_add(struct submit_rcpts *r, const char *addr, size_t len);
void submit_rcpts_free(struct submit_rcpts *r);

/* Take the addresses of an RFC 5322 address list (a To:/Cc:/Bcc: value,
 * unfolded) into r: "Name <a@b>", a@b (comment), groups. 0 or -1. */
int submit_parse_addresses(const char *value, size_t len,
			   struct submit_rcpts *r);

/* Remove the Bcc: fields of the message's header section (in place; *len
 * is updated) and, when r is not NULL (-t), add the recipients of its To:,
 * Cc: and Bcc: fields to r. 0 or -1 (out of memory). */
int submit_read_headers(char *msg, size_t *len, struct submit_rcpts *r);

#endif
