/*
 * grammar.c — smtpctl's matcher (see grammar.h): the typed words against
 * the parsed patterns of grammar_cmds[], literal words by unambiguous
 * prefix, typed placeholders (one word or a trailing list), options mixed
 * with the arguments, and the list of possibilities for an incomplete,
 * ambiguous or unknown command; grammar_match() builds the request.
 *
 * Owns: the matching rules and their messages. Does not own the table
 * (grammar_table.c), parsing it (grammar_pattern.c), the option syntax
 * (grammar_split.c), the value types (grammar_types.c), help
 * (grammar_help.c), talking to the server (client.c, exec.c) or printing
 * results (output.c). Fails only by returning a status after a message to
 * the stream it was given; never exits.
 */
#include "cli/grammar.h"
#include "cli/grammar_impl.h"

#include <string.h>

/* Print the patterns of the candidates, one per line, indented. */
static void print_candidates(FILE *f, const int *cand)
{
	const int npatterns = grammar_patterns_load();
	for (int i = 0; i < npatterns; i++)
		if (cand[i])
			fprintf(f, "  %-36s %s\n", grammar_patterns[i].disp,
				grammar_cmds[i].help);
}

/* Print the words typed so far, for messages. */
void grammar_print_words(FILE *f, int n, char *const *words)
{
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? " " : "", words[i]);
}

/*
 * Narrow cand[] to the commands whose token pos accepts word. Literal words
 * win over placeholders; an exact word wins over prefixes. Returns
 * GRAMMAR_OK, GRAMMAR_AMBIGUOUS (after printing the choices) or
 * GRAMMAR_UNKNOWN (cand[] unchanged; nothing printed).
 */
int grammar_narrow(int *cand, int pos, const char *word, FILE *errf)
{
	const int npatterns = grammar_patterns_load();
	int exact = 0, prefix = 0, ph = 0;
	size_t wlen = strlen(word);

	for (int i = 0; i < npatterns; i++) {
		const struct grammar_tok *t =
		    cand[i] ? grammar_tok_at(i, pos) : NULL;
		if (t == NULL)
			continue;
		if (t->kind == TOK_PH)
			ph++;
		else if (strcmp(t->text, word) == 0)
			exact++;
		else if (strncmp(t->text, word, wlen) == 0)
			prefix++;
	}
	if (exact == 0 && prefix > 0) {
		/* several commands may share the word: count distinct ones */
		const char *seen[NCMDS_MAX];
		int nseen = 0;
		for (int i = 0; i < npatterns; i++) {
			const struct grammar_tok *t =
			    cand[i] ? grammar_tok_at(i, pos) : NULL;
			int dup = 0;
			if (t == NULL || t->kind != TOK_WORD ||
			    strncmp(t->text, word, wlen) != 0)
				continue;
			for (int j = 0; j < nseen; j++)
				if (strcmp(seen[j], t->text) == 0)
					dup = 1;
			if (!dup)
				seen[nseen++] = t->text;
		}
		if (nseen > 1) {
			fprintf(
			    errf,
			    "smtpctl: \"%s\" is ambiguous; it could be:", word);
			for (int j = 0; j < nseen; j++)
				fprintf(errf, " %s", seen[j]);
			fprintf(errf, "\n");
			return GRAMMAR_AMBIGUOUS;
		}
	}
	if (exact == 0 && prefix == 0 && ph == 0)
		return GRAMMAR_UNKNOWN;
	for (int i = 0; i < npatterns; i++) {
		const struct grammar_tok *t;
		if (!cand[i])
			continue;
		t = grammar_tok_at(i, pos);
		if (t == NULL) {
			cand[i] = 0;
			continue;
		}
		if (exact > 0)
			cand[i] =
			    t->kind == TOK_WORD && strcmp(t->text, word) == 0;
		else if (prefix > 0)
			cand[i] = t->kind == TOK_WORD &&
				  strncmp(t->text, word, wlen) == 0;
		else
			cand[i] = t->kind == TOK_PH;
	}
	return GRAMMAR_OK;
}

/* Narrow by every word; on failure print why. */
static int narrow_all(int *cand, int nwords, char *const *words, FILE *errf)
{
	const int npatterns = grammar_patterns_load();
	for (int pos = 0; pos < nwords; pos++) {
		int before[NCMDS_MAX], complete = -1, rc;
		memcpy(before, cand, sizeof(before));
		for (int i = 0; i < npatterns; i++)
			if (cand[i] && grammar_complete_with(i, pos) &&
			    grammar_tok_at(i, pos) == NULL)
				complete = i;
		rc = grammar_narrow(cand, pos, words[pos], errf);
		if (rc == GRAMMAR_AMBIGUOUS)
			return rc;
		if (rc == GRAMMAR_OK)
			continue;
		if (complete >= 0) {
			fprintf(errf,
				"smtpctl: %s: unexpected argument \"%s\"\n",
				grammar_patterns[complete].disp, words[pos]);
			return GRAMMAR_EXTRA;
		}
		fprintf(errf, "smtpctl: unknown command \"");
		grammar_print_words(errf, pos + 1, words);
		fprintf(errf, "\"");
		if (pos > 0) {
			fprintf(errf, "; after \"");
			grammar_print_words(errf, pos, words);
			fprintf(errf, "\" it could be:\n");
			print_candidates(errf, before);
		} else {
			fprintf(errf, "; try \"smtpctl help\"\n");
		}
		return GRAMMAR_UNKNOWN;
	}
	return GRAMMAR_OK;
}

/* Check the placeholders' values and build the JSON arguments. */
static int build_args(int idx, int nwords, char *const *words,
		      struct grammar_match *m, FILE *errf)
{
	const struct grammar_pattern *pat = &grammar_patterns[idx];
	json_object *list = NULL;
	size_t off = 0;

	m->args = json_object_new_object();
	m->name[0] = '\0';
	for (int i = 0; i < pat->n; i++) {
		const struct grammar_tok *t = &pat->t[i];
		if (t->kind == TOK_WORD) {
			int k;
			if (t->optional)
				continue;
			k = snprintf(m->name + off, sizeof(m->name) - off,
				     "%s%s", off ? " " : "", t->text);
			if (k > 0)
				off += (size_t)k;
			continue;
		}
		if (t->variadic) {
			list = json_object_new_array();
			json_object_object_add(m->args, t->text, list);
		}
		for (int w = i;
		     w < (t->variadic ? nwords : i + 1) && w < nwords; w++) {
			json_object *v = grammar_ph_value(t->type, words[w]);
			if (v == NULL) {
				fprintf(errf,
					"smtpctl: %s: <%s> must be %s, not "
					"\"%s\"\n",
					pat->disp, t->text, t->type->what,
					words[w]);
				goto err_after_args;
			}
			if (t->variadic)
				json_object_array_add(list, v);
			else
				json_object_object_add(m->args, t->text, v);
		}
	}
	m->cmd = &grammar_cmds[idx];
	return GRAMMAR_OK;

err_after_args:
	json_object_put(m->args);
	m->args = NULL;
	return GRAMMAR_BADVALUE;
}

int grammar_match(int nwords, char *const *words, struct grammar_match *m,
		  FILE *errf)
{
	const int npatterns = grammar_patterns_load();
	int cand[NCMDS_MAX], chosen = -1, first_opt = nwords, rc, ncand = 0;
	int npos = 0, nuses = 0;
	char *pos[GRAMMAR_TOKENS_MAX * 8];
	struct opt_use uses[GRAMMAR_TOKENS_MAX * 4];

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < npatterns; i++)
		cand[i] = 1;
	if (nwords == 0) {
		fprintf(errf, "smtpctl: no command given; commands are:\n");
		print_candidates(errf, cand);
		return GRAMMAR_EMPTY;
	}
	if (nwords > (int)(sizeof(pos) / sizeof(pos[0]))) {
		fprintf(errf, "smtpctl: too many arguments\n");
		return GRAMMAR_EXTRA;
	}
	if (strcmp(words[0], "--") == 0) {
		/* "-- WORDS": no options at all */
		words++;
		nwords--;
		first_opt = nwords;
	} else {
		for (int w = 0; w < nwords; w++)
			if (grammar_is_option(words[w])) {
				first_opt = w;
				break;
			}
	}
	if (nwords == 0) {
		fprintf(errf, "smtpctl: no command given\n");
		return GRAMMAR_EMPTY;
	}
	if (first_opt == 0) {
		fprintf(errf,
			"smtpctl: unknown option %s (command options come "
			"after the command's words); try \"smtpctl help\"\n",
			words[0]);
		return GRAMMAR_BADOPTION;
	}
	/* the leading words select the command */
	rc = narrow_all(cand, first_opt, words, errf);
	if (rc != GRAMMAR_OK)
		return rc;
	for (int w = 0; w < first_opt; w++)
		pos[npos++] = words[w];
	if (first_opt < nwords) {
		for (int i = 0; i < npatterns; i++)
			if (cand[i]) {
				ncand++;
				chosen = i;
			}
		if (ncand != 1) {
			fprintf(errf, "smtpctl: incomplete command \"");
			grammar_print_words(errf, first_opt, words);
			fprintf(errf, "\"; possible completions:\n");
			print_candidates(errf, cand);
			return GRAMMAR_INCOMPLETE;
		}
		rc = grammar_split_options(chosen, nwords, words, first_opt,
					   uses, &nuses, pos, &npos, errf);
		if (rc != GRAMMAR_OK)
			return rc;
		/* words after the options continue the command */
		for (int w = first_opt; w < npos; w++) {
			int before[NCMDS_MAX];
			memcpy(before, cand, sizeof(before));
			rc = grammar_narrow(cand, w, pos[w], errf);
			if (rc == GRAMMAR_AMBIGUOUS)
				return rc;
			if (rc == GRAMMAR_UNKNOWN) {
				fprintf(errf,
					"smtpctl: %s: unexpected argument "
					"\"%s\"\n",
					grammar_patterns[chosen].disp, pos[w]);
				return GRAMMAR_EXTRA;
			}
		}
		chosen = -1;
	}
	for (int i = 0; i < npatterns; i++)
		if (cand[i] && grammar_complete_with(i, npos) && chosen < 0)
			chosen = i;
	if (chosen < 0) {
		fprintf(errf, "smtpctl: incomplete command \"");
		grammar_print_words(errf, npos, pos);
		fprintf(errf, "\"; possible completions:\n");
		print_candidates(errf, cand);
		return GRAMMAR_INCOMPLETE;
	}
	rc = build_args(chosen, npos, pos, m, errf);
	if (rc != GRAMMAR_OK)
		return rc;
	rc = grammar_apply_options(chosen, uses, nuses, m, errf);
	if (rc != GRAMMAR_OK) {
		json_object_put(m->args);
		m->args = NULL;
		m->cmd = NULL;
	}
	return rc;
}
