/*
 * grammar_split.c — the options of one command line as typed (grammar.h):
 * split from the positional words ("--name VALUE", "--name=VALUE",
 * "--flag", "-f VALUE", "-fVALUE", "-ti", "--" ends them), long names by
 * unambiguous prefix among the command's options, then applied to the
 * request's arguments (flags, typed values, the SET CONFIGURATION SMTP
 * items) with the checks for repeated and required ones.
 *
 * Owns: the option syntax and its messages. Does not own the option table
 * (grammar_opts.c), the value types (grammar_types.c) or which command was
 * typed (grammar.c). Fails by returning GRAMMAR_BADOPTION or
 * GRAMMAR_BADVALUE after one message to the stream given.
 */
#include "cli/grammar.h"
#include "cli/grammar_impl.h"

#include <string.h>

/* 1 if w looks like an option ("-x", "--xy"; not "-" alone). */
int grammar_is_option(const char *w)
{
	return w[0] == '-' && w[1] != '\0';
}

static int opt_takes_value(const struct opt_def *o)
{
	return o->kind != OPT_FLAG;
}

/* Print the options of pattern i, for messages. */
static void print_opts(FILE *f, int i)
{
	const struct grammar_pattern *pat = &grammar_patterns[i];

	if (pat->nopts == 0) {
		fprintf(f, "; \"%s\" takes no options\n", pat->disp);
		return;
	}
	fprintf(f, "; \"%s\" takes:", pat->disp);
	for (int k = 0; k < pat->nopts; k++)
		fprintf(f, " --%s", pat->opts[k]->name);
	fprintf(f, "\n");
}

/* Find long option name (len bytes) among pattern i's: exact, or an
 * unambiguous prefix. */
static const struct opt_def *opt_lookup(int i, const char *name, size_t len,
					FILE *errf)
{
	const struct grammar_pattern *pat = &grammar_patterns[i];
	const struct opt_def *found = NULL;
	int n = 0;

	for (int k = 0; k < pat->nopts; k++) {
		const char *o = pat->opts[k]->name;
		if (strlen(o) == len && strncmp(o, name, len) == 0)
			return pat->opts[k];
		if (strncmp(o, name, len) == 0) {
			found = pat->opts[k];
			n++;
		}
	}
	if (n == 1)
		return found;
	if (n > 1) {
		fprintf(errf,
			"smtpctl: option --%.*s is ambiguous; it could be:",
			(int)len, name);
		for (int k = 0; k < pat->nopts; k++)
			if (strncmp(pat->opts[k]->name, name, len) == 0)
				fprintf(errf, " --%s", pat->opts[k]->name);
		fprintf(errf, "\n");
		return NULL;
	}
	fprintf(errf, "smtpctl: unknown option --%.*s", (int)len, name);
	print_opts(errf, i);
	return NULL;
}

static const struct opt_def *opt_short(int i, char c, FILE *errf)
{
	const struct grammar_pattern *pat = &grammar_patterns[i];

	for (int k = 0; k < pat->nopts; k++)
		if (pat->opts[k]->shortc == c)
			return pat->opts[k];
	fprintf(errf, "smtpctl: unknown option -%c", c);
	print_opts(errf, i);
	return NULL;
}

/*
 * Split words[from..] of command i into option uses and positional words
 * (appended to pos[]). GRAMMAR_OK or GRAMMAR_BADOPTION after a message.
 */
int grammar_split_options(int i, int nwords, char *const *words, int from,
			  struct opt_use *uses, int *nuses, char **pos,
			  int *npos, FILE *errf)
{
	int done = 0;

	for (int w = from; w < nwords; w++) {
		const char *a = words[w];
		if (done || !grammar_is_option(a)) {
			pos[(*npos)++] = words[w];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			done = 1;
			continue;
		}
		if (*nuses >= GRAMMAR_TOKENS_MAX * 4) {
			fprintf(errf, "smtpctl: too many options\n");
			return GRAMMAR_BADOPTION;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			const struct opt_def *o =
			    opt_lookup(i, a + 2, len, errf);
			struct opt_use *u = &uses[*nuses];
			if (o == NULL)
				return GRAMMAR_BADOPTION;
			u->def = o;
			u->as = a;
			u->value = NULL;
			if (opt_takes_value(o)) {
				if (eq != NULL) {
					u->value = eq + 1;
				} else if (o->kind == OPT_CFG &&
					   o->type != NULL &&
					   (w + 1 >= nwords ||
					    grammar_is_option(words[w + 1]))) {
					u->value = o->type; /* /ZONE alone */
				} else if (w + 1 < nwords) {
					u->value = words[++w];
				} else {
					fprintf(errf,
						"smtpctl: --%s needs a value "
						"(%s)\n",
						o->name,
						grammar_opt_metavar(o));
					return GRAMMAR_BADOPTION;
				}
			} else if (eq != NULL) {
				fprintf(errf, "smtpctl: --%s takes no value\n",
					o->name);
				return GRAMMAR_BADOPTION;
			}
			(*nuses)++;
			continue;
		}
		/* short options: "-t", "-ti", "-f ADDR", "-fADDR" */
		for (const char *c = a + 1; *c != '\0'; c++) {
			const struct opt_def *o = opt_short(i, *c, errf);
			struct opt_use *u = &uses[*nuses];
			if (o == NULL)
				return GRAMMAR_BADOPTION;
			if (*nuses >= GRAMMAR_TOKENS_MAX * 4) {
				fprintf(errf, "smtpctl: too many options\n");
				return GRAMMAR_BADOPTION;
			}
			u->def = o;
			u->as = a;
			u->value = NULL;
			(*nuses)++;
			if (!opt_takes_value(o))
				continue;
			if (c[1] != '\0') {
				u->value = c + 1;
			} else if (w + 1 < nwords) {
				u->value = words[++w];
			} else {
				fprintf(errf,
					"smtpctl: -%c needs a value (%s)\n", *c,
					grammar_opt_metavar(o));
				return GRAMMAR_BADOPTION;
			}
			break;
		}
	}
	return GRAMMAR_OK;
}

/* Add the options' values to m->args; check repeats and required ones. */
int grammar_apply_options(int i, const struct opt_use *uses, int nuses,
			  struct grammar_match *m, FILE *errf)
{
	const struct grammar_pattern *pat = &grammar_patterns[i];

	for (int k = 0; k < nuses; k++) {
		const struct opt_use *u = &uses[k];
		const struct opt_def *o = u->def;
		json_object *v;
		switch (o->kind) {
		case OPT_FLAG:
			json_object_object_add(m->args, o->arg,
					       json_object_new_boolean(1));
			break;
		case OPT_VALUE:
			if (json_object_object_get_ex(m->args, o->arg, NULL)) {
				if (strcmp(o->arg, "user") == 0)
					fprintf(errf, "smtpctl: the user is "
						      "given twice (USER and "
						      "--user)\n");
				else
					fprintf(errf,
						"smtpctl: --%s given twice\n",
						o->name);
				return GRAMMAR_BADOPTION;
			}
			v = grammar_ph_value(grammar_ph_find(o->type),
					     u->value);
			if (v == NULL) {
				fprintf(errf,
					"smtpctl: --%s must be %s, not "
					"\"%s\"\n",
					o->name, grammar_ph_find(o->type)->what,
					u->value);
				return GRAMMAR_BADVALUE;
			}
			json_object_object_add(m->args, o->arg, v);
			break;
		case OPT_CFG:
			if (grammar_cfg_value(m, u, errf) != 0)
				return GRAMMAR_BADVALUE;
			break;
		case OPT_CFG_OPTIONS:
			if (grammar_cfg_options(m, u, errf) != 0)
				return GRAMMAR_BADVALUE;
			break;
		case OPT_CFG_DEFAULT:
			if (grammar_cfg_default(m, u, errf) != 0)
				return GRAMMAR_BADVALUE;
			break;
		}
	}
	for (int k = 0; k < pat->nopts; k++) {
		if (pat->required[k] && !json_object_object_get_ex(
					    m->args, pat->opts[k]->arg, NULL)) {
			fprintf(errf, "smtpctl: %s needs --%s %s\n", pat->disp,
				pat->opts[k]->name,
				grammar_opt_metavar(pat->opts[k]));
			return GRAMMAR_BADOPTION;
		}
	}
	if (pat->nopts > 0 && strstr(grammar_cmds[i].opts, "default") &&
	    !json_object_object_get_ex(m->args, "items", NULL)) {
		fprintf(errf,
			"smtpctl: %s: nothing to set; \"smtpctl help set "
			"configuration\" lists the settings\n",
			pat->disp);
		return GRAMMAR_BADOPTION;
	}
	return GRAMMAR_OK;
}
