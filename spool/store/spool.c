/*
 * spool.c — the LMDB environment of the spool: open/close, the table list,
 * key builders, and the read-only accessors other parts use (SHOW MAIL, the
 * symbiont's due list, routing tables, config).
 *
 * Owns: struct spool and its MDB_env. Does not own: applying commands
 * (apply*.c), the table names, key layouts, error mapping and record
 * helpers (store.c, the layer below: it calls nothing here), snapshots
 * (snapshot.c), ANALYZE (analyze.c).
 *
 * Every reader opens one read transaction, copies what it returns, and
 * ends the transaction: no MDB_val outlives its transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool/store/spool_impl.h"

/* Remove the LMDB files of dir so the spool starts empty. */
static int spool_wipe(const char *dir)
{
	static const char *const files[] = {"data.mdb", "lock.mdb"};
	char path[4096];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, files[i]) >=
		    (int)sizeof(path))
			return SPOOL_E_INVAL;
		if (unlink(path) != 0 && errno != ENOENT)
			return SPOOL_E_IO;
	}
	return 0;
}

/* Create the tables and check or write the schema version. */
static int spool_init_tables(struct spool *sp)
{
	MDB_txn *txn;
	MDB_val k = {6, (void *)"schema"}, v;
	uint8_t ver[4], old;
	int rc;

	rc = mdb_txn_begin(sp->env, NULL, 0, &txn);
	if (rc)
		return spool_mdb_err(rc);
	for (int i = 0; i < T__COUNT; i++) {
		rc = mdb_dbi_open(txn, spool_table_names[i], MDB_CREATE,
				  &sp->dbi[i]);
		if (rc)
			goto err_after_txn;
	}
	rc = mdb_get(txn, sp->dbi[T_META], &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto err_after_txn;
	old = rc == 0 && v.mv_size == 4 ? ((const uint8_t *)v.mv_data)[3] : 0;
	if (rc == 0 && (v.mv_size != 4 || (old != SPOOL_SCHEMA_VERSION &&
					   old != 2 && old != 3))) {
		mdb_txn_abort(txn);
		return SPOOL_E_VERSION;
	}
	/* schema 2 or 3 -> 4: split the bodies stored whole (body.c) */
	if (rc == 0 && old < 4) {
		rc = spool_body_split_all(sp, txn);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return rc;
		}
	}
	/* a new spool, or schema 2 -> 3 (which only adds the tlspolicy
	 * table, created empty above), or 3 -> 4: record the current
	 * version */
	if (rc == MDB_NOTFOUND || old != SPOOL_SCHEMA_VERSION) {
		ver[0] = ver[1] = ver[2] = 0;
		ver[3] = SPOOL_SCHEMA_VERSION;
		v.mv_data = ver;
		v.mv_size = 4;
		rc = mdb_put(txn, sp->dbi[T_META], &k, &v, 0);
		if (rc)
			goto err_after_txn;
	}
	rc = mdb_txn_commit(txn);
	return spool_mdb_err(rc);

err_after_txn:
	mdb_txn_abort(txn);
	return spool_mdb_err(rc);
}

int spool_open(struct spool **out, const char *dir, const struct spool_opts *o)
{
	struct spool *sp;
	size_t map = (o && o->map_size) ? o->map_size : (size_t)16 << 30;
	int rc;

	*out = NULL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return SPOOL_E_IO;
	if (!(o && o->keep) && (rc = spool_wipe(dir)) != 0)
		return rc;
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return SPOOL_E_NOMEM;
	rc = mdb_env_create(&sp->env);
	if (rc)
		goto err_after_alloc;
	if ((rc = mdb_env_set_maxdbs(sp->env, T__COUNT + 1)) != 0 ||
	    (rc = mdb_env_set_mapsize(sp->env, map)) != 0 ||
	    (rc = mdb_env_set_maxreaders(sp->env, 256)) != 0)
		goto err_after_env;
	rc = mdb_env_open(sp->env, dir, MDB_NOSYNC | MDB_NOTLS | MDB_NORDAHEAD,
			  0600);
	if (rc)
		goto err_after_env;
	rc = spool_init_tables(sp);
	if (rc) {
		mdb_env_close(sp->env);
		free(sp);
		return rc;
	}
	*out = sp;
	return 0;

err_after_env:
	mdb_env_close(sp->env);
err_after_alloc:
	free(sp);
	return spool_mdb_err(rc);
}

void spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	mdb_env_close(sp->env);
	free(sp);
}

uint64_t spool_applied(struct spool *sp)
{
	return sp->applied;
}

/* ---- readers ---- */

static int rtxn(struct spool *sp, MDB_txn **txn)
{
	return spool_mdb_err(mdb_txn_begin(sp->env, NULL, MDB_RDONLY, txn));
}

int spool_max_stamp(struct spool *sp, uint64_t *out)
{
	MDB_txn *txn;
	MDB_val k = {SPOOL_META_STAMP_LEN, (void *)SPOOL_META_STAMP}, v;
	int rc = rtxn(sp, &txn);

	*out = 0;
	if (rc)
		return rc;
	rc = mdb_get(txn, sp->dbi[T_META], &k, &v);
	if (rc == 0 && v.mv_size == 8)
		*out = be64_get(v.mv_data);
	mdb_txn_abort(txn);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : spool_mdb_err(rc);
}

int spool_config_load(struct spool *sp, struct spool_config *cfg)
{
	MDB_txn *txn;
	int rc = rtxn(sp, &txn);

	if (rc)
		return rc;
	rc = spool_config_read(sp, txn, cfg);
	mdb_txn_abort(txn);
	return rc;
}

/* Fill c from a ctl key/value pair (copies the bytes). */
static int ctl_fill(struct spool_ctl *c, const MDB_val *k, const MDB_val *v)
{
	memset(c, 0, sizeof(*c));
	if (k->mv_size == 0 || k->mv_size > SPOOL_NAME_MAX)
		return SPOOL_E_MALFORMED;
	memcpy(c->name, k->mv_data, k->mv_size);
	c->name[k->mv_size] = 0;
	c->raw = malloc(v->mv_size ? v->mv_size : 1);
	if (c->raw == NULL)
		return SPOOL_E_NOMEM;
	memcpy(c->raw, v->mv_data, v->mv_size);
	c->raw_len = v->mv_size;
	if (spool_rec_decode(&c->rec, c->raw, c->raw_len) != 0) {
		free(c->raw);
		c->raw = NULL;
		return SPOOL_E_MALFORMED;
	}
	return 0;
}

void spool_ctl_free(struct spool_ctl *c)
{
	if (c == NULL)
		return;
	spool_rec_free(&c->rec);
	free(c->raw);
	c->raw = NULL;
}

int spool_ctl_get(struct spool *sp, const char *name, struct spool_ctl *out)
{
	MDB_txn *txn;
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (k.mv_size == 0 || k.mv_size > SPOOL_NAME_MAX)
		return SPOOL_E_NOTFOUND;
	if ((rc = rtxn(sp, &txn)) != 0)
		return rc;
	rc = mdb_get(txn, sp->dbi[T_CTL], &k, &v);
	rc = rc ? spool_mdb_err(rc) : ctl_fill(out, &k, &v);
	mdb_txn_abort(txn);
	return rc;
}

int spool_body_get(struct spool *sp, const char *name, void **body, size_t *len)
{
	MDB_txn *txn;
	size_t nlen = strlen(name);
	int rc;

	*body = NULL;
	*len = 0;
	if (nlen == 0 || nlen > SPOOL_NAME_MAX)
		return SPOOL_E_NOTFOUND;
	if ((rc = rtxn(sp, &txn)) != 0)
		return rc;
	rc = spool_body_read(sp, txn, name, body, len);
	mdb_txn_abort(txn);
	return rc;
}

/* Visit every ctl record, or a user's through byuser. */
int spool_ctl_foreach(struct spool *sp, const char *user, spool_ctl_cb cb,
		      void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v, ck, cv;
	size_t ulen = user ? strlen(user) : 0;
	struct spool_ctl c;
	int rc, op, stop = 0;

	if ((rc = rtxn(sp, &txn)) != 0)
		return rc;
	rc = mdb_cursor_open(txn, sp->dbi[user ? T_BYUSER : T_CTL], &cur);
	if (rc)
		goto out_txn;
	op = MDB_FIRST;
	if (user) {
		k.mv_data = (void *)user;
		k.mv_size = ulen + 1; /* user and its 0 separator */
		op = MDB_SET_RANGE;
	}
	while (!stop && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (user) {
			if (k.mv_size <= ulen + 1 ||
			    memcmp(k.mv_data, user, ulen) != 0 ||
			    ((const uint8_t *)k.mv_data)[ulen] != 0)
				break;
			ck.mv_data = (uint8_t *)k.mv_data + ulen + 1;
			ck.mv_size = k.mv_size - ulen - 1;
			if (mdb_get(txn, sp->dbi[T_CTL], &ck, &cv) != 0)
				continue; /* index damage: ANALYZE reports */
		} else {
			ck = k;
			cv = v;
		}
		if (ctl_fill(&c, &ck, &cv) != 0)
			continue; /* corrupt record: ANALYZE reports */
		stop = cb(&c, arg);
		spool_ctl_free(&c);
	}
	rc = (rc == 0 || rc == MDB_NOTFOUND) ? 0 : spool_mdb_err(rc);
	mdb_cursor_close(cur);
out_txn:
	mdb_txn_abort(txn);
	return rc;
}

int spool_due_list(struct spool *sp, uint64_t now, char **names, int max)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, n = 0, op = MDB_FIRST;

	if ((rc = rtxn(sp, &txn)) != 0)
		return rc;
	rc = mdb_cursor_open(txn, sp->dbi[T_DUE], &cur);
	if (rc) {
		mdb_txn_abort(txn);
		return spool_mdb_err(rc);
	}
	while (n < max && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size <= 8 || k.mv_size - 8 > SPOOL_NAME_MAX)
			continue;
		if (be64_get(k.mv_data) > now)
			break;
		names[n] = malloc(k.mv_size - 8 + 1);
		if (names[n] == NULL) {
			rc = SPOOL_E_NOMEM;
			break;
		}
		memcpy(names[n], (uint8_t *)k.mv_data + 8, k.mv_size - 8);
		names[n][k.mv_size - 8] = 0;
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc == SPOOL_E_NOMEM) {
		while (n > 0)
			free(names[--n]);
		return rc;
	}
	return n;
}

/* Iterate a table, optionally only keys starting with prefix. */
typedef int (*raw_cb)(const MDB_val *k, const MDB_val *v, void *arg);
static int table_foreach(struct spool *sp, int t, const void *prefix,
			 size_t plen, raw_cb cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = plen ? MDB_SET_RANGE : MDB_FIRST;

	if ((rc = rtxn(sp, &txn)) != 0)
		return rc;
	rc = mdb_cursor_open(txn, sp->dbi[t], &cur);
	if (rc) {
		mdb_txn_abort(txn);
		return spool_mdb_err(rc);
	}
	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (plen &&
		    (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		if (cb(&k, &v, arg))
			break;
	}
	rc = (rc == 0 || rc == MDB_NOTFOUND) ? 0 : spool_mdb_err(rc);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

struct kv_arg {
	spool_kv_cb cb;
	void *arg;
};

/* Copy an MDB_val into a NUL-terminated buffer; 0 if it does not fit. */
static int valstr(char *buf, size_t size, const void *p, size_t n)
{
	if (n >= size)
		return 0;
	memcpy(buf, p, n);
	buf[n] = 0;
	return 1;
}

static int alias_visit(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct kv_arg *a = arg;
	char d[SPOOL_KEY_MAX + 1];

	if (!valstr(d, sizeof(d), k->mv_data, k->mv_size))
		return 0;
	return a->cb(d, "", 0, a->arg);
}

int spool_alias_foreach(struct spool *sp, spool_kv_cb cb, void *arg)
{
	struct kv_arg a = {cb, arg};

	return table_foreach(sp, T_ALIASES, NULL, 0, alias_visit, &a);
}

int spool_alias_has(struct spool *sp, const char *domain)
{
	char low[SPOOL_KEY_MAX + 1];
	size_t n = strlen(domain);
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if (n == 0 || n > SPOOL_KEY_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++)
		low[i] = (domain[i] >= 'A' && domain[i] <= 'Z')
			     ? (char)(domain[i] - 'A' + 'a')
			     : domain[i];
	if (n > 1 && low[n - 1] == '.')
		low[--n] = 0;
	if ((rc = rtxn(sp, &txn)) != 0)
		return rc;
	k.mv_data = low;
	k.mv_size = n;
	rc = mdb_get(txn, sp->dbi[T_ALIASES], &k, &v);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? spool_mdb_err(rc) : 1;
}

static int mx_visit(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct kv_arg *a = arg;
	const uint8_t *p = k->mv_data, *z = memchr(p, 0, k->mv_size);
	char d[SPOOL_KEY_MAX + 1], g[SPOOL_KEY_MAX + 1];
	size_t dl;

	if (z == NULL || (size_t)(z - p) + 3 > k->mv_size)
		return 0;
	dl = (size_t)(z - p);
	if (!valstr(d, sizeof(d), p, dl) ||
	    !valstr(g, sizeof(g), p + dl + 3, k->mv_size - dl - 3))
		return 0;
	return a->cb(d, g, ((uint64_t)p[dl + 1] << 8) | p[dl + 2], a->arg);
}

int spool_mx_foreach(struct spool *sp, const char *domain, spool_kv_cb cb,
		     void *arg)
{
	struct kv_arg a = {cb, arg};
	uint8_t pre[SPOOL_KEY_MAX + 1];
	size_t n = domain ? strlen(domain) : 0;

	if (domain == NULL)
		return table_foreach(sp, T_MX, NULL, 0, mx_visit, &a);
	if (n == 0 || n + 1 > SPOOL_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		pre[i] = (uint8_t)((domain[i] >= 'A' && domain[i] <= 'Z')
				       ? domain[i] - 'A' + 'a'
				       : domain[i]);
	if (n > 1 && pre[n - 1] == '.')
		n--;
	pre[n] = 0;
	return table_foreach(sp, T_MX, pre, n + 1, mx_visit, &a);
}

/* Decode a hosts value into "a b c" form. */
static int host_addrs(const MDB_val *v, char *buf, size_t size)
{
	struct rbuf rb;
	uint32_t n;
	size_t used = 0;

	rbuf_init(&rb, v->mv_data, v->mv_size);
	n = rbuf_u32(&rb);
	if (size == 0)
		return SPOOL_E_LIMIT;
	buf[0] = 0;
	for (uint32_t i = 0; i < n && !rb.err; i++) {
		const char *s = rbuf_str(&rb, SPOOL_ADDR_MAX);
		size_t l = strlen(s);

		if (used + l + 2 > size)
			return SPOOL_E_LIMIT;
		if (used)
			buf[used++] = ' ';
		memcpy(buf + used, s, l + 1);
		used += l;
	}
	return rbuf_done(&rb);
}

static int host_visit(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct kv_arg *a = arg;
	char name[SPOOL_KEY_MAX + 1], addrs[4096];

	if (!valstr(name, sizeof(name), k->mv_data, k->mv_size) ||
	    host_addrs(v, addrs, sizeof(addrs)) != 0)
		return 0;
	return a->cb(name, addrs, 0, a->arg);
}

int spool_host_foreach(struct spool *sp, spool_kv_cb cb, void *arg)
{
	struct kv_arg a = {cb, arg};

	return table_foreach(sp, T_HOSTS, NULL, 0, host_visit, &a);
}

/* Exact-key lookup in a table with a lower-cased key. */
static int get_lower(struct spool *sp, int t, const char *key, int domain,
		     int (*conv)(const MDB_val *, char *, size_t), char *buf,
		     size_t size)
{
	char low[SPOOL_KEY_MAX + 1];
	size_t n = strlen(key);
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if (n == 0 || n > SPOOL_KEY_MAX)
		return SPOOL_E_NOTFOUND;
	for (size_t i = 0; i < n; i++)
		low[i] = (key[i] >= 'A' && key[i] <= 'Z')
			     ? (char)(key[i] - 'A' + 'a')
			     : key[i];
	if (domain && n > 1 && low[n - 1] == '.')
		n--;
	if ((rc = rtxn(sp, &txn)) != 0)
		return rc;
	k.mv_data = low;
	k.mv_size = n;
	rc = mdb_get(txn, sp->dbi[t], &k, &v);
	rc = rc ? spool_mdb_err(rc) : conv(&v, buf, size);
	mdb_txn_abort(txn);
	return rc;
}

int spool_host_get(struct spool *sp, const char *name, char *buf, size_t size)
{
	return get_lower(sp, T_HOSTS, name, 1, host_addrs, buf, size);
}

static int peer_target(const MDB_val *v, char *buf, size_t size)
{
	return valstr(buf, size, v->mv_data, v->mv_size) ? 0 : SPOOL_E_LIMIT;
}

static int peer_visit(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct kv_arg *a = arg;
	char u[SPOOL_KEY_MAX + 1], t[SPOOL_ADDR_MAX + 1];

	if (!valstr(u, sizeof(u), k->mv_data, k->mv_size) ||
	    peer_target(v, t, sizeof(t)) != 0)
		return 0;
	return a->cb(u, t, 0, a->arg);
}

int spool_forward_foreach(struct spool *sp, spool_kv_cb cb, void *arg)
{
	struct kv_arg a = {cb, arg};

	return table_foreach(sp, T_FORWARD, NULL, 0, peer_visit, &a);
}

int spool_forward_get(struct spool *sp, const char *user, char *buf,
		      size_t size)
{
	return get_lower(sp, T_FORWARD, user, 0, peer_target, buf, size);
}

struct node_arg {
	spool_node_cb cb;
	void *arg;
};

static int node_visit(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct node_arg *a = arg;
	struct spool_node n;

	if (k->mv_size != 8 || spool_node_decode(&n, be64_get(k->mv_data),
						 v->mv_data, v->mv_size) != 0)
		return 0;
	return a->cb(&n, a->arg);
}

int spool_node_foreach(struct spool *sp, spool_node_cb cb, void *arg)
{
	struct node_arg a = {cb, arg};

	return table_foreach(sp, T_NODES, NULL, 0, node_visit, &a);
}

int spool_node_get(struct spool *sp, uint64_t id, struct spool_node *out)
{
	uint8_t key[8];
	MDB_txn *txn;
	MDB_val k = {8, key}, v;
	int rc;

	be64_put(key, id);
	if ((rc = rtxn(sp, &txn)) != 0)
		return rc;
	rc = mdb_get(txn, sp->dbi[T_NODES], &k, &v);
	rc = rc ? spool_mdb_err(rc)
		: spool_node_decode(out, id, v.mv_data, v.mv_size);
	mdb_txn_abort(txn);
	return rc;
}
