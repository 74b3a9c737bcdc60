/*
 * smtp_server_impl.h — what the receiver's listener files share (not for
 * other modules: they use smtp_server.h):
 *
 *   smtp_server.c         start, stop, the listeners' accept path and
 *                         the connection limits, the sessions' settings
 *   smtp_server_reconf.c  SET SERVICE SMTP on the running server: new
 *                         settings prepared (a new listener bound, TLS
 *                         files loaded, networks parsed) and then
 *                         committed or abandoned
 *
 * Ownership: every listener is heap-allocated, owned by the server and
 * freed in its close callback; lst_open counts the listener handles not
 * yet closed, those replaced by a new address included.
 */
#ifndef SRC_SMTPD_SMTP_SERVER_IMPL_H
#define SRC_SMTPD_SMTP_SERVER_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "spool/codec/aliases.h"
#include "spool/codec/ctlname.h"
#include "src/base/nodeconf.h"
#include "src/base/tls.h"
#include "src/smtpd/smtp_inbound.h"
#include "src/smtpd/smtp_policy.h"
#include "src/smtpd/smtp_senderlogin.h"
#include "src/smtpd/smtp_server.h"

#define SMTP_TRUSTED_MAX 64

/* The listeners of one node: MX (port 25), submission with STARTTLS
 * (587) and submission with implicit TLS (465). */
enum { LST_MX = 0, LST_SUBMISSION, LST_SUBMISSIONS, LST__COUNT };

struct smtp_listener {
	uv_tcp_t tcp;
	struct smtp_server *s;
	int kind; /* LST_* */
	char addr[256];
};

struct smtp_server {
	uv_loop_t *loop;
	struct cluster *cl;
	struct spool *sp;
	struct smtp_listener *lst[LST__COUNT]; /* NULL: not listening */
	unsigned lst_open; /* listener handles not closed yet */
	char node_name[CTLNAME_NODE_MAX + 1];
	char node_domain[256];
	uint64_t node_id;
	unsigned max_sessions, max_per_ip, reply_timeout_ms;
	struct policy_net trusted[SMTP_TRUSTED_MAX];
	size_t ntrusted;
	char trusted_text[256];		    /* the list as given, for show */
	char tls_cert[256], tls_key[256];   /* the files of tls ("" = none) */
	struct tls_ctx *tls;		    /* NULL: no STARTTLS */
	struct aliases local_aliases;	    /* node-local alias file */
	char sender_logins[NODECONF_STR];   /* the map's file, "" = none */
	struct senderlogin_map *sender_map; /* NULL = the rule without */
	struct smtp_inbound_host host;	    /* what the connections share */
	struct smtp_stats stats;
	int check_users;     /* maildir backend with a mail_root */
	char mail_root[256]; /* where RCPT looks for <user>/ */
	int stopping;
	int start_failed; /* the last listener closed frees the server */
	void (*stop_cb)(void *);
	void *stop_arg;
};

/* A new listener of kind for s, bound to addr and listening, counted in
 * lst_open. NULL with the reason in err (nothing left open: a handle that
 * was initialised is closed and freed by its callback). */
struct smtp_listener *smtp_listener_open(struct smtp_server *s, int kind,
					 const char *addr, char *err,
					 size_t errsize);

/* Close l; it is freed, lst_open lowered and the stop finished if due
 * once libuv is done with it. */
void smtp_listener_close(struct smtp_listener *l);

/* Parse a trusted-network list ("a/b, c/d", "none"; NULL or "" =
 * "127.0.0.1/32") into out (room for SMTP_TRUSTED_MAX). 0 and the count
 * in *n, or -1 with the reason in err. */
int smtp_trusted_parse(const char *list, struct policy_net *out, size_t *n,
		       char *err, size_t errsize);

/* smtp_server_files.c: read the node-local alias file into
 * s->local_aliases; read the sender-login map at path into a new *out;
 * free s->sender_map. The readers return 0 or SPOOL_E_* with the reason
 * logged. */
int smtp_server_load_aliases(struct smtp_server *s, const char *path);
int smtp_server_read_sender_logins(const char *path,
				   struct senderlogin_map **out);
void smtp_server_drop_sender_map(struct smtp_server *s);

#endif
