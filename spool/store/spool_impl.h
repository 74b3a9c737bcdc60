/*
 * spool_impl.h — what the spool's own .c files share: the environment
 * handle, the table list and the key layouts. Not for use outside spool/.
 *
 * Layers inside spool/store (each calls only the ones below it):
 *   apply*.c, snapshot.c, analyze.c   commands, images, checks
 *   spool.c                           the environment, read accessors
 *   store.c                           tables, keys, error map, records
 *
 * Key and value layouts (big-endian numbers, so LMDB's byte order is the
 * numeric order):
 *   ctl      name                              -> spool_rec encoding
 *   body     name                              -> message bytes, the first
 *                                               SPOOL_BODY_PIECE of them
 *   bodyx    name | be32 i (i >= 1)            -> piece i of the body
 *                                               (body.c)
 *   due      be64 due_ms | name                -> ""   (non-held files;
 *            due_ms = spool_rec_due(): next attempt or lease end)
 *   byuser   user | 0x00 | name                -> ""
 *   config   key name (spool_cfg_defs[].name)  -> u8 kind | u64 num  or
 *                                               u8 kind | wire string
 *   aliases  lower-case domain                 -> ""
 *   mx       lower domain | 0x00 | be16 pref | gateway -> ""
 *   hosts    lower-case host name              -> u32 n | n wire strings
 *   forward  lower-case user                   -> target bytes
 *   nodes    be64 id                           -> node_encode() bytes
 *   meta     "schema"                          -> be32 SPOOL_SCHEMA_VERSION
 *            "fence"                           -> be64 last fencing number
 *            "stamp"                           -> be64 highest stamp of a
 *                                               command applied (apply.c)
 *   tomb     name of a finished control file    -> be64 stamp of its end
 *   tombexp  be64 expiry_ms | name             -> ""   (tomb.c)
 *   tlspolicy lower domain, or "." | lower domain -> u8 TLSPOL_* level
 * Names, users and domains are stored without a terminating NUL.
 */
#ifndef SPOOL_IMPL_H
#define SPOOL_IMPL_H

#include <lmdb.h>
#include <stdint.h>

#include "spool/store/spool.h"

enum spool_table {
	T_CTL = 0,
	T_BODY,
	T_DUE,
	T_BYUSER,
	T_CONFIG,
	T_ALIASES,
	T_MX,
	T_HOSTS,
	T_FORWARD,
	T_NODES,
	T_META,
	T_TOMB,	   /* schema 2 */
	T_TOMBEXP, /* schema 2 */
	T_TLSPOL,  /* schema 3 */
	T_BODYX,   /* schema 4 */
	T__COUNT
};

extern const char *const spool_table_names[T__COUNT];

/* The meta key of the highest applied stamp (spool_max_stamp). */
#define SPOOL_META_STAMP "stamp"
#define SPOOL_META_STAMP_LEN 5

struct spool {
	MDB_env *env;
	MDB_dbi dbi[T__COUNT];
	uint64_t applied;
};

/* body.c: the message body in pieces of SPOOL_BODY_PIECE bytes (one
 * LMDB overflow page each: 4096 minus its 16-byte header). put replaces
 * any earlier pieces of name; size and read take every piece; del removes
 * them all (0 when there is none). split_all rewrites the bodies an older
 * schema stored whole (a kept spool or a restored image of schema <= 3). */
#define SPOOL_BODY_PIECE 4080u
int spool_body_put(struct spool *sp, MDB_txn *txn, const char *name,
		   const void *body, size_t len);
int spool_body_size(struct spool *sp, MDB_txn *txn, const char *name,
		    uint64_t *size);
int spool_body_read(struct spool *sp, MDB_txn *txn, const char *name,
		    void **body, size_t *len);
int spool_body_del(struct spool *sp, MDB_txn *txn, const char *name);
int spool_body_split_all(struct spool *sp, MDB_txn *txn);

/* Map an LMDB return code to a SPOOL_E_* code. */
int spool_mdb_err(int rc);

/* Table index by name, -1 if unknown. */
int spool_table_lookup(const char *name);

/* Key builders; return the key length (0 if it does not fit). */
#define SPOOL_KEY_MAX 511 /* LMDB's default maximum key size */
size_t spool_key_due(uint8_t *k, uint64_t due_ms, const char *name);
size_t spool_key_byuser(uint8_t *k, const char *user, const char *name);
size_t spool_key_mx(uint8_t *k, const char *domain, uint16_t pref,
		    const char *gateway);

/* Tombstones (tomb.c): record that name ended at stamp; 1 if name has a
 * tombstone (0 if not, or a negative code); remove the tombstones expired
 * at stamp (a bounded number per call). */
int spool_tomb_put(struct spool *sp, MDB_txn *txn, const char *name,
		   uint64_t stamp);
int spool_tomb_has(struct spool *sp, MDB_txn *txn, const char *name);
int spool_tomb_prune(struct spool *sp, MDB_txn *txn, uint64_t stamp);

/* Node record codec (nodes table). */
int spool_node_encode(const struct spool_node *n, struct wbuf *wb);
int spool_node_decode(struct spool_node *n, uint64_t id, const void *p,
		      size_t len);

/* Index maintenance for one control file inside a write transaction:
 * remove (old may be NULL) then add (new may be NULL) its due and byuser
 * entries. */
int spool_index_update(struct spool *sp, MDB_txn *txn, const char *name,
		       const struct spool_rec *old_rec,
		       const struct spool_rec *new_rec);

/* Write rec under name in ctl, updating indexes against old (NULL if new). */
int spool_ctl_put(struct spool *sp, MDB_txn *txn, const char *name,
		  const struct spool_rec *old_rec, const struct spool_rec *rec);

/* Delete a control file and its index entries; its body is the caller's
 * to delete (spool_body_del: body.c sits above this layer). */
int spool_ctl_delete(struct spool *sp, MDB_txn *txn, const char *name,
		     const struct spool_rec *rec);

/* Read and decode the ctl record of name (valid until txn ends; free rec
 * with spool_rec_free). SPOOL_E_NOTFOUND / SPOOL_E_MALFORMED. */
int spool_ctl_read(struct spool *sp, MDB_txn *txn, const char *name,
		   struct spool_rec *rec);

/* Same, but decoded from a private copy (out->raw) that stays valid while
 * the transaction writes; free with spool_ctl_free. */
int spool_ctl_load(struct spool *sp, MDB_txn *txn, const char *name,
		   struct spool_ctl *out);

/* Config from an open transaction. */
int spool_config_read(struct spool *sp, MDB_txn *txn, struct spool_config *cfg);

/* Per-command appliers (apply_*.c); each runs inside the write txn and sets
 * res->status. Return 0, or a negative LMDB-level error that aborts. */
int apply_enqueue(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		  const struct spool_cmd_enqueue *e, struct spool_result *res);
int apply_claim(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		struct spool_result *res);
int apply_renew(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		struct spool_result *res);
int apply_complete(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		   struct spool_result *res);
int apply_queue_op(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		   struct spool_result *res); /* REMOVE REQUEUE HOLD RELEASE */
int apply_table_op(
    struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
    struct spool_result *res); /* config, alias, mx, host, forward, node,
				  tlspolicy */
int apply_tlspol(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		 struct spool_result *res); /* tlspol.c */
int apply_repair(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		 struct spool_result *res);

/* ANALYZE inside a given transaction (read or write). When fix is
 * non-zero the transaction must be a write one and each problem is
 * repaired as it is found. */
int spool_analyze_txn(struct spool *sp, MDB_txn *txn, struct spool_report *rep,
		      int fix);

/* Retry policy: next attempt time for a deferral at stamp of a file
 * created at created_ms with attempts already made; returns 0 when the
 * file is past /INTERVAL=MAXIMUM (the recipient fails instead). */
uint64_t spool_retry_next(const struct spool_config *cfg, uint64_t created_ms,
			  uint32_t attempts, uint64_t stamp);

#endif
