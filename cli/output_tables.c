/*
 * output_tables.c — smtpctl's printers for the node, service,
 * configuration and table commands (output.h): start/stop mail,
 * enable/disable service, show service smtp, set/show configuration smtp,
 * show mx / tls-policy / host / forward, and the one-line "message" of table changes.
 *
 * Owns: the layout of those results (show configuration smtp: one line per
 * setting with its value, "(default)" and the OpenVMS qualifier). Does not
 * own the data (the node's result).
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

int output_show_mx(json_object *result)
{
	json_object *arr;

	if (!json_object_object_get_ex(result, "mx", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return output_json(result);
	if (json_object_array_length(arr) == 0) {
		printf("No local MX records\n");
		return 0;
	}
	printf("%-32s %-10s %s\n", "DOMAIN", "PREFERENCE", "GATEWAY");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *m = json_object_array_get_idx(arr, i);
		printf("%-32s %-10" PRId64 " %s\n", output_str(m, "domain"),
		       output_int(m, "preference", 0),
		       output_str(m, "gateway"));
	}
	return 0;
}

int output_show_tls_policy(json_object *result)
{
	json_object *arr, *lk;

	if (!json_object_object_get_ex(result, "policies", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return output_json(result);
	if (json_object_object_get_ex(result, "lookup", &lk)) {
		const char *m = output_str(lk, "matched");

		printf("Mail to %s: %s (%s)\n", output_str(lk, "domain"),
		       output_str(lk, "level"),
		       m[0] ? m : "no entry: the default");
		return 0;
	}
	if (json_object_array_length(arr) == 0) {
		printf("No TLS policies (every domain: may)\n");
		return 0;
	}
	printf("%-40s %s\n", "DOMAIN", "LEVEL");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *p = json_object_array_get_idx(arr, i);
		printf("%-40s %s\n", output_str(p, "domain"),
		       output_str(p, "level"));
	}
	return 0;
}

int output_show_host(json_object *result)
{
	json_object *arr, *addrs;

	if (!json_object_object_get_ex(result, "hosts", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return output_json(result);
	if (json_object_array_length(arr) == 0) {
		printf("No local host records\n");
		return 0;
	}
	printf("%-32s %s\n", "NAME", "ADDRESSES");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *h = json_object_array_get_idx(arr, i);
		printf("%-32s", output_str(h, "name"));
		if (json_object_object_get_ex(h, "addresses", &addrs) &&
		    json_object_is_type(addrs, json_type_array))
			for (size_t k = 0; k < json_object_array_length(addrs);
			     k++)
				printf(" %s", json_object_get_string(
						  json_object_array_get_idx(
						      addrs, k)));
		printf("\n");
	}
	return 0;
}

int output_show_forward(json_object *result)
{
	json_object *arr;

	if (!json_object_object_get_ex(result, "forward", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return output_json(result);
	if (json_object_array_length(arr) == 0) {
		printf("No forwarded users\n");
		return 0;
	}
	printf("%-24s %s\n", "USER", "FORWARDED TO");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *f = json_object_array_get_idx(arr, i);
		printf("%-24s %s\n", output_str(f, "user"),
		       output_str(f, "target"));
	}
	return 0;
}
