/*
 * spool.h — the replicated spool: an LMDB environment holding the tables of
 * DESIGN.md and the deterministic state machine that applies commands.
 *
 * Purity: no sockets, no clock, no randomness, no raft or libuv. Every time
 * comes from the command's stamp. Two spools that apply the same commands in
 * the same order hold byte-identical snapshots.
 *
 * Durability: the environment runs with MDB_NOSYNC (and MDB_NOTLS so a read
 * transaction may be handed to another thread). The Raft log is the durable
 * truth; the spool is rebuilt from snapshot + log at every start, so
 * spool_open() on a node always starts from an empty spool unless the caller
 * asks to keep it (unit tests and tools).
 *
 * Errors: functions return 0 or a negative SPOOL_E_* for environment
 * failures only. Business outcomes of spool_apply() go in spool_result.
 */
#ifndef SPOOL_SPOOL_H
#define SPOOL_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "spool/codec/cmd.h"
#include "spool/codec/config.h"
#include "spool/codec/err.h"
#include "spool/codec/record.h"

/* 2: the tomb and tombexp tables (tomb.c). A snapshot image of schema 1
 * (without them) is still restored, with no tombstones.
 * 3: the tlspolicy table (outbound TLS policy). An image of schema 1 or 2
 * restores with an empty policy table; a kept spool of schema 2 is
 * upgraded in place when opened (the table is created empty).
 * 4: the bodyx table: bodies in pieces of one LMDB page (body.c). An image
 * of schema 1-3 restores with its bodies split; a kept spool of schema 2
 * or 3 is upgraded in place when opened (its bodies split there). */
#define SPOOL_SCHEMA_VERSION 4

/* How long the name of a finished control file stays a tombstone, so that
 * a retried ENQUEUE of it is a duplicate: longer than any proposal can be
 * retried (the node config caps propose_timeout_ms at 10 minutes). */
#define SPOOL_TOMB_KEEP_MS (30ull * 60 * 1000)

struct spool; /* opaque; owns the LMDB environment */

struct spool_opts {
	size_t map_size; /* LMDB map size in bytes; 0 = 16 GiB */
	int keep;	 /* 1 = keep existing contents, 0 = start empty */
};

/* Open (creating the directory's data.mdb) the spool in dir. */
int spool_open(struct spool **out, const char *dir, const struct spool_opts *o);
void spool_close(struct spool *sp);

/* Result of one item of a batch command (CLAIM). */
struct spool_item_result {
	int status;	/* 0 = granted, else SPOOL_E_* */
	uint64_t fence; /* granted fencing number */
};

enum {
	RES_F_DUPLICATE = 1, /* ENQUEUE of a name already present, or
				    COMPLETE repeated with the last fence */
	RES_F_DELETED = 2,   /* COMPLETE removed the finished file */
	RES_F_BOUNCED = 4,   /* COMPLETE enqueued its bounce */
};

/* The outcome of one command. spool_apply() fills it; the caller releases
 * it with spool_result_free(). It is also what a proposer gets back, so it
 * has an encoding. */
struct spool_result {
	int status;	/* 0 or SPOOL_E_*: the business outcome */
	uint32_t flags; /* RES_F_* */
	uint64_t value; /* command-specific: fence (RENEW), next
				    attempt (COMPLETE), count (REPAIR) */
	uint32_t n;	/* CLAIM: one result per name */
	struct spool_item_result *items;
};

void spool_result_free(struct spool_result *res);
int spool_result_encode(const struct spool_result *res, struct wbuf *wb);
int spool_result_decode(struct spool_result *res, const void *p, size_t len);

/*
 * Apply one encoded command. Deterministic. Returns 0 whenever the command
 * was handled, whatever its business outcome (res->status); a malformed
 * command changes nothing and gets res->status = SPOOL_E_MALFORMED or
 * SPOOL_E_VERSION. Returns a negative code only when the environment failed
 * (LMDB error): then nothing was changed either.
 */
int spool_apply(struct spool *sp, const void *buf, size_t len,
		struct spool_result *res);

/* Same, for an already decoded command. */
int spool_apply_cmd(struct spool *sp, const struct spool_cmd *cmd,
		    struct spool_result *res);

/* Number of commands applied (refused ones included) since open; kept in
 * memory only, not in snapshots. */
uint64_t spool_applied(struct spool *sp);

/* The highest stamp of a command that changed this spool (meta "stamp",
 * written by spool_apply in the command's own transaction, so it is in
 * every snapshot image and survives a restore or a kept reopen; a refused
 * command changes nothing, its stamp included). 0 in *out when none was
 * applied. The FSM takes the leader's stamp floor from it
 * (src/cluster/cluster_stamp.h). 0, or a negative SPOOL_E_*. */
int spool_max_stamp(struct spool *sp, uint64_t *out);

/* ---- Reading (any thread that owns the spool; each call is one read
 * transaction, so results are consistent per call) ---- */

/* Load the configuration (defaults + what is set). */
int spool_config_load(struct spool *sp, struct spool_config *cfg);

/* A copy of one control file: the record (strings in rec point into
 * raw, which the caller frees with spool_ctl_free). */
struct spool_ctl {
	char name[SPOOL_NAME_MAX + 1];
	struct spool_rec rec;
	void *raw; /* owned copy of the record bytes */
	size_t raw_len;
};
int spool_ctl_get(struct spool *sp, const char *name, struct spool_ctl *out);
void spool_ctl_free(struct spool_ctl *c);

/* Copy of a message body (malloc'd, caller frees). */
int spool_body_get(struct spool *sp, const char *name, void **body,
		   size_t *len);

/* Visit control files: every one (user NULL) or one user's (byuser index),
 * in key order. cb returns non-zero to stop. The ctl passed to cb is valid
 * only during the call. */
typedef int (*spool_ctl_cb)(const struct spool_ctl *c, void *arg);
int spool_ctl_foreach(struct spool *sp, const char *user, spool_ctl_cb cb,
		      void *arg);

/* Up to max names of files claimable at time now (due index order), not
 * held, claim free or expired. names[i] are malloc'd; returns the count
 * (>= 0) or a negative error. */
int spool_due_list(struct spool *sp, uint64_t now, char **names, int max);

/* Tables: visit each entry as strings (key parts and value). */
typedef int (*spool_kv_cb)(const char *a, const char *b, uint64_t n, void *arg);
int spool_alias_foreach(struct spool *sp, spool_kv_cb cb,
			void *arg);			   /* a=domain */
int spool_alias_has(struct spool *sp, const char *domain); /* 1/0/neg */
int spool_mx_foreach(
    struct spool *sp, const char *domain, spool_kv_cb cb,
    void *arg); /* a=domain b=gateway n=pref; domain NULL = all */
int spool_host_foreach(struct spool *sp, spool_kv_cb cb,
		       void *arg); /* a=name b=addrs (space separated) */
int spool_host_get(struct spool *sp, const char *name, char *buf, size_t size);
int spool_forward_foreach(struct spool *sp, spool_kv_cb cb,
			  void *arg); /* a=user b=target */
int spool_forward_get(struct spool *sp, const char *user, char *buf,
		      size_t size); /* 0 found, SPOOL_E_NOTFOUND */

/* The outbound TLS policy table (spool/codec/tlspolicy.h): cb gets a=key
 * b=level name n=level, in key order. */
int spool_tlspol_foreach(struct spool *sp, spool_kv_cb cb, void *arg);
/* The policy for mail to domain: the exact key, else ".parent" for each
 * parent, nearest first. Returns the TLSPOL_* level (TLSPOL_DEFAULT when
 * no key matches) or a negative SPOOL_E_*; matched (may be NULL, size >=
 * TLSPOL_KEY_MAX + 1) gets the key that matched ("" when none). */
int spool_tlspol_lookup(struct spool *sp, const char *domain, char *matched,
			size_t size);

struct spool_node {
	uint64_t id;
	char name[64];
	char smtp[128];
	char cluster[128];
	uint8_t mail_started;
	uint8_t service_enabled;
	char domain[256]; /* the node's mail domain, "" = not registered */
};
typedef int (*spool_node_cb)(const struct spool_node *n, void *arg);
int spool_node_foreach(struct spool *sp, spool_node_cb cb, void *arg);
int spool_node_get(struct spool *sp, uint64_t id, struct spool_node *out);

/* ---- Snapshots ---- */

/* A snapshot pins one read transaction. begin on the owning thread; write
 * may run on any thread; end releases it (any thread, once). */
struct spool_snap;
int spool_snapshot_begin(struct spool *sp, struct spool_snap **out);
/* Serialize the whole spool into wb (appends). */
int spool_snapshot_write(struct spool_snap *snap, struct wbuf *wb);
void spool_snapshot_end(struct spool_snap *snap);
/* Convenience: begin + write + end. */
int spool_snapshot(struct spool *sp, struct wbuf *wb);
/* Replace the whole state with a snapshot image. On error the spool is
 * unchanged (SPOOL_E_MALFORMED / SPOOL_E_VERSION / SPOOL_E_IO). */
int spool_restore(struct spool *sp, const void *buf, size_t len);

/* ---- ANALYZE ---- */

enum spool_problem_kind {
	PROB_DUE_MISSING = 1,	 /* non-held ctl without its due entry */
	PROB_DUE_ORPHAN,	 /* due entry without ctl, or a wrong time,
				    or a held file in due */
	PROB_BYUSER_MISSING,	 /* ctl without its byuser entry */
	PROB_BYUSER_ORPHAN,	 /* byuser entry without ctl, wrong user */
	PROB_BODY_MISSING,	 /* ctl without a body, or size mismatch */
	PROB_BODY_ORPHAN,	 /* body without ctl */
	PROB_CTL_CORRUPT,	 /* ctl record that does not decode */
	PROB_CLAIM_UNKNOWN_NODE, /* claim by a node not in `nodes` */
	PROB_CTL_DONE,		 /* ctl with no pending/failed recipient */
};

struct spool_problem {
	int kind;		       /* enum spool_problem_kind */
	char name[SPOOL_NAME_MAX + 1]; /* control file concerned */
};

struct spool_report {
	uint64_t files_checked;
	uint64_t counts[16]; /* per problem kind */
	uint32_t n;	     /* problems listed (at most max_list) */
	uint32_t cap;
	struct spool_problem *list;
};

/* Check every index against the records. The report's list is malloc'd;
 * free with spool_report_free. */
int spool_analyze(struct spool *sp, struct spool_report *rep);
void spool_report_free(struct spool_report *rep);
const char *spool_problem_name(int kind);
uint64_t spool_report_total(const struct spool_report *rep);

/* Testing and tools only: raw access to inject damage. table is one of the
 * table names of DESIGN.md ("due", "byuser", ...). */
int spool_raw_put(struct spool *sp, const char *table, const void *k,
		  size_t klen, const void *v, size_t vlen);
int spool_raw_del(struct spool *sp, const char *table, const void *k,
		  size_t klen);

#endif
