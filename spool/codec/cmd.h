/*
 * cmd.h — the replicated commands: one struct per kind and a versioned,
 * length-checked binary encoding.
 *
 * Wire format (big-endian): u8 version (SPOOL_CMD_VERSION), u8 type,
 * u16 reserved (0), u64 stamp (proposer's clock, ms since the epoch),
 * u64 node (proposing node id), u64 req (proposer's request id), then the
 * payload of the type. Every byte must be consumed; leftover bytes, bad
 * lengths, unknown types and out-of-range counts are SPOOL_E_MALFORMED, an
 * unknown version is SPOOL_E_VERSION. See docs/spool-format.md.
 *
 * Ownership: spool_cmd_decode() points strings and the body into the input
 * buffer (which must outlive the command) and allocates arrays; release
 * them with spool_cmd_free(). A command built by hand for encoding owns
 * nothing that the codec touches.
 */
#ifndef SPOOL_CMD_H
#define SPOOL_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "spool/codec/record.h"

#define SPOOL_CMD_VERSION 1
#define SPOOL_CMD_HDR_LEN 28
#define SPOOL_CLAIM_MAX 1024 /* names in one CLAIM */
#define SPOOL_LIST_MAX 4096  /* aliases, addresses, config items */

enum spool_cmd_type {
	CMD_NOOP = 0,
	CMD_ENQUEUE = 1,
	CMD_CLAIM = 2,
	CMD_RENEW = 3,
	CMD_COMPLETE = 4,
	CMD_REMOVE = 5,
	CMD_REQUEUE = 6,
	CMD_HOLD = 7,
	CMD_RELEASE = 8,
	CMD_SET_CONFIG = 9,
	CMD_ALIAS_ADD = 10,
	CMD_ALIAS_REMOVE = 11,
	CMD_ALIAS_REPLACE = 12,
	CMD_MX_ADD = 13,
	CMD_MX_REMOVE = 14,
	CMD_HOST_ADD = 15,
	CMD_HOST_REMOVE = 16,
	CMD_FORWARD_SET = 17,
	CMD_FORWARD_CLEAR = 18,
	CMD_NODE_SET = 19,
	CMD_NODE_REMOVE = 20,
	CMD_REPAIR = 21,
	CMD_TLSPOL_SET = 22,
	CMD_TLSPOL_REMOVE = 23,
	CMD__COUNT
};

/* ENQUEUE: a new control file. created_ms = stamp; next attempt = stamp. */
struct spool_cmd_enqueue {
	const char *name;     /* control-file name (idempotency key) */
	struct spool_rec rec; /* envelope; state fields are ignored and set
				    by apply: created, next, attempts, claim,
				    hold, rcpt state/attempts/reply */
	const void *body;
	size_t body_len;
};

/* CLAIM: a batch of names for one node, each with the same lease. */
struct spool_cmd_claim {
	uint64_t node;
	uint64_t lease_ms; /* lease length; lease_end = stamp + lease_ms */
	uint32_t n;
	const char **names;
};

/* RENEW: extend the holder's lease to stamp + lease_ms. */
struct spool_cmd_renew {
	const char *name;
	uint64_t node;
	uint64_t fence;
	uint64_t lease_ms;
};

enum spool_outcome {
	OUT_DELIVERED = 1,
	OUT_DEFERRED = 2,
	OUT_FAILED = 3,
	/* deferred, and the report this COMPLETE carries (has_bounce) warns
	 * the sender of the delay: the recipient gets RCPT_F_DELAYED */
	OUT_DEFERRED_WARNED = 4,
};

struct spool_outcome_item {
	uint32_t rcpt;	   /* index into the record's recipients */
	uint8_t outcome;   /* enum spool_outcome */
	const char *reply; /* remote reply or reason */
};

/* COMPLETE flags */
enum {
	/* the failed recipients of this file are dealt with: the attached
	 * bounce (if any) carries them, or none is due (bounce of <>) */
	COMPLETE_BOUNCE_DONE = 1,
	/* no attempt was made (n is 0): the holder gives its claim back, so
	 * the file is due at once and its attempt count stays; refused like
	 * any COMPLETE when the claim is not the sender's any more */
	COMPLETE_UNTRIED = 2,
	COMPLETE_F_ALL = 3,
};

/* COMPLETE: outcomes of one delivery attempt by the claim holder. The
 * claim is released. Deferred recipients get their next attempt from the
 * retry policy; past /INTERVAL=MAXIMUM they fail instead. */
struct spool_cmd_complete {
	const char *name;
	uint64_t node;
	uint64_t fence;
	uint32_t flags; /* COMPLETE_* */
	uint32_t n;
	struct spool_outcome_item *items;
	int has_bounce;
	struct spool_cmd_enqueue bounce; /* enqueued in the same apply */
};

/* REMOVE: delete a control file (refused under a live claim; an expired
 * claim needs force). */
struct spool_cmd_remove {
	const char *name;
	uint8_t force;
};

/* REQUEUE (SEND MAIL): next attempt = after_ms or stamp when 0; releases a
 * held file. */
struct spool_cmd_requeue {
	const char *name;
	uint64_t after_ms;
};

/* HOLD / RELEASE */
struct spool_cmd_name {
	const char *name;
};

struct spool_cfg_item {
	uint16_t key;  /* enum spool_cfg_key */
	uint8_t reset; /* 1 = back to the default */
	uint64_t num;
	const char *str;
};

struct spool_cmd_set_config {
	uint32_t n;
	struct spool_cfg_item *items;
};

/* ALIAS_ADD / ALIAS_REMOVE: one domain; ALIAS_REPLACE: the whole list. */
struct spool_cmd_alias {
	const char *domain;
	uint32_t n;
	const char **domains;
};

/* MX_ADD / MX_REMOVE (gateway "" removes every gateway of the domain). */
struct spool_cmd_mx {
	const char *domain;
	uint16_t pref;
	const char *gateway;
};

/* HOST_ADD (replaces the addresses) / HOST_REMOVE */
struct spool_cmd_host {
	const char *name;
	uint32_t n;
	const char **addrs;
};

/* FORWARD_SET / FORWARD_CLEAR */
struct spool_cmd_forward {
	const char *user;
	const char *target;
};

enum {
	NODE_F_NAME = 1,
	NODE_F_SMTP = 2,
	NODE_F_CLUSTER = 4,
	NODE_F_MAIL = 8,
	NODE_F_SERVICE = 16,
	NODE_F_DOMAIN = 32,
};

/* NODE_SET: fields named by mask; NODE_REMOVE: id only. The domain is on
 * the wire only when the mask has NODE_F_DOMAIN (so NODE_SET entries
 * written before it existed still decode, and the encoding stays
 * canonical); without the bit it is not encoded and decodes as "". */
struct spool_cmd_node {
	uint64_t id;
	uint32_t mask; /* NODE_F_* */
	const char *name;
	const char *smtp;    /* HOST:PORT */
	const char *cluster; /* HOST:PORT */
	uint8_t mail_started;
	uint8_t service_enabled;
	const char *domain; /* the node's mail domain, "" = none */
};

/* TLSPOL_SET (adds or replaces) / TLSPOL_REMOVE: one key of the outbound
 * TLS policy table (spool/codec/tlspolicy.h); level is a TLSPOL_* from
 * NONE to VERIFY, on the wire only for TLSPOL_SET. */
struct spool_cmd_tlspol {
	const char *domain;
	uint8_t level;
};

/* REPAIR: fix what spool_analyze() would report. */
struct spool_cmd_repair {
	uint32_t flags; /* reserved, 0 */
};

struct spool_cmd {
	uint8_t type;	/* enum spool_cmd_type */
	uint64_t stamp; /* ms, the only clock the FSM knows */
	uint64_t node;	/* proposing node */
	uint64_t req;	/* proposer's request id */
	union {
		struct spool_cmd_enqueue enqueue;
		struct spool_cmd_claim claim;
		struct spool_cmd_renew renew;
		struct spool_cmd_complete complete;
		struct spool_cmd_remove remove;
		struct spool_cmd_requeue requeue;
		struct spool_cmd_name hold; /* HOLD and RELEASE */
		struct spool_cmd_set_config set_config;
		struct spool_cmd_alias alias;
		struct spool_cmd_mx mx;
		struct spool_cmd_host host;
		struct spool_cmd_forward forward;
		struct spool_cmd_node node_set; /* NODE_SET and NODE_REMOVE */
		struct spool_cmd_repair repair;
		struct spool_cmd_tlspol tlspol; /* TLSPOL_SET, TLSPOL_REMOVE */
	} u;
};

/* Encode cmd into wb (appends). 0, SPOOL_E_NOMEM, or SPOOL_E_INVAL for a
 * command that would not decode (count over a limit, unknown type). */
int spool_cmd_encode(const struct spool_cmd *cmd, struct wbuf *wb);

/* Decode; see the header comment for ownership. On error nothing needs
 * freeing and *cmd is zeroed. */
int spool_cmd_decode(struct spool_cmd *cmd, const void *p, size_t len);

void spool_cmd_free(struct spool_cmd *cmd);

/* 0 when the bytes decode as a spool command (nothing is kept), else
 * SPOOL_E_MALFORMED (also for NULL or fewer than SPOOL_CMD_HDR_LEN bytes),
 * SPOOL_E_VERSION or SPOOL_E_NOMEM. */
int spool_cmd_check(const void *p, size_t len);

/* The header fields of an encoded command, read or written in place (the
 * proposer sets node and req, the leader the stamp). They look only at the
 * header's length: 0, or SPOOL_E_MALFORMED when p is NULL or shorter than
 * SPOOL_CMD_HDR_LEN; the rest of the bytes is not checked (see
 * spool_cmd_check). */
int spool_cmd_get_stamp(const void *p, size_t len, uint64_t *stamp);
int spool_cmd_set_stamp(void *p, size_t len, uint64_t stamp);
int spool_cmd_get_origin(const void *p, size_t len, uint64_t *node,
			 uint64_t *req);
int spool_cmd_set_origin(void *p, size_t len, uint64_t node, uint64_t req);

/* Name of a command type ("ENQUEUE"), "?" when unknown. */
const char *spool_cmd_name(int type);

#endif
