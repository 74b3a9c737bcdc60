/*
 * smtpctl.c — the management CLI's entry point: global options, the help
 * command, then the command through the grammar (grammar.c) and either one
 * request (exec.c) or a client-side runner (submit.c).
 *
 *   smtpctl [-s SOCKET] [--json] COMMAND [ARGUMENTS] [OPTIONS]
 *   smtpctl help [COMMAND]
 *   sendmail [-t] [-i] [-f SENDER] [RECIPIENT...]   (argv[0] "sendmail")
 *
 * The socket is -s SOCKET, else $SMTPCTL_SOCKET, else SMTPCTL_DEFAULT_SOCKET.
 * The global options (-s, --json, -h) may appear anywhere before "--"
 * ("cluster status --json"); every other option belongs to the command and
 * is checked by the grammar. $SMTPCTL_TIMEOUT (seconds, 0 = none; default
 * 300) bounds the wait for an answer; the node itself answers "no quorum"
 * within its propose timeout.
 *
 * Exit status (smtpctl(8)): 0 ok, 1 the command failed, 2 usage,
 * 69 (EX_UNAVAILABLE) cannot reach the node, 75 (EX_TEMPFAIL) no quorum or
 * no answer in time, 77 (EX_NOPERM) not admin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/exec.h"
#include "cli/grammar.h"
#include "cli/submit.h"

#define SMTPCTL_DEFAULT_SOCKET "/run/smtpcluster/control.sock"
#define WORDS_MAX 256

static void usage_short(void)
{
	fprintf(stderr, "usage: smtpctl [-s SOCKET] [--json] COMMAND "
			"[ARGUMENTS]; \"smtpctl help\" lists the commands\n");
}

/* The program's name without its directory. */
static const char *base_name(const char *s)
{
	const char *slash = strrchr(s, '/');

	return slash != NULL ? slash + 1 : s;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	char *words[WORDS_MAX];
	int nwords = 0, json = 0, help = 0, opts_done = 0, rc;
	struct grammar_match m;

	if (argc > 0 && strcmp(base_name(argv[0]), "sendmail") == 0)
		return sendmail_main(argc, argv);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int global = 1;
		if (!opts_done && strcmp(a, "--") == 0) {
			opts_done = 1;
			global = 0; /* the grammar sees it too */
		} else if (opts_done || a[0] != '-' || a[1] == '\0') {
			global = 0;
		} else if (strcmp(a, "--json") == 0) {
			json = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help = 1;
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr,
					"smtpctl: %s needs a socket path\n", a);
				usage_short();
				return EXEC_USAGE;
			}
			sock = argv[++i];
		} else if (strncmp(a, "--socket=", 9) == 0) {
			sock = a + 9;
		} else if (strncmp(a, "-s", 2) == 0) {
			sock = a + 2;
		} else {
			global = 0; /* a command option: the grammar's */
		}
		if (global)
			continue;
		if (nwords == WORDS_MAX) {
			fprintf(stderr, "smtpctl: too many arguments\n");
			return EXEC_USAGE;
		}
		words[nwords++] = argv[i];
	}
	if (help || (nwords > 0 && strcmp(words[0], "help") == 0)) {
		int skip = help ? 0 : 1;
		return grammar_help(stdout, stderr, nwords - skip,
				    words + skip) == 0
			   ? EXEC_OK
			   : EXEC_USAGE;
	}
	if (sock == NULL || *sock == '\0')
		sock = getenv("SMTPCTL_SOCKET");
	if (sock == NULL || *sock == '\0')
		sock = SMTPCTL_DEFAULT_SOCKET;
	if (grammar_match(nwords, words, &m, stderr) != GRAMMAR_OK) {
		if (nwords == 0)
			usage_short();
		return EXEC_USAGE;
	}
	if (m.cmd->run != NULL)
		rc = m.cmd->run(sock, &m, json);
	else
		rc = exec_request(sock, m.name, m.args, m.cmd->print, json);
	json_object_put(m.args);
	return rc;
}
