/*
 * control_debug.c — test hooks: the control server's "debug" commands, for
 * the integration tests, benchmarks and checks of replication. They are
 * linked into the test daemon only (build/test/smtpclusterd, whose main.o
 * is compiled with -DSMTPCLUSTER_TESTHOOKS and calls testhooks_register()
 * at start-up); the production daemon does not contain them and answers
 * "debug ..." like any unknown command. One of them writes this node's
 * spool outside raft.
 *   debug noop           propose a NOOP; answers the spool's result and
 *                        this node's applied count
 *   debug snapshot-hash  SHA-256 of this node's spool snapshot image
 *   debug enqueue        propose COUNT ENQUEUE commands of SIZE-byte
 *                        bodies, at most ENQ_WINDOW in flight (stops
 *                        early, counting the rest as failed, when the
 *                        node is stopping)
 *   debug claim          propose a CLAIM of one control file for this
 *                        node with a given lease, as a symbiont would
 *                        (tests of remove mail under a claim)
 *   debug damage         damage THIS node's spool directly (spool_raw_put
 *                        / spool_raw_del; not replicated), so that tests
 *                        can check that analyze mail finds it and a
 *                        replicated REPAIR fixes it
 *
 * Owns: the hooks' command table (testhook_cmds[]) and its registration,
 * the synthetic messages of debug enqueue (user TCPIP$SMTP, one recipient
 * bench@remote.test, names from ctlname_make with this node's sequence).
 * Does not own: the socket or dispatch (src/control/control.c,
 * control_dispatch.c); the handlers use the control server's handler API
 * (src/control/control_impl.h) like any other command.
 *
 * debug snapshot-hash serializes the whole spool in memory on the loop
 * thread: fine for tests, not for a production spool of gigabytes.
 * Failures are answered like any command's ("usage", "failed",
 * "no_quorum").
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spool/codec/enqueue.h"
#include "src/base/clock.h"
#include "src/base/ctlalloc.h"
#include "spool/codec/ctlname.h"
#include "spool/codec/wire.h"
#include "src/control/control_impl.h"
#include "src/base/log.h"
#include "src/testhooks/testhooks.h"

#define ENQ_WINDOW 64 /* proposals in flight at once */
#define ENQ_COUNT_MAX 1000000
#define FRAME_HEADROOM 65536 /* what a frame carries besides the body */
#define ENQ_USER "TCPIP$SMTP"
#define ENQ_RCPT "bench@remote.test"

/* ---- debug noop ---- */

static void noop_done(void *arg, int status, const struct spool_result *res)
{
	struct ctl_req *req = arg;
	struct control *ctl = req->ctl;
	json_object *result;

	if (status < 0) {
		ctl_req_fail_cluster(req, status, NULL);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(
	    result, "status",
	    json_object_new_string(
		res->status == 0 ? "ok" : spool_errname(res->status)));
	json_object_object_add(result, "node",
			       json_object_new_int64((int64_t)ctl->conf.id));
	if (!ctl->stopping)
		json_object_object_add(
		    result, "applied",
		    json_object_new_int64((int64_t)spool_applied(ctl->sp)));
	ctl_req_ok(req, result);
}

static void ctl_debug_noop(struct ctl_req *req)
{
	struct spool_cmd cmd;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_NOOP;
	rc = ctl_propose(req, &cmd, noop_done, req);
	if (rc < 0)
		ctl_req_fail_cluster(req, rc, NULL);
}

/* ---- debug snapshot-hash ---- */

static void ctl_debug_snapshot_hash(struct ctl_req *req)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned mdlen = 0;
	struct wbuf wb;
	json_object *result;
	int rc;

	wbuf_init(&wb);
	rc = spool_snapshot(req->ctl->sp, &wb);
	if (rc == 0 && wb.err != 0)
		rc = wb.err;
	if (rc != 0) {
		wbuf_free(&wb);
		ctl_req_fail(req, "failed", "debug snapshot-hash: %s",
			     spool_strerror(rc));
		return;
	}
	if (EVP_Digest(wb.p, wb.len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		wbuf_free(&wb);
		ctl_req_fail(req, "failed",
			     "debug snapshot-hash: SHA-256 "
			     "failed");
		return;
	}
	for (unsigned i = 0; i < mdlen; i++) {
		hex[2 * i] = hexd[md[i] >> 4];
		hex[2 * i + 1] = hexd[md[i] & 15];
	}
	hex[2 * mdlen] = '\0';
	result = json_object_new_object();
	json_object_object_add(result, "sha256", json_object_new_string(hex));
	json_object_object_add(
	    result, "applied",
	    json_object_new_int64((int64_t)spool_applied(req->ctl->sp)));
	json_object_object_add(result, "bytes",
			       json_object_new_int64((int64_t)wb.len));
	json_object_object_add(
	    result, "node", json_object_new_int64((int64_t)req->ctl->conf.id));
	wbuf_free(&wb);
	ctl_req_ok(req, result);
}

/* ---- debug enqueue ---- */

struct enq {
	struct ctl_req *req;
	uint64_t count;	   /* asked */
	uint64_t size;	   /* body bytes */
	uint64_t next;	   /* proposals started */
	uint64_t inflight; /* proposals not yet answered */
	uint64_t ok;
	uint64_t failed;
	uint64_t noquorum; /* failures that were CLUSTER_E_NOQUORUM */
	char first_err[160];
	char sender[NODECONF_STR + 8];
	char *body;
	int filling; /* inside enq_fill(): callbacks must not re-enter */
	int aborted; /* the node is stopping: propose no more */
};

/* Fill a synthetic message of exactly size bytes. */
static void enq_body(char *body, size_t size, const char *sender)
{
	char hdr[512];
	size_t h, off;

	h = (size_t)snprintf(hdr, sizeof(hdr),
			     "From: <%s>\r\nTo: <" ENQ_RCPT ">\r\n"
			     "Subject: smtpctl debug enqueue\r\n\r\n",
			     sender);
	if (h > sizeof(hdr) - 1)
		h = sizeof(hdr) - 1;
	if (h > size)
		h = size;
	memcpy(body, hdr, h);
	for (off = h; off < size; off++) {
		size_t col = (off - h) % 78;
		body[off] = col == 76 ? '\r' : col == 77 ? '\n' : 'x';
	}
}

/* Record one failed proposal. */
static void enq_failure(struct enq *e, int status, const char *what)
{
	e->failed++;
	if (status == CLUSTER_E_NOQUORUM)
		e->noquorum++;
	if (status == CLUSTER_E_SHUTDOWN)
		e->aborted = 1;
	if (e->first_err[0] == '\0')
		snprintf(e->first_err, sizeof(e->first_err), "%s", what);
}

static void enq_finish(struct enq *e)
{
	struct ctl_req *req = e->req;
	uint64_t failed = e->failed + (e->count - e->next);
	json_object *result;

	if (e->ok == 0 && e->noquorum > 0) {
		free(e->body);
		free(e);
		ctl_req_fail_cluster(req, CLUSTER_E_NOQUORUM, NULL);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "enqueued",
			       json_object_new_int64((int64_t)e->ok));
	json_object_object_add(result, "failed",
			       json_object_new_int64((int64_t)failed));
	if (e->first_err[0] != '\0')
		json_object_object_add(result, "first_error",
				       json_object_new_string(e->first_err));
	free(e->body);
	free(e);
	ctl_req_ok(req, result);
}

static void enq_fill(struct enq *e);

static void enq_done(void *arg, int status, const struct spool_result *res)
{
	struct enq *e = arg;
	char what[160];

	e->inflight--;
	if (status < 0) {
		snprintf(what, sizeof(what), "cluster error %d", status);
		enq_failure(e, status, what);
	} else if (res->status != 0) {
		snprintf(what, sizeof(what), "spool: %s",
			 spool_strerror(res->status));
		enq_failure(e, res->status, what);
	} else {
		e->ok++; /* a duplicate is a retried proposal that landed */
	}
	enq_fill(e);
}

/* Propose the next message. */
static int enq_one(struct enq *e)
{
	struct control *ctl = e->req->ctl;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_rcpt rcpt;
	struct spool_cmd cmd;
	uint64_t now = clock_wall_ms();
	int rc;

	rc = ctlalloc_name(name, sizeof(name), now, ENQ_USER, ctl->conf.name);
	if (rc != 0)
		return rc;
	memset(&rcpt, 0, sizeof(rcpt));
	rcpt.addr = ENQ_RCPT;
	rcpt.orcpt = "";
	rcpt.reply = "";
	enqueue_cmd(&cmd, 0,
		    &(struct enqueue_msg){.name = name,
					  .user = ENQ_USER,
					  .sender = e->sender,
					  .client = "127.0.0.1",
					  .helo = ctl->conf.domain,
					  .kind = KIND_MAIL,
					  .origin_node = ctl->conf.id,
					  .body_size = e->size,
					  .nrcpt = 1,
					  .rcpt = &rcpt,
					  .body = e->body,
					  .body_len = (size_t)e->size});
	return ctl_propose(e->req, &cmd, enq_done, e);
}

/* Keep up to ENQ_WINDOW proposals in flight; answer when all are done. */
static void enq_fill(struct enq *e)
{
	int rc;

	if (e->filling)
		return;
	e->filling = 1;
	while (e->next < e->count && e->inflight < ENQ_WINDOW && !e->aborted &&
	       !e->req->ctl->stopping) {
		e->next++;
		e->inflight++;
		rc = enq_one(e);
		if (rc < 0) {
			char what[160];
			e->inflight--;
			snprintf(what, sizeof(what), "cannot propose: error %d",
				 rc);
			enq_failure(e, rc, what);
		}
	}
	e->filling = 0;
	if (e->inflight == 0 &&
	    (e->next == e->count || e->aborted || e->req->ctl->stopping))
		enq_finish(e);
}

static void ctl_debug_enqueue(struct ctl_req *req)
{
	struct control *ctl = req->ctl;
	uint64_t count, size, max_size;
	struct enq *e;

	max_size = ctl->conf.max_frame > FRAME_HEADROOM
		       ? ctl->conf.max_frame - FRAME_HEADROOM
		       : 0;
	if (max_size > SPOOL_BODY_MAX)
		max_size = SPOOL_BODY_MAX;
	if (ctl_arg_u64(req, "count", 1, 1, ENQ_COUNT_MAX, &count) != 0 ||
	    ctl_arg_u64(req, "size", 1, 0, max_size, &size) != 0)
		return;
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->body = malloc(size ? size : 1)) == NULL) {
		free(e);
		ctl_req_fail(req, "failed", "debug enqueue: out of memory");
		return;
	}
	e->req = req;
	e->count = count;
	e->size = size;
	snprintf(e->sender, sizeof(e->sender), "bench@%s", ctl->conf.domain);
	enq_body(e->body, (size_t)size, e->sender);
	enq_fill(e);
}

/* ---- debug damage ---- */

/* One kind of damage: the table, and whether it deletes or writes. */
static const struct {
	const char *kind;
	const char *table;
	int del;
	int needs_rec; /* the key depends on the control file's record */
} damages[] = {
    {"ctl-corrupt", "ctl", 0, 0},      {"ctl-delete", "ctl", 1, 0},
    {"body-delete", "body", 1, 0},     {"body-orphan", "body", 0, 0},
    {"due-delete", "due", 1, 1},       {"due-orphan", "due", 0, 0},
    {"byuser-delete", "byuser", 1, 1}, {"byuser-orphan", "byuser", 0, 0},
};

static void ctl_debug_damage(struct ctl_req *req)
{
	static const char garbage[] = "\xff\xfe not a control file record";
	uint8_t key[2 * SPOOL_NAME_MAX + 16];
	const char *kind, *name;
	struct spool_ctl c;
	size_t klen = 0, nlen, d, nd = sizeof(damages) / sizeof(damages[0]);
	json_object *result;
	int rc;

	if (ctl_arg_str(req, "kind", 1, 32, &kind) != 0 ||
	    ctl_arg_str(req, "name", 1, SPOOL_NAME_MAX, &name) != 0)
		return;
	for (d = 0; d < nd; d++)
		if (strcmp(damages[d].kind, kind) == 0)
			break;
	if (d == nd) {
		ctl_req_fail(req, "usage", "debug damage: unknown kind \"%s\"",
			     kind);
		return;
	}
	nlen = strlen(name);
	if (damages[d].needs_rec) {
		rc = spool_ctl_get(req->ctl->sp, name, &c);
		if (rc != 0) {
			ctl_req_fail_spool(req, rc, "debug damage");
			return;
		}
		if (strcmp(damages[d].table, "due") == 0) {
			be64_put(key, spool_rec_due(&c.rec));
			memcpy(key + 8, name, nlen);
			klen = 8 + nlen;
		} else {
			size_t ul = strlen(c.rec.user);
			memcpy(key, c.rec.user, ul);
			key[ul] = 0;
			memcpy(key + ul + 1, name, nlen);
			klen = ul + 1 + nlen;
		}
		spool_ctl_free(&c);
	} else if (strcmp(damages[d].table, "due") == 0) {
		be64_put(key, 0); /* due at the epoch: no such entry */
		memcpy(key + 8, name, nlen);
		klen = 8 + nlen;
	} else if (strcmp(damages[d].table, "byuser") == 0) {
		memcpy(key, "ORPHAN", 7); /* with its 0 separator */
		memcpy(key + 7, name, nlen);
		klen = 7 + nlen;
	} else {
		memcpy(key, name, nlen);
		klen = nlen;
	}
	if (damages[d].del)
		rc = spool_raw_del(req->ctl->sp, damages[d].table, key, klen);
	else
		rc = spool_raw_put(req->ctl->sp, damages[d].table, key, klen,
				   garbage, sizeof(garbage) - 1);
	if (rc != 0) {
		ctl_req_fail_spool(req, rc, "debug damage");
		return;
	}
	log_warn("control: uid %ld: debug damage %s %s: this node's spool "
		 "was changed outside raft",
		 (long)req->uid, kind, name);
	result = json_object_new_object();
	json_object_object_add(result, "kind", json_object_new_string(kind));
	json_object_object_add(result, "name", json_object_new_string(name));
	json_object_object_add(
	    result, "node", json_object_new_int64((int64_t)req->ctl->conf.id));
	ctl_req_ok(req, result);
}

/* ---- debug claim ---- */

static void claim_done(void *arg, int status, const struct spool_result *res)
{
	struct ctl_req *req = arg;
	json_object *result;
	int st;

	if (status < 0) {
		ctl_req_fail_cluster(req, status, NULL);
		return;
	}
	st = res->status != 0 ? res->status
	     : res->n == 1    ? res->items[0].status
			      : SPOOL_E_MALFORMED;
	if (st != 0) {
		ctl_req_fail_spool(req, st, "debug claim");
		return;
	}
	result = json_object_new_object();
	json_object_object_add(
	    result, "node", json_object_new_int64((int64_t)req->ctl->conf.id));
	json_object_object_add(
	    result, "fence",
	    json_object_new_int64((int64_t)res->items[0].fence));
	ctl_req_ok(req, result);
}

static void ctl_debug_claim(struct ctl_req *req)
{
	const char *name;
	uint64_t lease;
	struct spool_cmd cmd;
	int rc;

	if (ctl_arg_str(req, "name", 1, SPOOL_NAME_MAX, &name) != 0 ||
	    ctl_arg_u64(req, "lease", 1, 1, 24ull * 3600 * 1000, &lease) != 0)
		return;
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = CMD_CLAIM;
	cmd.u.claim.node = req->ctl->conf.id;
	cmd.u.claim.lease_ms = lease;
	cmd.u.claim.n = 1;
	cmd.u.claim.names = &name;
	rc = ctl_propose(req, &cmd, claim_done, req);
	if (rc < 0)
		ctl_req_fail_cluster(req, rc, NULL);
}

/* ---- the hooks' table ---- */

/* Same columns as control_cmds[] (src/control/control_commands.c). */
static const struct control_cmd testhook_cmds[] = {
    {"debug noop", 1, 0, "", ctl_debug_noop},
    {"debug snapshot-hash", 1, 0, "", ctl_debug_snapshot_hash},
    {"debug enqueue", 1, 1, "count,size", ctl_debug_enqueue},
    {"debug damage", 1, 1, "kind,name", ctl_debug_damage},
    {"debug claim", 1, 1, "name,lease", ctl_debug_claim},
    {NULL, 0, 0, NULL, NULL},
};

const struct control_cmd *testhooks_control_cmds(void)
{
	return testhook_cmds;
}

int testhooks_register(void)
{
	int rc = control_register_cmds(testhook_cmds);

	if (rc == 0)
		log_info("testhooks: this daemon is a test build: the debug "
			 "commands are enabled");
	return rc;
}
