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

#define SUBMIT_DEFAULT_SOCKET "/run/smtpcluster/control.sock"
#define SUBMIT_CHUNK (512u * 1024)	    /* message bytes per request */
#define SUBMIT_MAX (256u * 1024 * 1024)	    /* largest message read */
#define SUBMIT_RCPT_BATCH (128u * 1024)	    /* recipient bytes per request */
#define ALIASES_FILE_MAX (4u * 1024 * 1024) /* largest alias file read */

/* The runners of grammar_cmds[] (see grammar.h). */
int submit_run(const char *sock, const struct grammar_match *m, int json);
int import_aliases_run(const char *sock, const struct grammar_match *m,
		       int json);

/* smtpctl invoked as "sendmail" (sendmail.c): parse sendmail's options
 * and submit, or with -bs speak SMTP on stdin/stdout (submit_bs.c);
 * returns the exit status. */
int sendmail_main(int argc, char **argv);

/* ---- pieces, for sendmail.c and the unit tests ---- */

struct submit_rcpts {
	size_t n, cap;
	char **v; /* malloc'd strings */
};

/* One message to submit. */
struct submission {
	const char *sock;
	const char *sender;   /* NULL: the node's default; "" = <> */
	const char *fullname; /* -F, NULL: none */
	struct submit_rcpts rcpts;
	char *msg; /* malloc'd; freed by submission_free */
	size_t len;
	int json;
	int quiet; /* sendmail: print nothing on success */
};

/* Read the message from path ("-" or NULL: stdin; dot_ends: a line of
 * one "." ends it), remove Bcc: (read_rcpts: take To:, Cc:, Bcc: as
 * recipients), send it and print the answer; the exit status
 * (usage_status when there is no recipient). */
int submission_run(struct submission *s, const char *path, int dot_ends,
		   int read_rcpts, int usage_status);

/* Send s->msg as it is, in chunks on one connection: 0 and the node's
 * last answer in *out (the caller frees it), or a CLIENT_E_* error with
 * the reason in err. */
int submission_exchange(struct submission *s, json_object **out, char *err,
			size_t errsize);

void submission_free(struct submission *s);

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
