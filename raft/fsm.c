/*
 * fsm.c — libraft FSM (version 3) over the spool: apply a batch entry,
 * take an async snapshot, restore one. Owns the snapshot read transaction
 * and the snapshot buffer between snapshot() and snapshot_finalize().
 * Does not own the spool. See fsm.h for who frees what.
 */
#include "raft/fsm.h"

#include <stdlib.h>
#include <string.h>

#include "raft/batch.h"
#include "raft/rlog.h"
#include "spool/codec/cmd.h"
#include "spool/codec/wire.h"

/* Raise max_stamp to the highest stamp the spool holds (meta "stamp",
 * part of every snapshot image): at start and after a restore, so the
 * leader's stamp floor (src/cluster/cluster_stamp.h) survives a restart
 * from a snapshot. Cluster time is taken to run on from now. */
static void load_max_stamp(struct rfsm *f)
{
	uint64_t st = 0;

	if (spool_max_stamp(f->sp, &st) == 0 && st > f->max_stamp) {
		f->max_stamp = st;
		f->max_stamp_mono = f->mono_ms();
	}
}

/* Record a spool environment failure: sticky, reported once. */
static int fsm_fail(struct rfsm *f, int err, const char *what)
{
	if (!f->failed) {
		f->failed = err;
		rlog_error("FSM: spool environment failure in %s: %s (%d); "
			   "this node stops applying",
			   what, spool_strerror(err), err);
		if (f->on_fatal != NULL) {
			f->on_fatal(f->fatal_arg, err);
		}
	}
	return RAFT_IOERR;
}

/* 1 when the results of the entry being applied are wanted. */
static int results_wanted(const struct rfsm *f)
{
	unsigned long long index;

	if (f->raft == NULL || f->want_index == 0) {
		return 0;
	}
	/* libraft applies entry last_applied + 1 and only then advances. */
	index = raft_last_applied(f->raft) + 1;
	return index == f->want_index && raft_state(f->raft) == RAFT_LEADER;
}

/* Apply one batch entry; see fsm.h. */
static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct rfsm *f = fsm->data;
	struct rbatch_results *res = NULL;
	struct rbatch_iter it;
	const void *p;
	size_t len;

	*result = NULL;
	if (f->failed) {
		return RAFT_IOERR;
	}
	if (f->pre.state == RFSM_PRE_RUNNING) {
		/* the pool replaces the spool: the image has this entry */
		f->skipped_entries++;
		return 0;
	}
	if (f->pre.state == RFSM_PRE_DONE) {
		/* libraft applies before the restore it was meant to do
		 * first: the spool is the image already */
		rlog_warn("FSM: applying an entry before the restore of the "
			  "image restored in the pool; taking it as restored");
		f->pre.state = RFSM_PRE_NONE;
	}
	if (rbatch_iter_init(&it, buf->base, buf->len) != 0) {
		f->malformed_entries++;
		rlog_error(
		    "FSM: malformed raft entry at index %llu (%zu bytes) "
		    "ignored",
		    f->raft ? raft_last_applied(f->raft) + 1 : 0, buf->len);
		return 0;
	}
	if (results_wanted(f)) {
		res = rbatch_results_new(it.count);
		if (res == NULL) {
			return fsm_fail(f, SPOOL_E_NOMEM, "apply");
		}
	}
	while (rbatch_iter_next(&it, &p, &len)) {
		struct spool_result sr;
		int rv;
		uint64_t st;

		memset(&sr, 0, sizeof(sr));
		if (spool_cmd_get_stamp(p, len, &st) == 0 &&
		    st > f->max_stamp) {
			f->max_stamp = st;
			f->max_stamp_mono = f->mono_ms();
		}
		rv = spool_apply(f->sp, p, len, &sr);
		if (rv != 0) {
			spool_result_free(&sr);
			rbatch_results_free(res);
			return fsm_fail(f, rv, "apply");
		}
		f->applied_cmds++;
		if (sr.status == SPOOL_E_MALFORMED ||
		    sr.status == SPOOL_E_VERSION) {
			rlog_error("FSM: malformed spool command in entry "
				   "(%zu bytes): %s",
				   len, spool_strerror(sr.status));
		}
		if (res != NULL) {
			struct wbuf wb;
			wbuf_init(&wb);
			if (spool_result_encode(&sr, &wb) != 0 ||
			    rbatch_results_add(res, wb.p, wb.len) != 0) {
				/* the proposer gets an empty result and
				 * reports a failure; the spool is fine */
				rlog_error("FSM: cannot encode a result");
				rbatch_results_add(res, NULL, 0);
			}
			wbuf_free(&wb);
		}
		spool_result_free(&sr);
	}
	f->applied_entries++;
	f->log_entries++;
	f->log_bytes += buf->len;
	*result = res;
	return 0;
}

/* Loop thread: pin the spool's state in a read transaction. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
			unsigned *n_bufs)
{
	struct rfsm *f = fsm->data;
	int rv;

	*bufs = NULL;
	*n_bufs = 0;
	if (f->snap != NULL) {
		/* left over by a snapshot_async failure without finalize */
		spool_snapshot_end(f->snap);
		f->snap = NULL;
	}
	free(f->img.base); /* the same, after rfsm_fill() */
	f->img.base = NULL;
	f->img.len = 0;
	f->snap_started_ms = f->mono_ms();
	f->snap_bytes = 0;
	/* the log this image replaces; what is applied from now on counts
	 * towards the next one */
	f->snap_log_bytes = f->log_bytes;
	f->snap_log_entries = f->log_entries;
	f->log_bytes = 0;
	f->log_entries = 0;
	rv = spool_snapshot_begin(f->sp, &f->snap);
	if (rv != 0) {
		rlog_error("FSM: cannot begin snapshot: %s",
			   spool_strerror(rv));
		f->snap = NULL;
		return RAFT_IOERR;
	}
	return 0;
}

/* Serialize the pinned state into one malloc'd buffer (any thread). */
static int serialize(struct rfsm *f, struct raft_buffer *out)
{
	struct wbuf wb;
	size_t len;
	int rv;

	wbuf_init(&wb);
	rv = spool_snapshot_write(f->snap, &wb);
	if (rv != 0) {
		wbuf_free(&wb);
		return rv == SPOOL_E_NOMEM ? RAFT_NOMEM : RAFT_IOERR;
	}
	out->base = wbuf_take(&wb, &len);
	out->len = len;
	f->snap_serialize_ms = f->mono_ms() - f->snap_started_ms;
	return 0;
}

/* Called by libraft 0.22.1 on the loop thread: serialize here unless
 * rfsm_fill() does it in the pool (fsm.h). */
static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[],
			      unsigned *n_bufs)
{
	struct rfsm *f = fsm->data;
	struct raft_buffer *arr;
	int rv;

	*bufs = NULL;
	*n_bufs = 0;
	if (f->snap == NULL) {
		return RAFT_INVALID;
	}
	if (f->deferred) {
		return 0;
	}
	arr = raft_malloc(sizeof(*arr));
	if (arr == NULL) {
		return RAFT_NOMEM;
	}
	rv = serialize(f, &arr[0]);
	if (rv != 0) {
		raft_free(arr);
		return rv;
	}
	f->snap_bytes = arr[0].len;
	*bufs = arr;
	*n_bufs = 1;
	return 0;
}

void rfsm_set_deferred(struct rfsm *f)
{
	f->deferred = 1;
}

int rfsm_fill(void *arg, struct raft_buffer **bufs, unsigned *n_bufs)
{
	struct rfsm *f = arg;
	int rv;

	*bufs = NULL;
	*n_bufs = 0;
	if (f->snap == NULL || f->img.base != NULL) {
		return RAFT_INVALID;
	}
	rv = serialize(f, &f->img);
	if (rv != 0) {
		return rv;
	}
	*bufs = &f->img;
	*n_bufs = 1;
	return 0;
}

void rfsm_fill_failed(void *arg, int rv)
{
	struct rfsm *f = arg;

	fsm_fail(f, rv == RAFT_NOMEM ? SPOOL_E_NOMEM : SPOOL_E_IO, "snapshot");
}

unsigned rfsm_next_threshold(unsigned base, size_t snap_bytes,
			     uint64_t log_bytes, uint64_t log_entries)
{
	uint64_t avg, want;

	if (log_entries == 0 || log_bytes == 0) {
		return base;
	}
	avg = log_bytes / log_entries;
	if (avg == 0) {
		avg = 1;
	}
	want = (uint64_t)snap_bytes / RFSM_LOG_RATIO_DIV / avg;
	if (want > RFSM_THRESHOLD_MAX) {
		want = RFSM_THRESHOLD_MAX;
	}
	return want > base ? (unsigned)want : base;
}

/* After a snapshot: the threshold for the next one (fsm.h). */
static void set_next_threshold(struct rfsm *f)
{
	unsigned t;

	if (f->raft == NULL || f->threshold_base == 0) {
		return;
	}
	t = rfsm_next_threshold(f->threshold_base, f->snap_bytes,
				f->snap_log_bytes, f->snap_log_entries);
	if (t != f->threshold) {
		rlog_info("FSM: next snapshot after %u entries (image %zu "
			  "bytes, entries of %llu bytes on average)",
			  t, f->snap_bytes,
			  (unsigned long long)(f->snap_log_entries
						   ? f->snap_log_bytes /
							 f->snap_log_entries
						   : 0));
		f->threshold = t;
		raft_set_snapshot_threshold(f->raft, t);
	}
}

/* Loop thread: release the transaction and the buffers. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm,
				 struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct rfsm *f = fsm->data;

	if (*bufs != NULL) {
		for (unsigned i = 0; i < *n_bufs; i++) {
			free((*bufs)[i].base); /* from wbuf_take */
		}
		raft_free(*bufs);
	}
	*bufs = NULL;
	*n_bufs = 0;
	if (f->img.base != NULL) {
		f->snap_bytes = f->img.len;
		free(f->img.base); /* from wbuf_take */
		f->img.base = NULL;
		f->img.len = 0;
	}
	if (f->snap != NULL) {
		spool_snapshot_end(f->snap);
		f->snap = NULL;
	}
	f->snapshots++;
	rlog_info("FSM: snapshot of %zu bytes: serialized in %llu ms, stored "
		  "in %llu ms",
		  f->snap_bytes, (unsigned long long)f->snap_serialize_ms,
		  (unsigned long long)(f->mono_ms() - f->snap_started_ms));
	if (f->on_snapshot != NULL)
		f->on_snapshot(f->snapshot_arg,
			       f->mono_ms() - f->snap_started_ms,
			       f->snap_bytes);
	set_next_threshold(f);
	return 0;
}

/* Replace the spool with a snapshot image. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct rfsm *f = fsm->data;
	int rv;

	if (f->failed) {
		return RAFT_IOERR;
	}
	if (f->pre.state == RFSM_PRE_DONE && f->pre.base == buf->base &&
	    f->pre.len == buf->len) {
		rv = f->pre.rv; /* rfsm_restore_run did it in the pool */
		rlog_info("FSM: the snapshot of %zu bytes was restored in the "
			  "thread pool in %llu ms",
			  buf->len, (unsigned long long)f->pre.ms);
	} else if (f->pre.state == RFSM_PRE_RUNNING) {
		/* cannot happen: the guard holds raft's put until the end */
		rlog_error("FSM: restore while the pool restores an image");
		rv = SPOOL_E_IO;
	} else {
		rv = spool_restore(f->sp, buf->base, buf->len);
	}
	f->pre.state = RFSM_PRE_NONE;
	if (rv != 0) {
		rlog_error("FSM: cannot restore a snapshot of %zu bytes: %s",
			   buf->len, spool_strerror(rv));
		fsm_fail(f, rv, "restore");
		return rv == SPOOL_E_IO || rv == SPOOL_E_FULL ? RAFT_IOERR
							      : RAFT_CORRUPT;
	}
	raft_free(buf->base);
	load_max_stamp(f);
	f->restores++;
	rlog_info("FSM: restored a snapshot of %zu bytes", buf->len);
	return 0;
}

void rfsm_init(struct rfsm *f, struct spool *sp, uint64_t (*mono_ms)(void),
	       void (*on_fatal)(void *arg, int err), void *fatal_arg)
{
	memset(f, 0, sizeof(*f));
	f->sp = sp;
	f->mono_ms = mono_ms;
	f->on_fatal = on_fatal;
	f->fatal_arg = fatal_arg;
	f->fsm.version = 3;
	f->fsm.data = f;
	f->fsm.apply = fsm_apply;
	f->fsm.snapshot = fsm_snapshot;
	f->fsm.restore = fsm_restore;
	f->fsm.snapshot_finalize = fsm_snapshot_finalize;
	f->fsm.snapshot_async = fsm_snapshot_async;
	if (sp != NULL)
		load_max_stamp(f); /* a kept spool (tools, tests) */
}

void rfsm_restore_begin(void *arg, const struct raft_buffer *buf)
{
	struct rfsm *f = arg;

	f->pre.state = RFSM_PRE_RUNNING;
	f->pre.base = buf->base;
	f->pre.len = buf->len;
	f->pre.rv = 0;
	f->pre.ms = f->mono_ms();
	f->pre.failed_then = f->failed;
}

void rfsm_restore_run(void *arg)
{
	struct rfsm *f = arg;

	/* reads only what begin wrote; the loop leaves the spool alone */
	if (f->pre.failed_then) {
		f->pre.rv = SPOOL_E_IO;
		return;
	}
	f->pre.rv = spool_restore(f->sp, f->pre.base, f->pre.len);
}

void rfsm_restore_end(void *arg, int ran)
{
	struct rfsm *f = arg;

	f->pre.ms = f->mono_ms() - f->pre.ms;
	f->pre.state = ran ? RFSM_PRE_DONE : RFSM_PRE_NONE;
}

void rfsm_set_raft(struct rfsm *f, struct raft *r)
{
	f->raft = r;
}

void rfsm_set_threshold_base(struct rfsm *f, unsigned base)
{
	f->threshold_base = base;
	f->threshold = base;
}

void rfsm_close(struct rfsm *f)
{
	free(f->img.base);
	f->img.base = NULL;
	if (f->snap != NULL) {
		spool_snapshot_end(f->snap);
		f->snap = NULL;
	}
}
