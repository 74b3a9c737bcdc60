/*
 * control_submit.c — local submission through the control socket: the
 * seed's Send From File (SFF), behind "smtpctl submit" and the sendmail
 * entry point.
 *
 * Owns: the control file of a submitted message. Its user-name is the Unix
 * user the socket's peer credentials name (SO_PEERCRED, getpwuid), never
 * anything the client sends; its name comes from ctlname_make() with that
 * user, this node's sequence and name; the client is "localhost"; the hop
 * count is the message's own Received: fields; a Received: header
 * "from local user NAME (uid N) by NODE ..." is prepended, and Date:,
 * From: and Message-ID: are added when the message lacks them. Line ends
 * are made CRLF. Bare recipient names get the cluster's domain
 * (configuration cluster_domain, else this node's domain); the default
 * envelope sender is the user at that domain. The sender rules (who may
 * give which envelope sender, -F's full name, /SUBSTITUTE_DOMAIN) are
 * submit_sender.c's.
 *
 * Protocol: a message larger than one request line arrives in several
 * "submit" requests on one connection: {"body": base64 chunk, "recipients":
 * [...], "more": true} ... then a last one without "more" (and with
 * "sender" if any). The pieces wait in the connection's scratch
 * (control_impl.h) and are dropped if it closes first or another command
 * comes in between. Limits: the
 * configuration's max_message_size and max_recipients.
 *
 * Durability: the answer (with the control file's name) is sent only after
 * the ENQUEUE is applied on the leader, i.e. on a quorum.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spool/codec/enqueue.h"
#include "spool/codec/msghdr.h"
#include "src/base/diskguard.h"
#include "src/base/ctlalloc.h"
#include "spool/codec/ctlname.h"
#include "src/base/clock.h"
#include "src/control/control_impl.h"
#include "src/base/log.h"
#include "src/base/maildate.h"
#include "src/control/submit_sender.h"

#define B64_CHUNK_MAX (CONTROL_LINE_MAX) /* base64 bytes in one request */
#define HEADERS_EXTRA 2048 /* Received:, Date:, From:, Message-ID: */

struct submit_buf {
	char *body;
	size_t len, cap;
	char **rcpt;
	size_t nrcpt, rcap;
};

static void submit_buf_free(void *p)
{
	struct submit_buf *b = p;

	if (b == NULL)
		return;
	for (size_t i = 0; i < b->nrcpt; i++)
		free(b->rcpt[i]);
	free(b->rcpt);
	free(b->body);
	free(b);
}

/* Decode base64 text s (n bytes) and append it to b. 0, -1 bad base64,
 * -2 over limit, -3 out of memory. */
static int append_b64(struct submit_buf *b, const char *s, size_t n,
		      uint64_t limit)
{
	size_t out, pad = 0;
	int k;

	if (n == 0)
		return 0;
	if (n % 4 != 0)
		return -1;
	out = n / 4 * 3;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	if (b->len + out - pad > limit)
		return -2;
	if (b->len + out + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *p;
		while (cap < b->len + out + 1)
			cap *= 2;
		p = realloc(b->body, cap);
		if (p == NULL)
			return -3;
		b->body = p;
		b->cap = cap;
	}
	k = EVP_DecodeBlock((unsigned char *)b->body + b->len,
			    (const unsigned char *)s, (int)n);
	if (k < 0 || (size_t)k != out)
		return -1;
	b->len += out - pad;
	return 0;
}

/* Take one recipient: strip <>, check, qualify a bare name. NULL (with
 * why) if refused. */
static char *rcpt_clean(const char *s, const char *domain, const char **why)
{
	size_t n = strlen(s);
	char *out;

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	if (n == 0) {
		*why = "an empty address";
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~' ||
		    s[i] == '<' || s[i] == '>') {
			*why = "blanks, control characters or <> in the "
			       "address";
			return NULL;
		}
	if (memchr(s, '@', n) != NULL) {
		if (s[n - 1] == '@' || s[0] == '@') {
			*why = "an address without a local part or domain";
			return NULL;
		}
		return strndup(s, n);
	}
	out = malloc(n + strlen(domain) + 2);
	if (out != NULL)
		sprintf(out, "%.*s@%s", (int)n, s, domain);
	if (out != NULL && strlen(out) > SPOOL_ADDR_MAX) {
		free(out);
		*why = "an address that is too long";
		return NULL;
	}
	return out;
}

/* ---- building the message ---- */

/* The message is built in a struct wbuf (spool/codec/wire.h): err is set
 * once a growth failed, and later writes do nothing. */
static void mb_str(struct wbuf *m, const char *s)
{
	wbuf_raw(m, s, strlen(s));
}

/* What the header section of a CRLF message holds. */
struct hdr_info {
	int has_headers; /* the message starts with a header field */
	int date, from, msgid;
	uint32_t received;
};

static void scan_headers(const char *msg, size_t len, struct hdr_info *h)
{
	struct msghdr_iter it;
	struct msghdr_field f;

	memset(h, 0, sizeof(*h));
	msghdr_iter_init(&it, msg, len);
	while (msghdr_iter_next(&it, &f)) {
		h->has_headers = 1;
		h->date |= msghdr_field_is(&f, "date");
		h->from |= msghdr_field_is(&f, "from");
		h->msgid |= msghdr_field_is(&f, "message-id");
		h->received += (uint32_t)msghdr_field_is(&f, "received");
	}
}

/* The message with CRLF line ends (a bare CR or LF becomes CRLF), ending
 * in CRLF. */
static void normalize(struct wbuf *m, const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
			i++;
			continue;
		}
		if (s[i] != '\r' && s[i] != '\n')
			continue;
		wbuf_raw(m, s + start, i - start);
		wbuf_raw(m, "\r\n", 2);
		start = i + 1;
	}
	wbuf_raw(m, s + start, n - start);
	if (m->len > 0 && (m->len < 2 || m->p[m->len - 2] != '\r' ||
			   m->p[m->len - 1] != '\n'))
		wbuf_raw(m, "\r\n", 2);
}

/* ---- the request ---- */

struct submit_op {
	char name[SPOOL_NAME_MAX + 1];
	char user[CTLNAME_USER_MAX + 1];
	char sender[SPOOL_ADDR_MAX + 1];
	size_t size;
	size_t nrcpt;
	uint64_t hops, hop_max;
};

static void submit_done(void *arg, int status, const struct spool_result *res)
{
	struct ctl_req *req = arg;
	struct submit_op *op = req->priv;
	json_object *result;

	req->priv = NULL;
	if (status < 0) {
		free(op);
		ctl_req_fail_cluster(req, status, NULL);
		return;
	}
	if (res->status == SPOOL_E_HOPS) {
		ctl_req_fail(req, "failed",
			     "submit: too many hops: %llu Received: headers "
			     "(hop_count_maximum is %llu)",
			     (unsigned long long)op->hops,
			     (unsigned long long)op->hop_max);
		free(op);
		return;
	}
	if (res->status != 0) {
		free(op);
		ctl_req_fail_spool(req, res->status, "submit");
		return;
	}
	log_info("control: uid %ld: submitted %s (%zu bytes, %zu recipients)",
		 (long)req->uid, op->name, op->size, op->nrcpt);
	result = json_object_new_object();
	json_object_object_add(result, "name",
			       json_object_new_string(op->name));
	json_object_object_add(result, "user",
			       json_object_new_string(op->user));
	json_object_object_add(result, "sender",
			       json_object_new_string(op->sender));
	json_object_object_add(result, "size",
			       json_object_new_int64((int64_t)op->size));
	json_object_object_add(result, "recipients",
			       json_object_new_int64((int64_t)op->nrcpt));
	free(op);
	ctl_req_ok(req, result);
}

/* Read an optional string argument that may be empty. 0, 1 absent, -1
 * answered. */
static int arg_str0(struct ctl_req *req, const char *key, size_t maxlen,
		    const char **out)
{
	json_object *v;

	if (!json_object_object_get_ex(req->args, key, &v) || v == NULL)
		return 1;
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) > maxlen ||
	    strlen(json_object_get_string(v)) !=
		(size_t)json_object_get_string_len(v)) {
		ctl_req_fail(req, "usage",
			     "submit: argument \"%s\" must be a string of at "
			     "most %zu bytes",
			     key, maxlen);
		return -1;
	}
	*out = json_object_get_string(v);
	return 0;
}

/* Build the control file from the collected pieces and propose it. */
static void submit_final(struct ctl_req *req, struct submit_buf *b,
			 const char *sender_arg, const char *fullname,
			 const struct spool_config *cfg)
{
	struct control *ctl = req->ctl;
	const char *domain = spool_cfg_mail_domain(cfg, ctl->conf.domain);
	const struct submit_domains doms = {
	    .node = ctl->conf.domain,
	    .cluster = cfg->str[CFG_CLUSTER_DOMAIN],
	    .substitute = cfg->str[CFG_SUBSTITUTE_DOMAIN]};
	char given[SPOOL_ADDR_MAX + 1];
	struct spool_rcpt *rcpts = NULL;
	struct wbuf body = {0}, msg = {0};
	struct hdr_info hi;
	struct submit_op *op;
	struct spool_cmd cmd;
	uint64_t now = clock_wall_ms();
	char date[64], line[1024];
	int rc;

	if (diskguard_low()) {
		ctl_req_fail(req, "storage_full",
			     "submit: this node's disk is under its reserve "
			     "([node] min_free_mb); try again later");
		return;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL)
		goto err_nomem;
	if (ctl_req_username(req, op->user, sizeof(op->user)) != 0 ||
	    !ctlname_user_ok(op->user)) {
		free(op);
		ctl_req_fail(req, "failed",
			     "submit: your uid %ld has no user name that can "
			     "own a control file ([A-Za-z0-9$._-], at most %d "
			     "characters)",
			     (long)req->uid, CTLNAME_USER_MAX);
		return;
	}
	if (b->nrcpt == 0) {
		free(op);
		ctl_req_fail(req, "usage", "submit: no recipients");
		return;
	}
	if (sender_arg == NULL) {
		snprintf(op->sender, sizeof(op->sender), "%s@%s", op->user,
			 domain);
	} else {
		size_t n = strlen(sender_arg);
		if (n >= 2 && sender_arg[0] == '<' &&
		    sender_arg[n - 1] == '>') {
			sender_arg++;
			n -= 2;
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)sender_arg[i] <= ' ' ||
			    (unsigned char)sender_arg[i] > '~') {
				free(op);
				ctl_req_fail(req, "usage",
					     "submit: the sender has blanks or "
					     "control characters");
				return;
			}
		snprintf(given, sizeof(given), "%.*s", (int)n, sender_arg);
		if (!req->admin && !submit_sender_own(given, op->user, &doms)) {
			ctl_req_fail(req, "not_admin",
				     "submit: only an admin may send as "
				     "\"%.200s\"; you may give your own "
				     "address (%s or %s@%s)",
				     given, op->user, op->user, domain);
			free(op);
			return;
		}
		if (n > 0 && memchr(sender_arg, '@', n) == NULL)
			snprintf(op->sender, sizeof(op->sender), "%.*s@%s",
				 (int)n, sender_arg, domain);
		else
			snprintf(op->sender, sizeof(op->sender), "%.*s", (int)n,
				 sender_arg);
	}
	/* /SUBSTITUTE_DOMAIN: the envelope sender's local domain replaced */
	snprintf(given, sizeof(given), "%s", op->sender);
	if (submit_sender_substitute(given, &doms, op->sender,
				     sizeof(op->sender)) != 0) {
		free(op);
		ctl_req_fail(req, "usage",
			     "submit: the sender is too long with the "
			     "substitute domain");
		return;
	}
	rc = ctlalloc_name(op->name, sizeof(op->name), now, op->user,
			   ctl->conf.name);
	if (rc != 0) {
		free(op);
		ctl_req_fail(req, "failed",
			     "submit: cannot name the control "
			     "file: %s",
			     spool_strerror(rc));
		return;
	}
	rcpts = calloc(b->nrcpt, sizeof(*rcpts));
	if (rcpts == NULL)
		goto err_after_op;
	for (size_t i = 0; i < b->nrcpt; i++) {
		rcpts[i].addr = b->rcpt[i];
		rcpts[i].orcpt = "";
		rcpts[i].reply = "";
	}
	normalize(&body, b->body != NULL ? b->body : "", b->len);
	scan_headers(body.p != NULL ? (const char *)body.p : "", body.len, &hi);
	maildate_format(now, date, sizeof(date));
	snprintf(line, sizeof(line),
		 "Received: from local user %s (uid %ld)\r\n\tby %s (%s) with "
		 "smtpctl submit id %s;\r\n\t%s\r\n",
		 op->user, (long)req->uid, ctl->conf.name, ctl->conf.domain,
		 op->name, date);
	mb_str(&msg, line);
	if (!hi.date) {
		snprintf(line, sizeof(line), "Date: %s\r\n", date);
		mb_str(&msg, line);
	}
	if (!hi.from) {
		char own[SPOOL_ADDR_MAX + 1];
		snprintf(given, sizeof(given), "%s@%s", op->user, domain);
		if (submit_sender_substitute(given, &doms, own, sizeof(own)) !=
			0 ||
		    submit_from_field(fullname, own, line, sizeof(line)) != 0)
			goto err_after_rcpts;
		mb_str(&msg, line);
	}
	if (!hi.msgid) {
		snprintf(line, sizeof(line), "Message-ID: <%s@%s>\r\n",
			 op->name, domain);
		mb_str(&msg, line);
	}
	if (!hi.has_headers)
		mb_str(&msg, "\r\n"); /* the text had no header section */
	submit_rewrite_headers(&msg, body.p != NULL ? (const char *)body.p : "",
			       body.len, &doms);
	free(body.p);
	body.p = NULL;
	if (msg.err || body.err)
		goto err_after_rcpts;
	op->size = msg.len;
	op->nrcpt = b->nrcpt;
	op->hops = hi.received;
	op->hop_max = cfg->num[CFG_HOP_COUNT_MAXIMUM];
	enqueue_cmd(&cmd, 0,
		    &(struct enqueue_msg){.name = op->name,
					  .user = op->user,
					  .sender = op->sender,
					  .client = "localhost",
					  .helo = "localhost",
					  .kind = KIND_MAIL,
					  .hops = hi.received,
					  .origin_node = ctl->conf.id,
					  .body_size = msg.len,
					  .nrcpt = (uint32_t)b->nrcpt,
					  .rcpt = rcpts,
					  .body = msg.p,
					  .body_len = msg.len});
	req->priv = op;
	rc = ctl_propose(req, &cmd, submit_done, req); /* copies the command */
	free(msg.p);
	free(rcpts);
	if (rc < 0) {
		req->priv = NULL;
		free(op);
		ctl_req_fail_cluster(req, rc, NULL);
	}
	return;

err_after_rcpts:
	free(msg.p);
	free(body.p);
	free(rcpts);
err_after_op:
	free(op);
err_nomem:
	ctl_req_fail(req, "failed", "submit: out of memory");
}

void ctl_submit(struct ctl_req *req)
{
	struct control *ctl = req->ctl;
	struct ctl_scratch *scr = ctl_req_scratch(req);
	struct spool_config *cfg;
	struct submit_buf *b;
	const char *body = NULL, *sender = NULL, *fullname = NULL, *domain;
	json_object *rcpts = NULL;
	const char *code = "failed";
	char err[512];
	int more, rc;

	if (arg_str0(req, "body", B64_CHUNK_MAX, &body) < 0 ||
	    arg_str0(req, "sender", SPOOL_ADDR_MAX, &sender) < 0 ||
	    arg_str0(req, "full_name", 1024, &fullname) < 0 ||
	    ctl_arg_bool(req, "more", &more) < 0 ||
	    ctl_arg_strv(req, "recipients", 0, SPOOL_RCPT_MAX, SPOOL_ADDR_MAX,
			 &rcpts) < 0)
		return;
	if (scr == NULL) {
		ctl_req_fail(req, "failed", "submit: the client went away");
		return;
	}
	cfg = malloc(sizeof(*cfg));
	if (cfg == NULL || (rc = spool_config_load(ctl->sp, cfg)) < 0) {
		free(cfg);
		ctl_req_fail(req, "failed",
			     "submit: cannot read the "
			     "configuration");
		return;
	}
	domain = spool_cfg_mail_domain(cfg, ctl->conf.domain);
	if (scr->p == NULL) {
		scr->p = calloc(1, sizeof(struct submit_buf));
		scr->free_fn = submit_buf_free;
		scr->owner = req->cmd;
		if (scr->p == NULL) {
			free(cfg);
			ctl_req_fail(req, "failed", "submit: out of memory");
			return;
		}
	}
	b = scr->p;
	rc = append_b64(b, body != NULL ? body : "",
			body != NULL ? strlen(body) : 0,
			cfg->num[CFG_MAX_MESSAGE_SIZE]);
	if (rc != 0) {
		submit_buf_free(scr->p);
		scr->p = NULL;
		if (rc == -2)
			ctl_req_fail(
			    req, "failed",
			    "submit: the message is larger than the "
			    "cluster's limit of %llu bytes "
			    "(max_message_size)",
			    (unsigned long long)cfg->num[CFG_MAX_MESSAGE_SIZE]);
		else if (rc == -1)
			ctl_req_fail(req, "usage",
				     "submit: \"body\" is not base64");
		else
			ctl_req_fail(req, "failed", "submit: out of memory");
		free(cfg);
		return;
	}
	for (size_t i = 0; rcpts != NULL && i < json_object_array_length(rcpts);
	     i++) {
		const char *why = NULL,
			   *a = json_object_get_string(
			       json_object_array_get_idx(rcpts, i));
		char *r;
		if (b->nrcpt >= cfg->num[CFG_MAX_RECIPIENTS]) {
			snprintf(
			    err, sizeof(err),
			    "submit: more than %llu recipients "
			    "(max_recipients)",
			    (unsigned long long)cfg->num[CFG_MAX_RECIPIENTS]);
			goto out_drop;
		}
		r = rcpt_clean(a, domain, &why);
		if (r == NULL) {
			snprintf(err, sizeof(err),
				 "submit: recipient \"%.*s\": %s", 200, a,
				 why ? why : "out of memory");
			code = why ? "usage" : "failed";
			goto out_drop;
		}
		if (b->nrcpt == b->rcap) {
			size_t cap = b->rcap ? b->rcap * 2 : 16;
			char **v = realloc(b->rcpt, cap * sizeof(*v));
			if (v == NULL) {
				free(r);
				snprintf(err, sizeof(err),
					 "submit: out of memory");
				goto out_drop;
			}
			b->rcpt = v;
			b->rcap = cap;
		}
		b->rcpt[b->nrcpt++] = r;
	}
	if (more) {
		json_object *result = json_object_new_object();
		json_object_object_add(result, "received",
				       json_object_new_int64((int64_t)b->len));
		json_object_object_add(
		    result, "recipients",
		    json_object_new_int64((int64_t)b->nrcpt));
		free(cfg);
		ctl_req_ok(req, result);
		return;
	}
	scr->p = NULL; /* the last piece: the message is complete */
	if (fullname != NULL && !submit_fullname_ok(fullname)) {
		snprintf(err, sizeof(err),
			 "submit: the full name has control characters or is "
			 "longer than 200 bytes");
		code = "usage";
		goto out_drop;
	}
	submit_final(req, b, sender, fullname, cfg);
	submit_buf_free(b);
	free(cfg);
	return;

out_drop:
	/* drop the pieces before answering: the answer may start the
	 * connection's next request */
	submit_buf_free(scr->p);
	scr->p = NULL;
	free(cfg);
	ctl_req_fail(req, code, "%s", err);
}
