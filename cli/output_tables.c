/*
 * output_tables.c — smtpctl's printers for the node, service,
 * configuration and table commands (output.h): start/stop mail,
 * enable/disable service, show service smtp, set/show configuration smtp,
 * show mx / tls-policy / host / forward, and the one-line "message" of table changes.
 *
 * Owns: the layout of those results (show configuration smtp: one line per
 * setting with its value, "(default)" and the OpenVMS qualifier; the four
 * tables through one printer, print_table(), described by their columns).
 * Does not own the data (the node's result).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/output.h"

#define BUF 128

int output_table_change(json_object *result)
{
	const char *msg = output_str(result, "message");

	printf("%s\n", msg[0] != '\0' ? msg : "ok");
	return 0;
}

int output_node_change(json_object *result)
{
	printf("node %" PRId64 " (%s): %s\n", output_int(result, "node", 0),
	       output_str(result, "name")[0] ? output_str(result, "name") : "-",
	       output_str(result, "message"));
	return 0;
}

/* One statistics section: "not running" or its members. */
static void print_stats(const char *section, json_object *o)
{
	printf("%s:", section);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		printf(" -\n");
		return;
	}
	if (output_str(o, "status")[0] != '\0' &&
	    json_object_object_length(o) == 1) {
		printf(" %s\n", output_str(o, "status"));
		return;
	}
	printf("\n");
	json_object_object_foreach(o, key, val)
	{
		if (json_object_is_type(val, json_type_object)) {
			printf("  %s:\n", key);
			json_object_object_foreach(val, k2, v2)
			{
				printf("    %-30s %s\n", k2,
				       json_object_to_json_string_ext(
					   v2, JSON_C_TO_STRING_PLAIN));
			}
		} else if (json_object_is_type(val, json_type_string)) {
			printf("  %-32s %s\n", key,
			       json_object_get_string(val));
		} else {
			printf("  %-32s %s\n", key,
			       json_object_to_json_string_ext(
				   val, JSON_C_TO_STRING_PLAIN));
		}
	}
}

/* The receiver settings of set/show service smtp, one per line with the
 * file each comes from. */
static void print_settings(json_object *o)
{
	static const char *const keys[] = {"listen",	 "max_sessions",
					   "max_per_ip", "trusted",
					   "tls_cert",	 "tls_key"};
	json_object *from = NULL;
	char b[BUF];

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return;
	if (output_str(o, "status")[0] != '\0') {
		printf("Receiver settings: %s\n", output_str(o, "status"));
		return;
	}
	printf("Receiver settings (node.conf %s, override %s):\n",
	       output_str(o, "config_file"), output_str(o, "override_file"));
	json_object_object_get_ex(o, "from", &from);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = output_cell(o, keys[i], b, sizeof(b));
		printf("  %-14s %-40s (%s)\n", keys[i], v[0] ? v : "-",
		       from ? output_str(from, keys[i]) : "?");
	}
}

int output_set_service(json_object *result)
{
	json_object *settings = NULL;

	output_node_change(result);
	json_object_object_get_ex(result, "settings", &settings);
	print_settings(settings);
	return 0;
}

int output_show_service(json_object *result)
{
	json_object *settings = NULL;
	json_object *nodes, *stats = NULL;
	char b[BUF];

	printf("%-4s %-16s %-22s %-8s %-8s\n", "ID", "NAME", "SMTP", "MAIL",
	       "SERVICE");
	if (json_object_object_get_ex(result, "nodes", &nodes) &&
	    json_object_is_type(nodes, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(nodes); i++) {
			json_object *n = json_object_array_get_idx(nodes, i);
			printf("%-4s %-16s %-22s %-8s %-8s\n",
			       output_cell(n, "id", b, sizeof(b)),
			       output_str(n, "name")[0] ? output_str(n, "name")
							: "-",
			       output_str(n, "smtp")[0] ? output_str(n, "smtp")
							: "-",
			       output_str(n, "mail"), output_str(n, "service"));
		}
	}
	printf("\n");
	if (json_object_object_get_ex(result, "settings", &settings)) {
		print_settings(settings);
		printf("\n");
	}
	printf("Statistics of node %" PRId64 " (ask another node with -s "
	       "for its own):\n",
	       output_int(result, "node", 0));
	json_object_object_get_ex(result, "statistics", &stats);
	if (stats != NULL && json_object_is_type(stats, json_type_object)) {
		json_object_object_foreach(stats, key, val)
		{
			print_stats(key, val);
		}
	}
	return 0;
}

int output_set_config(json_object *result)
{
	return output_table_change(result);
}

int output_show_config(json_object *result)
{
	json_object *settings, *v;

	printf("SMTP configuration (cluster-wide; values from node %" PRId64
	       ")\n\n",
	       output_int(result, "node", 0));
	printf("%-28s %-28s %s\n", "SETTING", "VALUE", "OPENVMS");
	if (!json_object_object_get_ex(result, "settings", &settings) ||
	    !json_object_is_type(settings, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(settings); i++) {
		json_object *s = json_object_array_get_idx(settings, i);
		char val[300];
		int def = json_object_object_get_ex(s, "default", &v) &&
			  json_object_get_boolean(v);
		snprintf(val, sizeof(val), "%s%s", output_str(s, "text"),
			 def ? " (default)" : "");
		printf("%-28s %-28s %s\n", output_str(s, "option"), val,
		       output_str(s, "vms"));
	}
	printf("\nDurations: s, m, h, d; a plain number given to set "
	       "configuration is minutes.\n");
	return 0;
}

/* One column of a table: its title, the row field it shows, its width
 * (ignored for the last column) and how the field reads. */
struct column {
	const char *title;
	const char *field;
	int width;
	enum { COL_STR, COL_INT, COL_LIST } kind;
};

/* One table command's layout: the result's array of rows, what to say when
 * it is empty, the columns. */
struct table {
	const char *key;
	const char *empty;
	const struct column *cols;
	size_t ncols;
};

/* The cell text of col in row, in buf (a list is printed, not returned). */
static const char *column_text(json_object *row, const struct column *col,
			       char *buf, size_t size)
{
	if (col->kind == COL_INT) {
		snprintf(buf, size, "%" PRId64, output_int(row, col->field, 0));
		return buf;
	}
	return output_str(row, col->field);
}

/* Print one row (or, with row NULL, the titles): columns padded to their
 * width and parted by a space, a list column as " item" each. */
static void print_row(const struct table *t, json_object *row)
{
	char buf[32];

	for (size_t i = 0; i < t->ncols; i++) {
		const struct column *col = &t->cols[i];
		int width = i + 1 < t->ncols ? col->width : 0;
		json_object *list;

		if (row != NULL && col->kind == COL_LIST) {
			if (!json_object_object_get_ex(row, col->field,
						       &list) ||
			    !json_object_is_type(list, json_type_array))
				continue;
			for (size_t k = 0; k < json_object_array_length(list);
			     k++)
				printf(" %s",
				       json_object_get_string(
					   json_object_array_get_idx(list, k)));
			continue;
		}
		printf("%s%-*s", i > 0 ? " " : "", width,
		       row != NULL ? column_text(row, col, buf, sizeof(buf))
				   : col->title);
	}
	printf("\n");
}

/* The table of result under t: the result as JSON when it has no such
 * array, t->empty when the array is empty. */
static int print_table(json_object *result, const struct table *t)
{
	json_object *arr;

	if (!json_object_object_get_ex(result, t->key, &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return output_json(result);
	if (json_object_array_length(arr) == 0) {
		printf("%s\n", t->empty);
		return 0;
	}
	print_row(t, NULL);
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		print_row(t, json_object_array_get_idx(arr, i));
	return 0;
}

#define TABLE(key, empty, cols)                                                \
	{                                                                      \
		key, empty, cols, sizeof(cols) / sizeof(cols[0])               \
	}

static const struct column mx_cols[] = {
    {"DOMAIN", "domain", 32, COL_STR},
    {"PREFERENCE", "preference", 10, COL_INT},
    {"GATEWAY", "gateway", 0, COL_STR},
};
static const struct table mx_table =
    TABLE("mx", "No local MX records", mx_cols);

static const struct column tls_cols[] = {
    {"DOMAIN", "domain", 40, COL_STR},
    {"LEVEL", "level", 0, COL_STR},
};
static const struct table tls_table =
    TABLE("policies", "No TLS policies (every domain: may)", tls_cols);

static const struct column host_cols[] = {
    {"NAME", "name", 32, COL_STR},
    {"ADDRESSES", "addresses", 0, COL_LIST},
};
static const struct table host_table =
    TABLE("hosts", "No local host records", host_cols);

static const struct column forward_cols[] = {
    {"USER", "user", 24, COL_STR},
    {"FORWARDED TO", "target", 0, COL_STR},
};
static const struct table forward_table =
    TABLE("forward", "No forwarded users", forward_cols);

int output_show_mx(json_object *result)
{
	return print_table(result, &mx_table);
}

int output_show_tls_policy(json_object *result)
{
	json_object *arr, *lk;

	if (json_object_object_get_ex(result, "policies", &arr) &&
	    json_object_is_type(arr, json_type_array) &&
	    json_object_object_get_ex(result, "lookup", &lk)) {
		const char *m = output_str(lk, "matched");

		printf("Mail to %s: %s (%s)\n", output_str(lk, "domain"),
		       output_str(lk, "level"),
		       m[0] ? m : "no entry: the default");
		return 0;
	}
	return print_table(result, &tls_table);
}

int output_show_host(json_object *result)
{
	return print_table(result, &host_table);
}

int output_show_forward(json_object *result)
{
	return print_table(result, &forward_table);
}
