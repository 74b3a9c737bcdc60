/*
 * grammar.h — smtpctl's table-driven command grammar (after OpenSMTPD's
 * smtpctl): every command is one line of grammar_cmds[] with a pattern of
 * literal words and typed placeholders, and the options it accepts, e.g.
 *
 *   "cluster add <id> <address>"          "cluster transfer [<id>]"
 *   "set host <name:host> <addresses:ip>..."   "enable service [smtp]"
 *   "show mail [<user>]" with options "full user entry name recipient"
 *
 * Words:
 *   - Literal words may be abbreviated to any unambiguous prefix ("cl st").
 *     "[word]" is an optional literal (accepted, not part of the name).
 *   - A placeholder <name> or <name:type> takes one word, checked by its
 *     type (the table of types in grammar_types.c) and sent to the server as
 *     argument "name" (a JSON number for numeric types, a string
 *     otherwise). "[<name>]" is optional; optional tokens end a pattern.
 *     "<name>..." (or "[<name>...]") takes every remaining word and is
 *     sent as a JSON array.
 *   - The command's name on the wire is its required leading literal
 *     words ("cluster add", "show service smtp").
 *
 * Options come after the command's first words and may be mixed with its
 * arguments: "--name VALUE", "--name=VALUE", a flag "--name", a short
 * "-f VALUE", "-fVALUE" or "-t". Long names may be abbreviated to an
 * unambiguous prefix among the command's options. "--" ends the options.
 * Each option has a kind: a flag (sent as true), a typed value (sent as
 * its argument), or a SET CONFIGURATION SMTP setting (sent as an item of
 * the "items" array: {"key", "num"|"str"} or {"key", "reset": true}).
 * A command's options are named in its opts string, space separated;
 * "name!" marks a required one.
 *
 * Durations (options of type duration, the configuration's times): 90s,
 * 30m, 1h, 3d, 1w, combinations such as 1h30m, HH:MM[:SS]; a plain number
 * is minutes, the unit of OpenVMS SET CONFIGURATION SMTP. Times (--after,
 * --delete-before, ...): "now", a duration counted from now (forward for
 * --after, back for the others; "+30m" also works), YYYY-MM-DD[THH:MM[:SS]]
 * in local time (UTC with a trailing Z), or OpenVMS DD-MMM-YYYY[:HH:MM[:SS]].
 *
 * To add a command: one line in grammar_cmds[] (grammar_table.c), its
 * options in opt_defs[] (grammar_opts.c) if new, a printer in output*.c if
 * the generic one does not fit, and the handler on the server
 * (src/control/control_commands.c). The admin flag here only labels the
 * help text; the server's table decides. cli/grammar_impl.h lists the
 * grammar's files and what each owns.
 *
 * Ownership: grammar_match() builds m->args (json-c, caller puts it).
 * Messages for the user go to the FILE given; nothing else is printed.
 */
#ifndef CLI_GRAMMAR_H
#define CLI_GRAMMAR_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#define GRAMMAR_TOKENS_MAX 12
#define GRAMMAR_CMDNAME_MAX 128

struct grammar_match;

/* Human output of a command's result; returns the exit code (0 normally). */
typedef int (*grammar_print_fn)(json_object *result);

/* A command run by the client itself (it reads files, or sends several
 * requests); returns smtpctl's exit code. */
typedef int (*grammar_run_fn)(const char *sock, const struct grammar_match *m,
			      int json);

/* Who may run a command, for the help text. */
enum grammar_who {
	GRAMMAR_ANYONE = 0,
	GRAMMAR_ADMIN = 1,
	GRAMMAR_OWN = 2, /* anyone for their own mail, admin for others' */
};

struct grammar_cmd {
	const char *pattern;	/* literal words and placeholders */
	int admin;		/* enum grammar_who (for help only) */
	const char *help;	/* one line */
	grammar_print_fn print; /* NULL: print the result as JSON */
	const char *opts;	/* option names, space separated; NULL none */
	grammar_run_fn run;	/* NULL: one request, then print */
};

extern const struct grammar_cmd grammar_cmds[]; /* ends with pattern NULL */

enum grammar_status {
	GRAMMAR_OK = 0,
	GRAMMAR_INCOMPLETE = -1, /* a prefix of one or more commands */
	GRAMMAR_AMBIGUOUS = -2,	 /* a word abbreviates several words */
	GRAMMAR_UNKNOWN = -3,	 /* a word matches nothing */
	GRAMMAR_EXTRA = -4,	 /* more words than the command takes */
	GRAMMAR_BADVALUE = -5,	 /* a placeholder's or option's value */
	GRAMMAR_EMPTY = -6,	 /* no words at all */
	GRAMMAR_BADOPTION = -7,	 /* unknown, ambiguous, repeated, missing
				    or misplaced option */
};

struct grammar_match {
	const struct grammar_cmd *cmd;
	char name[GRAMMAR_CMDNAME_MAX]; /* wire command: "cluster add" */
	json_object *args;		/* {"id": 4, "address": "..."} */
};

/* Match words (command words, arguments and options) against the table.
 * GRAMMAR_OK with m filled, or a negative status after printing why (and,
 * when incomplete, ambiguous or unknown, the possible continuations) to
 * errf. */
int grammar_match(int nwords, char *const *words, struct grammar_match *m,
		  FILE *errf);

/* Print help: every command (nwords 0) or those the words select (by the
 * same prefix rules), with their arguments and options. 0, or
 * GRAMMAR_UNKNOWN/AMBIGUOUS after a message to errf. */
int grammar_help(FILE *f, FILE *errf, int nwords, char *const *words);

/* ---- value parsers, shared with the submit and sendmail front ends and
 * the unit tests ---- */

/* A duration in ms: 90s, 30m, 1h30m, 3d, 1w, HH:MM[:SS]; a plain number is
 * minutes. 0 or -1. */
int grammar_parse_duration(const char *s, uint64_t *ms);

/* A point in time in ms since the epoch (see the header comment); a bare
 * duration counts forward from now_ms when future, else back. 0 or -1. */
int grammar_parse_time(const char *s, int future, int64_t now_ms, int64_t *out);

/* The clock used for times; tests may replace it. ms since the epoch. */
extern int64_t (*grammar_clock)(void);

#endif
