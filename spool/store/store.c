/*
 * store.c — write-side helpers shared by the appliers: control-file
 * records with their `due` and `byuser` index entries, the node record
 * codec, and reading the configuration inside a transaction.
 *
 * Invariant kept here (and checked by ANALYZE): a control file that is not
 * held has exactly one `due` entry, at spool_rec_due(); every control file
 * has one `byuser` entry; its body is in `body` with body_size bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "spool/store/spool_impl.h"

/* Put or delete one index key; del of a missing key is not an error. */
static int idx_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t klen)
{
	MDB_val key = {klen, (void *)k}, val = {0, (void *)""};

	return spool_mdb_err(mdb_put(txn, dbi, &key, &val, 0));
}

static int idx_del(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t klen)
{
	MDB_val key = {klen, (void *)k};
	int rc = mdb_del(txn, dbi, &key, NULL);

	return rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);
}

int spool_index_update(struct spool *sp, MDB_txn *txn, const char *name,
		       const struct spool_rec *old_rec,
		       const struct spool_rec *new_rec)
{
	uint8_t k[SPOOL_KEY_MAX];
	size_t kl;
	int rc;

	if (old_rec) {
		if (!old_rec->hold) {
			kl = spool_key_due(k, spool_rec_due(old_rec), name);
			if (kl && (rc = idx_del(txn, sp->dbi[T_DUE], k, kl)))
				return rc;
		}
		if (!new_rec || strcmp(old_rec->user, new_rec->user) != 0) {
			kl = spool_key_byuser(k, old_rec->user, name);
			if (kl && (rc = idx_del(txn, sp->dbi[T_BYUSER], k, kl)))
				return rc;
		}
	}
	if (new_rec) {
		if (!new_rec->hold) {
			kl = spool_key_due(k, spool_rec_due(new_rec), name);
			if (kl == 0)
				return SPOOL_E_LIMIT;
			if ((rc = idx_put(txn, sp->dbi[T_DUE], k, kl)))
				return rc;
		}
		kl = spool_key_byuser(k, new_rec->user, name);
		if (kl == 0)
			return SPOOL_E_LIMIT;
		if ((rc = idx_put(txn, sp->dbi[T_BYUSER], k, kl)))
			return rc;
	}
	return 0;
}

int spool_ctl_put(struct spool *sp, MDB_txn *txn, const char *name,
		  const struct spool_rec *old_rec, const struct spool_rec *rec)
{
	struct wbuf wb;
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc;

	wbuf_init(&wb);
	if ((rc = spool_rec_encode(rec, &wb)) != 0)
		goto out;
	v.mv_data = wb.p;
	v.mv_size = wb.len;
	/* Indexes first: old_rec may point into the ctl value that the put
	 * below overwrites. */
	if ((rc = spool_index_update(sp, txn, name, old_rec, rec)) != 0)
		goto out;
	rc = spool_mdb_err(mdb_put(txn, sp->dbi[T_CTL], &k, &v, 0));
out:
	wbuf_free(&wb);
	return rc;
}

int spool_ctl_delete(struct spool *sp, MDB_txn *txn, const char *name,
		     const struct spool_rec *rec)
{
	MDB_val k = {strlen(name), (void *)name};
	int rc;

	if ((rc = spool_index_update(sp, txn, name, rec, NULL)) != 0)
		return rc;
	rc = mdb_del(txn, sp->dbi[T_BODY], &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return spool_mdb_err(rc);
	rc = mdb_del(txn, sp->dbi[T_CTL], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);
}

int spool_ctl_read(struct spool *sp, MDB_txn *txn, const char *name,
		   struct spool_rec *rec)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc;

	memset(rec, 0, sizeof(*rec));
	if (k.mv_size == 0 || k.mv_size > SPOOL_NAME_MAX)
		return SPOOL_E_NOTFOUND;
	rc = mdb_get(txn, sp->dbi[T_CTL], &k, &v);
	if (rc)
		return spool_mdb_err(rc);
	return spool_rec_decode(rec, v.mv_data, v.mv_size) ? SPOOL_E_MALFORMED
							   : 0;
}

int spool_config_read(struct spool *sp, MDB_txn *txn, struct spool_config *cfg)
{
	spool_config_defaults(cfg);
	for (int i = 0; i < CFG__COUNT; i++) {
		const struct spool_cfg_def *d = &spool_cfg_defs[i];
		MDB_val k = {strlen(d->name), (void *)d->name}, v;
		struct rbuf rb;
		int rc = mdb_get(txn, sp->dbi[T_CONFIG], &k, &v);

		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return spool_mdb_err(rc);
		rbuf_init(&rb, v.mv_data, v.mv_size);
		if (rbuf_u8(&rb) != (uint8_t)d->kind)
			continue; /* wrong kind: keep the default */
		if (d->kind == CFG_KIND_NUM) {
			uint64_t n = rbuf_u64(&rb);

			if (rbuf_done(&rb) == 0)
				cfg->num[i] = n;
		} else {
			const char *s = rbuf_str(&rb, SPOOL_CFG_STR_MAX);

			if (rbuf_done(&rb) == 0)
				memcpy(cfg->str[i], s, strlen(s) + 1);
		}
		if (rbuf_done(&rb) == 0)
			cfg->is_set[i] = 1;
	}
	return 0;
}

/* Version 2 appends the domain; version 1 records (no domain) still
 * decode, with domain "". Records are always written as version 2. */
#define NODE_REC_VERSION 2

int spool_node_encode(const struct spool_node *n, struct wbuf *wb)
{
	wbuf_u8(wb, NODE_REC_VERSION);
	wbuf_str(wb, n->name);
	wbuf_str(wb, n->smtp);
	wbuf_str(wb, n->cluster);
	wbuf_u8(wb, n->mail_started ? 1 : 0);
	wbuf_u8(wb, n->service_enabled ? 1 : 0);
	wbuf_str(wb, n->domain);
	return wb->err;
}

int spool_node_decode(struct spool_node *n, uint64_t id, const void *p,
		      size_t len)
{
	struct rbuf rb;
	const char *name, *smtp, *cl, *dom = "";
	uint8_t version;

	memset(n, 0, sizeof(*n));
	rbuf_init(&rb, p, len);
	version = rbuf_u8(&rb);
	if (version != 1 && version != NODE_REC_VERSION)
		return SPOOL_E_VERSION;
	name = rbuf_str(&rb, sizeof(n->name) - 1);
	smtp = rbuf_str(&rb, sizeof(n->smtp) - 1);
	cl = rbuf_str(&rb, sizeof(n->cluster) - 1);
	n->mail_started = rbuf_u8(&rb);
	n->service_enabled = rbuf_u8(&rb);
	if (version >= 2)
		dom = rbuf_str(&rb, sizeof(n->domain) - 1);
	if (rbuf_done(&rb) != 0)
		return SPOOL_E_MALFORMED;
	n->id = id;
	memcpy(n->name, name, strlen(name) + 1);
	memcpy(n->smtp, smtp, strlen(smtp) + 1);
	memcpy(n->cluster, cl, strlen(cl) + 1);
	memcpy(n->domain, dom, strlen(dom) + 1);
	return 0;
}

int spool_ctl_load(struct spool *sp, MDB_txn *txn, const char *name,
		   struct spool_ctl *out)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (k.mv_size == 0 || k.mv_size > SPOOL_NAME_MAX)
		return SPOOL_E_NOTFOUND;
	rc = mdb_get(txn, sp->dbi[T_CTL], &k, &v);
	if (rc)
		return spool_mdb_err(rc);
	memcpy(out->name, name, k.mv_size + 1);
	out->raw = malloc(v.mv_size ? v.mv_size : 1);
	if (out->raw == NULL)
		return SPOOL_E_NOMEM;
	memcpy(out->raw, v.mv_data, v.mv_size);
	out->raw_len = v.mv_size;
	if (spool_rec_decode(&out->rec, out->raw, out->raw_len) != 0) {
		free(out->raw);
		out->raw = NULL;
		return SPOOL_E_MALFORMED;
	}
	return 0;
}
