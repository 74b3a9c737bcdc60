/*
 * output.h — smtpctl's human output: one printer per kind of result, named
 * in grammar_cmds[] (grammar.c). Each prints the "result" object of a
 * successful answer to stdout and returns smtpctl's exit code (0, or 1 when
 * the result itself reports a failure, as debug enqueue or a remove mail
 * that could not remove every file may). With --json smtpctl prints the
 * result object instead and never calls these.
 *
 * Printers read only what they need and print "-" for a missing member,
 * so a newer server with more members is fine. Times (ms since the epoch)
 * are shown in the local time zone of smtpctl.
 */
#ifndef CLI_OUTPUT_H
#define CLI_OUTPUT_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

int output_cluster_status(json_object *result);
int output_cluster_change(json_object *result);
int output_set_alias(json_object *result);
int output_remove_alias(json_object *result);
int output_show_aliases(json_object *result);
int output_debug_noop(json_object *result);
int output_debug_snapshot_hash(json_object *result);
int output_debug_enqueue(json_object *result);
int output_debug_damage(json_object *result);

/* Issue #6: mail, service, configuration and tables. */
int output_show_mail(json_object *result);
int output_mail_action(json_object *result); /* send mail, remove mail */
int output_analyze_mail(json_object *result);
int output_node_change(json_object *result); /* start/stop, en/disable */
int output_show_service(json_object *result);
int output_set_service(json_object *result); /* set service smtp */
int output_set_config(json_object *result);
int output_show_config(json_object *result);
int output_show_mx(json_object *result);
int output_show_tls_policy(json_object *result);
int output_show_host(json_object *result);
int output_show_forward(json_object *result);
int output_table_change(json_object *result); /* prints "message" */
int output_submit(json_object *result);

/* Generic: the result as indented JSON. */
int output_json(json_object *result);

/* Helpers for printers: member k of o as text ("-" when missing), as an
 * integer (def when missing), as a string ("" when missing or not one). */
const char *output_cell(json_object *o, const char *k, char *buf, size_t size);
int64_t output_int(json_object *o, const char *k, int64_t def);
const char *output_str(json_object *o, const char *k);

/* A time in ms since the epoch as "YYYY-MM-DD HH:MM:SS" local time ("-"
 * for 0). */
const char *output_time(int64_t ms, char *buf, size_t size);

/* A duration in ms as "3d", "1h30m", "90s". */
const char *output_duration(uint64_t ms, char *buf, size_t size);

#endif
