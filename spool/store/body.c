/*
 * body.c — the message body in page-sized pieces.
 *
 * LMDB keeps a value larger than about half a page on overflow pages of
 * its own: ceil((16 + size) / 4096) whole pages. A 4.3 KiB message took
 * two pages (8 KiB), so the spool file and the node's mapped pages were
 * about twice the queued body bytes (docs/performance.md). The body is
 * therefore stored in pieces of SPOOL_BODY_PIECE bytes, each exactly one
 * overflow page; the last, when under about 2 KiB, shares a leaf page:
 *   body   name                -> the first piece (the whole body when it
 *                                 is at most SPOOL_BODY_PIECE bytes)
 *   bodyx  name | be32 i (i>=1) -> piece i
 * The piece size is a constant, not the page size, so every node stores a
 * body the same way and their snapshot images stay byte-identical.
 *
 * Owns: the layout above (put, size, read, delete, and the conversion of
 * bodies stored whole by schema 3 and before). Not: the control record
 * (store.c), the transactions (the callers').
 * Fails: SPOOL_E_NOTFOUND without a body, SPOOL_E_NOMEM, or the mapped
 * LMDB error; a piece missing in the middle reads as SPOOL_E_MALFORMED.
 */
#include <stdlib.h>
#include <string.h>

#include "spool/store/spool_impl.h"

/* name | be32 i; the key's length, 0 when name does not fit. */
static size_t piece_key(uint8_t *k, const char *name, size_t nlen, uint32_t i)
{
	if (nlen == 0 || nlen + 4 > SPOOL_KEY_MAX)
		return 0;
	memcpy(k, name, nlen);
	k[nlen] = (uint8_t)(i >> 24);
	k[nlen + 1] = (uint8_t)(i >> 16);
	k[nlen + 2] = (uint8_t)(i >> 8);
	k[nlen + 3] = (uint8_t)i;
	return nlen + 4;
}

/* Whether key k is a piece of the body called name (nlen bytes). */
static int is_piece_of(const MDB_val *k, const char *name, size_t nlen)
{
	return k->mv_size == nlen + 4 && memcmp(k->mv_data, name, nlen) == 0;
}

/* Delete pieces 1.. of name. */
static int pieces_del(struct spool *sp, MDB_txn *txn, const char *name,
		      size_t nlen)
{
	uint8_t kb[SPOOL_KEY_MAX + 1];
	MDB_val k = {piece_key(kb, name, nlen, 1), kb}, v;
	MDB_cursor *cur;
	int rc;

	if (k.mv_size == 0)
		return SPOOL_E_INVAL;
	rc = mdb_cursor_open(txn, sp->dbi[T_BODYX], &cur);
	if (rc != 0)
		return spool_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && is_piece_of(&k, name, nlen);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);
}

int spool_body_put(struct spool *sp, MDB_txn *txn, const char *name,
		   const void *body, size_t len)
{
	const uint8_t *p = body;
	size_t nlen = strlen(name), first = len;
	uint8_t kb[SPOOL_KEY_MAX + 1];
	MDB_val k = {nlen, (void *)name}, v;
	int rc;

	if ((rc = pieces_del(sp, txn, name, nlen)) != 0)
		return rc;
	if (first > SPOOL_BODY_PIECE)
		first = SPOOL_BODY_PIECE;
	v.mv_data = (void *)p;
	v.mv_size = first;
	rc = mdb_put(txn, sp->dbi[T_BODY], &k, &v, 0);
	for (size_t off = first, i = 1; rc == 0 && off < len; i++) {
		size_t n =
		    len - off < SPOOL_BODY_PIECE ? len - off : SPOOL_BODY_PIECE;

		if (i > UINT32_MAX)
			return SPOOL_E_LIMIT;
		k.mv_data = kb;
		k.mv_size = piece_key(kb, name, nlen, (uint32_t)i);
		v.mv_data = (void *)(p + off);
		v.mv_size = n;
		/* pieces go in key order, each right after the last */
		rc = mdb_put(txn, sp->dbi[T_BODYX], &k, &v, 0);
		off += n;
	}
	return spool_mdb_err(rc);
}

/* Call fn for each piece of name in order (the first from body). */
static int pieces_walk(struct spool *sp, MDB_txn *txn, const char *name,
		       int (*fn)(void *arg, const MDB_val *v), void *arg)
{
	size_t nlen = strlen(name);
	uint8_t kb[SPOOL_KEY_MAX + 1];
	MDB_val k = {nlen, (void *)name}, v;
	MDB_cursor *cur;
	uint32_t want = 1;
	int rc;

	rc = mdb_get(txn, sp->dbi[T_BODY], &k, &v);
	if (rc != 0)
		return spool_mdb_err(rc);
	if ((rc = fn(arg, &v)) != 0)
		return rc;
	if (v.mv_size < SPOOL_BODY_PIECE)
		return 0; /* a short first piece is the whole body */
	k.mv_data = kb;
	k.mv_size = piece_key(kb, name, nlen, 1);
	if (k.mv_size == 0)
		return 0;
	rc = mdb_cursor_open(txn, sp->dbi[T_BODYX], &cur);
	if (rc != 0)
		return spool_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && is_piece_of(&k, name, nlen);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *ip = (const uint8_t *)k.mv_data + nlen;
		uint32_t i = (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 |
			     (uint32_t)ip[2] << 8 | ip[3];

		if (i != want++) {
			rc = SPOOL_E_MALFORMED;
			goto done;
		}
		if ((rc = fn(arg, &v)) != 0)
			goto done;
	}
	rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : spool_mdb_err(rc);
done:
	mdb_cursor_close(cur);
	return rc;
}

static int add_size(void *arg, const MDB_val *v)
{
	*(uint64_t *)arg += v->mv_size;
	return 0;
}

int spool_body_size(struct spool *sp, MDB_txn *txn, const char *name,
		    uint64_t *size)
{
	*size = 0;
	return pieces_walk(sp, txn, name, add_size, size);
}

struct copy {
	uint8_t *p;
	size_t len, room;
};

static int copy_piece(void *arg, const MDB_val *v)
{
	struct copy *c = arg;

	if (v->mv_size > c->room - c->len)
		return SPOOL_E_MALFORMED; /* pieces longer than their sum */
	memcpy(c->p + c->len, v->mv_data, v->mv_size);
	c->len += v->mv_size;
	return 0;
}

int spool_body_read(struct spool *sp, MDB_txn *txn, const char *name,
		    void **body, size_t *len)
{
	struct copy c = {0};
	uint64_t size;
	int rc;

	*body = NULL;
	*len = 0;
	if ((rc = spool_body_size(sp, txn, name, &size)) != 0)
		return rc;
	if (size > SIZE_MAX - 1)
		return SPOOL_E_NOMEM;
	c.room = (size_t)size;
	c.p = malloc(c.room ? c.room : 1);
	if (c.p == NULL)
		return SPOOL_E_NOMEM;
	rc = pieces_walk(sp, txn, name, copy_piece, &c);
	if (rc != 0) {
		free(c.p);
		return rc;
	}
	*body = c.p;
	*len = c.len;
	return 0;
}

int spool_body_del(struct spool *sp, MDB_txn *txn, const char *name)
{
	MDB_val k = {strlen(name), (void *)name};
	int rc;

	rc = mdb_del(txn, sp->dbi[T_BODY], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return spool_mdb_err(rc);
	return pieces_del(sp, txn, name, k.mv_size);
}

int spool_body_split_all(struct spool *sp, MDB_txn *txn)
{
	char name[SPOOL_NAME_MAX + 1];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(txn, sp->dbi[T_BODY], &cur);
	if (rc != 0)
		return spool_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		void *copy;
		size_t len = v.mv_size;

		if (len <= SPOOL_BODY_PIECE || k.mv_size > SPOOL_NAME_MAX)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		/* the value points into the map, which the puts change */
		copy = malloc(len);
		if (copy == NULL) {
			rc = SPOOL_E_NOMEM;
			goto done;
		}
		memcpy(copy, v.mv_data, len);
		rc = spool_body_put(sp, txn, name, copy, len);
		free(copy);
		if (rc != 0)
			goto done;
		/* the put moved the cursor's page: find the key again */
		k.mv_data = name;
		k.mv_size = strlen(name);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
		if (rc != 0) {
			rc = spool_mdb_err(rc);
			goto done;
		}
	}
	rc = rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);
done:
	mdb_cursor_close(cur);
	return rc;
}
