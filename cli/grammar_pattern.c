/*
 * grammar_pattern.c — the patterns of grammar_cmds[] (grammar_table.c)
 * parsed once into tokens: literal words, optional words, typed
 * placeholders and trailing lists, the pattern as shown in messages and
 * help, and the command's options with their required marks (grammar.h
 * describes the syntax).
 *
 * Owns: grammar_patterns[] (filled on first use, read-only afterwards) and
 * the questions about one pattern (the token at a position, whether a
 * number of words completes it). Does not own matching typed words
 * (grammar.c) or options as typed (grammar_split.c). A malformed table is
 * a programming error: a message to stderr, then abort().
 */
#include "cli/grammar.h"
#include "cli/grammar_impl.h"

#include <stdlib.h>
#include <string.h>

static void table_error(const char *what, const char *s)
{
	fprintf(stderr, "smtpctl: internal error: bad grammar %s \"%s\"\n",
		what, s);
	abort();
}

/* Split a table pattern into tokens. */
static void pattern_parse(const char *s, struct grammar_pattern *pat)
{
	const char *p = s;
	size_t dl = 0;

	memset(pat, 0, sizeof(*pat));
	while (*p != '\0') {
		struct grammar_tok *t;
		size_t len, tl;
		int opt = 0, var = 0;
		char name[64], piece[96], *colon;
		const char *start;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (pat->n == GRAMMAR_TOKENS_MAX)
			table_error("pattern", s);
		if (pat->n > 0 && pat->t[pat->n - 1].variadic)
			table_error("pattern", s); /* variadic ends it */
		t = &pat->t[pat->n];
		start = p;
		len = strcspn(p, " ");
		if (len >= sizeof(piece) - 8)
			table_error("pattern", s);
		tl = len;
		if (tl >= 2 && p[0] == '[' && p[tl - 1] == ']') {
			opt = 1;
			p++;
			tl -= 2;
		}
		if (tl > 3 && strncmp(p + tl - 3, "...", 3) == 0) {
			var = 1;
			tl -= 3;
		}
		if (tl >= 3 && p[0] == '<' && p[tl - 1] == '>') {
			if (tl - 2 >= sizeof(name))
				table_error("pattern", s);
			memcpy(name, p + 1, tl - 2);
			name[tl - 2] = '\0';
			colon = strchr(name, ':');
			t->type =
			    grammar_ph_find(colon != NULL ? colon + 1 : name);
			if (colon != NULL)
				*colon = '\0';
			if (t->type == NULL)
				table_error("placeholder type", s);
			t->kind = TOK_PH;
			snprintf(t->text, sizeof(t->text), "%s", name);
			snprintf(piece, sizeof(piece), "%s%s<%s>%s%s",
				 dl ? " " : "", opt ? "[" : "", name,
				 var ? "..." : "", opt ? "]" : "");
		} else {
			if (var || tl == 0 || tl >= sizeof(t->text))
				table_error("pattern", s);
			t->kind = TOK_WORD;
			memcpy(t->text, p, tl);
			t->text[tl] = '\0';
			snprintf(piece, sizeof(piece), "%s%s%s%s",
				 dl ? " " : "", opt ? "[" : "", t->text,
				 opt ? "]" : "");
		}
		if (dl + strlen(piece) >= sizeof(pat->disp))
			table_error("pattern", s);
		memcpy(pat->disp + dl, piece, strlen(piece) + 1);
		dl += strlen(piece);
		t->optional = opt;
		t->variadic = var;
		if (!opt) {
			if (pat->nrequired != pat->n)
				table_error("pattern", s); /* after optional */
			pat->nrequired++;
		}
		pat->n++;
		p = start + len;
	}
}

/* Read a command's option list ("full entry user!"). */
static void opts_parse(const char *list, struct grammar_pattern *pat)
{
	const char *p = list;

	if (list == NULL)
		return;
	while (*p != '\0') {
		char name[64];
		size_t len;
		int req = 0;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, " ");
		if (len >= sizeof(name) || pat->nopts == GRAMMAR_OPTS_MAX)
			table_error("option list", list);
		memcpy(name, p, len);
		name[len] = '\0';
		if (len > 1 && name[len - 1] == '!') {
			req = 1;
			name[len - 1] = '\0';
		}
		pat->opts[pat->nopts] = grammar_opt_find(name);
		if (pat->opts[pat->nopts] == NULL)
			table_error("option", name);
		pat->required[pat->nopts++] = (unsigned char)req;
		p += len;
	}
}

/* Filled once by grammar_patterns_load(); -1 until then. */
static struct grammar_pattern patterns[NCMDS_MAX];
static int npatterns = -1;

const struct grammar_pattern *const grammar_patterns = patterns;

int grammar_patterns_load(void)
{
	if (npatterns >= 0)
		return npatterns;
	npatterns = 0;
	for (int i = 0; grammar_cmds[i].pattern != NULL; i++) {
		if (i == NCMDS_MAX)
			table_error("table", "more commands than NCMDS_MAX");
		pattern_parse(grammar_cmds[i].pattern, &patterns[i]);
		opts_parse(grammar_cmds[i].opts, &patterns[i]);
		npatterns++;
	}
	return npatterns;
}

/* The token of pattern i at position pos (a trailing list repeats), or
 * NULL past its end. */
const struct grammar_tok *grammar_tok_at(int i, int pos)
{
	const struct grammar_pattern *pat = &patterns[i];

	if (pos < pat->n)
		return &pat->t[pos];
	if (pat->n > 0 && pat->t[pat->n - 1].variadic)
		return &pat->t[pat->n - 1];
	return NULL;
}

/* 1 if nwords positional words complete pattern i. */
int grammar_complete_with(int i, int nwords)
{
	const struct grammar_pattern *pat = &patterns[i];

	return nwords >= pat->nrequired &&
	       (nwords <= pat->n || grammar_tok_at(i, nwords - 1) != NULL);
}
