/*
 * control_impl.h — internals of the control server shared by its core
 * (control.c: socket and framing; control_cred.c: credentials;
 * control_dispatch.c: envelope, dispatch and the handler API below), the
 * command table (control_commands.c) and the handlers' files
 * (control_cluster.c, control_mail.c, control_batch.c, control_analyze.c,
 * control_service.c, control_config.c, control_change.c,
 * control_submit.c; the test hooks of src/testhooks/ in a test build).
 * Not for other modules: they use control.h.
 *
 * A request's life: control.c reads one line, control_dispatch.c checks
 * the envelope, finds the command in control_cmds[] (or a table added by
 * control_register_cmds), checks the admin flag and the argument names,
 * then calls the handler. The handler answers exactly once, now or from a
 * callback, with ctl_req_ok() or ctl_req_fail(); that frees the request.
 * If the client went away meanwhile, req->conn is NULL and the answer is
 * dropped. Once the server is stopping (ctl->stopping), handlers must not
 * start new work and must not touch the spool or the cluster from their
 * callbacks beyond what they already hold.
 */
#ifndef SRC_CONTROL_IMPL_H
#define SRC_CONTROL_IMPL_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <uv.h>

#include "spool/codec/ctlname.h"
#include "spool/store/spool.h"
#include "src/cluster/cluster.h"
#include "src/control/control.h"
#include "src/base/nodeconf.h"

#define CONTROL_PROTO_VERSION 1
#define CONTROL_LINE_MAX (1024 * 1024) /* request line, without its '\n' */
#define CONTROL_BACKLOG 64

struct ctl_conn;

#define CTL_STATS_MAX 8

/* A statistics provider of show service smtp (control_set_stats). */
struct ctl_stats {
	char section[32];
	control_stats_fn fn;
	void *arg;
};

struct control {
	uv_loop_t *loop;
	struct nodeconf conf; /* a copy: the caller's may go */
	struct cluster *cl;
	struct spool *sp;
	uv_pipe_t server;
	int server_open; /* server handle initialised, not closed */
	uv_timer_t idle; /* sweeps idle connections ([control]) */
	int idle_open;
	LIST_HEAD(ctl_conn_head, ctl_conn) conns; /* open connections */
	unsigned handles; /* handles not yet closed (server + conns) */
	unsigned reqs;	  /* requests not yet answered */
	int stopping;
	int stop_done; /* stop_cb has been called */
	void (*stop_cb)(void *arg);
	void *stop_arg;
	struct ctl_stats stats[CTL_STATS_MAX];
	unsigned nstats;
	control_service_fn service_fn; /* set service smtp's hook, or NULL */
	void *service_arg;
};

struct control_cmd;

#define CTL_USER_NAME_MAX 255 /* a longer passwd name counts as none */

struct ctl_req {
	struct control *ctl;
	struct ctl_conn *conn; /* NULL once the client went away */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int admin;
	int has_user;			  /* user is the uid's name */
	char user[CTL_USER_NAME_MAX + 1]; /* see ctl_req_username() */
	const struct control_cmd *cmd;
	json_object *args; /* the request's "args" object (a reference) */
	void *priv;	   /* the handler's state */
};

typedef void (*control_handler)(struct ctl_req *req);

/* One command: its name on the wire, whether it needs admin, whether its
 * outcome is logged at info level (changes) or debug (reads, probes), the
 * argument names it accepts (comma separated, "" for none), its handler. */
struct control_cmd {
	const char *name;
	int admin;
	int audit;
	const char *args;
	control_handler fn;
};

/* The production command table (control_commands.c); ends with name
 * NULL. */
extern const struct control_cmd control_cmds[];

/* Add a table of commands (ending with name NULL; it must outlive every
 * server) to those every control server of this process dispatches,
 * searched after control_cmds[]. Called at start-up, before control_start,
 * by a test build only (src/testhooks/testhooks.c). 0, or -1 when table is
 * NULL or the room (4 tables) is used up. */
int control_register_cmds(const struct control_cmd *table);

/* Encode cmd and propose it through the cluster; cb(arg, ...) gets the
 * outcome. 0, or a negative CLUSTER_E_* / SPOOL_E_* code: then nothing was
 * proposed, cb is never called and the request is not answered. */
int ctl_propose(struct ctl_req *req, const struct spool_cmd *cmd,
		cluster_propose_cb cb, void *arg);

/* Handlers of control_cluster.c: cluster membership and alias domains. */
void ctl_cluster_status(struct ctl_req *req);
void ctl_cluster_add(struct ctl_req *req);
void ctl_cluster_remove(struct ctl_req *req);
void ctl_cluster_transfer(struct ctl_req *req);
void ctl_set_alias(struct ctl_req *req);
void ctl_remove_alias(struct ctl_req *req);
void ctl_show_aliases(struct ctl_req *req);
void ctl_import_aliases(struct ctl_req *req);

/* Handlers of control_mail.c: the mail commands of seed Table 18-3. */
void ctl_show_mail(struct ctl_req *req);
void ctl_send_mail(struct ctl_req *req);
void ctl_remove_mail(struct ctl_req *req);
void ctl_analyze_mail(struct ctl_req *req);

/* Handlers of control_service.c: the nodes table and show service. */
void ctl_start_mail(struct ctl_req *req);
void ctl_stop_mail(struct ctl_req *req);
void ctl_enable_service(struct ctl_req *req);
void ctl_disable_service(struct ctl_req *req);
void ctl_show_service(struct ctl_req *req);

/* Handler of control_service_set.c: SET SERVICE SMTP, a node's receiver
 * settings (this node's, or another member's through the cluster); the
 * "settings" member show service smtp adds: this node's, or (..._of) add
 * node's to show (taken) and answer req with it, asking that node when it
 * is another (answered later, or with the error of the ask). */
void ctl_set_service(struct ctl_req *req);
json_object *ctl_service_settings(struct control *ctl);
void ctl_service_settings_of(struct ctl_req *req, uint64_t node,
			     json_object *show);

/* Handlers of control_tlspolicy.c: the outbound TLS policy table. */
void ctl_show_tls_policy(struct ctl_req *req);
void ctl_set_tls_policy(struct ctl_req *req);
void ctl_remove_tls_policy(struct ctl_req *req);

/* Handlers of control_config.c: configuration, MX, hosts, forward. */
void ctl_set_config(struct ctl_req *req);
void ctl_show_config(struct ctl_req *req);
void ctl_show_mx(struct ctl_req *req);
void ctl_set_mx(struct ctl_req *req);
void ctl_remove_mx(struct ctl_req *req);
void ctl_show_host(struct ctl_req *req);
void ctl_set_host(struct ctl_req *req);
void ctl_remove_host(struct ctl_req *req);
void ctl_show_forward(struct ctl_req *req);
void ctl_set_forward(struct ctl_req *req);
void ctl_remove_forward(struct ctl_req *req);

/* ---- a change through the cluster with a one-line answer
 * (control_change.c), for the service, configuration and table commands */

#define CTL_CHANGE_MSG_MAX 600

/* The answer texts of one change. */
struct ctl_change {
	char ok[CTL_CHANGE_MSG_MAX];	  /* message when applied */
	char ok_tail[CTL_CHANGE_MSG_MAX]; /* with_value: after the value */
	int with_value; /* message = ok + res->value + ok_tail */
	char notfound[CTL_CHANGE_MSG_MAX]; /* SPOOL_E_NOTFOUND */
	char inval[CTL_CHANGE_MSG_MAX];	   /* SPOOL_E_INVAL */
	json_object *extra; /* members added to the result, or NULL */
};

/* A zeroed change, or NULL after answering "out of memory". */
struct ctl_change *ctl_change_new(struct ctl_req *req);
void ctl_change_free(struct ctl_change *op);

/* Propose cmd; op is taken. The answer: {"message", "value", "duplicate"}
 * plus op->extra once applied, or the error its texts name. */
void ctl_change_propose(struct ctl_req *req, const struct spool_cmd *cmd,
			struct ctl_change *op);

/* Add "node" (this node's id) and "applied" (its applied count) to a show
 * result. */
void ctl_add_applied(struct control *ctl, json_object *o);

/* Lower-case s into out (size > strlen(s)), without a trailing root dot. */
void ctl_fold_name(char *out, const char *s);

/* Handler of control_submit.c: local submission (Send From File). */
void ctl_submit(struct ctl_req *req);

/* Scratch kept on a request's connection between its requests (submit's
 * chunks): p is freed with free_fn when the connection closes, when a
 * request for another command than its owner arrives, or by the command
 * itself. */
struct ctl_scratch {
	void *p;
	void (*free_fn)(void *p);
	const struct control_cmd *owner; /* another command drops it */
};

/* The scratch of the request's connection; NULL when the client went
 * away. */
struct ctl_scratch *ctl_req_scratch(struct ctl_req *req);

/* The caller's Unix user name (getpwuid of the peer's uid, looked up off
 * the loop when it connected: control_cred.c) into buf. 0, or -1 when the
 * uid has no name or it does not fit. */
int ctl_req_username(const struct ctl_req *req, char *buf, size_t size);

/* A time in ms since the epoch as "YYYY-MM-DD HH:MM:SS UTC". */
const char *ctl_fmt_time(uint64_t ms, char *buf, size_t size);

/* This host's clock: clock_wall_ms() (src/base/clock.h), for names and
 * displays; the FSM uses the leader's stamps. */

/* ---- mail selection (control_mail.c) and batches (control_batch.c) ---- */

/* One selected control file. */
struct ctl_sel_item {
	char *name;
	uint64_t entry; /* position in the user's (or every) list, from 1 */
};

/* A selection: set user (and exact), only_name, only_entry, pred as
 * wanted, zero the rest; ctl_sel_collect() fills items. */
struct ctl_mail_sel {
	char user[CTLNAME_USER_MAX + 1]; /* "" = every user */
	int exact;			 /* byuser index, exact name */
	const char *only_name;
	uint64_t only_entry;
	/* an extra filter (analyze mail --delete-*, --hold) */
	int (*pred)(const struct spool_rec *rec, void *arg);
	void *pred_arg;
	/* results */
	uint64_t scope; /* files of the user (or every file) */
	size_t n, cap;
	struct ctl_sel_item *items;
	int nomem;
};

/* Collect the selected files in name order. 0, or -1 after answering
 * (nothing selected by only_entry or only_name, or the spool failed). */
int ctl_sel_collect(struct ctl_req *req, struct ctl_mail_sel *sel);
void ctl_sel_free(struct ctl_mail_sel *sel);

struct ctl_batch;
typedef void (*ctl_batch_done_fn)(struct ctl_batch *b);

struct ctl_batch_slot {
	struct ctl_batch *b;
	size_t i;
};

struct ctl_batch {
	struct ctl_req *req;
	uint8_t type; /* CMD_REQUEUE, CMD_REMOVE or CMD_HOLD */
	uint64_t after_ms;
	uint8_t force;
	struct ctl_sel_item *items; /* taken from a mail_sel */
	size_t n;
	struct ctl_batch_slot *slots;
	int *status; /* per item: 0 done, SPOOL_E_* or CLUSTER_E_* */
	size_t next, inflight, nok, nfail, nquorum;
	int filling;
	ctl_batch_done_fn done;
	void *ctx;
};

/* Propose type (CMD_REQUEUE with after_ms, CMD_REMOVE with force, or
 * CMD_HOLD) for every item of sel (the items are taken), at most a window
 * in flight; done(b) is called once at the end, possibly before this
 * returns, and must ctl_batch_free(b). -1 if out of memory (nothing
 * started, sel unchanged). */
int ctl_batch_start(struct ctl_req *req, struct ctl_mail_sel *sel, int type,
		    uint64_t after_ms, int force, ctl_batch_done_fn done,
		    void *ctx);
void ctl_batch_free(struct ctl_batch *b);

/* Append b's failures ({"name", "code", "error"}) to list, at most 100 in
 * all. */
void ctl_batch_failures(struct ctl_batch *b, json_object *list);

/* The message and protocol code for a file that could not be changed
 * (status: SPOOL_E_* or CLUSTER_E_*); the claim holder and lease end are
 * read from this node's copy. */
void ctl_batch_error(struct control *ctl, const char *name, int status,
		     char *buf, size_t size);
const char *ctl_batch_code(int status);

/* Answer the request with result (ownership taken; NULL means {}) and free
 * the request. */
void ctl_req_ok(struct ctl_req *req, json_object *result);

/* Answer with an error code ("usage", "not_found", ...) and text, and free
 * the request. */
void ctl_req_fail(struct ctl_req *req, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answer with the error for a negative CLUSTER_E_* status (msg may be
 * NULL), and free the request. */
void ctl_req_fail_cluster(struct ctl_req *req, int status, const char *msg);

/* Answer with the error for a spool business status (res->status). */
void ctl_req_fail_spool(struct ctl_req *req, int status, const char *what);

/* Argument readers: 0 and the value, 1 when absent and optional (out left
 * as is), or -1 after answering the request with a "usage" error. */
int ctl_arg_u64(struct ctl_req *req, const char *key, int required,
		uint64_t min, uint64_t max, uint64_t *out);
int ctl_arg_str(struct ctl_req *req, const char *key, int required,
		size_t maxlen, const char **out);
/* A boolean: 0 and the value, 1 when absent (*out = 0), -1 after a usage
 * answer. */
int ctl_arg_bool(struct ctl_req *req, const char *key, int *out);
/* An array of strings (each 1..maxlen bytes, at most maxn): 0 and the
 * array (a reference into args), 1 when absent and optional, -1 after a
 * usage answer. */
int ctl_arg_strv(struct ctl_req *req, const char *key, int required,
		 size_t maxn, size_t maxlen, json_object **out);

#endif
