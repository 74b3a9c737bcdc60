/*
 * test_grammar.c — unit tests of cli/grammar*.c, pure parsing: commands by
 * unambiguous prefixes, ambiguity and incomplete commands, typed
 * placeholders and trailing lists, per-command options (flags, values,
 * prefixes, short forms, "--"), the SET CONFIGURATION SMTP settings and
 * their items, durations and times, and help.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/grammar.h"

#define NOW_MS 1714564800000LL /* 2024-05-01T12:00:00Z */
#define MIN 60000LL
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static int64_t fixed_clock(void)
{
	return NOW_MS;
}

/* The messages of the last match. */
static char errbuf[16384];

/* Split line on blanks and match it; the status. m->args must be put by
 * the caller when GRAMMAR_OK. */
static int match(const char *line, struct grammar_match *m)
{
	char copy[1024], *words[64], *save = NULL, *w;
	int n = 0, rc;
	FILE *errf;

	snprintf(copy, sizeof(copy), "%s", line);
	for (w = strtok_r(copy, " ", &save); w != NULL && n < 64;
	     w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	errf = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_non_null(errf);
	rc = grammar_match(n, words, m, errf);
	fclose(errf);
	return rc;
}

/* Match a line that must be accepted; return its args (caller puts). */
static json_object *ok(const char *line, const char *wire)
{
	struct grammar_match m;
	int rc = match(line, &m);

	if (rc != GRAMMAR_OK)
		fail_msg("\"%s\" refused (%d): %s", line, rc, errbuf);
	assert_string_equal(m.name, wire);
	return m.args;
}

static void refused(const char *line, int status)
{
	struct grammar_match m;
	int rc = match(line, &m);

	if (rc == GRAMMAR_OK) {
		json_object_put(m.args);
		fail_msg("\"%s\" accepted", line);
	}
	assert_int_equal(rc, status);
	assert_non_null(strstr(errbuf, "smtpctl: "));
}

static const char *str_arg(json_object *a, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(a, k, &v))
		fail_msg("no argument %s in %s", k,
			 json_object_to_json_string(a));
	return json_object_get_string(v);
}

static int64_t int_arg(json_object *a, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(a, k, &v))
		fail_msg("no argument %s in %s", k,
			 json_object_to_json_string(a));
	return json_object_get_int64(v);
}

static int has_arg(json_object *a, const char *k)
{
	return json_object_object_get_ex(a, k, NULL);
}

/* The configuration item for key in args["items"], or NULL. */
static json_object *item(json_object *a, const char *key)
{
	json_object *items, *k;

	if (!json_object_object_get_ex(a, "items", &items))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		json_object_object_get_ex(it, "key", &k);
		if (strcmp(json_object_get_string(k), key) == 0)
			return it;
	}
	return NULL;
}

/* ---- commands ---- */

static void test_full_words_match_with_the_wire_name(void **state)
{
	(void)state;
	json_object_put(ok("cluster status", "cluster status"));
	json_object_put(ok("show service smtp", "show service smtp"));
	json_object_put(
	    ok("show configuration smtp", "show configuration smtp"));
	json_object_put(ok("start mail", "start mail"));
}

static void test_unambiguous_prefixes_are_accepted(void **state)
{
	(void)state;
	json_object_put(ok("cl st", "cluster status"));
	json_object_put(ok("sh conf smtp", "show configuration smtp"));
	json_object_put(ok("sh ma", "show mail"));
	json_object_put(ok("sta m", "start mail"));
	json_object_put(ok("an m", "analyze mail"));
	json_object_put(ok("sub x@example.com", "submit"));
}

static void test_ambiguous_prefix_is_refused_with_its_candidates(void **state)
{
	(void)state;
	refused("s al x.org", GRAMMAR_AMBIGUOUS);
	assert_non_null(strstr(errbuf, "set"));
	assert_non_null(strstr(errbuf, "show"));
	assert_non_null(strstr(errbuf, "send"));
	refused("sh m", GRAMMAR_AMBIGUOUS);
	assert_non_null(strstr(errbuf, "mail"));
	assert_non_null(strstr(errbuf, "mx"));
	refused("st mail", GRAMMAR_AMBIGUOUS);
}

static void test_incomplete_command_lists_the_possibilities(void **state)
{
	(void)state;
	refused("show", GRAMMAR_INCOMPLETE);
	assert_non_null(strstr(errbuf, "show mail [<user>]"));
	assert_non_null(strstr(errbuf, "show configuration smtp"));
	refused("cluster add 4", GRAMMAR_INCOMPLETE);
	assert_non_null(strstr(errbuf, "cluster add <id> <address>"));
	refused("show service", GRAMMAR_INCOMPLETE);
	assert_non_null(strstr(errbuf, "show service smtp"));
}

static void test_unknown_and_extra_words_are_refused(void **state)
{
	(void)state;
	refused("frobnicate", GRAMMAR_UNKNOWN);
	refused("show nothing", GRAMMAR_UNKNOWN);
	refused("cluster status extra", GRAMMAR_EXTRA);
	refused("show mail root bob", GRAMMAR_EXTRA);
	refused("start mail now", GRAMMAR_EXTRA);
}

static void test_no_words_is_refused(void **state)
{
	struct grammar_match m;
	FILE *errf = fmemopen(errbuf, sizeof(errbuf), "w");

	(void)state;
	assert_int_equal(grammar_match(0, NULL, &m, errf), GRAMMAR_EMPTY);
	fclose(errf);
}

static void test_optional_literal_is_not_part_of_the_name(void **state)
{
	(void)state;
	json_object_put(ok("enable service", "enable service"));
	json_object_put(ok("enable service smtp", "enable service"));
	json_object_put(ok("dis serv sm", "disable service"));
}

/* ---- placeholders ---- */

static void test_placeholder_values_are_typed_and_checked(void **state)
{
	json_object *a;

	(void)state;
	a = ok("set mx Example.COM mx1.example.com 10", "set mx");
	assert_string_equal(str_arg(a, "domain"), "Example.COM");
	assert_string_equal(str_arg(a, "gateway"), "mx1.example.com");
	assert_int_equal(int_arg(a, "pref"), 10);
	json_object_put(a);
	a = ok("set mx example.com 192.0.2.1 0", "set mx");
	assert_string_equal(str_arg(a, "gateway"), "192.0.2.1");
	json_object_put(a);
	refused("set mx example.com gw.example.com 70000", GRAMMAR_BADVALUE);
	refused("set mx bad..domain gw.example.com 1", GRAMMAR_BADVALUE);
	refused("cluster remove 0", GRAMMAR_BADVALUE);
	refused("cluster remove zero", GRAMMAR_BADVALUE);
	refused("show mail no/such", GRAMMAR_BADVALUE);
	refused("debug damage smash 26050112000000_root_00000001.TCPIP_N1",
		GRAMMAR_BADVALUE);
	refused("debug damage due-delete not-a-name", GRAMMAR_BADVALUE);
}

static void test_trailing_list_takes_every_remaining_word(void **state)
{
	json_object *a, *list;

	(void)state;
	a = ok("set host relay.example.com 192.0.2.1 2001:db8::1", "set host");
	assert_true(json_object_object_get_ex(a, "addresses", &list));
	assert_int_equal(json_object_array_length(list), 2);
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(list, 1)),
	    "2001:db8::1");
	json_object_put(a);
	refused("set host relay.example.com", GRAMMAR_INCOMPLETE);
	refused("set host relay.example.com 192.0.2.1 1.2.3", GRAMMAR_BADVALUE);
	a = ok("submit", "submit");
	assert_false(has_arg(a, "recipients") &&
		     json_object_array_length(
			 json_object_object_get(a, "recipients")) > 0);
	json_object_put(a);
}

/* ---- options ---- */

static void test_flag_option_is_sent_as_true(void **state)
{
	json_object *a;

	(void)state;
	a = ok("show mail --full", "show mail");
	assert_true(json_object_get_boolean(json_object_object_get(a, "full")));
	json_object_put(a);
}

static void test_value_option_forms_and_prefixes(void **state)
{
	static const char *const lines[] = {
	    "show mail --entry 3", "show mail --entry=3", "show mail --ent 3",
	    "show mail --e=3"};
	json_object *a;

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		a = ok(lines[i], "show mail");
		assert_int_equal(int_arg(a, "entry"), 3);
		json_object_put(a);
	}
}

static void test_options_may_come_between_arguments(void **state)
{
	json_object *a;

	(void)state;
	a = ok("show mail --full root --rec fail", "show mail");
	assert_string_equal(str_arg(a, "user"), "root");
	assert_string_equal(str_arg(a, "recipient"), "failed");
	json_object_put(a);
	a = ok("set forward --user postmaster SYSTEM", "set forward");
	assert_string_equal(str_arg(a, "target"), "SYSTEM");
	json_object_put(a);
	a = ok("remove mx example.com gw.example.com", "remove mx");
	assert_string_equal(str_arg(a, "gateway"), "gw.example.com");
	json_object_put(a);
}

static void test_bad_options_are_refused(void **state)
{
	(void)state;
	refused("show mail --bogus", GRAMMAR_BADOPTION);
	assert_non_null(strstr(errbuf, "--recipient")); /* lists the options */
	refused("show mail --entry", GRAMMAR_BADOPTION);
	refused("show mail --full=yes", GRAMMAR_BADOPTION);
	refused("show mail --entry x", GRAMMAR_BADVALUE);
	refused("show mail --entry 0", GRAMMAR_BADVALUE);
	refused("show mail --entry 1 --entry 2", GRAMMAR_BADOPTION);
	refused("show mail --user root root", GRAMMAR_BADOPTION);
	refused("show mail --recipient sometimes", GRAMMAR_BADVALUE);
	refused("start mail --force", GRAMMAR_BADOPTION);
	refused("--full show mail", GRAMMAR_BADOPTION);
	refused("show --full", GRAMMAR_INCOMPLETE);
}

static void test_ambiguous_option_prefix_is_refused(void **state)
{
	(void)state;
	refused("set configuration smtp --send-timeout 5", GRAMMAR_BADOPTION);
	assert_non_null(strstr(errbuf, "ambiguous"));
	assert_non_null(strstr(errbuf, "--send-timeout-data"));
	refused("analyze mail --delete 3d", GRAMMAR_BADOPTION);
}

static void test_required_option_must_be_given(void **state)
{
	json_object *a;

	(void)state;
	refused("set forward SYSTEM", GRAMMAR_BADOPTION);
	assert_non_null(strstr(errbuf, "--user"));
	a = ok("set forward --user POSTMASTER SYSTEM", "set forward");
	assert_string_equal(str_arg(a, "user"), "POSTMASTER");
	assert_string_equal(str_arg(a, "target"), "SYSTEM");
	json_object_put(a);
	a = ok("remove forward --user TCPIP$SMTP", "remove forward");
	json_object_put(a);
}

static void test_short_options_and_double_dash(void **state)
{
	json_object *a, *list;

	(void)state;
	a = ok("submit -t -f alice@example.com bob@example.com", "submit");
	assert_true(json_object_get_boolean(
	    json_object_object_get(a, "read_recipients")));
	assert_string_equal(str_arg(a, "sender"), "alice@example.com");
	list = json_object_object_get(a, "recipients");
	assert_int_equal(json_object_array_length(list), 1);
	json_object_put(a);
	a = ok("submit -ti -falice@example.com x@example.com", "submit");
	assert_true(
	    json_object_get_boolean(json_object_object_get(a, "ignore_dots")));
	assert_string_equal(str_arg(a, "sender"), "alice@example.com");
	json_object_put(a);
	a = ok("submit -f <> x@example.com", "submit");
	assert_string_equal(str_arg(a, "sender"), "");
	json_object_put(a);
	a = ok("submit -- -odd@example.com", "submit");
	list = json_object_object_get(a, "recipients");
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(list, 0)),
	    "-odd@example.com");
	json_object_put(a);
	a = ok("-- submit -t", "submit"); /* all words after "--" */
	list = json_object_object_get(a, "recipients");
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(list, 0)), "-t");
	assert_false(has_arg(a, "read_recipients"));
	json_object_put(a);
	refused("--", GRAMMAR_EMPTY);
	refused("submit -f", GRAMMAR_BADOPTION);
	refused("submit -x a@b.c", GRAMMAR_BADOPTION);
}

/* ---- SET CONFIGURATION SMTP ---- */

static void test_configuration_settings_become_items(void **state)
{
	json_object *a, *it;

	(void)state;
	a = ok("set configuration smtp --interval-initial 45 "
	       "--interval-retry 2h --max-message-size 20m --zone example.com "
	       "--queues 4 --gateway-alternate 192.0.2.9",
	       "set configuration smtp");
	it = item(a, "interval_initial");
	assert_non_null(it);
	assert_int_equal(int_arg(it, "num"), 45 * MIN); /* plain: minutes */
	assert_int_equal(int_arg(item(a, "interval_retry"), "num"), 2 * HOUR);
	assert_int_equal(int_arg(item(a, "max_message_size"), "num"),
			 20 * 1024 * 1024);
	assert_string_equal(str_arg(item(a, "zone"), "str"), "example.com");
	assert_int_equal(int_arg(item(a, "queues"), "num"), 4);
	assert_string_equal(str_arg(item(a, "gateway_alternate"), "str"),
			    "192.0.2.9");
	json_object_put(a);
}

static void test_options_list_and_its_no_forms(void **state)
{
	json_object *a;

	(void)state;
	a = ok("set conf smtp --options relay,noeight-bit,top-headers",
	       "set configuration smtp");
	assert_int_equal(int_arg(item(a, "opt_relay"), "num"), 1);
	assert_int_equal(int_arg(item(a, "opt_eight_bit"), "num"), 0);
	assert_int_equal(int_arg(item(a, "opt_headers"), "num"), 1);
	json_object_put(a);
	a = ok("set conf smtp --options NORELAY,EIGHT_BIT,noheaders",
	       "set configuration smtp");
	assert_int_equal(int_arg(item(a, "opt_relay"), "num"), 0);
	assert_int_equal(int_arg(item(a, "opt_eight_bit"), "num"), 1);
	assert_int_equal(int_arg(item(a, "opt_headers"), "num"), 2);
	json_object_put(a);
	refused("set conf smtp --options relay,bogus", GRAMMAR_BADVALUE);
	refused("set conf smtp --options relay,norelay", GRAMMAR_BADVALUE);
}

static void test_default_resets_one_setting_or_a_group(void **state)
{
	json_object *a, *items;

	(void)state;
	a = ok("set conf smtp --default zone --default interval-retry",
	       "set configuration smtp");
	assert_true(json_object_get_boolean(
	    json_object_object_get(item(a, "zone"), "reset")));
	assert_non_null(item(a, "interval_retry"));
	json_object_put(a);
	a = ok("set conf smtp --default send-timeout",
	       "set configuration smtp");
	items = json_object_object_get(a, "items");
	assert_int_equal(json_object_array_length(items), 5);
	json_object_put(a);
	refused("set conf smtp --default nosuch", GRAMMAR_BADVALUE);
	refused("set conf smtp --zone a.example --default zone",
		GRAMMAR_BADVALUE);
}

static void test_bad_configuration_values_are_refused(void **state)
{
	(void)state;
	refused("set conf smtp", GRAMMAR_BADOPTION);
	refused("set conf smtp --queues 99", GRAMMAR_BADVALUE);
	refused("set conf smtp --queues x", GRAMMAR_BADVALUE);
	refused("set conf smtp --interval-initial 0", GRAMMAR_BADVALUE);
	refused("set conf smtp --interval-initial 1h30", GRAMMAR_BADVALUE);
	refused("set conf smtp --zone bad..example", GRAMMAR_BADVALUE);
	refused("set conf smtp --gateway-alternate 300.1.1.1",
		GRAMMAR_BADVALUE);
	refused("set conf smtp --zone a.example --zone b.example",
		GRAMMAR_BADVALUE);
	refused("set conf smtp --log", GRAMMAR_BADOPTION);
}

/* ---- durations and times ---- */

static uint64_t dur(const char *s)
{
	uint64_t ms = 0;

	if (grammar_parse_duration(s, &ms) != 0)
		fail_msg("duration \"%s\" refused", s);
	return ms;
}

static void test_durations_and_their_units(void **state)
{
	static const char *const bad[] = {"",	  "abc",  "1h30", "1x", "30m5",
					  "10:7", "1:60", "-5",	  "m",	"1.5h"};
	uint64_t ms;

	(void)state;
	assert_int_equal(dur("90s"), 90000);
	assert_int_equal(dur("30m"), 30 * MIN);
	assert_int_equal(dur("30"), 30 * MIN); /* the OpenVMS unit */
	assert_int_equal(dur("1h"), HOUR);
	assert_int_equal(dur("3d"), 3 * DAY);
	assert_int_equal(dur("1w"), 7 * DAY);
	assert_int_equal(dur("1h30m"), 90 * MIN);
	assert_int_equal(dur("2D"), 2 * DAY);
	assert_int_equal(dur("01:30"), 90 * MIN);
	assert_int_equal(dur("1:30:15"), 90 * MIN + 15000);
	assert_int_equal(dur("0"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(grammar_parse_duration(bad[i], &ms), 0);
	assert_int_not_equal(grammar_parse_duration("99999999999999d", &ms), 0);
}

static void test_times_absolute_and_relative(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(grammar_parse_time("now", 1, NOW_MS, &t), 0);
	assert_int_equal(t, NOW_MS);
	assert_int_equal(grammar_parse_time("2h", 1, NOW_MS, &t), 0);
	assert_int_equal(t, NOW_MS + 2 * HOUR);
	assert_int_equal(grammar_parse_time("3d", 0, NOW_MS, &t), 0);
	assert_int_equal(t, NOW_MS - 3 * DAY);
	assert_int_equal(grammar_parse_time("+30m", 0, NOW_MS, &t), 0);
	assert_int_equal(t, NOW_MS + 30 * MIN);
	assert_int_equal(grammar_parse_time("2024-05-01T12:00Z", 1, 0, &t), 0);
	assert_int_equal(t, NOW_MS);
	assert_int_equal(grammar_parse_time("2024-05-01T13:30:15Z", 1, 0, &t),
			 0);
	assert_int_equal(t, NOW_MS + 90 * MIN + 15000);
	assert_int_equal(grammar_parse_time("2024-05-01Z", 1, 0, &t), 0);
	assert_int_equal(t, NOW_MS - 12 * HOUR);
	assert_int_equal(grammar_parse_time("1-MAY-2024:12:00Z", 1, 0, &t), 0);
	assert_int_equal(t, NOW_MS);
	assert_int_equal(grammar_parse_time("01-may-2024Z", 1, 0, &t), 0);
	assert_int_equal(t, NOW_MS - 12 * HOUR);
	assert_int_not_equal(grammar_parse_time("2024-02-30Z", 1, 0, &t), 0);
	assert_int_not_equal(grammar_parse_time("2024-13-01", 1, 0, &t), 0);
	assert_int_not_equal(grammar_parse_time("2024-05-01T25:00Z", 1, 0, &t),
			     0);
	assert_int_not_equal(grammar_parse_time("1-XYZ-2024", 1, 0, &t), 0);
	/* the clock after a date: hours at most two digits, minutes and
	 * seconds two digits up to 59 */
	assert_int_equal(grammar_parse_time("2024-05-01T9:00Z", 1, 0, &t), 0);
	assert_int_equal(t, NOW_MS - 3 * HOUR);
	assert_int_not_equal(grammar_parse_time("2024-05-01T012:00Z", 1, 0, &t),
			     0);
	assert_int_not_equal(grammar_parse_time("2024-05-01T12:5Z", 1, 0, &t),
			     0);
	assert_int_not_equal(
	    grammar_parse_time("2024-05-01T12:00:60Z", 1, 0, &t), 0);
	assert_int_not_equal(grammar_parse_time("2024-05-01T12Z", 1, 0, &t), 0);
	assert_int_not_equal(grammar_parse_time("tomorrow", 1, 0, &t), 0);
}

static void test_local_times_follow_the_time_zone(void **state)
{
	int64_t t;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(grammar_parse_time("2024-05-01T12:00", 1, 0, &t), 0);
	assert_int_equal(t, NOW_MS);
	setenv("TZ", "CET-1", 1); /* one hour east of UTC, no DST rule */
	tzset();
	assert_int_equal(grammar_parse_time("2024-05-01T12:00", 1, 0, &t), 0);
	assert_int_equal(t, NOW_MS - HOUR);
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_time_options_use_the_clock(void **state)
{
	json_object *a;

	(void)state;
	grammar_clock = fixed_clock;
	a = ok("send mail --after 30m", "send mail");
	assert_int_equal(int_arg(a, "after"), NOW_MS + 30 * MIN);
	json_object_put(a);
	a = ok("analyze mail --delete-before 3d --hold 1w --repair",
	       "analyze mail");
	assert_int_equal(int_arg(a, "delete_before"), NOW_MS - 3 * DAY);
	assert_int_equal(int_arg(a, "hold"), NOW_MS - 7 * DAY);
	assert_true(
	    json_object_get_boolean(json_object_object_get(a, "repair")));
	json_object_put(a);
	a = ok("debug claim 24050112000000_root_00000001.TCPIP_NODE1 90s",
	       "debug claim");
	assert_int_equal(int_arg(a, "lease"), 90000);
	json_object_put(a);
	refused("send mail --after tomorrow", GRAMMAR_BADVALUE);
}

/* ---- help ---- */

static void test_help_shows_a_commands_arguments_and_options(void **state)
{
	char out[16384];
	char *words[] = {"show", "mail"};
	char *bad[] = {"nosuch"};
	FILE *f = fmemopen(out, sizeof(out), "w"), *e;

	(void)state;
	assert_int_equal(grammar_help(f, f, 2, words), 0);
	fclose(f);
	assert_non_null(strstr(out, "show mail [<user>]"));
	assert_non_null(strstr(out, "--recipient WHICH"));
	assert_non_null(strstr(out, "(optional)"));
	assert_null(strstr(out, "cluster status"));
	f = fmemopen(out, sizeof(out), "w");
	assert_int_equal(grammar_help(f, f, 0, NULL), 0);
	fclose(f);
	assert_non_null(strstr(out, "set configuration smtp"));
	assert_non_null(strstr(out, "* analyze mail"));
	assert_non_null(strstr(out, "+ show mail"));
	f = fmemopen(out, sizeof(out), "w");
	e = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_int_equal(grammar_help(f, e, 1, bad), GRAMMAR_UNKNOWN);
	fclose(f);
	fclose(e);
	assert_non_null(strstr(errbuf, "no command matches"));
}

/* SET SERVICE SMTP (issue #14): node.conf's key names, typed values, the
 * files made absolute (the daemon's working directory is not ours). */
static void test_set_service_smtp_options(void **state)
{
	char cwd[512], want[700];
	json_object *a;

	a = ok("set service smtp --listen 127.0.0.1:2600 --max-sessions 5 "
	       "--max-per-ip 2 --trusted 10.0.0.0/8,::1/128 --node 1",
	       "set service smtp");
	assert_string_equal(str_arg(a, "listen"), "127.0.0.1:2600");
	assert_int_equal(int_arg(a, "max_sessions"), 5);
	assert_int_equal(int_arg(a, "max_per_ip"), 2);
	assert_string_equal(str_arg(a, "trusted"), "10.0.0.0/8,::1/128");
	assert_int_equal(int_arg(a, "node"), 1);
	json_object_put(a);
	a = ok("set service smtp --trusted none", "set service smtp");
	assert_string_equal(str_arg(a, "trusted"), "none");
	json_object_put(a);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	a = ok("set service smtp --tls-cert Makefile --tls-key Makefile",
	       "set service smtp");
	snprintf(want, sizeof(want), "%s/Makefile", cwd);
	assert_string_equal(str_arg(a, "tls_cert"), want);
	assert_string_equal(str_arg(a, "tls_key"), want);
	json_object_put(a);
	refused("set service smtp --max-sessions 0", GRAMMAR_BADVALUE);
	refused("set service smtp --max-per-ip 100001", GRAMMAR_BADVALUE);
	refused("set service smtp --listen nohost", GRAMMAR_BADVALUE);
	refused("set service smtp --trusted 10.0.0.0/8;x", GRAMMAR_BADVALUE);
	refused("set service smtp --tls-cert /nonexistent/cert.pem "
		"--tls-key /nonexistent/key.pem",
		GRAMMAR_BADVALUE);
	a = ok("show service smtp --node 2", "show service smtp");
	assert_int_equal(int_arg(a, "node"), 2);
	json_object_put(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_words_match_with_the_wire_name),
	    cmocka_unit_test(test_unambiguous_prefixes_are_accepted),
	    cmocka_unit_test(
		test_ambiguous_prefix_is_refused_with_its_candidates),
	    cmocka_unit_test(test_incomplete_command_lists_the_possibilities),
	    cmocka_unit_test(test_unknown_and_extra_words_are_refused),
	    cmocka_unit_test(test_no_words_is_refused),
	    cmocka_unit_test(test_optional_literal_is_not_part_of_the_name),
	    cmocka_unit_test(test_placeholder_values_are_typed_and_checked),
	    cmocka_unit_test(test_trailing_list_takes_every_remaining_word),
	    cmocka_unit_test(test_flag_option_is_sent_as_true),
	    cmocka_unit_test(test_value_option_forms_and_prefixes),
	    cmocka_unit_test(test_options_may_come_between_arguments),
	    cmocka_unit_test(test_bad_options_are_refused),
	    cmocka_unit_test(test_ambiguous_option_prefix_is_refused),
	    cmocka_unit_test(test_required_option_must_be_given),
	    cmocka_unit_test(test_short_options_and_double_dash),
	    cmocka_unit_test(test_configuration_settings_become_items),
	    cmocka_unit_test(test_options_list_and_its_no_forms),
	    cmocka_unit_test(test_default_resets_one_setting_or_a_group),
	    cmocka_unit_test(test_bad_configuration_values_are_refused),
	    cmocka_unit_test(test_durations_and_their_units),
	    cmocka_unit_test(test_times_absolute_and_relative),
	    cmocka_unit_test(test_local_times_follow_the_time_zone),
	    cmocka_unit_test(test_time_options_use_the_clock),
	    cmocka_unit_test(test_help_shows_a_commands_arguments_and_options),
	    cmocka_unit_test(test_set_service_smtp_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
