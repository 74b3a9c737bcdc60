/*
 * tlspol.c — the outbound TLS policy table (`tlspolicy`: folded key ->
 * u8 TLSPOL_* level; keys and levels in spool/codec/tlspolicy.h): the
 * TLSPOL_SET / TLSPOL_REMOVE appliers and the two readers, the listing
 * and the lookup of a recipient domain (exact key, then ".parent" keys,
 * nearest first).
 *
 * Owns the table's entries. Does not own what a level means on the wire
 * (src/delivery) nor the key syntax (the codec). A refused command (bad
 * key or level: SPOOL_E_INVAL; removing a missing key: SPOOL_E_NOTFOUND)
 * writes nothing; LMDB failures come back as SPOOL_E_* for the caller to
 * abort on.
 */
#include <string.h>

#include "spool/codec/tlspolicy.h"
#include "spool/store/spool_impl.h"

int apply_tlspol(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		 struct spool_result *res)
{
	const struct spool_cmd_tlspol *t = &c->u.tlspol;
	char key[TLSPOL_KEY_MAX + 1];
	uint8_t lv = t->level;
	size_t n;
	MDB_val k, v = {1, &lv};
	int rc;

	if (t->domain == NULL || !tlspol_key_ok(t->domain) ||
	    (n = tlspol_fold(key, sizeof(key), t->domain)) == 0 ||
	    (c->type == CMD_TLSPOL_SET &&
	     (lv < TLSPOL_NONE || lv > TLSPOL_VERIFY))) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	k.mv_size = n;
	k.mv_data = key;
	if (c->type == CMD_TLSPOL_REMOVE) {
		rc = mdb_del(txn, sp->dbi[T_TLSPOL], &k, NULL);
		if (rc == MDB_NOTFOUND) {
			res->status = SPOOL_E_NOTFOUND;
			return 0;
		}
		return spool_mdb_err(rc);
	}
	return spool_mdb_err(mdb_put(txn, sp->dbi[T_TLSPOL], &k, &v, 0));
}

/* The level stored in v, or 0 for a value that is not one. */
static int level_of(const MDB_val *v)
{
	uint8_t lv;

	if (v->mv_size != 1)
		return 0;
	lv = *(const uint8_t *)v->mv_data;
	return lv >= TLSPOL_NONE && lv <= TLSPOL_VERIFY ? lv : 0;
}

int spool_tlspol_foreach(struct spool *sp, spool_kv_cb cb, void *arg)
{
	char key[SPOOL_KEY_MAX + 1];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	rc = mdb_txn_begin(sp->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return spool_mdb_err(rc);
	rc = mdb_cursor_open(txn, sp->dbi[T_TLSPOL], &cur);
	if (rc)
		goto out_txn;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		int lv = level_of(&v);

		op = MDB_NEXT;
		if (k.mv_size >= sizeof(key) || lv == 0)
			continue; /* not an entry apply wrote */
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (cb(key, tlspol_level_name(lv), (uint64_t)lv, arg))
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
out_txn:
	mdb_txn_abort(txn);
	return spool_mdb_err(rc);
}

/* The level of key in txn: 1..4, 0 when absent, or a negative code. */
static int get_level(struct spool *sp, MDB_txn *txn, const char *key, size_t n)
{
	MDB_val k = {n, (void *)key}, v;
	int rc = mdb_get(txn, sp->dbi[T_TLSPOL], &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? spool_mdb_err(rc) : level_of(&v);
}

int spool_tlspol_lookup(struct spool *sp, const char *domain, char *matched,
			size_t size)
{
	char low[TLSPOL_KEY_MAX + 2];
	const char *hit = low + 1;
	size_t n;
	MDB_txn *txn;
	int rc, lv = 0;

	if (matched != NULL && size > 0)
		matched[0] = '\0';
	/* room for the leading dot of the parent keys */
	n = tlspol_fold(low + 1, sizeof(low) - 1, domain != NULL ? domain : "");
	if (n == 0 || low[1] == '.')
		return TLSPOL_DEFAULT;
	rc = mdb_txn_begin(sp->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return spool_mdb_err(rc);
	lv = get_level(sp, txn, low + 1, n);
	/* ".parent" keys: the dot before each parent is the key's first
	 * octet */
	for (size_t i = 1; lv == 0 && i <= n; i++) {
		if (low[i] != '.')
			continue;
		hit = low + i;
		lv = get_level(sp, txn, hit, n + 1 - i);
	}
	mdb_txn_abort(txn);
	if (lv > 0 && matched != NULL && strlen(hit) < size)
		memcpy(matched, hit, strlen(hit) + 1);
	return lv;
}
