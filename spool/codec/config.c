/*
 * config.c — the SET CONFIGURATION SMTP key table: every key's stable name,
 * OpenVMS spelling, kind, default and allowed range
 * (../shared/VMS-REFERENCE.md), lookup by name, defaults and value checks.
 *
 * Owns: spool_cfg_defs[] and the syntax rules for configuration values.
 * Does not own: storage (spool.c reads and writes the `config` table) or
 * parsing of user input such as "30m" (the CLI does that).
 * Pure: no I/O, no clock; failures are SPOOL_E_INVAL returns.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spool/codec/aliases.h"
#include "spool/codec/config.h"
#include "spool/codec/err.h"
#include "spool/codec/hostname.h"

#define SEC_MS 1000ull
#define MIN_MS (60ull * SEC_MS)
#define DAY_MS (24ull * 60ull * MIN_MS)
#define KIB 1024ull
#define MIB (1024ull * KIB)

/* A number key. */
#define NUM(n, v, d, lo, hi, t)                                                \
	{                                                                      \
		.name = (n), .vms = (v), .kind = CFG_KIND_NUM, .def_num = (d), \
		.def_str = NULL, .min = (lo), .max = (hi), .is_time = (t)      \
	}

/* A string key; "" means none / node default. */
#define STR(n, v)                                                              \
	{                                                                      \
		.name = (n), .vms = (v), .kind = CFG_KIND_STR, .def_num = 0,   \
		.def_str = "", .min = 0, .max = 0, .is_time = 0                \
	}

const struct spool_cfg_def spool_cfg_defs[CFG__COUNT] = {
    [CFG_ADDRESS_RETRIES] =
	NUM("address_retries", "/ADDRESS_RETRIES", 16, 1, 1000, 0),
    [CFG_GATEWAY_ALTERNATE] = STR("gateway_alternate", "/GATEWAY=ALTERNATE"),
    [CFG_HOP_COUNT_MAXIMUM] =
	NUM("hop_count_maximum", "/HOP_COUNT_MAXIMUM", 16, 1, 1000, 0),
    [CFG_INTERVAL_INITIAL] = NUM("interval_initial", "/INTERVAL=INITIAL",
				 30 * MIN_MS, SEC_MS, 365 * DAY_MS, 1),
    [CFG_INTERVAL_RETRY] = NUM("interval_retry", "/INTERVAL=RETRY", 60 * MIN_MS,
			       SEC_MS, 365 * DAY_MS, 1),
    [CFG_INTERVAL_MAXIMUM] = NUM("interval_maximum", "/INTERVAL=MAXIMUM",
				 3 * DAY_MS, SEC_MS, 365 * DAY_MS, 1),
    [CFG_LOG] = STR("log", "/LOG"),
    [CFG_OPT_EIGHT_BIT] =
	NUM("opt_eight_bit", "/OPTIONS=EIGHT_BIT", 0, 0, 1, 0),
    [CFG_OPT_HEADERS] = NUM("opt_headers", "/OPTIONS=HEADERS", CFG_HEADERS_ALL,
			    CFG_HEADERS_ALL, CFG_HEADERS_NONE, 0),
    [CFG_OPT_RELAY] = NUM("opt_relay", "/OPTIONS=RELAY", 0, 0, 1, 0),
    [CFG_QUEUES] = NUM("queues", "/QUEUES", 20, 1, 64, 0),
    [CFG_RECEIVE_TIMEOUT] = NUM("receive_timeout", "/RECEIVE_TIMEOUT",
				5 * MIN_MS, SEC_MS, DAY_MS, 1),
    [CFG_SEND_TIMEOUT_DATA] = NUM("send_timeout_data", "/SEND_TIMEOUT=DATA",
				  3 * MIN_MS, SEC_MS, DAY_MS, 1),
    [CFG_SEND_TIMEOUT_INITIAL] =
	NUM("send_timeout_initial", "/SEND_TIMEOUT=INITIAL", 5 * MIN_MS, SEC_MS,
	    DAY_MS, 1),
    [CFG_SEND_TIMEOUT_MAIL] = NUM("send_timeout_mail", "/SEND_TIMEOUT=MAIL",
				  5 * MIN_MS, SEC_MS, DAY_MS, 1),
    [CFG_SEND_TIMEOUT_RECEIPT] =
	NUM("send_timeout_receipt", "/SEND_TIMEOUT=RECEIPT", 5 * MIN_MS, SEC_MS,
	    DAY_MS, 1),
    [CFG_SEND_TIMEOUT_TERMINATION] =
	NUM("send_timeout_termination", "/SEND_TIMEOUT=TERMINATION",
	    10 * MIN_MS, SEC_MS, DAY_MS, 1),
    [CFG_SUBSTITUTE_DOMAIN] =
	STR("substitute_domain", "/SUBSTITUTE_DOMAIN=NAME"),
    [CFG_ZONE] = STR("zone", "/ZONE"),
    [CFG_MAX_MESSAGE_SIZE] =
	NUM("max_message_size", "(none)", 10 * MIB, KIB, 256 * MIB, 0),
    [CFG_MAX_RECIPIENTS] = NUM("max_recipients", "(none)", 100, 1, 10000, 0),
    [CFG_POSTMASTER_ALIAS] =
	STR("postmaster_alias", "TCPIP$SMTP_POSTMASTER_ALIAS"),
    [CFG_CLUSTER_DOMAIN] = STR("cluster_domain", "(none)"),
    [CFG_DELAY_WARNING] =
	NUM("delay_warning", "(none)", 4 * 60 * MIN_MS, 0, 365 * DAY_MS, 1),
};

/* Lower-case an ASCII letter and map '-' to '_' (lookup folding). */
static int fold(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	if (c == '-')
		return '_';
	return c;
}

int spool_cfg_lookup(const char *name)
{
	if (name == NULL)
		return -1;
	for (int k = 0; k < CFG__COUNT; k++) {
		const char *a = name, *b = spool_cfg_defs[k].name;

		while (*a != '\0' && *b != '\0' &&
		       fold((unsigned char)*a) == fold((unsigned char)*b)) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return k;
	}
	return -1;
}

void spool_config_defaults(struct spool_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct spool_cfg_def *d = &spool_cfg_defs[k];

		if (d->kind == CFG_KIND_NUM)
			cfg->num[k] = d->def_num;
		else if (d->def_str != NULL)
			snprintf(cfg->str[k], sizeof(cfg->str[k]), "%s",
				 d->def_str);
	}
}

/* 1 when s is only digits and dots (so it can only be an IPv4 address). */
static int all_digits_dots(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '.'))
			return 0;
	return 1;
}

/* 1 when key k holds a domain name (or, for the gateway, an address). */
static int is_domain_key(int k)
{
	return k == CFG_GATEWAY_ALTERNATE || k == CFG_ZONE ||
	       k == CFG_SUBSTITUTE_DOMAIN || k == CFG_CLUSTER_DOMAIN;
}

/* Check a string value for key k: length, characters, domain syntax. */
static int check_str(int k, const char *s)
{
	size_t n;

	if (s == NULL)
		return SPOOL_E_INVAL;
	n = strnlen(s, SPOOL_CFG_STR_MAX + 1);
	if (n > SPOOL_CFG_STR_MAX)
		return SPOOL_E_INVAL;
	if (n == 0)
		return 0; /* "" = none / default */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return SPOOL_E_INVAL;
	if (!is_domain_key(k))
		return 0;
	if (k == CFG_ZONE && strcmp(s, ".") == 0)
		return 0; /* /ZONE without a value: one level above */
	if (k == CFG_GATEWAY_ALTERNATE) {
		if (s[0] == '[')
			return hostname_literal_ok(s, n,
						   HOSTNAME_V6_UNTAGGED |
						       HOSTNAME_V4_LEADING_ZERO)
				   ? 0
				   : SPOOL_E_INVAL;
		/* A name of digits and dots can only mean an IPv4 address. */
		if (all_digits_dots(s))
			return hostname_ipv4_ok(s, n, HOSTNAME_V4_LEADING_ZERO)
				   ? 0
				   : SPOOL_E_INVAL;
	}
	return aliases_domain_ok(s) ? 0 : SPOOL_E_INVAL;
}

int spool_cfg_check(int key, uint64_t num, const char *str)
{
	const struct spool_cfg_def *d;

	if (key < 0 || key >= CFG__COUNT)
		return SPOOL_E_INVAL;
	d = &spool_cfg_defs[key];
	if (d->kind == CFG_KIND_STR)
		return check_str(key, str);
	if (num < d->min || num > d->max)
		return SPOOL_E_INVAL;
	return 0;
}

const char *spool_cfg_mail_domain(const struct spool_config *cfg,
				  const char *node_domain)
{
	return cfg->str[CFG_CLUSTER_DOMAIN][0] != '\0'
		   ? cfg->str[CFG_CLUSTER_DOMAIN]
		   : node_domain;
}
