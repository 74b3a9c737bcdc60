/*
 * snapshot.c — serialize the whole spool into one image and restore it.
 *
 * Owns the snapshot image format (docs/spool-snapshot-and-analyze.md):
 *   "SCSNAP\0\1" | u32 format 1 | u32 SPOOL_SCHEMA_VERSION | u32 T__COUNT |
 *   per table in enum order: u8 id | u64 count | count x (u32 klen | key |
 *   u32 vlen | value), keys in LMDB order | u32 CRC-32 of all that precedes.
 * Big-endian throughout. The image depends only on the spool's contents, so
 * two spools holding the same entries give byte-identical images.
 *
 * A snapshot pins one LMDB read transaction (the environment runs with
 * MDB_NOTLS), so spool_snapshot_write() may run on another thread while the
 * owner keeps applying commands. spool_restore() validates the whole image
 * before it touches anything, then replaces every table in one write
 * transaction; any failure aborts it and leaves the spool as it was.
 * Does not own the tables' contents or the environment (spool.c).
 */
#include <stdlib.h>
#include <string.h>

#include "spool/store/spool_impl.h"

#define SNAP_MAGIC "SCSNAP\0\1"
#define SNAP_MAGIC_LEN 8
#define SNAP_FORMAT 1
#define SNAP_HDR_LEN (SNAP_MAGIC_LEN + 4 + 4 + 4)
#define SNAP_CRC_LEN 4

struct spool_snap {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi[T__COUNT];
};

/* CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) of n bytes, eight
 * bytes a step (slicing-by-8: a bytewise table loop was 7 % of a
 * leader's CPU under load, docs/performance.md). The tables are built on
 * the stack per call (2,048 steps, nothing shared between threads);
 * bytes are read one by one, so the result does not depend on the
 * host's byte order. */
static uint32_t snap_crc32(const uint8_t *p, size_t n)
{
	uint32_t tab[8][256];
	uint32_t crc = 0xFFFFFFFFu;

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			tab[k][i] =
			    (tab[k - 1][i] >> 8) ^ tab[0][tab[k - 1][i] & 0xFF];
	for (; n >= 8; p += 8, n -= 8) {
		uint32_t lo =
		    crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			   (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
			      (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

		crc = tab[7][lo & 0xFF] ^ tab[6][(lo >> 8) & 0xFF] ^
		      tab[5][(lo >> 16) & 0xFF] ^ tab[4][lo >> 24] ^
		      tab[3][hi & 0xFF] ^ tab[2][(hi >> 8) & 0xFF] ^
		      tab[1][(hi >> 16) & 0xFF] ^ tab[0][hi >> 24];
	}
	for (; n > 0; p++, n--)
		crc = tab[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
	return crc ^ 0xFFFFFFFFu;
}

/* Pin a read transaction for a later spool_snapshot_write(). */
int spool_snapshot_begin(struct spool *sp, struct spool_snap **out)
{
	struct spool_snap *snap;
	int rc;

	*out = NULL;
	snap = calloc(1, sizeof(*snap));
	if (snap == NULL)
		return SPOOL_E_NOMEM;
	snap->env = sp->env;
	memcpy(snap->dbi, sp->dbi, sizeof(snap->dbi));
	rc = mdb_txn_begin(sp->env, NULL, MDB_RDONLY, &snap->txn);
	if (rc != 0) {
		free(snap);
		return spool_mdb_err(rc);
	}
	*out = snap;
	return 0;
}

/* Append one table (id, count, entries in key order) to wb. */
static int snap_write_table(struct spool_snap *snap, int t, struct wbuf *wb)
{
	MDB_stat st;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0;
	int rc;

	rc = mdb_stat(snap->txn, snap->dbi[t], &st);
	if (rc != 0)
		return spool_mdb_err(rc);
	wbuf_u8(wb, (uint8_t)t);
	wbuf_u64(wb, (uint64_t)st.ms_entries);
	rc = mdb_cursor_open(snap->txn, snap->dbi[t], &cur);
	if (rc != 0)
		return spool_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size > UINT32_MAX || v.mv_size > UINT32_MAX) {
			rc = SPOOL_E_LIMIT;
			goto err_after_cursor;
		}
		wbuf_u32(wb, (uint32_t)k.mv_size);
		wbuf_raw(wb, k.mv_data, k.mv_size);
		wbuf_u32(wb, (uint32_t)v.mv_size);
		wbuf_raw(wb, v.mv_data, v.mv_size);
		if (wb->err) {
			rc = wb->err;
			goto err_after_cursor;
		}
		n++;
	}
	if (rc != MDB_NOTFOUND) {
		rc = spool_mdb_err(rc);
		goto err_after_cursor;
	}
	mdb_cursor_close(cur);
	/* The count was written first; a read txn cannot see it change. */
	return n == (uint64_t)st.ms_entries ? 0 : SPOOL_E_IO;

err_after_cursor:
	mdb_cursor_close(cur);
	return rc;
}

/* Serialize the pinned state into wb (appends; on error wb is restored to
 * its previous length). */
int spool_snapshot_write(struct spool_snap *snap, struct wbuf *wb)
{
	size_t start = wb->len;
	int rc;

	if (wb->err)
		return wb->err;
	wbuf_raw(wb, SNAP_MAGIC, SNAP_MAGIC_LEN);
	wbuf_u32(wb, SNAP_FORMAT);
	wbuf_u32(wb, SPOOL_SCHEMA_VERSION);
	wbuf_u32(wb, T__COUNT);
	for (int t = 0; t < T__COUNT; t++) {
		rc = snap_write_table(snap, t, wb);
		if (rc != 0)
			goto err_after_start;
	}
	if (wb->err) {
		rc = wb->err;
		goto err_after_start;
	}
	wbuf_u32(wb, snap_crc32(wb->p + start, wb->len - start));
	if (wb->err) {
		rc = wb->err;
		goto err_after_start;
	}
	return 0;

err_after_start:
	if (wb->err == 0)
		wb->len = start;
	return rc;
}

/* Release the pinned transaction (any thread, once). */
void spool_snapshot_end(struct spool_snap *snap)
{
	if (snap == NULL)
		return;
	mdb_txn_abort(snap->txn);
	free(snap);
}

/* begin + write + end. */
int spool_snapshot(struct spool *sp, struct wbuf *wb)
{
	struct spool_snap *snap;
	int rc;

	rc = spool_snapshot_begin(sp, &snap);
	if (rc != 0)
		return rc;
	rc = spool_snapshot_write(snap, wb);
	spool_snapshot_end(snap);
	return rc;
}

/* LMDB's default key order: memcmp over the common length, then shorter
 * first. Returns <0, 0, >0. */
static int snap_keycmp(const uint8_t *a, size_t alen, const uint8_t *b,
		       size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Walk the table section of a checked image. With txn == NULL only
 * validate it (lengths, ids, order, ctl records); otherwise insert every
 * entry into txn's emptied tables. */
static int snap_walk(struct spool *sp, MDB_txn *txn, const uint8_t *p,
		     size_t len, size_t maxkey, int ntables)
{
	struct rbuf rb;
	int rc;

	rbuf_init(&rb, p, len);
	for (int t = 0; t < ntables; t++) {
		const uint8_t *prev = NULL;
		size_t prevlen = 0;
		uint64_t count;

		if (rbuf_u8(&rb) != t)
			return SPOOL_E_MALFORMED;
		count = rbuf_u64(&rb);
		/* every entry takes at least 9 bytes (u32 klen, key >= 1 byte,
		 * u32 vlen): refuse counts the image cannot hold */
		if (rb.err || count > rbuf_left(&rb) / 9)
			return SPOOL_E_MALFORMED;
		for (uint64_t i = 0; i < count; i++) {
			MDB_val k, v;
			uint32_t klen, vlen;
			const uint8_t *key, *val;

			klen = rbuf_u32(&rb);
			if (klen == 0 || klen > maxkey)
				return SPOOL_E_MALFORMED;
			key = rbuf_raw(&rb, klen);
			vlen = rbuf_u32(&rb);
			val = vlen ? rbuf_raw(&rb, vlen) : rb.p + rb.off;
			if (rb.err || key == NULL || val == NULL)
				return SPOOL_E_MALFORMED;
			if (prev != NULL &&
			    snap_keycmp(prev, prevlen, key, klen) >= 0)
				return SPOOL_E_MALFORMED;
			prev = key;
			prevlen = klen;
			if (txn == NULL) {
				if (t == T_CTL) {
					struct spool_rec rec;

					if (spool_rec_decode(&rec, val, vlen))
						return SPOOL_E_MALFORMED;
					spool_rec_free(&rec);
				}
				continue;
			}
			k.mv_size = klen;
			k.mv_data = (void *)key;
			v.mv_size = vlen;
			v.mv_data = (void *)val;
			rc = mdb_put(txn, sp->dbi[t], &k, &v, MDB_APPEND);
			if (rc != 0)
				return spool_mdb_err(rc);
		}
	}
	return rbuf_done(&rb);
}

/* The number of tables in an image of schema (1..current). */
static uint32_t snap_tables_of(uint32_t schema)
{
	switch (schema) {
	case 1:
		return T_TOMB;
	case 2:
		return T_TLSPOL;
	case 3:
		return T_BODYX;
	default:
		return T__COUNT;
	}
}

/* After an older image: the meta table says the current schema, as on a
 * node that applied the same commands (its images stay the same). */
static int snap_schema_current(struct spool *sp, MDB_txn *txn)
{
	uint8_t ver[4] = {0, 0, 0, SPOOL_SCHEMA_VERSION};
	MDB_val k = {6, (void *)"schema"}, v = {4, ver};

	return spool_mdb_err(mdb_put(txn, sp->dbi[T_META], &k, &v, 0));
}

/* Replace the whole state with an image; all or nothing. */
int spool_restore(struct spool *sp, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	struct rbuf rb;
	MDB_txn *txn;
	size_t maxkey, body;
	uint32_t schema, ntables;
	int rc;

	if (p == NULL || len < SNAP_HDR_LEN + SNAP_CRC_LEN ||
	    memcmp(p, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0)
		return SPOOL_E_MALFORMED;
	body = len - SNAP_CRC_LEN;
	rbuf_init(&rb, p + body, SNAP_CRC_LEN);
	if (rbuf_u32(&rb) != snap_crc32(p, body))
		return SPOOL_E_MALFORMED;
	rbuf_init(&rb, p + SNAP_MAGIC_LEN, SNAP_HDR_LEN - SNAP_MAGIC_LEN);
	if (rbuf_u32(&rb) != SNAP_FORMAT)
		return SPOOL_E_VERSION;
	/* schema 1 had the tables before T_TOMB (its image restores with no
	 * tombstones), schema 2 those before T_TLSPOL (no TLS policy),
	 * schema 3 those before T_BODYX (bodies whole) */
	schema = rbuf_u32(&rb);
	if (schema < 1 || schema > SPOOL_SCHEMA_VERSION)
		return SPOOL_E_VERSION;
	ntables = rbuf_u32(&rb);
	if (ntables != snap_tables_of(schema))
		return SPOOL_E_MALFORMED;

	maxkey = (size_t)mdb_env_get_maxkeysize(sp->env);
	if (maxkey > SPOOL_KEY_MAX)
		maxkey = SPOOL_KEY_MAX;
	rc = snap_walk(sp, NULL, p + SNAP_HDR_LEN, body - SNAP_HDR_LEN, maxkey,
		       (int)ntables);
	if (rc != 0)
		return rc;

	rc = mdb_txn_begin(sp->env, NULL, 0, &txn);
	if (rc != 0)
		return spool_mdb_err(rc);
	for (int t = 0; t < T__COUNT; t++) {
		rc = mdb_drop(txn, sp->dbi[t], 0);
		if (rc != 0) {
			rc = spool_mdb_err(rc);
			goto err_after_txn;
		}
	}
	rc = snap_walk(sp, txn, p + SNAP_HDR_LEN, body - SNAP_HDR_LEN, maxkey,
		       (int)ntables);
	/* bodies stored whole before schema 4 are split as a node that
	 * applied the same commands stores them */
	if (rc == 0 && schema < 4)
		rc = spool_body_split_all(sp, txn);
	if (rc == 0 && schema != SPOOL_SCHEMA_VERSION)
		rc = snap_schema_current(sp, txn);
	if (rc != 0)
		goto err_after_txn;
	rc = mdb_txn_commit(txn);
	return rc == 0 ? 0 : spool_mdb_err(rc);

err_after_txn:
	mdb_txn_abort(txn);
	return rc;
}
