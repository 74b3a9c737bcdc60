/*
 * exec.h — smtpctl's one request and its outcome: send a command through
 * client.c, print the answer (a printer of output.c, or JSON with --json),
 * and map it to smtpctl's exit status. Used by smtpctl.c and by the
 * client-side commands (submit, import aliases).
 *
 * Exit status (docs/smtpctl-cluster.md, smtpctl(8)): 0 ok, 1 the command
 * failed, 2 usage, 69 (EX_UNAVAILABLE) cannot reach the node, 75
 * (EX_TEMPFAIL) no quorum or no answer in time, 77 (EX_NOPERM) not admin.
 */
#ifndef CLI_EXEC_H
#define CLI_EXEC_H

#include <json-c/json.h>

#include "cli/grammar.h"

enum {
	EXEC_OK = 0,
	EXEC_FAILED = 1,
	EXEC_USAGE = 2,
};

/* Milliseconds to wait for an answer, from $SMTPCTL_TIMEOUT (seconds, 0 =
 * no limit; default 300). */
int exec_timeout_ms(void);

/* Exit status for an error code of the protocol ("usage", ...). */
int exec_exit_for_code(const char *code);

/* Exit status for a negative CLIENT_E_* (after printing err for name). */
int exec_client_error(const char *name, int rc, const char *err);

/* Print an answer ({"ok": ...}) and return the exit status: the result
 * through print (NULL: indented JSON) or as one JSON line with json; an
 * error as "smtpctl: TEXT" on stderr (and the answer on stdout with
 * json). quiet: print nothing on success. */
int exec_answer(json_object *answer, grammar_print_fn print, int json,
		int quiet);

/* Send cmd/args to the socket, then exec_answer(). */
int exec_request(const char *sock, const char *cmd, json_object *args,
		 grammar_print_fn print, int json);

#endif
