/*
 * exec.c — one request to the node and its outcome (see exec.h).
 *
 * Owns: how an answer is shown (result printer, --json line, error text on
 * stderr) and the mapping of protocol codes and client failures to exit
 * statuses. Does not own the connection (client.c) or the layouts
 * (output*.c).
 */
#include "cli/exec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli/client.h"
#include "cli/output.h"

#define DEFAULT_TIMEOUT_S 300

int exec_timeout_ms(void)
{
	const char *s = getenv("SMTPCTL_TIMEOUT");
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return DEFAULT_TIMEOUT_S * 1000;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 86400) {
		fprintf(stderr,
			"smtpctl: ignoring SMTPCTL_TIMEOUT=\"%s\" (seconds, "
			"0..86400)\n",
			s);
		return DEFAULT_TIMEOUT_S * 1000;
	}
	return (int)(v * 1000);
}

int exec_exit_for_code(const char *code)
{
	if (strcmp(code, "usage") == 0 || strcmp(code, "bad_request") == 0)
		return EXEC_USAGE;
	if (strcmp(code, "not_admin") == 0)
		return EX_NOPERM;
	if (strcmp(code, "no_quorum") == 0 ||
	    strcmp(code, "storage_full") == 0 ||
	    strcmp(code, "unreachable") == 0)
		return EX_TEMPFAIL;
	return EXEC_FAILED;
}

int exec_client_error(const char *name, int rc, const char *err)
{
	fprintf(stderr, "smtpctl: %s: %s\n", name, err);
	if (rc == CLIENT_E_CONNECT || rc == CLIENT_E_IO)
		return EX_UNAVAILABLE;
	if (rc == CLIENT_E_TIMEOUT)
		return EX_TEMPFAIL;
	return EXEC_FAILED;
}

int exec_answer(json_object *answer, grammar_print_fn print, int json,
		int quiet)
{
	json_object *v = NULL;
	int rc;

	if (!client_answer_ok(answer)) {
		const char *code = "failed", *text = "failed";

		client_answer_error(answer, &code, &text);
		if (json)
			printf("%s\n",
			       json_object_to_json_string_ext(
				   answer, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
		fprintf(stderr, "smtpctl: %s\n", text);
		fflush(stdout);
		return exec_exit_for_code(code);
	}
	if (!json_object_object_get_ex(answer, "result", &v))
		v = NULL;
	if (json) {
		printf("%s\n", v != NULL
				   ? json_object_to_json_string_ext(
					 v, JSON_C_TO_STRING_PLAIN |
						JSON_C_TO_STRING_NOSLASHESCAPE)
				   : "{}");
		rc = EXEC_OK;
	} else if (v == NULL || quiet) {
		rc = EXEC_OK;
	} else if (print != NULL) {
		rc = print(v);
	} else {
		rc = output_json(v);
	}
	if (fflush(stdout) != 0)
		rc = EXEC_FAILED;
	return rc;
}

int exec_request(const char *sock, const char *cmd, json_object *args,
		 grammar_print_fn print, int json)
{
	json_object *answer = NULL;
	char err[512];
	int rc;

	rc = client_call(sock, cmd, args, exec_timeout_ms(), &answer, err,
			 sizeof(err));
	if (rc != 0)
		return exec_client_error(cmd, rc, err);
	rc = exec_answer(answer, print, json, 0);
	json_object_put(answer);
	return rc;
}
