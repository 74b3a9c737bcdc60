/*
 * grammar.c — smtpctl's command table and the matcher over it (see
 * grammar.h): prefixes of literal words, typed placeholders (one word or a
 * trailing list), per-command options with typed values, the
 * SET CONFIGURATION SMTP settings, the list of possibilities for an
 * incomplete or ambiguous command, and help.
 *
 * Owns: grammar_cmds[] (every command smtpctl knows), the parsed patterns
 * and the matching rules. The value types are in grammar_types.c, the
 * options in grammar_opts.c.
 * Does not own: talking to the server (client.c, exec.c) or printing
 * results (output.c). Fails only by returning a status after a message to
 * the stream it was given; never exits. A malformed table is a programming
 * error: it aborts with a message.
 */
#include "cli/grammar.h"
#include "cli/grammar_impl.h"

#include <stdlib.h>
#include <string.h>

#include "cli/output.h"
#include "cli/submit.h"

/* ---- the table ---- */

#define MAIL_SEL "user entry name"
#define CFG_OPTS                                                               \
	"gateway-alternate zone interval-initial interval-retry "              \
	"interval-maximum address-retries hop-count-maximum options queues "   \
	"receive-timeout send-timeout-data send-timeout-initial "              \
	"send-timeout-mail send-timeout-receipt send-timeout-termination "     \
	"substitute-domain postmaster-alias cluster-domain max-message-size "  \
	"max-recipients log default"

const struct grammar_cmd grammar_cmds[] = {
    {"cluster status", GRAMMAR_ADMIN,
     "show every member: role, state, addresses, applied and match index",
     output_cluster_status, NULL, NULL},
    {"cluster add <id> <address>", GRAMMAR_ADMIN,
     "join the running node <id> listening at <address> (its raft "
     "HOST:PORT)",
     output_cluster_change, NULL, NULL},
    {"cluster remove <id>", GRAMMAR_ADMIN, "remove node <id> from the cluster",
     output_cluster_change, NULL, NULL},
    {"cluster transfer [<id>]", GRAMMAR_ADMIN,
     "hand leadership to node <id> (default: let raft choose)",
     output_cluster_change, NULL, NULL},
    {"show mail [<user>]", GRAMMAR_OWN,
     "SHOW MAIL: queued control files with entry, user, size, date, "
     "sender, recipients",
     output_show_mail, MAIL_SEL " full recipient", NULL},
    {"send mail [<user>]", GRAMMAR_OWN,
     "SEND MAIL: requeue now (or --after TIME); releases held mail",
     output_mail_action, MAIL_SEL " after", NULL},
    {"remove mail [<user>]", GRAMMAR_OWN,
     "REMOVE MAIL: delete control files (not while being delivered)",
     output_mail_action, MAIL_SEL " force all", NULL},
    {"analyze mail [<user>]", GRAMMAR_ADMIN,
     "ANALYZE MAIL: check the spool; --repair fixes it cluster-wide",
     output_analyze_mail, "user repair delete-before delete-since hold", NULL},
    {"start mail", GRAMMAR_ADMIN,
     "START MAIL: start a node's sender (symbiont); default this node",
     output_node_change, "node", NULL},
    {"stop mail", GRAMMAR_ADMIN,
     "STOP MAIL: stop a node's sender (symbiont); default this node",
     output_node_change, "node", NULL},
    {"enable service [smtp]", GRAMMAR_ADMIN,
     "ENABLE SERVICE SMTP: start a node's SMTP receiver", output_node_change,
     "node", NULL},
    {"disable service [smtp]", GRAMMAR_ADMIN,
     "DISABLE SERVICE SMTP: stop a node's SMTP receiver", output_node_change,
     "node", NULL},
    {"show service smtp", GRAMMAR_ANYONE,
     "SHOW SERVICE SMTP: every node's state, this node's statistics",
     output_show_service, NULL, NULL},
    {"set configuration smtp", GRAMMAR_ADMIN,
     "SET CONFIGURATION SMTP: change cluster-wide settings (see its help)",
     output_set_config, CFG_OPTS, NULL},
    {"show configuration smtp", GRAMMAR_ANYONE,
     "SHOW CONFIGURATION SMTP: every setting, (default) marked",
     output_show_config, NULL, NULL},
    {"show mx [<domain:host>]", GRAMMAR_ADMIN,
     "the local MX database (all domains, or one)", output_show_mx, NULL, NULL},
    {"set mx <domain:host> <gateway> <pref>", GRAMMAR_ADMIN,
     "add an MX record: mail for <domain> goes to <gateway>",
     output_table_change, NULL, NULL},
    {"remove mx <domain:host> [<gateway>]", GRAMMAR_ADMIN,
     "remove a domain's MX records (all, or those to <gateway>)",
     output_table_change, NULL, NULL},
    {"show host [<name:host>]", GRAMMAR_ADMIN,
     "the local hosts database (all names, or one)", output_show_host, NULL,
     NULL},
    {"set host <name:host> <addresses:ip>...", GRAMMAR_ADMIN,
     "set the addresses of a host name (replaces them)", output_table_change,
     NULL, NULL},
    {"remove host <name:host>", GRAMMAR_ADMIN,
     "remove a host name from the hosts database", output_table_change, NULL,
     NULL},
    {"set alias <domain>", GRAMMAR_ADMIN,
     "add <domain> to the local alias domains (mail to it is local)",
     output_set_alias, NULL, NULL},
    {"remove alias <domain>", GRAMMAR_ADMIN,
     "remove <domain> from the alias domains", output_remove_alias, NULL, NULL},
    {"show aliases", GRAMMAR_ADMIN, "list the alias domains (this node's copy)",
     output_show_aliases, NULL, NULL},
    {"import aliases [<file>]", GRAMMAR_ADMIN,
     "replace the alias domains with a TCPIP$SMTP_LOCAL_ALIASES.TXT file",
     output_table_change, NULL, import_aliases_run},
    {"show forward", GRAMMAR_ADMIN,
     "MAIL SHOW FORWARD: the forwarded local users", output_show_forward, NULL,
     NULL},
    {"set forward <target>", GRAMMAR_ADMIN,
     "MAIL SET FORWARD/USER=U: forward local user U's mail to <target>",
     output_table_change, "user!", NULL},
    {"remove forward", GRAMMAR_ADMIN,
     "MAIL SET NOFORWARD/USER=U: stop forwarding user U's mail",
     output_table_change, "user!", NULL},
    {"submit [<recipients:rcpt>...]", GRAMMAR_ANYONE,
     "send a message from a file or stdin (Send From File; also sendmail)",
     output_submit, "from read-recipients ignore-dots file", submit_run},
    {"debug noop", GRAMMAR_ADMIN,
     "commit a no-op through raft; show this node's applied count",
     output_debug_noop, NULL, NULL},
    {"debug snapshot-hash", GRAMMAR_ADMIN,
     "SHA-256 of this node's spool snapshot (compare nodes)",
     output_debug_snapshot_hash, NULL, NULL},
    {"debug enqueue <count> <size>", GRAMMAR_ADMIN,
     "enqueue <count> test messages of <size> bytes to "
     "bench@remote.test",
     output_debug_enqueue, NULL, NULL},
    {"debug damage <kind> <name:ctlname>", GRAMMAR_ADMIN,
     "damage THIS node's spool (not replicated), to test analyze mail",
     output_debug_damage, NULL, NULL},
    {"debug claim <name:ctlname> <lease:duration>", GRAMMAR_ADMIN,
     "claim a control file for this node, as its sender would (tests)",
     output_cluster_change, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, NULL},
};

/* ---- parsed patterns ---- */

enum tok_kind { TOK_WORD, TOK_PH };

struct tok {
	enum tok_kind kind;
	int optional;
	int variadic;  /* "<name>...": every remaining word */
	char text[64]; /* the word, or the placeholder's name */
	const struct ph_type *type;
};

#define OPTS_MAX 32

struct pattern {
	int n;
	int nrequired;
	struct tok t[GRAMMAR_TOKENS_MAX];
	char disp[160]; /* the pattern as shown: "<name:type>" as "<name>" */
	int nopts;
	const struct opt_def *opts[OPTS_MAX];
	unsigned char required[OPTS_MAX];
};

static void table_error(const char *what, const char *s)
{
	fprintf(stderr, "smtpctl: internal error: bad grammar %s \"%s\"\n",
		what, s);
	abort();
}

/* Split a table pattern into tokens. */
static void pattern_parse(const char *s, struct pattern *pat)
{
	const char *p = s;
	size_t dl = 0;

	memset(pat, 0, sizeof(*pat));
	while (*p != '\0') {
		struct tok *t;
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
static void opts_parse(const char *list, struct pattern *pat)
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
		if (len >= sizeof(name) || pat->nopts == OPTS_MAX)
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

#define NCMDS_MAX 128

static struct pattern patterns[NCMDS_MAX];
static int npatterns = -1;

static void patterns_load(void)
{
	if (npatterns >= 0)
		return;
	npatterns = 0;
	for (int i = 0; grammar_cmds[i].pattern != NULL; i++) {
		if (i == NCMDS_MAX)
			table_error("table", "more commands than NCMDS_MAX");
		pattern_parse(grammar_cmds[i].pattern, &patterns[i]);
		opts_parse(grammar_cmds[i].opts, &patterns[i]);
		npatterns++;
	}
}

/* The token of pattern i at position pos (a trailing list repeats), or
 * NULL past its end. */
static const struct tok *tok_at(int i, int pos)
{
	const struct pattern *pat = &patterns[i];

	if (pos < pat->n)
		return &pat->t[pos];
	if (pat->n > 0 && pat->t[pat->n - 1].variadic)
		return &pat->t[pat->n - 1];
	return NULL;
}

/* 1 if nwords positional words complete pattern i. */
static int complete_with(int i, int nwords)
{
	const struct pattern *pat = &patterns[i];

	return nwords >= pat->nrequired &&
	       (nwords <= pat->n || tok_at(i, nwords - 1) != NULL);
}

/* ---- matching ---- */

/* Print the patterns of the candidates, one per line, indented. */
static void print_candidates(FILE *f, const int *cand)
{
	for (int i = 0; i < npatterns; i++)
		if (cand[i])
			fprintf(f, "  %-36s %s\n", patterns[i].disp,
				grammar_cmds[i].help);
}

/* Print the words typed so far, for messages. */
static void print_words(FILE *f, int n, char *const *words)
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
static int narrow(int *cand, int pos, const char *word, FILE *errf)
{
	int exact = 0, prefix = 0, ph = 0;
	size_t wlen = strlen(word);

	for (int i = 0; i < npatterns; i++) {
		const struct tok *t = cand[i] ? tok_at(i, pos) : NULL;
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
			const struct tok *t = cand[i] ? tok_at(i, pos) : NULL;
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
		const struct tok *t;
		if (!cand[i])
			continue;
		t = tok_at(i, pos);
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
	for (int pos = 0; pos < nwords; pos++) {
		int before[NCMDS_MAX], complete = -1, rc;
		memcpy(before, cand, sizeof(before));
		for (int i = 0; i < npatterns; i++)
			if (cand[i] && complete_with(i, pos) &&
			    tok_at(i, pos) == NULL)
				complete = i;
		rc = narrow(cand, pos, words[pos], errf);
		if (rc == GRAMMAR_AMBIGUOUS)
			return rc;
		if (rc == GRAMMAR_OK)
			continue;
		if (complete >= 0) {
			fprintf(errf,
				"smtpctl: %s: unexpected argument \"%s\"\n",
				patterns[complete].disp, words[pos]);
			return GRAMMAR_EXTRA;
		}
		fprintf(errf, "smtpctl: unknown command \"");
		print_words(errf, pos + 1, words);
		fprintf(errf, "\"");
		if (pos > 0) {
			fprintf(errf, "; after \"");
			print_words(errf, pos, words);
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
	const struct pattern *pat = &patterns[idx];
	json_object *list = NULL;
	size_t off = 0;

	m->args = json_object_new_object();
	m->name[0] = '\0';
	for (int i = 0; i < pat->n; i++) {
		const struct tok *t = &pat->t[i];
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

/* 1 if w looks like an option ("-x", "--xy"; not "-" alone). */
static int is_option(const char *w)
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
	const struct pattern *pat = &patterns[i];

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
	const struct pattern *pat = &patterns[i];
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
	const struct pattern *pat = &patterns[i];

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
static int split_options(int i, int nwords, char *const *words, int from,
			 struct opt_use *uses, int *nuses, char **pos,
			 int *npos, FILE *errf)
{
	int done = 0;

	for (int w = from; w < nwords; w++) {
		const char *a = words[w];
		if (done || !is_option(a)) {
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
static int apply_options(int i, const struct opt_use *uses, int nuses,
			 struct grammar_match *m, FILE *errf)
{
	const struct pattern *pat = &patterns[i];

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

int grammar_match(int nwords, char *const *words, struct grammar_match *m,
		  FILE *errf)
{
	int cand[NCMDS_MAX], chosen = -1, first_opt = nwords, rc, ncand = 0;
	int npos = 0, nuses = 0;
	char *pos[GRAMMAR_TOKENS_MAX * 8];
	struct opt_use uses[GRAMMAR_TOKENS_MAX * 4];

	patterns_load();
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
			if (is_option(words[w])) {
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
			print_words(errf, first_opt, words);
			fprintf(errf, "\"; possible completions:\n");
			print_candidates(errf, cand);
			return GRAMMAR_INCOMPLETE;
		}
		rc = split_options(chosen, nwords, words, first_opt, uses,
				   &nuses, pos, &npos, errf);
		if (rc != GRAMMAR_OK)
			return rc;
		/* words after the options continue the command */
		for (int w = first_opt; w < npos; w++) {
			int before[NCMDS_MAX];
			memcpy(before, cand, sizeof(before));
			rc = narrow(cand, w, pos[w], errf);
			if (rc == GRAMMAR_AMBIGUOUS)
				return rc;
			if (rc == GRAMMAR_UNKNOWN) {
				fprintf(errf,
					"smtpctl: %s: unexpected argument "
					"\"%s\"\n",
					patterns[chosen].disp, pos[w]);
				return GRAMMAR_EXTRA;
			}
		}
		chosen = -1;
	}
	for (int i = 0; i < npatterns; i++)
		if (cand[i] && complete_with(i, npos) && chosen < 0)
			chosen = i;
	if (chosen < 0) {
		fprintf(errf, "smtpctl: incomplete command \"");
		print_words(errf, npos, pos);
		fprintf(errf, "\"; possible completions:\n");
		print_candidates(errf, cand);
		return GRAMMAR_INCOMPLETE;
	}
	rc = build_args(chosen, npos, pos, m, errf);
	if (rc != GRAMMAR_OK)
		return rc;
	rc = apply_options(chosen, uses, nuses, m, errf);
	if (rc != GRAMMAR_OK) {
		json_object_put(m->args);
		m->args = NULL;
		m->cmd = NULL;
	}
	return rc;
}

/* ---- help ---- */

/* Details of command i: its placeholders and options. */
static void help_details(FILE *f, int i)
{
	const struct pattern *pat = &patterns[i];

	for (int k = 0; k < pat->n; k++) {
		const struct tok *t = &pat->t[k];
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
	int cand[NCMDS_MAX];

	patterns_load();
	for (int i = 0; i < npatterns; i++)
		cand[i] = 1;
	for (int pos = 0; pos < nwords; pos++) {
		int rc = narrow(cand, pos, words[pos], errf);
		if (rc != GRAMMAR_OK) {
			if (rc == GRAMMAR_UNKNOWN) {
				fprintf(errf, "smtpctl: help: no command "
					      "matches \"");
				print_words(errf, nwords, words);
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
			patterns[i].disp, grammar_cmds[i].help);
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
