/*
 * output.c — smtpctl's human-readable printers (see output.h).
 *
 * Owns: the layout of each command's output, notably the cluster status
 * table (a header line with leader and term, then one row per member:
 * ID NAME ADDRESS SMTP ROLE STATE REACHABLE APPLIED MATCH). Does not own:
 * the data (the server's result) or the exit codes of errors (smtpctl.c).
 */
#include "cli/output.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "src/base/clock.h"

#define CELL_MAX 96
#define COLS 9

/* The member k of o as text in buf ("-" when missing or null). */
static const char *cell(json_object *o, const char *k, char *buf, size_t size)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) || v == NULL) {
		snprintf(buf, size, "-");
		return buf;
	}
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		snprintf(buf, size, "%s",
			 json_object_get_boolean(v) ? "yes" : "no");
		break;
	case json_type_int:
		snprintf(buf, size, "%" PRId64, json_object_get_int64(v));
		break;
	case json_type_string:
		snprintf(buf, size, "%s", json_object_get_string(v));
		break;
	default:
		snprintf(
		    buf, size, "%s",
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		break;
	}
	return buf;
}

const char *output_cell(json_object *o, const char *k, char *buf, size_t size)
{
	return cell(o, k, buf, size);
}

int64_t output_int(json_object *o, const char *k, int64_t def)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) || v == NULL)
		return def;
	return json_object_get_int64(v);
}

const char *output_str(json_object *o, const char *k)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

const char *output_time(int64_t ms, char *buf, size_t size)
{
	if (ms <= 0 ||
	    clock_format((uint64_t)ms, CLOCK_FMT_LOCAL, buf, size) == NULL)
		snprintf(buf, size, "-");
	return buf;
}

const char *output_duration(uint64_t ms, char *buf, size_t size)
{
	static const struct {
		uint64_t ms;
		char unit;
	} units[] = {{7ull * 86400000, 'w'},
		     {86400000, 'd'},
		     {3600000, 'h'},
		     {60000, 'm'},
		     {1000, 's'}};
	size_t off = 0;

	if (ms == 0 || ms % 1000 != 0) {
		snprintf(buf, size, "%" PRIu64 "ms", ms);
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t n = ms / units[i].ms;
		int k;
		if (n == 0 || (units[i].unit == 'w' && ms % units[i].ms != 0))
			continue;
		k = snprintf(buf + off, size - off, "%" PRIu64 "%c", n,
			     units[i].unit);
		if (k < 0 || (size_t)k >= size - off)
			break;
		off += (size_t)k;
		ms -= n * units[i].ms;
	}
	return buf;
}

/* The first of several alternative member names present in o. */
static const char *cell_any(json_object *o, const char *const *keys, char *buf,
			    size_t size)
{
	json_object *v;

	for (int i = 0; keys[i] != NULL; i++)
		if (json_object_object_get_ex(o, keys[i], &v) && v != NULL)
			return cell(o, keys[i], buf, size);
	snprintf(buf, size, "-");
	return buf;
}

int output_json(json_object *result)
{
	printf("%s\n",
	       json_object_to_json_string_ext(
		   result, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			       JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

int output_cluster_status(json_object *result)
{
	static const char *const head[COLS] = {
	    "ID",    "NAME",	  "ADDRESS", "SMTP", "ROLE",
	    "STATE", "REACHABLE", "APPLIED", "MATCH"};
	static const char *const k_applied[] = {"applied_index", "applied",
						NULL};
	static const char *const k_match[] = {"match_index", "match", NULL};
	static const char *const keys[COLS - 2] = {
	    "id", "name", "address", "smtp", "role", "state", "reachable"};
	json_object *leader = NULL, *members = NULL;
	char buf[CELL_MAX], buf2[CELL_MAX];
	size_t width[COLS], n = 0;

	json_object_object_get_ex(result, "leader", &leader);
	if (leader != NULL && json_object_is_type(leader, json_type_object))
		printf("leader: %s (%s)", cell(leader, "id", buf, sizeof(buf)),
		       cell(leader, "address", buf2, sizeof(buf2)));
	else
		printf("leader: none");
	printf("  term: %s\n", cell(result, "term", buf, sizeof(buf)));
	{
		/* this node's own view, when the server gives it */
		static const char *const extra[] = {
		    "last_log_index", "commit_index", "applied_index"};
		json_object *v;
		if (json_object_object_get_ex(result, "self", &v)) {
			printf("this node: %s",
			       cell(result, "self", buf, sizeof(buf)));
			if (json_object_object_get_ex(result, "state", &v))
				printf(" (%s)",
				       cell(result, "state", buf, sizeof(buf)));
			for (int i = 0; i < 3; i++)
				if (json_object_object_get_ex(result, extra[i],
							      &v))
					printf("  %s: %s", extra[i],
					       cell(result, extra[i], buf,
						    sizeof(buf)));
			printf("\n");
		}
	}

	if (json_object_object_get_ex(result, "members", &members) &&
	    json_object_is_type(members, json_type_array))
		n = json_object_array_length(members);
	for (int c = 0; c < COLS; c++)
		width[c] = strlen(head[c]);
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(members, i);
		for (int c = 0; c < COLS; c++) {
			const char *s =
			    c < COLS - 2 ? cell(m, keys[c], buf, sizeof(buf))
			    : c == COLS - 2
				? cell_any(m, k_applied, buf, sizeof(buf))
				: cell_any(m, k_match, buf, sizeof(buf));
			if (strlen(s) > width[c])
				width[c] = strlen(s);
		}
	}
	for (int c = 0; c < COLS; c++)
		printf("%-*s%s", (int)width[c], head[c],
		       c == COLS - 1 ? "\n" : "  ");
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(members, i);
		for (int c = 0; c < COLS; c++) {
			const char *s =
			    c < COLS - 2 ? cell(m, keys[c], buf, sizeof(buf))
			    : c == COLS - 2
				? cell_any(m, k_applied, buf, sizeof(buf))
				: cell_any(m, k_match, buf, sizeof(buf));
			if (c == COLS - 1)
				printf("%s\n", s);
			else
				printf("%-*s  ", (int)width[c], s);
		}
	}
	return 0;
}

int output_cluster_change(json_object *result)
{
	char buf[CELL_MAX];
	json_object *v;
	int first = 1;

	printf("ok");
	json_object_object_foreach(result, key, val)
	{
		(void)val;
		if (strcmp(key, "message") == 0)
			continue;
		printf("%s%s %s", first ? ": " : ", ", key,
		       cell(result, key, buf, sizeof(buf)));
		first = 0;
	}
	if (json_object_object_get_ex(result, "message", &v))
		printf(" (%s)", json_object_get_string(v));
	printf("\n");
	return 0;
}

/* "alias DOMAIN: VERB" or the unchanged form. */
static int alias_change(json_object *result, const char *changed,
			const char *unchanged)
{
	char buf[CELL_MAX];
	json_object *v;
	int did = 1;

	if (json_object_object_get_ex(result, "changed", &v))
		did = json_object_get_boolean(v);
	printf("alias %s: %s\n", cell(result, "domain", buf, sizeof(buf)),
	       did ? changed : unchanged);
	return 0;
}

int output_set_alias(json_object *result)
{
	return alias_change(result, "added", "already present");
}

int output_remove_alias(json_object *result)
{
	return alias_change(result, "removed", "was not present");
}

int output_show_aliases(json_object *result)
{
	json_object *arr;

	if (!json_object_object_get_ex(result, "aliases", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return output_json(result);
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		printf("%s\n", json_object_get_string(
				   json_object_array_get_idx(arr, i)));
	return 0;
}

int output_debug_noop(json_object *result)
{
	char st[CELL_MAX], node[CELL_MAX], app[CELL_MAX];

	printf("noop committed: %s; node %s has applied %s commands\n",
	       cell(result, "status", st, sizeof(st)),
	       cell(result, "node", node, sizeof(node)),
	       cell(result, "applied", app, sizeof(app)));
	return 0;
}

int output_debug_snapshot_hash(json_object *result)
{
	char h[CELL_MAX], app[CELL_MAX], by[CELL_MAX];

	printf("%s  applied %s  bytes %s\n",
	       cell(result, "sha256", h, sizeof(h)),
	       cell(result, "applied", app, sizeof(app)),
	       cell(result, "bytes", by, sizeof(by)));
	return 0;
}

int output_debug_enqueue(json_object *result)
{
	json_object *v;
	int64_t failed = 0;
	char ok[CELL_MAX], err[CELL_MAX * 2];

	if (json_object_object_get_ex(result, "failed", &v))
		failed = json_object_get_int64(v);
	printf("enqueued %s, failed %" PRId64,
	       cell(result, "enqueued", ok, sizeof(ok)), failed);
	if (json_object_object_get_ex(result, "first_error", &v))
		printf(" (first error: %s)",
		       cell(result, "first_error", err, sizeof(err)));
	printf("\n");
	return failed > 0 ? 1 : 0;
}

int output_debug_damage(json_object *result)
{
	char k[CELL_MAX], n[CELL_MAX * 3], node[CELL_MAX];

	printf("damaged node %s's spool only: %s %s\n",
	       cell(result, "node", node, sizeof(node)),
	       cell(result, "kind", k, sizeof(k)),
	       cell(result, "name", n, sizeof(n)));
	return 0;
}
