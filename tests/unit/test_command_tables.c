/*
 * test_command_tables.c — smtpctl's grammar (cli/grammar_table.c, grammar_cmds[])
 * and the control server's command tables (src/control/control_commands.c,
 * control_cmds[]; the test hooks of src/testhooks/control_debug.c) agree:
 *   - every command the CLI can send exists on the server (the "debug"
 *     ones in the test hooks' table), with the same admin flag (GRAMMAR_ADMIN
 *     on the CLI <-> admin on the server; GRAMMAR_OWN and GRAMMAR_ANYONE
 *     are not admin: the server checks ownership itself);
 *   - every argument the CLI can put in a request (placeholders, options,
 *     "items" of SET CONFIGURATION SMTP, what the client-run commands send)
 *     is one the server's command accepts;
 *   - every server command (and every test hook) is reachable from the CLI,
 *     except those listed in server_only[] with a reason.
 * Pure table checks: no socket, no daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/grammar.h"
#include "cli/grammar_impl.h"
#include "src/control/control_impl.h"
#include "src/testhooks/testhooks.h"

/* Server commands smtpctl has no words for, with the reason. Empty today:
 * add a line here rather than a command the CLI cannot reach by mistake. */
static const struct {
	const char *name;
	const char *why;
} server_only[] = {
    {NULL, NULL},
};

/* What the commands smtpctl runs itself (grammar run function) send, as
 * the server's argument list would name them (cli/submit.c). */
static const struct {
	const char *name;
	const char *args[6];
} client_run_args[] = {
    {"submit", {"body", "more", "sender", "recipients", NULL}},
    {"import aliases", {"domains", "source", NULL}},
    {NULL, {NULL}},
};

/* The wire name of a grammar pattern: its leading literal words. */
static void wire_name(const char *pattern, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = pattern; *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (p[0] == '<' || p[0] == '[')
			break;
		if (n > 0)
			out[n++] = ' ';
		assert_true(n + len < size);
		memcpy(out + n, p, len);
		n += len;
		p += len;
		while (*p == ' ')
			p++;
	}
	out[n] = '\0';
}

static const struct control_cmd *table_find(const struct control_cmd *t,
					    const char *name)
{
	for (const struct control_cmd *c = t; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* The server's command of that name, production table first. */
static const struct control_cmd *server_find(const char *name)
{
	const struct control_cmd *c = table_find(control_cmds, name);

	return c != NULL ? c : table_find(testhooks_control_cmds(), name);
}

/* 1 if name is one of the comma-separated names in list. */
static int arg_accepted(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static void check_arg(const struct grammar_cmd *g, const struct control_cmd *c,
		      const char *arg)
{
	if (!arg_accepted(c->args, arg))
		fail_msg("smtpctl \"%s\" sends argument \"%s\"; the server's "
			 "\"%s\" takes only \"%s\"",
			 g->pattern, arg, c->name, c->args);
}

/* The placeholders of a pattern: "<name>", "<name:type>", "[<name>]",
 * "<name>...". */
static void check_placeholders(const struct grammar_cmd *g,
			       const struct control_cmd *c)
{
	for (const char *p = strchr(g->pattern, '<'); p != NULL;
	     p = strchr(p + 1, '<')) {
		char name[64];
		size_t len = strcspn(p + 1, ":>");
		assert_true(len > 0 && len < sizeof(name));
		memcpy(name, p + 1, len);
		name[len] = '\0';
		check_arg(g, c, name);
	}
}

/* The options of a command: a flag or a value is its own argument, a
 * configuration setting is an item of "items". */
static void check_options(const struct grammar_cmd *g,
			  const struct control_cmd *c)
{
	if (g->opts == NULL)
		return;
	for (const char *p = g->opts; *p != '\0';) {
		char name[64];
		size_t len = strcspn(p, " ");
		const struct opt_def *o;
		assert_true(len > 0 && len < sizeof(name));
		memcpy(name, p, len);
		name[len] = '\0';
		if (len > 1 && name[len - 1] == '!')
			name[len - 1] = '\0';
		o = grammar_opt_find(name);
		if (o == NULL)
			fail_msg("smtpctl \"%s\": option \"%s\" not defined",
				 g->pattern, name);
		if (o->kind == OPT_FLAG || o->kind == OPT_VALUE)
			check_arg(g, c, o->arg);
		else
			check_arg(g, c, "items");
		p += len;
		while (*p == ' ')
			p++;
	}
}

/* The arguments of a command smtpctl runs itself. */
static void check_client_run(const struct grammar_cmd *g,
			     const struct control_cmd *c)
{
	for (size_t i = 0; client_run_args[i].name != NULL; i++) {
		if (strcmp(client_run_args[i].name, c->name) != 0)
			continue;
		for (size_t k = 0; client_run_args[i].args[k] != NULL; k++)
			check_arg(g, c, client_run_args[i].args[k]);
		return;
	}
	fail_msg("smtpctl runs \"%s\" itself: list what it sends in "
		 "client_run_args[]",
		 g->pattern);
}

static void test_every_cli_command_exists_on_the_server(void **state)
{
	(void)state;
	for (const struct grammar_cmd *g = grammar_cmds; g->pattern != NULL;
	     g++) {
		char name[GRAMMAR_CMDNAME_MAX];
		const struct control_cmd *c;

		wire_name(g->pattern, name, sizeof(name));
		assert_true(name[0] != '\0');
		c = server_find(name);
		if (c == NULL)
			fail_msg(
			    "smtpctl \"%s\" sends \"%s\", which the server "
			    "does not have",
			    g->pattern, name);
	}
}

static void test_cli_and_server_agree_on_admin(void **state)
{
	(void)state;
	for (const struct grammar_cmd *g = grammar_cmds; g->pattern != NULL;
	     g++) {
		char name[GRAMMAR_CMDNAME_MAX];
		const struct control_cmd *c;
		int cli_admin = g->admin == GRAMMAR_ADMIN;

		wire_name(g->pattern, name, sizeof(name));
		c = server_find(name);
		assert_non_null(c);
		if (cli_admin != (c->admin != 0))
			fail_msg("\"%s\": smtpctl says %s, the server says %s",
				 name, cli_admin ? "admin" : "not admin",
				 c->admin ? "admin" : "not admin");
	}
}

static void test_every_cli_argument_is_accepted_by_the_server(void **state)
{
	(void)state;
	for (const struct grammar_cmd *g = grammar_cmds; g->pattern != NULL;
	     g++) {
		char name[GRAMMAR_CMDNAME_MAX];
		const struct control_cmd *c;

		wire_name(g->pattern, name, sizeof(name));
		c = server_find(name);
		assert_non_null(c);
		if (g->run != NULL) {
			check_client_run(g, c);
			continue;
		}
		check_placeholders(g, c);
		check_options(g, c);
	}
}

/* 1 if some grammar command sends name. */
static int cli_sends(const char *name)
{
	for (const struct grammar_cmd *g = grammar_cmds; g->pattern != NULL;
	     g++) {
		char w[GRAMMAR_CMDNAME_MAX];
		wire_name(g->pattern, w, sizeof(w));
		if (strcmp(w, name) == 0)
			return 1;
	}
	return 0;
}

static int is_server_only(const char *name)
{
	for (size_t i = 0; server_only[i].name != NULL; i++)
		if (strcmp(server_only[i].name, name) == 0)
			return 1;
	return 0;
}

static void test_every_server_command_is_reachable_from_the_cli(void **state)
{
	(void)state;
	for (const struct control_cmd *c = control_cmds; c->name != NULL; c++)
		if (!cli_sends(c->name) && !is_server_only(c->name))
			fail_msg(
			    "the server's \"%s\" has no smtpctl words "
			    "(add them to cli/grammar_table.c or list it in "
			    "server_only[] with a reason)",
			    c->name);
}

static void test_every_test_hook_is_reachable_from_the_cli(void **state)
{
	(void)state;
	for (const struct control_cmd *c = testhooks_control_cmds();
	     c->name != NULL; c++)
		if (!cli_sends(c->name))
			fail_msg("test hook \"%s\" has no smtpctl words",
				 c->name);
}

static void test_test_hooks_are_not_in_the_production_table(void **state)
{
	(void)state;
	for (const struct control_cmd *c = testhooks_control_cmds();
	     c->name != NULL; c++)
		if (table_find(control_cmds, c->name) != NULL)
			fail_msg("test hook \"%s\" is in control_cmds[]",
				 c->name);
	for (const struct control_cmd *c = control_cmds; c->name != NULL; c++)
		assert_false(strncmp(c->name, "debug ", 6) == 0);
}

static void test_server_only_commands_exist(void **state)
{
	(void)state;
	for (size_t i = 0; server_only[i].name != NULL; i++) {
		assert_non_null(table_find(control_cmds, server_only[i].name));
		assert_true(server_only[i].why != NULL &&
			    server_only[i].why[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_cli_command_exists_on_the_server),
	    cmocka_unit_test(test_cli_and_server_agree_on_admin),
	    cmocka_unit_test(test_every_cli_argument_is_accepted_by_the_server),
	    cmocka_unit_test(
		test_every_server_command_is_reachable_from_the_cli),
	    cmocka_unit_test(test_every_test_hook_is_reachable_from_the_cli),
	    cmocka_unit_test(test_test_hooks_are_not_in_the_production_table),
	    cmocka_unit_test(test_server_only_commands_exist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
