/*
 * grammar_opts.c — the options of smtpctl's commands (grammar.h): the
 * table opt_defs[] of every option (flags, typed values, the
 * SET CONFIGURATION SMTP settings with their OpenVMS qualifiers) and the
 * conversion of a setting's value into an item of the "items" argument
 * ({"key", "num"|"str"} or {"key", "reset": true}), checked against
 * spool_cfg_defs[] (spool/codec/config.h).
 *
 * Owns: option names, their help, and the --options and --default
 * vocabularies. Does not own which command takes which option (the opts
 * strings of grammar_cmds[] in grammar_table.c). Refusals print one message to
 * the stream given and return -1.
 */
#include <ctype.h>
#include <string.h>

#include "cli/grammar_impl.h"
#include "spool/codec/config.h"

#define MS_SEC 1000ull
#define MS_DAY (24ull * 3600 * MS_SEC)

/* ---- options ---- */

static const struct opt_def opt_defs[] = {
    {"full", 0, OPT_FLAG, NULL, "full",
     "every detail: recipients with their state, attempts and last reply, "
     "claim, client"},
    {"user", 0, OPT_VALUE, "user", "user", "the user (same as USER)"},
    {"entry", 0, OPT_VALUE, "entry", "entry",
     "only entry N of the selection, as numbered by show mail"},
    {"name", 0, OPT_VALUE, "ctlname", "name",
     "only the control file of that name"},
    {"recipient", 0, OPT_VALUE, "rcptfilter", "recipient",
     "which recipients to show: all, failed, sent (delivered), unsent"},
    {"after", 0, OPT_VALUE, "after", "after",
     "the next attempt at TIME instead of now"},
    {"force", 0, OPT_FLAG, NULL, "force",
     "also remove a file whose delivery claim has expired"},
    {"all", 0, OPT_FLAG, NULL, "all",
     "admin without USER: act on every control file"},
    {"repair", 0, OPT_FLAG, NULL, "repair",
     "fix what was found, on every node (a replicated REPAIR)"},
    {"delete-before", 0, OPT_VALUE, "past", "delete_before",
     "delete control files created before TIME (/DELETE=BEFORE)"},
    {"delete-since", 0, OPT_VALUE, "past", "delete_since",
     "delete control files created since TIME (/DELETE=SINCE)"},
    {"hold", 0, OPT_VALUE, "past", "hold",
     "hold control files created before TIME (/HOLD)"},
    {"node", 0, OPT_VALUE, "id", "node",
     "the node (its id, see cluster status); default: this node"},
    {"from", 'f', OPT_VALUE, "sender", "sender",
     "envelope sender (default: you at the cluster's domain)"},
    {"full-name", 'F', OPT_VALUE, "text", "full_name",
     "the full name in the From: field the node adds to a message "
     "without one"},
    {"read-recipients", 't', OPT_FLAG, NULL, "read_recipients",
     "add the recipients of the To:, Cc: and Bcc: headers; Bcc: is "
     "removed"},
    {"ignore-dots", 'i', OPT_FLAG, NULL, "ignore_dots",
     "accepted for sendmail compatibility (a lone dot never ends input "
     "here)"},
    {"file", 0, OPT_VALUE, "file", "file",
     "read the message from FILE (default: the last argument if it is "
     "a file, else stdin)"},
    /* SET SERVICE SMTP: the node.conf [smtp] keys of the same names */
    {"listen", 0, OPT_VALUE, "address", "listen",
     "[smtp] listen: the receiver's HOST:PORT (bound before the old one "
     "closes)"},
    {"max-sessions", 0, OPT_VALUE, "sessions", "max_sessions",
     "[smtp] max_sessions: concurrent sessions on this node"},
    {"max-per-ip", 0, OPT_VALUE, "sessions", "max_per_ip",
     "[smtp] max_per_ip: concurrent sessions from one client address"},
    {"trusted", 0, OPT_VALUE, "nets", "trusted",
     "[smtp] trusted: networks allowed to relay (CIDRs, or none)"},
    {"tls-cert", 0, OPT_VALUE, "abspath", "tls_cert",
     "[smtp] tls_cert: STARTTLS certificate chain (PEM), with --tls-key"},
    {"tls-key", 0, OPT_VALUE, "abspath", "tls_key",
     "[smtp] tls_key: its private key (PEM), with --tls-cert"},
    /* SET CONFIGURATION SMTP */
    {"gateway-alternate", 0, OPT_CFG, NULL, "gateway_alternate",
     "/GATEWAY=ALTERNATE: route for mail outside the zone (name or IP)"},
    {"zone", 0, OPT_CFG, ".", "zone",
     "/ZONE[=DOMAIN]: mail leaving this domain goes through the alternate "
     "gateway; without a value, one level above the local domain"},
    {"interval-initial", 0, OPT_CFG, NULL, "interval_initial",
     "/INTERVAL=INITIAL: wait before the second attempt"},
    {"interval-retry", 0, OPT_CFG, NULL, "interval_retry",
     "/INTERVAL=RETRY: wait between later attempts"},
    {"interval-maximum", 0, OPT_CFG, NULL, "interval_maximum",
     "/INTERVAL=MAXIMUM: give up and bounce after this long"},
    {"address-retries", 0, OPT_CFG, NULL, "address_retries",
     "/ADDRESS_RETRIES: most addresses tried for one delivery"},
    {"hop-count-maximum", 0, OPT_CFG, NULL, "hop_count_maximum",
     "/HOP_COUNT_MAXIMUM: most Received: headers before bouncing"},
    {"options", 0, OPT_CFG_OPTIONS, NULL, NULL,
     "/OPTIONS: comma list of [no]relay, [no]eight-bit, headers, "
     "top-headers, noheaders"},
    {"queues", 0, OPT_CFG, NULL, "queues", "/QUEUES: delivery slots per node"},
    {"receive-timeout", 0, OPT_CFG, NULL, "receive_timeout",
     "/RECEIVE_TIMEOUT: receiver idle timeout"},
    {"send-timeout-data", 0, OPT_CFG, NULL, "send_timeout_data",
     "/SEND_TIMEOUT=DATA"},
    {"send-timeout-initial", 0, OPT_CFG, NULL, "send_timeout_initial",
     "/SEND_TIMEOUT=INITIAL"},
    {"send-timeout-mail", 0, OPT_CFG, NULL, "send_timeout_mail",
     "/SEND_TIMEOUT=MAIL"},
    {"send-timeout-receipt", 0, OPT_CFG, NULL, "send_timeout_receipt",
     "/SEND_TIMEOUT=RECEIPT"},
    {"send-timeout-termination", 0, OPT_CFG, NULL, "send_timeout_termination",
     "/SEND_TIMEOUT=TERMINATION"},
    {"substitute-domain", 0, OPT_CFG, NULL, "substitute_domain",
     "/SUBSTITUTE_DOMAIN=NAME: sender domain written in From:/Return-Path"},
    {"postmaster-alias", 0, OPT_CFG, NULL, "postmaster_alias",
     "TCPIP$SMTP_POSTMASTER_ALIAS: who gets postmaster mail"},
    {"cluster-domain", 0, OPT_CFG, NULL, "cluster_domain",
     "the cluster's own mail domain"},
    {"max-message-size", 0, OPT_CFG, NULL, "max_message_size",
     "largest message accepted (bytes; suffix k, m)"},
    {"max-recipients", 0, OPT_CFG, NULL, "max_recipients",
     "most recipients of one message"},
    {"delay-warning", 0, OPT_CFG, NULL, "delay_warning",
     "warn a sender who asked NOTIFY=DELAY once a recipient is still "
     "queued this long (0 = never)"},
    {"log", 0, OPT_CFG, NULL, "log",
     "/LOG: queue and symbiont activity log file"},
    {"default", 0, OPT_CFG_DEFAULT, NULL, NULL,
     "put setting KEY (e.g. zone, interval-retry, options) back to its "
     "default; repeatable"},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL},
};

const struct opt_def *grammar_opt_find(const char *name)
{
	for (const struct opt_def *o = opt_defs; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* The value placeholder of an option, for help: "N", "TIME", ... */
const char *grammar_opt_metavar(const struct opt_def *o)
{
	int k;

	switch (o->kind) {
	case OPT_FLAG:
		return "";
	case OPT_VALUE:
		return grammar_ph_find(o->type)->metavar;
	case OPT_CFG_OPTIONS:
		return "LIST";
	case OPT_CFG_DEFAULT:
		return "KEY";
	default:
		k = spool_cfg_lookup(o->arg);
		if (spool_cfg_defs[k].is_time)
			return "DURATION";
		if (k == CFG_MAX_MESSAGE_SIZE)
			return "SIZE";
		if (spool_cfg_defs[k].kind == CFG_KIND_NUM)
			return "N";
		if (k == CFG_LOG)
			return "FILE";
		if (k == CFG_POSTMASTER_ALIAS)
			return "USER";
		return "HOST";
	}
}

/* ---- SET CONFIGURATION SMTP values ---- */

/* Append item {"key", ...} to m->args' "items" unless the key is there
 * already. 0 or -1 after a message. */
static int cfg_item(struct grammar_match *m, int key, json_object *val,
		    const char *valkey, FILE *errf)
{
	json_object *items, *it;

	if (!json_object_object_get_ex(m->args, "items", &items)) {
		items = json_object_new_array();
		json_object_object_add(m->args, "items", items);
	}
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *k;
		json_object_object_get_ex(json_object_array_get_idx(items, i),
					  "key", &k);
		if (strcmp(json_object_get_string(k),
			   spool_cfg_defs[key].name) == 0) {
			fprintf(errf, "smtpctl: setting %s given twice\n",
				spool_cfg_defs[key].name);
			json_object_put(val);
			return -1;
		}
	}
	it = json_object_new_object();
	json_object_object_add(
	    it, "key", json_object_new_string(spool_cfg_defs[key].name));
	json_object_object_add(it, valkey, val);
	json_object_array_add(items, it);
	return 0;
}

/* The value of one setting typed by the user; 0 or -1 after a message. */
int grammar_cfg_value(struct grammar_match *m, const struct opt_use *u,
		      FILE *errf)
{
	int key = spool_cfg_lookup(u->def->arg);
	const struct spool_cfg_def *d = &spool_cfg_defs[key];
	uint64_t v;

	if (d->kind == CFG_KIND_STR) {
		if (u->value[0] == '\0' ||
		    spool_cfg_check(key, 0, u->value) != 0) {
			fprintf(
			    errf, "smtpctl: --%s: \"%s\" is not valid (%s)%s\n",
			    u->def->name, u->value, grammar_opt_metavar(u->def),
			    u->value[0] == '\0' ? "; use --default to clear it"
						: "");
			return -1;
		}
		return cfg_item(m, key, json_object_new_string(u->value), "str",
				errf);
	}
	if (d->is_time ? grammar_parse_duration(u->value, &v) != 0
		       : grammar_parse_num(
			     u->value, key == CFG_MAX_MESSAGE_SIZE, &v) != 0) {
		fprintf(errf, "smtpctl: --%s: \"%s\" is not %s\n", u->def->name,
			u->value,
			d->is_time ? "a duration (30m, 1h, 3d, 90s; a plain "
				     "number is minutes)"
				   : "a number");
		return -1;
	}
	if (spool_cfg_check(key, v, NULL) != 0) {
		if (d->is_time)
			fprintf(errf,
				"smtpctl: --%s: must be between %llus and "
				"%llud\n",
				u->def->name,
				(unsigned long long)(d->min / MS_SEC),
				(unsigned long long)(d->max / MS_DAY));
		else
			fprintf(errf, "smtpctl: --%s: must be %llu..%llu\n",
				u->def->name, (unsigned long long)d->min,
				(unsigned long long)d->max);
		return -1;
	}
	return cfg_item(m, key, json_object_new_int64((int64_t)v), "num", errf);
}

/* --options relay,noeight-bit,top-headers */
int grammar_cfg_options(struct grammar_match *m, const struct opt_use *u,
			FILE *errf)
{
	static const struct {
		const char *word;
		int key;
		uint64_t val;
	} words[] = {
	    {"relay", CFG_OPT_RELAY, 1},
	    {"norelay", CFG_OPT_RELAY, 0},
	    {"eight-bit", CFG_OPT_EIGHT_BIT, 1},
	    {"noeight-bit", CFG_OPT_EIGHT_BIT, 0},
	    {"8bit", CFG_OPT_EIGHT_BIT, 1},
	    {"no8bit", CFG_OPT_EIGHT_BIT, 0},
	    {"headers", CFG_OPT_HEADERS, CFG_HEADERS_ALL},
	    {"top-headers", CFG_OPT_HEADERS, CFG_HEADERS_TOP},
	    {"noheaders", CFG_OPT_HEADERS, CFG_HEADERS_NONE},
	};
	const char *p = u->value;

	if (*p == '\0') {
		fprintf(errf, "smtpctl: --options needs a list\n");
		return -1;
	}
	while (*p != '\0') {
		char w[32];
		size_t len = strcspn(p, ",");
		int found = -1;
		if (len == 0 || len >= sizeof(w)) {
			fprintf(errf, "smtpctl: --options: bad list \"%s\"\n",
				u->value);
			return -1;
		}
		for (size_t i = 0; i < len; i++)
			w[i] = p[i] == '_' ? '-'
					   : (char)tolower((unsigned char)p[i]);
		w[len] = '\0';
		if (strcmp(w, "no-relay") == 0 ||
		    strcmp(w, "no-eight-bit") == 0 ||
		    strcmp(w, "no-headers") == 0)
			memmove(w + 2, w + 3, strlen(w + 3) + 1);
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcmp(words[i].word, w) == 0)
				found = (int)i;
		if (found < 0) {
			fprintf(errf,
				"smtpctl: --options: unknown option \"%.*s\" "
				"(relay, norelay, eight-bit, noeight-bit, "
				"headers, top-headers, noheaders)\n",
				(int)len, p);
			return -1;
		}
		if (cfg_item(m, words[found].key,
			     json_object_new_int64((int64_t)words[found].val),
			     "num", errf) != 0)
			return -1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* --default KEY: an option name, a key name, or a group. */
int grammar_cfg_default(struct grammar_match *m, const struct opt_use *u,
			FILE *errf)
{
	static const struct {
		const char *name;
		int keys[5];
		int n;
	} groups[] = {
	    {"options", {CFG_OPT_RELAY, CFG_OPT_EIGHT_BIT, CFG_OPT_HEADERS}, 3},
	    {"relay", {CFG_OPT_RELAY}, 1},
	    {"eight-bit", {CFG_OPT_EIGHT_BIT}, 1},
	    {"headers", {CFG_OPT_HEADERS}, 1},
	    {"interval",
	     {CFG_INTERVAL_INITIAL, CFG_INTERVAL_RETRY, CFG_INTERVAL_MAXIMUM},
	     3},
	    {"send-timeout",
	     {CFG_SEND_TIMEOUT_DATA, CFG_SEND_TIMEOUT_INITIAL,
	      CFG_SEND_TIMEOUT_MAIL, CFG_SEND_TIMEOUT_RECEIPT,
	      CFG_SEND_TIMEOUT_TERMINATION},
	     5},
	};
	char w[64];
	const char *s = u->value;
	size_t len;
	int key;

	if (strncmp(s, "--", 2) == 0)
		s += 2;
	len = strlen(s);
	if (len == 0 || len >= sizeof(w)) {
		fprintf(errf, "smtpctl: --default needs a setting name\n");
		return -1;
	}
	for (size_t i = 0; i <= len; i++)
		w[i] = s[i] == '_' ? '-' : (char)tolower((unsigned char)s[i]);
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		if (strcmp(groups[g].name, w) != 0)
			continue;
		for (int k = 0; k < groups[g].n; k++)
			if (cfg_item(m, groups[g].keys[k],
				     json_object_new_boolean(1), "reset",
				     errf) != 0)
				return -1;
		return 0;
	}
	key = spool_cfg_lookup(w);
	if (key < 0) {
		/* an unambiguous prefix of a setting option */
		const struct opt_def *found = NULL;
		int n = 0;
		for (const struct opt_def *o = opt_defs; o->name != NULL; o++)
			if (o->kind == OPT_CFG &&
			    strncmp(o->name, w, strlen(w)) == 0) {
				found = o;
				n++;
			}
		if (n == 1)
			key = spool_cfg_lookup(found->arg);
	}
	if (key < 0) {
		fprintf(errf,
			"smtpctl: --default: unknown setting \"%s\" (a "
			"setting option without --, e.g. interval-retry, or "
			"options, interval, send-timeout)\n",
			u->value);
		return -1;
	}
	return cfg_item(m, key, json_object_new_boolean(1), "reset", errf);
}
