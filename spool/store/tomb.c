/*
 * tomb.c — tombstones of finished control files, so that ENQUEUE stays
 * idempotent after the file is gone (DESIGN.md: "a proposal retried after
 * its first copy was applied never enqueues a message twice, even after that
 * copy was delivered or removed").
 *
 * A control file that COMPLETE finishes or REMOVE deletes leaves its name
 * in `tomb` (name -> be64 stamp of the deletion) and in `tombexp` (be64
 * expiry | name -> ""), expiry = stamp + SPOOL_TOMB_KEEP_MS. An ENQUEUE of a
 * name with a tombstone is a duplicate. spool_tomb_prune() removes at most
 * TOMB_PRUNE_MAX expired tombstones per command, oldest first, judged by the
 * command's stamp alone, so every node prunes the same ones (the FSM reads
 * no clock). Both tables are in the snapshot image.
 *
 * Owns nothing beyond the two tables' entries. Fails with the LMDB error
 * mapped to SPOOL_E_* (the caller aborts the transaction).
 */
#include <string.h>

#include "spool/store/spool_impl.h"

/* At most this many expired tombstones are removed per applied command: at
 * most one is added per command, so pruning keeps up, and the work of one
 * command stays bounded. */
#define TOMB_PRUNE_MAX 64

int spool_tomb_put(struct spool *sp, MDB_txn *txn, const char *name,
		   uint64_t stamp)
{
	size_t n = strlen(name);
	uint8_t ek[8 + SPOOL_NAME_MAX], sv[8];
	MDB_val k = {n, (void *)name}, v = {8, sv};
	MDB_val xk, xv = {0, ""};
	int rc;

	if (n == 0 || n > SPOOL_NAME_MAX)
		return SPOOL_E_INVAL;
	be64_put(sv, stamp);
	rc = mdb_put(txn, sp->dbi[T_TOMB], &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return 0; /* already a tombstone: keep its first expiry */
	if (rc != 0)
		return spool_mdb_err(rc);
	be64_put(ek, stamp + SPOOL_TOMB_KEEP_MS);
	memcpy(ek + 8, name, n);
	xk.mv_size = 8 + n;
	xk.mv_data = ek;
	return spool_mdb_err(mdb_put(txn, sp->dbi[T_TOMBEXP], &xk, &xv, 0));
}

int spool_tomb_has(struct spool *sp, MDB_txn *txn, const char *name)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc;

	if (k.mv_size == 0 || k.mv_size > SPOOL_NAME_MAX)
		return 0;
	rc = mdb_get(txn, sp->dbi[T_TOMB], &k, &v);
	if (rc == 0)
		return 1;
	return rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);
}

int spool_tomb_prune(struct spool *sp, MDB_txn *txn, uint64_t stamp)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, n = 0;

	rc = mdb_cursor_open(txn, sp->dbi[T_TOMBEXP], &cur);
	if (rc != 0)
		return spool_mdb_err(rc);
	while (n < TOMB_PRUNE_MAX &&
	       (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		MDB_val nk;

		if (k.mv_size <= 8 || be64_get(k.mv_data) > stamp)
			break;
		nk.mv_size = k.mv_size - 8;
		nk.mv_data = (uint8_t *)k.mv_data + 8;
		rc = mdb_del(txn, sp->dbi[T_TOMB], &nk, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto err_after_cursor;
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			goto err_after_cursor;
		n++;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);

err_after_cursor:
	mdb_cursor_close(cur);
	return spool_mdb_err(rc);
}
