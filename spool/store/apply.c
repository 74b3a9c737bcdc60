/*
 * apply.c — spool_apply(): decode one command and run it in one LMDB write
 * transaction.
 *
 * Determinism: the outcome depends only on the spool's contents and the
 * command (its stamp is the only clock). A business refusal aborts the
 * transaction, so a refused command changes nothing; CLAIM commits the
 * names it granted and reports the others per item. A malformed command is
 * refused before any transaction. An LMDB failure, a full map or a full
 * disk included, is returned as an error: it is this node's environment,
 * not the command, so refusing would make this node diverge from the
 * others. The receiver checks for room before it proposes (452 4.3.1).
 *
 * Stamp: a command that changes the spool raises meta "stamp" to its own
 * stamp in the same transaction (spool_max_stamp), so the highest applied
 * stamp is part of the replicated state: in every snapshot image, and
 * back after a restart from one. A refused command leaves it too.
 */
#include <stdlib.h>
#include <string.h>

#include "spool/store/spool_impl.h"

/* Raise meta "stamp" to stamp inside txn (never lower it). */
static int raise_stamp(struct spool *sp, MDB_txn *txn, uint64_t stamp)
{
	MDB_val k = {SPOOL_META_STAMP_LEN, (void *)SPOOL_META_STAMP}, v;
	uint8_t b[8];
	int rc;

	if (stamp == 0)
		return 0;
	rc = mdb_get(txn, sp->dbi[T_META], &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return spool_mdb_err(rc);
	if (rc == 0 && v.mv_size == 8 && be64_get(v.mv_data) >= stamp)
		return 0;
	be64_put(b, stamp);
	v.mv_data = b;
	v.mv_size = 8;
	return spool_mdb_err(mdb_put(txn, sp->dbi[T_META], &k, &v, 0));
}

/* Run the applier of c's type inside txn. */
static int dispatch(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		    struct spool_result *res)
{
	int rc;

	/* tombstones expired by this command's stamp (the same on every node;
	 * undone with the command if it is refused) */
	if ((rc = spool_tomb_prune(sp, txn, c->stamp)) != 0)
		return rc;
	switch (c->type) {
	case CMD_NOOP:
		return 0;
	case CMD_ENQUEUE:
		return apply_enqueue(sp, txn, c, &c->u.enqueue, res);
	case CMD_CLAIM:
		return apply_claim(sp, txn, c, res);
	case CMD_RENEW:
		return apply_renew(sp, txn, c, res);
	case CMD_COMPLETE:
		return apply_complete(sp, txn, c, res);
	case CMD_REMOVE:
	case CMD_REQUEUE:
	case CMD_HOLD:
	case CMD_RELEASE:
		return apply_queue_op(sp, txn, c, res);
	case CMD_REPAIR:
		return apply_repair(sp, txn, c, res);
	default:
		return apply_table_op(sp, txn, c, res);
	}
}

int spool_apply_cmd(struct spool *sp, const struct spool_cmd *cmd,
		    struct spool_result *res)
{
	MDB_txn *txn;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = mdb_txn_begin(sp->env, NULL, 0, &txn);
	if (rc)
		return spool_mdb_err(rc);
	rc = dispatch(sp, txn, cmd, res);
	if (rc == SPOOL_E_LIMIT) {
		/* a key or value LMDB cannot hold (the same on every node):
		 * refuse the command, change nothing */
		mdb_txn_abort(txn);
		spool_result_free(res);
		res->status = rc;
		sp->applied++;
		return 0;
	}
	if (rc) {
		mdb_txn_abort(txn);
		spool_result_free(res);
		return rc;
	}
	if (res->status != 0 && cmd->type != CMD_CLAIM) {
		mdb_txn_abort(txn);
		res->flags = 0;
		res->value = 0;
	} else {
		rc = raise_stamp(sp, txn, cmd->stamp);
		if (rc) {
			mdb_txn_abort(txn);
			spool_result_free(res);
			return rc;
		}
		rc = mdb_txn_commit(txn);
		if (rc) {
			spool_result_free(res);
			return spool_mdb_err(rc);
		}
	}
	sp->applied++;
	return 0;
}

int spool_apply(struct spool *sp, const void *buf, size_t len,
		struct spool_result *res)
{
	struct spool_cmd cmd;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = spool_cmd_decode(&cmd, buf, len);
	if (rc == SPOOL_E_NOMEM)
		return rc; /* environment: the command was not applied */
	if (rc) {
		res->status = rc == SPOOL_E_VERSION ? rc : SPOOL_E_MALFORMED;
		sp->applied++;
		return 0;
	}
	rc = spool_apply_cmd(sp, &cmd, res);
	spool_cmd_free(&cmd);
	return rc;
}
