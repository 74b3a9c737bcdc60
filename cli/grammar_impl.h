/*
 * grammar_impl.h — what the grammar's files share (not for other modules:
 * they use grammar.h). The files, and who owns what:
 *
 *   grammar_table.c    grammar_cmds[]: every command, its help and options
 *   grammar_types.c    the placeholder and value types (ph_types[])
 *   grammar_opts.c     the option table and the SET CONFIGURATION SMTP
 *                      values
 *   grammar_pattern.c  the parsed patterns: owns grammar_patterns[] (the
 *                      only writer; filled once, read-only for the others)
 *   grammar_split.c    options as typed: split from the words, applied to
 *                      the arguments
 *   grammar.c          the matcher: narrowing by prefixes, the arguments,
 *                      grammar_match()
 *   grammar_help.c     grammar_help()
 *
 * Calls go down this list's reverse (help -> matcher -> split -> pattern
 * -> opts, types, table); none comes back up. Nothing here is thread-safe:
 * the patterns are parsed on first use.
 */
#ifndef CLI_GRAMMAR_IMPL_H
#define CLI_GRAMMAR_IMPL_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/grammar.h"

enum ph_kind { PH_NUM, PH_STR, PH_CONV };

struct ph_type {
	const char *name; /* as written in patterns, after ':' */
	enum ph_kind kind;
	int suffixes; /* PH_NUM: accept k/K, m/M, g/G (powers of 1024) */
	uint64_t min, max;
	int (*check)(const char *s);	     /* PH_STR: 1 if acceptable */
	json_object *(*conv)(const char *s); /* PH_CONV: NULL if refused */
	const char *what;		     /* for messages and help */
	const char *metavar;		     /* option value, in help */
};

enum opt_kind {
	OPT_FLAG,	 /* --full: "full": true */
	OPT_VALUE,	 /* --entry N: "entry": N */
	OPT_CFG,	 /* a configuration setting: an item */
	OPT_CFG_OPTIONS, /* --options LIST: items of the opt_* keys */
	OPT_CFG_DEFAULT, /* --default KEY: a reset item (repeatable) */
};

struct opt_def {
	const char *name; /* long name, without "--" */
	char shortc;	  /* short letter, 0 if none */
	enum opt_kind kind;
	const char *type; /* OPT_VALUE: the value's ph_type; OPT_CFG: the
			     value when the option is given without one
			     (last, or before another option), NULL =
			     a value is required */
	const char *arg;  /* JSON argument, or the configuration key */
	const char *help;
};

/* One option as typed: its definition and value (NULL for a flag). */
struct opt_use {
	const struct opt_def *def;
	const char *value;
	const char *as; /* the spelling typed, for messages */
};

/* ---- grammar_types.c ---- */

/* The type named name (as written after ':' in patterns), or NULL. */
const struct ph_type *grammar_ph_find(const char *name);

/* The JSON value of word s for type t, or NULL if refused. */
json_object *grammar_ph_value(const struct ph_type *t, const char *s);

/* A number with an optional binary suffix (k, m, g when suffixes). 0 or
 * -1. */
int grammar_parse_num(const char *s, int suffixes, uint64_t *out);

/* ---- grammar_opts.c ---- */

/* The option of that long name (table error if absent: NULL). */
const struct opt_def *grammar_opt_find(const char *name);

/* The value placeholder of an option, for help: "N", "TIME", ... */
const char *grammar_opt_metavar(const struct opt_def *o);

/* Add one SET CONFIGURATION SMTP option to m->args' "items": a setting
 * (--zone), the --options list, or --default KEY. 0, or -1 after a
 * message to errf. */
int grammar_cfg_value(struct grammar_match *m, const struct opt_use *u,
		      FILE *errf);
int grammar_cfg_options(struct grammar_match *m, const struct opt_use *u,
			FILE *errf);
int grammar_cfg_default(struct grammar_match *m, const struct opt_use *u,
			FILE *errf);

/* ---- grammar_pattern.c: the table's patterns, parsed ---- */

#define NCMDS_MAX 128	    /* commands in grammar_cmds[] at most */
#define GRAMMAR_OPTS_MAX 32 /* options of one command at most */

enum tok_kind { TOK_WORD, TOK_PH };

struct grammar_tok {
	enum tok_kind kind;
	int optional;
	int variadic;  /* "<name>...": every remaining word */
	char text[64]; /* the word, or the placeholder's name */
	const struct ph_type *type;
};

struct grammar_pattern {
	int n;
	int nrequired;
	struct grammar_tok t[GRAMMAR_TOKENS_MAX];
	char disp[160]; /* the pattern as shown: "<name:type>" as "<name>" */
	int nopts;
	const struct opt_def *opts[GRAMMAR_OPTS_MAX];
	unsigned char required[GRAMMAR_OPTS_MAX];
};

/* Parse grammar_cmds[] on the first call (a malformed table is a
 * programming error: a message to stderr, then abort()); returns the
 * number of commands, at once on later calls. */
int grammar_patterns_load(void);

/* The parsed pattern of grammar_cmds[i], for i below the count
 * grammar_patterns_load() returned. Owned by grammar_pattern.c. */
extern const struct grammar_pattern *const grammar_patterns;

/* The token of pattern i at position pos (a trailing list repeats), or
 * NULL past its end. */
const struct grammar_tok *grammar_tok_at(int i, int pos);

/* 1 if nwords positional words complete pattern i. */
int grammar_complete_with(int i, int nwords);

/* ---- grammar_split.c: options as typed ---- */

/* 1 if w looks like an option ("-x", "--xy"; not "-" alone). */
int grammar_is_option(const char *w);

/* Split words[from..] of command i into option uses (uses[], at most
 * GRAMMAR_TOKENS_MAX * 4) and positional words (appended to pos[]).
 * GRAMMAR_OK or GRAMMAR_BADOPTION after a message to errf. */
int grammar_split_options(int i, int nwords, char *const *words, int from,
			  struct opt_use *uses, int *nuses, char **pos,
			  int *npos, FILE *errf);

/* Add the options' values to m->args; check repeats and required ones.
 * GRAMMAR_OK, or GRAMMAR_BADOPTION/BADVALUE after a message to errf (the
 * caller frees m->args). */
int grammar_apply_options(int i, const struct opt_use *uses, int nuses,
			  struct grammar_match *m, FILE *errf);

/* ---- grammar.c: the matcher, shared with help ---- */

/* Narrow cand[] (one flag per command) to the commands whose token pos
 * accepts word. Literal words win over placeholders; an exact word wins
 * over prefixes. GRAMMAR_OK, GRAMMAR_AMBIGUOUS (after printing the
 * choices) or GRAMMAR_UNKNOWN (cand[] unchanged; nothing printed). */
int grammar_narrow(int *cand, int pos, const char *word, FILE *errf);

/* Print the words typed so far, for messages. */
void grammar_print_words(FILE *f, int n, char *const *words);

#endif
