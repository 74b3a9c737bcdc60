/*
 * control_mail.c — the mail commands of seed Table 18-3 on the node:
 * show mail, send mail (REQUEUE) and remove mail (REMOVE); analyze mail is
 * in control_analyze.c, the proposals per file in control_batch.c.
 *
 * Owns: which control files a command selects and how they are numbered,
 * the privilege rule for mail (an ordinary user sees and acts on the
 * control files whose user-name is their Unix user name; admin on every
 * file), and the display of a control file (sender by the header rule of
 * seed 18.1.3, recipients and their state, claim holder, next attempt).
 *
 * Selection: the files of one user (admin: user names compared without
 * case, as OpenVMS does; ordinary users: exactly their own name) or, for
 * admin without a user, every file; in control-file name order, which is
 * creation order, numbered from 1. --entry N picks the Nth of that list,
 * --name the file of that name. Entry numbers are the same on every node
 * that has applied the same commands.
 *
 * Reads are this node's copy of the spool; changes go through raft
 * (ctl_propose), so "no quorum" is answered as such. A file under a live
 * delivery claim is not removed or requeued (the spool refuses it); the
 * answer names the holder and its lease. Every handler answers exactly
 * once (control_impl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spool/codec/ctlname.h"
#include "spool/codec/sender.h"
#include "src/base/clock.h"
#include "src/control/control_impl.h"

#define AFTER_MAX_MS (10ull * 366 * 24 * 3600 * 1000) /* ten years */
#define SENDER_MAX 1024
#define TIME_MAX_MS (4102444800000ull) /* year 2100 */

/* ---- selection ---- */

void ctl_sel_free(struct ctl_mail_sel *sel)
{
	for (size_t i = 0; i < sel->n; i++)
		free(sel->items[i].name);
	free(sel->items);
	sel->items = NULL;
	sel->n = sel->cap = 0;
}

/*
 * Read the selection arguments (user, entry, name) and apply the privilege
 * rule. 0, or -1 after answering.
 */
static int sel_init(struct ctl_req *req, struct ctl_mail_sel *sel,
		    int use_entry)
{
	const char *user = NULL, *name = NULL;
	char own[CTLNAME_USER_MAX + 1];
	uint64_t entry = 0;

	memset(sel, 0, sizeof(*sel));
	if (ctl_arg_str(req, "user", 0, CTLNAME_USER_MAX, &user) < 0 ||
	    (use_entry &&
	     (ctl_arg_u64(req, "entry", 0, 1, UINT32_MAX, &entry) < 0 ||
	      ctl_arg_str(req, "name", 0, SPOOL_NAME_MAX, &name) < 0)))
		return -1;
	if (entry != 0 && name != NULL) {
		ctl_req_fail(req, "usage",
			     "%s: give --entry or --name, not both",
			     req->cmd->name);
		return -1;
	}
	if (user != NULL && !ctlname_user_ok(user)) {
		ctl_req_fail(req, "usage", "%s: \"%s\" is not a user name",
			     req->cmd->name, user);
		return -1;
	}
	if (!req->admin) {
		if (ctl_req_username(req, own, sizeof(own)) != 0 ||
		    !ctlname_user_ok(own)) {
			ctl_req_fail(req, "failed",
				     "%s: your uid %ld has no user name that "
				     "can own mail",
				     req->cmd->name, (long)req->uid);
			return -1;
		}
		if (user != NULL && strcmp(user, own) != 0) {
			ctl_req_fail(req, "not_admin",
				     "permission denied: %s of user %s needs "
				     "admin (root or a member of group %s); "
				     "you may act on your own mail (%s)",
				     req->cmd->name, user,
				     req->ctl->conf.admin_group, own);
			return -1;
		}
		memcpy(sel->user, own, strlen(own) + 1);
		sel->exact = 1;
	} else if (user != NULL) {
		memcpy(sel->user, user, strlen(user) + 1);
	}
	sel->only_entry = entry;
	sel->only_name = name;
	return 0;
}

static int sel_visit(const struct spool_ctl *c, void *arg)
{
	struct ctl_mail_sel *sel = arg;
	struct ctl_sel_item *it;

	if (sel->user[0] != '\0' &&
	    (sel->exact ? strcmp(c->rec.user, sel->user)
			: strcasecmp(c->rec.user, sel->user)) != 0)
		return 0;
	sel->scope++;
	if (sel->only_entry != 0 && sel->scope != sel->only_entry)
		return 0;
	if (sel->only_name != NULL && strcmp(c->name, sel->only_name) != 0)
		return 0;
	if (sel->pred != NULL && !sel->pred(&c->rec, sel->pred_arg))
		return 0;
	if (sel->n == sel->cap) {
		size_t cap = sel->cap ? sel->cap * 2 : 64;
		struct ctl_sel_item *p = realloc(sel->items, cap * sizeof(*p));
		if (p == NULL) {
			sel->nomem = 1;
			return 1;
		}
		sel->items = p;
		sel->cap = cap;
	}
	it = &sel->items[sel->n];
	it->name = strdup(c->name);
	if (it->name == NULL) {
		sel->nomem = 1;
		return 1;
	}
	it->entry = sel->scope;
	sel->n++;
	return 0;
}

/* Collect the selected files. 0, or -1 after answering (nothing selected
 * by --entry or --name, or the spool failed). */
int ctl_sel_collect(struct ctl_req *req, struct ctl_mail_sel *sel)
{
	struct spool *sp = req->ctl->sp;
	struct spool_ctl c;
	int rc;

	rc = spool_ctl_foreach(sp, sel->exact ? sel->user : NULL, sel_visit,
			       sel);
	if (rc < 0 || sel->nomem) {
		ctl_sel_free(sel);
		ctl_req_fail(req, "failed", "%s: %s", req->cmd->name,
			     rc < 0 ? spool_strerror(rc) : "out of memory");
		return -1;
	}
	if (sel->n > 0 || sel->pred != NULL)
		return 0;
	if (sel->only_entry != 0) {
		ctl_req_fail(
		    req, "not_found",
		    "%s: no entry %llu (%s%s has %llu control "
		    "file%s)",
		    req->cmd->name, (unsigned long long)sel->only_entry,
		    sel->user[0] ? "user " : "the queue", sel->user,
		    (unsigned long long)sel->scope, sel->scope == 1 ? "" : "s");
		return -1;
	}
	if (sel->only_name != NULL) {
		if (spool_ctl_get(sp, sel->only_name, &c) == 0) {
			int others = sel->exact;
			spool_ctl_free(&c);
			if (others) {
				ctl_req_fail(req, "not_admin",
					     "permission denied: control file "
					     "%s is not yours (%s)",
					     sel->only_name, sel->user);
				return -1;
			}
			ctl_req_fail(req, "not_found",
				     "%s: control file %s is not user %s's",
				     req->cmd->name, sel->only_name, sel->user);
			return -1;
		}
		ctl_req_fail(req, "not_found", "%s: no control file %s",
			     req->cmd->name, sel->only_name);
		return -1;
	}
	return 0;
}

/* ---- show mail ---- */

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* A JSON string of text from a message or a remote server: invalid UTF-8
 * and control characters become '?', so every client can decode it. */
static json_object *text_json(const char *s)
{
	size_t n = strlen(s), i = 0, o = 0;
	char *buf = malloc(n + 1);
	json_object *j;

	if (buf == NULL)
		return json_object_new_string("?");
	while (i < n) {
		size_t k = utf8_len((const unsigned char *)s + i, n - i);
		if (k == 0 || s[i] == 0x7f ||
		    (k == 1 && (unsigned char)s[i] < 0x20 && s[i] != '\t')) {
			buf[o++] = '?';
			i++;
			continue;
		}
		memcpy(buf + o, s + i, k);
		o += k;
		i += k;
	}
	buf[o] = '\0';
	j = json_object_new_string(buf);
	free(buf);
	return j;
}

static const char *rcpt_state_name(int st)
{
	switch (st) {
	case RCPT_PENDING:
		return "pending";
	case RCPT_DELIVERED:
		return "delivered";
	case RCPT_FAILED:
		return "failed";
	case RCPT_BOUNCED:
		return "bounced";
	default:
		return "?";
	}
}

/* 1 if recipient state st passes the /RECIPIENT filter. */
static int rcpt_wanted(int st, const char *filter)
{
	if (strcmp(filter, "sent") == 0)
		return st == RCPT_DELIVERED;
	if (strcmp(filter, "unsent") == 0)
		return st == RCPT_PENDING;
	if (strcmp(filter, "failed") == 0)
		return st == RCPT_FAILED || st == RCPT_BOUNCED;
	return 1;
}

static const char *kind_name(int kind)
{
	return kind == KIND_BOUNCE	 ? "bounce"
	       : kind == KIND_POSTMASTER ? "postmaster"
					 : "mail";
}

/* The sender shown for a control file: the first header of the seed's
 * 18.1.3 rule, else the envelope sender. */
static void entry_sender(struct spool *sp, const struct spool_ctl *c,
			 json_object *o)
{
	char buf[SENDER_MAX];
	const char *which = NULL;
	void *body = NULL;
	size_t len = 0;
	int rc = SPOOL_E_NOTFOUND;

	if (spool_body_get(sp, c->name, &body, &len) == 0)
		rc = sender_from_headers(body, len, buf, sizeof(buf), &which);
	free(body);
	if (rc >= 0 && buf[0] != '\0') {
		json_object_object_add(o, "sender", text_json(buf));
		json_object_object_add(
		    o, "sender_header",
		    json_object_new_string(which != NULL ? which : ""));
	} else {
		json_object_object_add(o, "sender", text_json(c->rec.sender));
		json_object_object_add(o, "sender_header",
				       json_object_new_string(""));
	}
}

/* One control file as shown by show mail; NULL if it vanished. */
static json_object *entry_json(struct spool *sp, const struct ctl_sel_item *it,
			       int full, const char *filter, uint64_t now)
{
	const struct spool_rec *r;
	struct spool_ctl c;
	json_object *o, *rcpts;
	int live;

	if (spool_ctl_get(sp, it->name, &c) != 0)
		return NULL;
	r = &c.rec;
	live = r->claim.node != 0 && now < r->claim.lease_end;
	o = json_object_new_object();
	json_object_object_add(o, "entry",
			       json_object_new_int64((int64_t)it->entry));
	json_object_object_add(o, "name", json_object_new_string(c.name));
	json_object_object_add(o, "user", json_object_new_string(r->user));
	json_object_object_add(o, "size",
			       json_object_new_int64((int64_t)r->body_size));
	json_object_object_add(o, "created",
			       json_object_new_int64((int64_t)r->created_ms));
	entry_sender(sp, &c, o);
	json_object_object_add(o, "envelope_sender", text_json(r->sender));
	json_object_object_add(o, "state",
			       json_object_new_string(r->hold ? "held"
						      : live  ? "delivering"
							      : "queued"));
	json_object_object_add(o, "held", json_object_new_boolean(r->hold));
	json_object_object_add(o, "attempts",
			       json_object_new_int64((int64_t)r->attempts));
	json_object_object_add(o, "next_attempt",
			       json_object_new_int64((int64_t)r->next_ms));
	if (r->claim.node != 0) {
		json_object *cl = json_object_new_object();
		json_object_object_add(
		    cl, "node", json_object_new_int64((int64_t)r->claim.node));
		json_object_object_add(
		    cl, "lease_end",
		    json_object_new_int64((int64_t)r->claim.lease_end));
		json_object_object_add(
		    cl, "fence",
		    json_object_new_int64((int64_t)r->claim.fence));
		json_object_object_add(cl, "live",
				       json_object_new_boolean(live));
		json_object_object_add(o, "claim", cl);
	} else {
		json_object_object_add(o, "claim", NULL);
	}
	rcpts = json_object_new_array();
	for (uint32_t i = 0; i < r->nrcpt; i++) {
		const struct spool_rcpt *rc = &r->rcpt[i];
		json_object *ro;
		if (!rcpt_wanted(rc->state, filter))
			continue;
		ro = json_object_new_object();
		json_object_object_add(ro, "address", text_json(rc->addr));
		json_object_object_add(
		    ro, "state",
		    json_object_new_string(rcpt_state_name(rc->state)));
		if (full) {
			json_object_object_add(
			    ro, "attempts",
			    json_object_new_int64((int64_t)rc->attempts));
			json_object_object_add(
			    ro, "last",
			    json_object_new_int64((int64_t)rc->last_ms));
			json_object_object_add(ro, "reply",
					       text_json(rc->reply));
			json_object_object_add(ro, "orcpt",
					       text_json(rc->orcpt));
		}
		json_object_array_add(rcpts, ro);
	}
	json_object_object_add(o, "recipients", rcpts);
	json_object_object_add(o, "recipients_total",
			       json_object_new_int64((int64_t)r->nrcpt));
	if (full) {
		json_object_object_add(
		    o, "kind", json_object_new_string(kind_name(r->kind)));
		json_object_object_add(
		    o, "origin_node",
		    json_object_new_int64((int64_t)r->origin_node));
		json_object_object_add(o, "client", text_json(r->client));
		json_object_object_add(o, "helo", text_json(r->helo));
		json_object_object_add(o, "hops",
				       json_object_new_int64((int64_t)r->hops));
		json_object_object_add(o, "envid", text_json(r->envid));
		json_object_object_add(
		    o, "login", text_json(r->login != NULL ? r->login : ""));
	}
	spool_ctl_free(&c);
	return o;
}

void ctl_show_mail(struct ctl_req *req)
{
	struct control *ctl = req->ctl;
	struct ctl_mail_sel sel;
	const char *filter = "all";
	json_object *result, *entries;
	uint64_t now = clock_wall_ms();
	int full;

	if (sel_init(req, &sel, 1) != 0 ||
	    ctl_arg_bool(req, "full", &full) < 0 ||
	    ctl_arg_str(req, "recipient", 0, 16, &filter) < 0)
		return;
	if (strcmp(filter, "all") && strcmp(filter, "failed") &&
	    strcmp(filter, "sent") && strcmp(filter, "unsent")) {
		ctl_req_fail(req, "usage",
			     "show mail: --recipient must be all, failed, "
			     "sent or unsent");
		return;
	}
	if (ctl_sel_collect(req, &sel) != 0)
		return;
	entries = json_object_new_array();
	for (size_t i = 0; i < sel.n; i++) {
		json_object *e =
		    entry_json(ctl->sp, &sel.items[i], full, filter, now);
		if (e != NULL)
			json_object_array_add(entries, e);
	}
	ctl_sel_free(&sel);
	result = json_object_new_object();
	json_object_object_add(result, "user",
			       sel.user[0] ? json_object_new_string(sel.user)
					   : NULL);
	json_object_object_add(result, "full", json_object_new_boolean(full));
	json_object_object_add(
	    result, "count",
	    json_object_new_int64((int64_t)json_object_array_length(entries)));
	json_object_object_add(result, "entries", entries);
	json_object_object_add(result, "node",
			       json_object_new_int64((int64_t)ctl->conf.id));
	json_object_object_add(
	    result, "applied",
	    json_object_new_int64((int64_t)spool_applied(ctl->sp)));
	ctl_req_ok(req, result);
}

/* ---- send mail, remove mail ---- */

static void action_done(struct ctl_batch *b)
{
	struct ctl_req *req = b->req;
	json_object *result, *failed;
	char text[512];

	if (b->n > 0 && b->nok == 0 && b->nquorum == b->nfail) {
		ctl_batch_free(b);
		ctl_req_fail_cluster(req, CLUSTER_E_NOQUORUM, NULL);
		return;
	}
	if (b->n == 1 && b->nfail == 1) {
		const char *code = ctl_batch_code(b->status[0]);
		ctl_batch_error(req->ctl, b->items[0].name, b->status[0], text,
				sizeof(text));
		ctl_batch_free(b);
		ctl_req_fail(req, code, "%s", text);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "action",
			       json_object_new_string(b->type == CMD_REMOVE
							  ? "removed"
							  : "requeued"));
	json_object_object_add(result, "selected",
			       json_object_new_int64((int64_t)b->n));
	json_object_object_add(result, "done",
			       json_object_new_int64((int64_t)b->nok));
	failed = json_object_new_array();
	ctl_batch_failures(b, failed);
	json_object_object_add(result, "failed", failed);
	json_object_object_add(result, "failed_count",
			       json_object_new_int64((int64_t)b->nfail));
	if (b->type == CMD_REQUEUE && b->after_ms != 0)
		json_object_object_add(
		    result, "after",
		    json_object_new_int64((int64_t)b->after_ms));
	ctl_batch_free(b);
	ctl_req_ok(req, result);
}

/* Common part of send mail and remove mail. */
static void mail_action(struct ctl_req *req, int type)
{
	struct ctl_mail_sel sel;
	uint64_t after = 0;
	int force = 0, all = 0;

	if (sel_init(req, &sel, 1) != 0)
		return;
	if (type == CMD_REQUEUE &&
	    ctl_arg_u64(req, "after", 0, 0, TIME_MAX_MS, &after) < 0)
		return;
	if (type == CMD_REMOVE && (ctl_arg_bool(req, "force", &force) < 0 ||
				   ctl_arg_bool(req, "all", &all) < 0))
		return;
	if (type == CMD_REMOVE && req->admin && sel.user[0] == '\0' &&
	    sel.only_entry == 0 && sel.only_name == NULL && !all) {
		ctl_req_fail(req, "usage",
			     "remove mail: name a USER, an --entry or a "
			     "--name, or give --all to remove every control "
			     "file");
		return;
	}
	if (after != 0 && after <= clock_wall_ms())
		after = 0; /* a time past: now */
	if (after > clock_wall_ms() + AFTER_MAX_MS) {
		ctl_req_fail(req, "usage",
			     "send mail: --after is more than ten years "
			     "away");
		return;
	}
	if (ctl_sel_collect(req, &sel) != 0)
		return;
	if (ctl_batch_start(req, &sel, type, after, force, action_done, NULL) !=
	    0) {
		ctl_sel_free(&sel);
		ctl_req_fail(req, "failed", "%s: out of memory",
			     req->cmd->name);
	}
}

void ctl_send_mail(struct ctl_req *req)
{
	mail_action(req, CMD_REQUEUE);
}

void ctl_remove_mail(struct ctl_req *req)
{
	mail_action(req, CMD_REMOVE);
}
