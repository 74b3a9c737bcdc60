/*
 * analyze.c — ANALYZE MAIL [/REPAIR]: check the spool's indexes and bodies
 * against the control files, and repair what does not agree.
 *
 * Owns spool_analyze(), spool_analyze_txn(), apply_repair() (the replicated
 * REPAIR command), the report helpers and the raw table access used to
 * inject damage in tests and tools. Does not own the key layouts or the
 * record codec (spool.c, record.c); it reads and writes the tables directly
 * so that a repair never depends on the appliers.
 *
 * One problem is one bad entry. Four passes, in this order:
 *   1. ctl: a record that does not decode (or has an impossible name or
 *      index key), has no body of the right size, or has no PENDING/FAILED
 *      recipient is bad: repair deletes the record only. A good record
 *      claimed by a node missing from `nodes` has its claim cleared (and its
 *      due entry moved); a missing due or byuser entry is added.
 *   2. due, 3. byuser, 4. body: an entry whose control file is missing or
 *      bad (as judged in pass 1), or that disagrees with a good one, is an
 *      orphan: repair deletes it.
 * So the body and index entries of a deleted control file are reported and
 * removed as orphans by the later passes, the counts of ANALYZE and REPAIR
 * agree, and one REPAIR leaves nothing for a second ANALYZE.
 *
 * Determinism: REPAIR runs on every node as a replicated command. It
 * iterates each table in key order and reads nothing but the transaction.
 * Deletions in the table being iterated go through that cursor
 * (mdb_cursor_del), other tables are changed with mdb_put/mdb_del.
 * Failures: negative SPOOL_E_* for LMDB errors or out of memory; the
 * caller aborts the transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "spool/store/spool_impl.h"

#define REPORT_LIST_MAX 1000

/* What a control file is worth, for every pass. */
enum ctl_state {
	CS_MISSING = 0, /* no record under that name */
	CS_CORRUPT,	/* does not decode, or impossible name / index key */
	CS_NOBODY,	/* body missing or of another size */
	CS_DONE,	/* no PENDING and no FAILED recipient */
	CS_OK,
};

/* Zero a report before a run. */
static void report_init(struct spool_report *rep)
{
	memset(rep, 0, sizeof(*rep));
}

/* Count one problem and list it while the list has room. Listing is best
 * effort (out of memory only shortens the list), so a REPAIR's changes
 * never depend on the allocator. */
static void report_add(struct spool_report *rep, int kind, const void *name,
		       size_t namelen)
{
	struct spool_problem *pr;

	if (kind > 0 &&
	    kind < (int)(sizeof(rep->counts) / sizeof(rep->counts[0])))
		rep->counts[kind]++;
	if (rep->n >= REPORT_LIST_MAX)
		return;
	if (rep->n == rep->cap) {
		uint32_t cap = rep->cap ? rep->cap * 2 : 16;
		struct spool_problem *nl;

		if (cap > REPORT_LIST_MAX)
			cap = REPORT_LIST_MAX;
		nl = realloc(rep->list, cap * sizeof(*nl));
		if (nl == NULL)
			return;
		rep->list = nl;
		rep->cap = cap;
	}
	pr = &rep->list[rep->n++];
	memset(pr, 0, sizeof(*pr));
	pr->kind = kind;
	if (namelen > SPOOL_NAME_MAX)
		namelen = SPOOL_NAME_MAX;
	for (size_t i = 0; i < namelen; i++) {
		char ch = ((const char *)name)[i];

		pr->name[i] = ch == '\0' ? '?' : ch;
	}
}

void spool_report_free(struct spool_report *rep)
{
	if (rep == NULL)
		return;
	free(rep->list);
	rep->list = NULL;
	rep->n = rep->cap = 0;
}

uint64_t spool_report_total(const struct spool_report *rep)
{
	uint64_t t = 0;

	for (size_t i = 0; i < sizeof(rep->counts) / sizeof(rep->counts[0]);
	     i++)
		t += rep->counts[i];
	return t;
}

const char *spool_problem_name(int kind)
{
	switch (kind) {
	case PROB_DUE_MISSING:
		return "due_missing";
	case PROB_DUE_ORPHAN:
		return "due_orphan";
	case PROB_BYUSER_MISSING:
		return "byuser_missing";
	case PROB_BYUSER_ORPHAN:
		return "byuser_orphan";
	case PROB_BODY_MISSING:
		return "body_missing";
	case PROB_BODY_ORPHAN:
		return "body_orphan";
	case PROB_CTL_CORRUPT:
		return "ctl_corrupt";
	case PROB_CLAIM_UNKNOWN_NODE:
		return "claim_unknown_node";
	case PROB_CTL_DONE:
		return "ctl_done";
	default:
		return "?";
	}
}

/* A control-file name as stored in a key: 1..SPOOL_NAME_MAX bytes, no NUL.
 * Copies it NUL-terminated into out. */
static int name_take(char *out, const void *p, size_t len)
{
	if (len == 0 || len > SPOOL_NAME_MAX || memchr(p, '\0', len) != NULL)
		return 0;
	memcpy(out, p, len);
	out[len] = '\0';
	return 1;
}

/* 1 if key is present in table t, 0 if not, negative on error. */
static int key_has(struct spool *sp, MDB_txn *txn, int t, const void *k,
		   size_t klen)
{
	MDB_val key = {klen, (void *)k}, val;
	int rc = mdb_get(txn, sp->dbi[t], &key, &val);

	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : spool_mdb_err(rc);
}

/* Put an empty-valued index entry. */
static int key_put(struct spool *sp, MDB_txn *txn, int t, const void *k,
		   size_t klen)
{
	MDB_val key = {klen, (void *)k}, val = {0, (void *)""};
	int rc = mdb_put(txn, sp->dbi[t], &key, &val, 0);

	return rc == 0 ? 0 : spool_mdb_err(rc);
}

/* Delete an entry; absent is fine. */
static int key_del(struct spool *sp, MDB_txn *txn, int t, const void *k,
		   size_t klen)
{
	MDB_val key = {klen, (void *)k};
	int rc = mdb_del(txn, sp->dbi[t], &key, NULL);

	return rc == 0 || rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);
}

/*
 * Judge the record bytes (raw, rawlen) of control file name. For
 * CS_NOBODY, CS_DONE and CS_OK rec is decoded (pointing into raw) and the
 * caller frees it with spool_rec_free. Returns 0 or a negative error.
 */
static int judge_value(struct spool *sp, MDB_txn *txn, const char *name,
		       const void *raw, size_t rawlen, struct spool_rec *rec,
		       int *state)
{
	uint8_t k[SPOOL_KEY_MAX + 1];
	uint64_t size;
	int rc;

	*state = CS_CORRUPT;
	if (spool_rec_decode(rec, raw, rawlen) != 0)
		return 0;
	if (spool_key_byuser(k, rec->user, name) == 0 ||
	    spool_key_due(k, 0, name) == 0) {
		spool_rec_free(rec);
		return 0;
	}
	rc = spool_body_size(sp, txn, name, &size);
	if (rc != 0 && rc != SPOOL_E_NOTFOUND && rc != SPOOL_E_MALFORMED) {
		spool_rec_free(rec);
		return rc;
	}
	if (rc != 0 || size != rec->body_size)
		*state = CS_NOBODY;
	else if (spool_rec_count(rec, RCPT_PENDING) +
		     spool_rec_count(rec, RCPT_FAILED) ==
		 0)
		*state = CS_DONE;
	else
		*state = CS_OK;
	return 0;
}

/* Look up and judge the control file name (CS_MISSING when absent). The
 * decoded rec points into the transaction's data: use it before any
 * change. */
static int judge_name(struct spool *sp, MDB_txn *txn, const char *name,
		      struct spool_rec *rec, int *state)
{
	MDB_val key = {strlen(name), (void *)name}, val;
	int rc = mdb_get(txn, sp->dbi[T_CTL], &key, &val);

	*state = CS_MISSING;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return spool_mdb_err(rc);
	return judge_value(sp, txn, name, val.mv_data, val.mv_size, rec, state);
}

/* 1 if node id is in the `nodes` table, 0 if not, negative on error. */
static int node_known(struct spool *sp, MDB_txn *txn, uint64_t id)
{
	uint8_t k[8];

	be64_put(k, id);
	return key_has(sp, txn, T_NODES, k, sizeof(k));
}

/* Pass 1 for a good record: claim, due and byuser checks (and fixes). cur
 * is positioned on the record, whose key is name. */
static int check_good_ctl(struct spool *sp, MDB_txn *txn, MDB_cursor *cur,
			  const char *name, struct spool_rec *rec,
			  struct spool_report *rep, int fix)
{
	uint8_t k[SPOOL_KEY_MAX + 1];
	size_t nlen = strlen(name), klen;
	int bad_claim = 0, has_due = 1, has_user, rc;

	if (rec->claim.node != 0) {
		rc = node_known(sp, txn, rec->claim.node);
		if (rc < 0)
			return rc;
		bad_claim = !rc;
		if (bad_claim)
			report_add(rep, PROB_CLAIM_UNKNOWN_NODE, name, nlen);
	}
	if (!rec->hold) {
		klen = spool_key_due(k, spool_rec_due(rec), name);
		has_due = key_has(sp, txn, T_DUE, k, klen);
		if (has_due < 0)
			return has_due;
		if (!has_due)
			report_add(rep, PROB_DUE_MISSING, name, nlen);
	}
	klen = spool_key_byuser(k, rec->user, name);
	has_user = key_has(sp, txn, T_BYUSER, k, klen);
	if (has_user < 0)
		return has_user;
	if (!has_user)
		report_add(rep, PROB_BYUSER_MISSING, name, nlen);
	if (!fix)
		return 0;

	if (!has_user) {
		rc = key_put(sp, txn, T_BYUSER, k, klen);
		if (rc != 0)
			return rc;
	}
	if (bad_claim && !rec->hold && has_due) {
		/* the due entry follows the lease end: move it */
		klen = spool_key_due(k, spool_rec_due(rec), name);
		rc = key_del(sp, txn, T_DUE, k, klen);
		if (rc != 0)
			return rc;
		has_due = 0;
	}
	if (bad_claim) {
		struct wbuf wb;
		MDB_val key = {nlen, (void *)name}, val;

		rec->claim.node = 0;
		rec->claim.lease_end = 0;
		rec->claim.fence = 0;
		wbuf_init(&wb);
		rc = spool_rec_encode(rec, &wb);
		if (rc == 0 && wb.err)
			rc = wb.err;
		if (rc == 0) {
			val.mv_size = wb.len;
			val.mv_data = wb.p;
			rc = mdb_cursor_put(cur, &key, &val, MDB_CURRENT);
			rc = rc == 0 ? 0 : spool_mdb_err(rc);
		}
		wbuf_free(&wb);
		if (rc != 0)
			return rc;
	}
	if (!rec->hold && !has_due) {
		klen = spool_key_due(k, spool_rec_due(rec), name);
		rc = key_put(sp, txn, T_DUE, k, klen);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Pass 1: every control file. */
static int pass_ctl(struct spool *sp, MDB_txn *txn, struct spool_report *rep,
		    int fix)
{
	static const int kind_of[] = {
	    [CS_CORRUPT] = PROB_CTL_CORRUPT,
	    [CS_NOBODY] = PROB_BODY_MISSING,
	    [CS_DONE] = PROB_CTL_DONE,
	};
	char name[SPOOL_NAME_MAX + 1];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(txn, sp->dbi[T_CTL], &cur);
	if (rc != 0)
		return spool_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct spool_rec rec;
		void *raw;
		int state = CS_CORRUPT;

		rep->files_checked++;
		/* a private copy: the record must outlive our own writes */
		raw = malloc(v.mv_size ? v.mv_size : 1);
		if (raw == NULL) {
			rc = SPOOL_E_NOMEM;
			goto err_after_cursor;
		}
		memcpy(raw, v.mv_data, v.mv_size);
		if (name_take(name, k.mv_data, k.mv_size)) {
			rc = judge_value(sp, txn, name, raw, v.mv_size, &rec,
					 &state);
			if (rc != 0) {
				free(raw);
				goto err_after_cursor;
			}
		}
		if (state == CS_OK) {
			rc = check_good_ctl(sp, txn, cur, name, &rec, rep, fix);
		} else {
			report_add(rep, kind_of[state], k.mv_data, k.mv_size);
			rc = fix ? mdb_cursor_del(cur, 0) : 0;
			rc = rc == 0 ? 0 : spool_mdb_err(rc);
		}
		if (state != CS_CORRUPT)
			spool_rec_free(&rec);
		free(raw);
		if (rc != 0)
			goto err_after_cursor;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);

err_after_cursor:
	mdb_cursor_close(cur);
	return rc;
}

/* Whether one index or body entry agrees with its control file: *orphan
 * 0 (it does), 1 (an orphan, reported) or ORPHAN_QUIET (an orphan that is
 * part of one reported elsewhere). */
#define ORPHAN_QUIET 2
typedef int (*entry_check)(struct spool *sp, MDB_txn *txn, const MDB_val *k,
			   const char **name, size_t *namelen, int *orphan);

/* due: be64 time | name; right when the file is good, not held, and due
 * then. */
static int check_due(struct spool *sp, MDB_txn *txn, const MDB_val *k,
		     const char **name, size_t *namelen, int *orphan)
{
	const uint8_t *p = k->mv_data;
	char nm[SPOOL_NAME_MAX + 1];
	struct spool_rec rec;
	int state, rc;

	*orphan = 1;
	if (k->mv_size < 8) {
		*name = (const char *)p;
		*namelen = k->mv_size;
		return 0;
	}
	*name = (const char *)p + 8;
	*namelen = k->mv_size - 8;
	if (!name_take(nm, *name, *namelen))
		return 0;
	rc = judge_name(sp, txn, nm, &rec, &state);
	if (rc != 0 || state == CS_MISSING || state == CS_CORRUPT)
		return rc;
	*orphan =
	    state != CS_OK || rec.hold || be64_get(p) != spool_rec_due(&rec);
	spool_rec_free(&rec);
	return 0;
}

/* byuser: user | 0 | name; right when the file is good and its user's. */
static int check_byuser(struct spool *sp, MDB_txn *txn, const MDB_val *k,
			const char **name, size_t *namelen, int *orphan)
{
	const char *p = k->mv_data;
	const char *z = memchr(p, '\0', k->mv_size);
	char nm[SPOOL_NAME_MAX + 1];
	struct spool_rec rec;
	int state, rc;

	*orphan = 1;
	*name = p;
	*namelen = k->mv_size;
	if (z == NULL)
		return 0;
	*name = z + 1;
	*namelen = k->mv_size - (size_t)(z + 1 - p);
	if (!name_take(nm, *name, *namelen))
		return 0;
	rc = judge_name(sp, txn, nm, &rec, &state);
	if (rc != 0 || state == CS_MISSING || state == CS_CORRUPT)
		return rc;
	*orphan = state != CS_OK || strlen(rec.user) != (size_t)(z - p) ||
		  memcmp(rec.user, p, (size_t)(z - p)) != 0;
	spool_rec_free(&rec);
	return 0;
}

/* body: name; right when the file is good (which includes the size). */
static int check_body(struct spool *sp, MDB_txn *txn, const MDB_val *k,
		      const char **name, size_t *namelen, int *orphan)
{
	char nm[SPOOL_NAME_MAX + 1];
	struct spool_rec rec;
	int state, rc;

	*orphan = 1;
	*name = k->mv_data;
	*namelen = k->mv_size;
	if (!name_take(nm, *name, *namelen))
		return 0;
	rc = judge_name(sp, txn, nm, &rec, &state);
	if (rc != 0 || state == CS_MISSING || state == CS_CORRUPT)
		return rc;
	*orphan = state != CS_OK;
	spool_rec_free(&rec);
	return 0;
}

/* bodyx: name | be32 piece; right when the file is good. An orphan body
 * is one problem however many pieces it has: the body pass (after this
 * one) reports it while its first piece is there; else piece 1 does.
 * Other orphan pieces are ORPHAN_QUIET: removed with it, not counted. */
static int check_bodyx(struct spool *sp, MDB_txn *txn, const MDB_val *k,
		       const char **name, size_t *namelen, int *orphan)
{
	MDB_val whole = *k, v;
	const uint8_t *ip;
	int rc;

	*orphan = 1;
	*name = k->mv_data;
	*namelen = k->mv_size;
	if (k->mv_size <= 4)
		return 0;
	whole.mv_size -= 4;
	rc = check_body(sp, txn, &whole, name, namelen, orphan);
	if (rc != 0 || !*orphan)
		return rc;
	ip = (const uint8_t *)k->mv_data + whole.mv_size;
	rc = mdb_get(txn, sp->dbi[T_BODY], &whole, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return spool_mdb_err(rc);
	if (rc == 0 || ip[0] != 0 || ip[1] != 0 || ip[2] != 0 || ip[3] != 1)
		*orphan = ORPHAN_QUIET;
	return 0;
}

/* Passes 2-5: every entry of table t; orphans are reported as kind and,
 * with fix, deleted through the iterating cursor. */
static int pass_entries(struct spool *sp, MDB_txn *txn, int t,
			entry_check check, int kind, struct spool_report *rep,
			int fix)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(txn, sp->dbi[t], &cur);
	if (rc != 0)
		return spool_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const char *name;
		size_t namelen;
		int orphan;

		rc = check(sp, txn, &k, &name, &namelen, &orphan);
		if (rc != 0)
			goto err_after_cursor;
		if (!orphan)
			continue;
		if (orphan != ORPHAN_QUIET)
			report_add(rep, kind, name, namelen);
		if (fix) {
			rc = mdb_cursor_del(cur, 0);
			if (rc != 0) {
				rc = spool_mdb_err(rc);
				goto err_after_cursor;
			}
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);

err_after_cursor:
	mdb_cursor_close(cur);
	return rc;
}

/* ANALYZE (and with fix, REPAIR) inside txn; fills rep from scratch. */
int spool_analyze_txn(struct spool *sp, MDB_txn *txn, struct spool_report *rep,
		      int fix)
{
	int rc;

	report_init(rep);
	rc = pass_ctl(sp, txn, rep, fix);
	if (rc == 0)
		rc = pass_entries(sp, txn, T_DUE, check_due, PROB_DUE_ORPHAN,
				  rep, fix);
	if (rc == 0)
		rc = pass_entries(sp, txn, T_BYUSER, check_byuser,
				  PROB_BYUSER_ORPHAN, rep, fix);
	/* pieces first: check_bodyx looks for the first piece */
	if (rc == 0)
		rc = pass_entries(sp, txn, T_BODYX, check_bodyx,
				  PROB_BODY_ORPHAN, rep, fix);
	if (rc == 0)
		rc = pass_entries(sp, txn, T_BODY, check_body, PROB_BODY_ORPHAN,
				  rep, fix);
	if (rc != 0)
		spool_report_free(rep);
	return rc;
}

/* ANALYZE MAIL: check in one read transaction, change nothing. */
int spool_analyze(struct spool *sp, struct spool_report *rep)
{
	MDB_txn *txn;
	int rc;

	report_init(rep);
	rc = mdb_txn_begin(sp->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return spool_mdb_err(rc);
	rc = spool_analyze_txn(sp, txn, rep, 0);
	mdb_txn_abort(txn);
	return rc;
}

/* REPAIR, inside spool_apply's write transaction: res->value = problems
 * fixed. */
int apply_repair(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		 struct spool_result *res)
{
	struct spool_report rep;
	int rc;

	if (c->u.repair.flags != 0) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	rc = spool_analyze_txn(sp, txn, &rep, 1);
	if (rc != 0)
		return rc;
	res->status = 0;
	res->value = spool_report_total(&rep);
	spool_report_free(&rep);
	return 0;
}

/* Write or delete one raw entry of the named table (tests and tools). */
static int raw_op(struct spool *sp, const char *table, const void *k,
		  size_t klen, const void *v, size_t vlen, int del)
{
	MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
	MDB_txn *txn;
	int t = spool_table_lookup(table), rc;

	if (t < 0 || k == NULL || klen == 0 || (!del && v == NULL && vlen))
		return SPOOL_E_INVAL;
	if (v == NULL)
		val.mv_data = (void *)"";
	rc = mdb_txn_begin(sp->env, NULL, 0, &txn);
	if (rc != 0)
		return spool_mdb_err(rc);
	rc = del ? mdb_del(txn, sp->dbi[t], &key, NULL)
		 : mdb_put(txn, sp->dbi[t], &key, &val, 0);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_NOTFOUND ? SPOOL_E_NOTFOUND
					  : spool_mdb_err(rc);
	}
	rc = mdb_txn_commit(txn);
	return rc == 0 ? 0 : spool_mdb_err(rc);
}

int spool_raw_put(struct spool *sp, const char *table, const void *k,
		  size_t klen, const void *v, size_t vlen)
{
	return raw_op(sp, table, k, klen, v, vlen, 0);
}

int spool_raw_del(struct spool *sp, const char *table, const void *k,
		  size_t klen)
{
	return raw_op(sp, table, k, klen, NULL, 0, 1);
}
