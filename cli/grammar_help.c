/*
 * grammar_help.c — "smtpctl help [COMMAND]" (grammar.h): the usage and
 * the list of commands, or the commands the words select (by the
 * matcher's prefix rules) with their placeholders and options.
 *
 * Owns: the help text. Does not own the commands' help lines
 * (grammar_table.c) or the options' (grammar_opts.c). Fails by returning
 * GRAMMAR_UNKNOWN or GRAMMAR_AMBIGUOUS after a message to errf.
 */
#include "cli/grammar.h"
#include "cli/grammar_impl.h"

#include <string.h>

/* Details of command i: its placeholders and options. */
static void help_details(FILE *f, int i)
{
	const struct grammar_pattern *pat = &grammar_patterns[i];

	for (int k = 0; k < pat->n; k++) {
		const struct grammar_tok *t = &pat->t[k];
		if (t->kind == TOK_PH)
			fprintf(f, "      <%s>%s: %s%s\n", t->text,
				t->variadic ? "..." : "", t->type->what,
				t->optional ? " (optional)" : "");
	}
	for (int k = 0; k < pat->nopts; k++) {
		const struct opt_def *o = pat->opts[k];
		char lhs[64];
		if (o->shortc != 0)
			snprintf(lhs, sizeof(lhs), "-%c, --%s %s", o->shortc,
				 o->name, grammar_opt_metavar(o));
		else
			snprintf(lhs, sizeof(lhs), "--%s %s", o->name,
				 grammar_opt_metavar(o));
		fprintf(f, "      %-34s %s%s\n", lhs, o->help,
			pat->required[k] ? " (required)" : "");
	}
	if (pat->nopts > 0 && strstr(grammar_cmds[i].opts, "default"))
		fprintf(f, "      DURATION: 90s, 30m, 1h, 3d, 1h30m or HH:MM; "
			   "a plain number is minutes (as on OpenVMS)\n");
}

int grammar_help(FILE *f, FILE *errf, int nwords, char *const *words)
{
	const int npatterns = grammar_patterns_load();
	int cand[NCMDS_MAX];

	for (int i = 0; i < npatterns; i++)
		cand[i] = 1;
	for (int pos = 0; pos < nwords; pos++) {
		int rc = grammar_narrow(cand, pos, words[pos], errf);
		if (rc != GRAMMAR_OK) {
			if (rc == GRAMMAR_UNKNOWN) {
				fprintf(errf, "smtpctl: help: no command "
					      "matches \"");
				grammar_print_words(errf, nwords, words);
				fprintf(errf, "\"\n");
			}
			return rc;
		}
	}
	if (nwords == 0) {
		fprintf(f, "usage: smtpctl [-s SOCKET] [--json] COMMAND "
			   "[ARGUMENTS] [OPTIONS]\n"
			   "       smtpctl help [COMMAND]\n"
			   "       sendmail [-t] [-i] [-f SENDER] "
			   "[RECIPIENT...] < MESSAGE\n\n"
			   "Words and option names may be abbreviated to "
			   "unambiguous prefixes\n(\"cl st\" is \"cluster "
			   "status\", \"--rec\" is \"--recipient\").\n"
			   "SOCKET: -s, else $SMTPCTL_SOCKET, else "
			   "/run/smtpcluster/control.sock.\n"
			   "\"smtpctl help COMMAND\" shows a command's "
			   "arguments and options.\n\n"
			   "Commands (* = admin only: root or the admin "
			   "group; + = anyone for their own\nmail, admin for "
			   "other users' mail):\n");
	}
	for (int i = 0; i < npatterns; i++) {
		if (!cand[i])
			continue;
		fprintf(f, "%c %-36s %s\n",
			grammar_cmds[i].admin == GRAMMAR_ADMIN ? '*'
			: grammar_cmds[i].admin == GRAMMAR_OWN ? '+'
							       : ' ',
			grammar_patterns[i].disp, grammar_cmds[i].help);
		if (nwords > 0)
			help_details(f, i);
	}
	if (nwords == 0)
		fprintf(f, "\nEvery command takes --json (print the result "
			   "as JSON).\nExit status: 0 ok, 1 command failed, 2 "
			   "usage, 69 cannot reach the node,\n75 no quorum, "
			   "77 not admin. See smtpctl(8) and "
			   "docs/operations.md.\n");
	return 0;
}
