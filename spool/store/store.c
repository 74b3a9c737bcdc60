/*
 * store.c — the LMDB table layer under spool.c and the appliers: the table
 * names, the LMDB-to-SPOOL_E_* error map, the key builders (layouts in
 * spool_impl.h), control-file records with their `due` and `byuser` index
 * entries, the node record codec, and reading the configuration inside a
 * transaction. Everything here works inside a transaction it is given and
 * calls nothing in spool.c (which owns the environment and opens the
 * transactions). Fails with SPOOL_E_* codes.
 *
 * Invariant kept here (and checked by ANALYZE): a control file that is not
 * held has exactly one `due` entry, at spool_rec_due(); every control file
 * has one `byuser` entry; its body is in `body` with body_size bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spool/store/spool_impl.h"

const char *const spool_table_names[T__COUNT] = {
    [T_CTL] = "ctl",	     [T_BODY] = "body",	       [T_DUE] = "due",
    [T_BYUSER] = "byuser",   [T_CONFIG] = "config",    [T_ALIASES] = "aliases",
    [T_MX] = "mx",	     [T_HOSTS] = "hosts",      [T_FORWARD] = "forward",
    [T_NODES] = "nodes",     [T_META] = "meta",	       [T_TOMB] = "tomb",
    [T_TOMBEXP] = "tombexp", [T_TLSPOL] = "tlspolicy", [T_BODYX] = "bodyx",
};

int spool_mdb_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return SPOOL_E_NOTFOUND;
	case MDB_MAP_FULL:
	case ENOSPC:
		return SPOOL_E_FULL;
	case ENOMEM:
		return SPOOL_E_NOMEM;
	case MDB_BAD_VALSIZE:
		return SPOOL_E_LIMIT;
	default:
		return SPOOL_E_IO;
	}
}

int spool_table_lookup(const char *name)
{
	for (int i = 0; i < T__COUNT; i++)
		if (strcmp(spool_table_names[i], name) == 0)
			return i;
	return -1;
}

size_t spool_key_due(uint8_t *k, uint64_t due_ms, const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || 8 + n > SPOOL_KEY_MAX)
		return 0;
	be64_put(k, due_ms);
	memcpy(k + 8, name, n);
	return 8 + n;
}

size_t spool_key_byuser(uint8_t *k, const char *user, const char *name)
{
	size_t u = strlen(user), n = strlen(name);

	if (n == 0 || u + 1 + n > SPOOL_KEY_MAX)
		return 0;
	memcpy(k, user, u);
	k[u] = 0;
	memcpy(k + u + 1, name, n);
	return u + 1 + n;
}

size_t spool_key_mx(uint8_t *k, const char *domain, uint16_t pref,
		    const char *gateway)
{
	size_t d = strlen(domain), g = strlen(gateway);

	if (d == 0 || d + 3 + g > SPOOL_KEY_MAX)
		return 0;
	memcpy(k, domain, d);
	k[d] = 0;
	k[d + 1] = (uint8_t)(pref >> 8);
	k[d + 2] = (uint8_t)pref;
	memcpy(k + d + 3, gateway, g);
	return d + 3 + g;
}

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
