/*
 * config.h — the SET CONFIGURATION SMTP settings: one table of keys with
 * their kind, default and limits (../shared/VMS-REFERENCE.md), replicated in
 * the spool's `config` table.
 *
 * Values are either numbers (u64: counts, milliseconds, booleans, enums) or
 * strings. A key absent from the table has its default. Times are stored in
 * milliseconds. Pure data: no LMDB here (spool.h reads and writes it).
 */
#ifndef SPOOL_CONFIG_H
#define SPOOL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum spool_cfg_key {
	CFG_ADDRESS_RETRIES = 0,  /* /ADDRESS_RETRIES, 16 */
	CFG_GATEWAY_ALTERNATE,	  /* /GATEWAY=ALTERNATE=host, "" */
	CFG_HOP_COUNT_MAXIMUM,	  /* /HOP_COUNT_MAXIMUM, 16 */
	CFG_INTERVAL_INITIAL,	  /* ms, 30 min */
	CFG_INTERVAL_RETRY,	  /* ms, 60 min */
	CFG_INTERVAL_MAXIMUM,	  /* ms, 3 days */
	CFG_LOG,		  /* /LOG=file, "" = node default */
	CFG_OPT_EIGHT_BIT,	  /* /OPTIONS=[NO]EIGHT_BIT, 0 */
	CFG_OPT_HEADERS,	  /* /OPTIONS=HEADERS|TOP_HEADERS|NOHEADERS */
	CFG_OPT_RELAY,		  /* /OPTIONS=[NO]RELAY, 0 */
	CFG_QUEUES,		  /* /QUEUES, 20 (OpenVMS: 1) */
	CFG_RECEIVE_TIMEOUT,	  /* ms, 5 min */
	CFG_SEND_TIMEOUT_DATA,	  /* ms, 3 min */
	CFG_SEND_TIMEOUT_INITIAL, /* ms, 5 min */
	CFG_SEND_TIMEOUT_MAIL,	  /* ms, 5 min */
	CFG_SEND_TIMEOUT_RECEIPT, /* ms, 5 min */
	CFG_SEND_TIMEOUT_TERMINATION, /* ms, 10 min */
	CFG_SUBSTITUTE_DOMAIN,	      /* /SUBSTITUTE_DOMAIN=NAME=fqdn, "" */
	CFG_ZONE,		      /* /ZONE=domain; "" = not set (the local
					 domain); "." = /ZONE without a value
					 (one level above the local domain) */
	CFG_MAX_MESSAGE_SIZE,	      /* SIZE limit in bytes, 10 MiB */
	CFG_MAX_RECIPIENTS,	      /* per message, 100 */
	CFG_POSTMASTER_ALIAS,	      /* TCPIP$SMTP_POSTMASTER_ALIAS, "" */
	CFG_CLUSTER_DOMAIN,	      /* the cluster's own mail domain, "" */
	CFG_DELAY_WARNING, /* ms, 4 h: a recipient with NOTIFY=DELAY still
			      pending this long after arrival gets one
			      delay warning (RFC 3464 Action: delayed);
			      0 = never */
	CFG__COUNT
};

enum spool_cfg_kind { CFG_KIND_NUM = 0, CFG_KIND_STR = 1 };

/* Values of CFG_OPT_HEADERS. */
enum spool_cfg_headers {
	CFG_HEADERS_ALL = 0,
	CFG_HEADERS_TOP = 1,
	CFG_HEADERS_NONE = 2
};

#define SPOOL_CFG_STR_MAX 255

struct spool_cfg_def {
	const char *name; /* stable key name, "interval_initial" */
	const char *vms;  /* OpenVMS spelling, "/INTERVAL=INITIAL" */
	enum spool_cfg_kind kind;
	uint64_t def_num;    /* default for numbers */
	const char *def_str; /* default for strings */
	uint64_t min, max;   /* allowed range for numbers */
	int is_time;	     /* number is milliseconds */
};

/* The table, indexed by enum spool_cfg_key. */
extern const struct spool_cfg_def spool_cfg_defs[CFG__COUNT];

/* Key by stable name; -1 if unknown. */
int spool_cfg_lookup(const char *name);

/* The whole configuration as values; filled from defaults then from the
 * spool's config table by spool_config_load(). Strings are owned arrays. */
struct spool_config {
	uint64_t num[CFG__COUNT];
	char str[CFG__COUNT][SPOOL_CFG_STR_MAX + 1];
	uint8_t is_set[CFG__COUNT]; /* 1 when explicitly set, 0 = default */
};

void spool_config_defaults(struct spool_config *cfg);

/* Check a value against the key's kind and range: 0 or SPOOL_E_INVAL. */
int spool_cfg_check(int key, uint64_t num, const char *str);

/* The local mail domain: the cluster domain when set, else node_domain
 * (the node's own). */
const char *spool_cfg_mail_domain(const struct spool_config *cfg,
				  const char *node_domain);

#endif
