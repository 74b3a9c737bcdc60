/*
 * grammar_impl.h — what the grammar's files share (not for other modules:
 * they use grammar.h): the placeholder and value types (grammar_types.c),
 * the option table and the SET CONFIGURATION SMTP values
 * (grammar_opts.c), used by the matcher and help (grammar.c).
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
	const char *type; /* OPT_VALUE: the value's ph_type */
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

#endif
