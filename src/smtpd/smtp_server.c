/*
 * smtp_server.c — the SMTP receiver's listener (see smtp_server.h): the
 * options, the listening sockets (MX, and the submission ones: STARTTLS
 * then AUTH, implicit TLS; their sessions get smtp_session_conf.submission
 * and implicit_tls), the connection limits (421 4.7.0 at
 * connect), the configuration each new session gets from the spool, the
 * statistics and the orderly stop. One connection's I/O, TLS, timers and
 * proposal live in smtp_inbound.c, which this file drives through
 * smtp_inbound.h; a connection reaches back only through the struct
 * smtp_inbound_host it is given (counters, callbacks), never this file.
 * Changing the settings of the running server (SET SERVICE SMTP) is
 * smtp_server_reconf.c's, through smtp_server_impl.h.
 *
 * Owns: the server struct (defined in smtp_server_impl.h), the listeners'
 * open and close, the connections' host (their set and counters), the TLS context, the
 * node-local aliases, the local-recipient check at RCPT (issue #4: unknown
 * Maildir users refused with 550 5.1.1). Does not own the cluster or the
 * spool.
 *
 * Fails: bad options at start (logged, negative return); a connection that
 * cannot be set up is closed and logged, never fatal.
 */
#include "src/base/clock.h"
#include "src/smtpd/smtp_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spool/codec/aliases.h"
#include "spool/codec/ctlname.h"
#include "spool/codec/err.h"
#include "src/delivery/local.h"
#include "src/base/log.h"
#include "src/base/nodeconf.h"
#include "src/smtpd/smtp_inbound.h"
#include "src/smtpd/smtp_policy.h"
#include "src/smtpd/smtp_server_impl.h"
#include "src/smtpd/smtp_senderlogin.h"

#define DEFAULT_MAX_SESSIONS 100
#define DEFAULT_MAX_PER_IP 20
#define DEFAULT_REPLY_TIMEOUT_MS 30000

/* DISABLE SERVICE SMTP for this node, as the replicated node table says (a
 * node not registered yet is enabled). Read at every connection, so
 * ENABLE/DISABLE from any node takes effect once this node applied it. */
static int service_disabled(struct smtp_server *s)
{
	struct spool_node n;

	if (s->sp == NULL || spool_node_get(s->sp, s->node_id, &n) != 0)
		return 0;
	return !n.service_enabled;
}
static void maybe_done(struct smtp_server *s);

static const char *const reject_names[SMTP_REJ__COUNT] = {
    [SMTP_REJ_LIMIT] = "limit",
    [SMTP_REJ_SYNTAX] = "syntax",
    [SMTP_REJ_RELAY] = "relay",
    [SMTP_REJ_RCPTS] = "recipients",
    [SMTP_REJ_SIZE] = "size",
    [SMTP_REJ_BARE] = "bare_cr_lf",
    [SMTP_REJ_LONG] = "long_line",
    [SMTP_REJ_HOPS] = "hops",
    [SMTP_REJ_NOQUORUM] = "no_quorum",
    [SMTP_REJ_FULL] = "full",
    [SMTP_REJ_SPOOL] = "spool",
    [SMTP_REJ_TIMEOUT] = "timeout",
    [SMTP_REJ_ERRORS] = "errors",
    [SMTP_REJ_TLS] = "tls",
    [SMTP_REJ_USER] = "unknown_user",
    [SMTP_REJ_DISABLED] = "disabled",
    [SMTP_REJ_NUL] = "nul",
    [SMTP_REJ_AUTH] = "auth",
    [SMTP_REJ_SENDER] = "sender_login",
};

const char *smtp_reject_name(int reason)
{
	if (reason < 0 || reason >= SMTP_REJ__COUNT)
		return "?";
	return reject_names[reason];
}

void smtp_server_stats(const struct smtp_server *s, struct smtp_stats *out)
{
	*out = s->stats;
}

/* Cluster-wide (spool) or node-local alias: 1, 0, or negative. */
static int alias_has(struct smtp_server *s, const char *domain)
{
	int rc;

	for (size_t i = 0; i < s->local_aliases.n; i++) {
		if (strcmp(s->local_aliases.names[i], domain) == 0)
			return 1;
	}
	rc = spool_alias_has(s->sp, domain);
	if (rc != 0)
		return rc;
	/* every registered node's domain is local, on every node */
	return local_spool_node_domain_has(s->sp, domain);
}

/* ---- the local-recipient check (issue #4) ---- */

static int chk_alias(void *arg, const char *domain)
{
	return alias_has(arg, domain);
}

static int chk_forward(void *arg, const char *user, char *buf, size_t size)
{
	struct smtp_server *s = arg;

	return spool_forward_get(s->sp, user, buf, size);
}

static int chk_node_domain(void *arg, const char *domain)
{
	struct smtp_server *s = arg;

	return local_spool_node_domain_has(s->sp, domain);
}

/* smtp_session_conf.rcpt_known: resolve addr with local delivery's own
 * rules (local.c: forwards, the postmaster default) and look for its
 * Maildir. Reads the replicated configuration each time (cluster domain,
 * postmaster alias), as delivery does. */
static int rcpt_known(void *arg, const char *addr)
{
	struct smtp_server *s = arg;
	struct spool_config cfg;
	struct local_env env;

	if (spool_config_load(s->sp, &cfg) != 0)
		spool_config_defaults(&cfg);
	memset(&env, 0, sizeof(env));
	env.node_domain = s->node_domain;
	env.cluster_domain = cfg.str[CFG_CLUSTER_DOMAIN];
	env.postmaster_alias = cfg.str[CFG_POSTMASTER_ALIAS];
	env.arg = s;
	env.alias_has = chk_alias;
	env.forward_get = chk_forward;
	env.node_domain_has = chk_node_domain;
	return local_rcpt_known(&env, s->mail_root, addr);
}

/* ---- options ---- */

int smtp_trusted_parse(const char *list, struct policy_net *out, size_t *n,
		       char *err, size_t errsize)
{
	const char *p;
	char word[80];
	size_t k = 0;

	if (list == NULL || list[0] == '\0')
		list = "127.0.0.1/32";
	*n = 0;
	if (strcmp(list, "none") == 0)
		return 0;
	for (p = list; *p != '\0';) {
		size_t len = strcspn(p, ", \t");

		if (len > 0) {
			if (k >= SMTP_TRUSTED_MAX) {
				snprintf(err, errsize,
					 "trusted networks: more than %d in "
					 "\"%.120s\"",
					 SMTP_TRUSTED_MAX, list);
				return -1;
			}
			if (len >= sizeof(word))
				goto err_bad;
			memcpy(word, p, len);
			word[len] = '\0';
			if (policy_net_parse(word, &out[k]) != 0)
				goto err_bad;
			k++;
		}
		p += len;
		p += strspn(p, ", \t");
	}
	*n = k;
	return 0;

err_bad:
	snprintf(err, errsize,
		 "trusted networks: \"%.*s\" is not a network (ADDR/BITS, "
		 "IPv4 or IPv6)",
		 (int)(strcspn(p, ", \t") > 80 ? 80 : strcspn(p, ", \t")), p);
	return -1;
}

/* smtp_session_conf.sender_owned: the map in use now, or the rule
 * without one. */
static int sender_owned(void *arg, const char *login, const char *sender)
{
	const struct smtp_server *s = arg;

	return senderlogin_owns(s->sender_map, login, sender);
}

/* Copy and check the options into s. */
static int apply_opts(struct smtp_server *s, const struct smtp_opts *o)
{
	char err[512];
	int has_cert = o->tls_cert != NULL && o->tls_cert[0] != '\0';
	int has_key = o->tls_key != NULL && o->tls_key[0] != '\0';

	if (o->node_name == NULL || !ctlname_node_ok(o->node_name)) {
		log_error("smtp: node name \"%s\" cannot name control files",
			  o->node_name ? o->node_name : "");
		return SPOOL_E_INVAL;
	}
	snprintf(s->node_name, sizeof(s->node_name), "%s", o->node_name);
	snprintf(s->node_domain, sizeof(s->node_domain), "%s",
		 o->node_domain && o->node_domain[0] ? o->node_domain
						     : o->node_name);
	s->node_id = o->node_id;
	s->max_sessions =
	    o->max_sessions ? o->max_sessions : DEFAULT_MAX_SESSIONS;
	s->max_per_ip = o->max_per_ip ? o->max_per_ip : DEFAULT_MAX_PER_IP;
	s->reply_timeout_ms = o->reply_timeout_ms ? o->reply_timeout_ms
						  : DEFAULT_REPLY_TIMEOUT_MS;
	if (smtp_trusted_parse(o->trusted, s->trusted, &s->ntrusted, err,
			       sizeof(err)) != 0) {
		log_error("smtp: %s", err);
		return SPOOL_E_INVAL;
	}
	snprintf(s->trusted_text, sizeof(s->trusted_text), "%s",
		 o->trusted && o->trusted[0] ? o->trusted : "127.0.0.1/32");
	if (has_cert != has_key) {
		log_error("smtp: STARTTLS needs both tls_cert and tls_key");
		return SPOOL_E_INVAL;
	}
	if (has_cert && tls_ctx_new_server(&s->tls, o->tls_cert, o->tls_key,
					   err, sizeof(err)) != 0) {
		log_error("smtp: STARTTLS: %s", err);
		return SPOOL_E_INVAL;
	}
	if (has_cert) {
		snprintf(s->tls_cert, sizeof(s->tls_cert), "%s", o->tls_cert);
		snprintf(s->tls_key, sizeof(s->tls_key), "%s", o->tls_key);
	}
	if (((o->submission_listen && o->submission_listen[0]) ||
	     (o->submission_tls_listen && o->submission_tls_listen[0])) &&
	    s->tls == NULL) {
		log_error("smtp: [submission] needs [smtp] tls_cert and "
			  "tls_key (AUTH is offered only under TLS)");
		return SPOOL_E_INVAL;
	}
	/* the Maildir backend can tell an unknown user; LMTP cannot cheaply */
	if ((o->local_backend == NULL || o->local_backend[0] == '\0' ||
	     strcmp(o->local_backend, "maildir") == 0) &&
	    o->mail_root != NULL && o->mail_root[0] != '\0') {
		s->check_users = 1;
		snprintf(s->mail_root, sizeof(s->mail_root), "%s",
			 o->mail_root);
	}
	if (o->sender_logins != NULL && o->sender_logins[0] != '\0') {
		int rc;

		snprintf(s->sender_logins, sizeof(s->sender_logins), "%s",
			 o->sender_logins);
		if ((rc = smtp_server_read_sender_logins(s->sender_logins,
							 &s->sender_map)) != 0)
			return rc;
	}
	if (o->aliases_file != NULL && o->aliases_file[0] != '\0')
		return smtp_server_load_aliases(s, o->aliases_file);
	return 0;
}

static void on_connection(uv_stream_t *l, int status);
static void on_listener_closed(uv_handle_t *h);

/* Bind l and listen on "HOST:PORT". 0 or -1 with the reason in err. */
static int listen_on(struct smtp_listener *l, const char *addr, char *err,
		     size_t errsize)
{
	char host[NODECONF_STR];
	struct sockaddr_storage sa;
	int port, rc;

	if (addr == NULL ||
	    nodeconf_split_addr(addr, host, sizeof(host), &port) != 0) {
		snprintf(err, errsize, "bad listen address \"%.120s\"",
			 addr ? addr : "");
		return -1;
	}
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0) {
		snprintf(err, errsize,
			 "listen address \"%.120s\" is not an IP address",
			 addr);
		return -1;
	}
	rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&l->tcp, 128, on_connection);
	if (rc != 0) {
		snprintf(err, errsize, "cannot listen on %.120s: %s", addr,
			 uv_strerror(rc));
		return -1;
	}
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	return 0;
}

struct smtp_listener *smtp_listener_open(struct smtp_server *s, int kind,
					 const char *addr, char *err,
					 size_t errsize)
{
	struct smtp_listener *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	l->s = s;
	l->kind = kind;
	if (uv_tcp_init(s->loop, &l->tcp) != 0) {
		snprintf(err, errsize, "cannot make a TCP handle");
		free(l);
		return NULL;
	}
	l->tcp.data = l;
	s->lst_open++;
	if (listen_on(l, addr, err, errsize) != 0) {
		smtp_listener_close(l);
		return NULL;
	}
	return l;
}

void smtp_listener_close(struct smtp_listener *l)
{
	uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

/* ---- what the connections may call ---- */

static int host_alias_has(void *arg, const char *domain)
{
	return alias_has(arg, domain);
}

static void host_released(void *arg)
{
	maybe_done(arg);
}

/* ---- life cycle ---- */

static void free_server(struct smtp_server *s)
{
	smtp_inbound_host_release(&s->host);
	tls_ctx_free(s->tls);
	aliases_free(&s->local_aliases);
	smtp_server_drop_sender_map(s);
	free(s);
}

/* Open the listeners the options name; on failure close those opened
 * (the server is freed once they are: start_failed) and return the
 * error. */
static int open_listeners(struct smtp_server *s, const struct smtp_opts *o)
{
	const char *addrs[LST__COUNT] = {o->listen, o->submission_listen,
					 o->submission_tls_listen};
	char err[300];

	s->start_failed = 1;
	for (int k = 0; k < LST__COUNT; k++) {
		if (k != LST_MX && (addrs[k] == NULL || addrs[k][0] == '\0'))
			continue;
		s->lst[k] =
		    smtp_listener_open(s, k, addrs[k], err, sizeof(err));
		if (s->lst[k] == NULL) {
			log_error("smtp: %s", err);
			goto err_after_open;
		}
	}
	s->start_failed = 0;
	return 0;

err_after_open:
	for (int k = 0; k < LST__COUNT; k++) {
		if (s->lst[k] != NULL)
			smtp_listener_close(s->lst[k]);
		s->lst[k] = NULL;
	}
	if (s->lst_open == 0)
		free_server(s);
	return strncmp(err, "cannot listen", 13) == 0 ? SPOOL_E_IO
						      : SPOOL_E_INVAL;
}

int smtp_server_start(struct smtp_server **out, uv_loop_t *loop,
		      const struct smtp_opts *o, struct cluster *cl,
		      struct spool *sp)
{
	struct smtp_server *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (s == NULL)
		return SPOOL_E_NOMEM;
	s->loop = loop;
	s->cl = cl;
	s->sp = sp;
	if ((rc = apply_opts(s, o)) != 0) {
		free_server(s);
		return rc;
	}
	s->host = (struct smtp_inbound_host){
	    .loop = loop,
	    .cl = cl,
	    .tls = s->tls,
	    .reply_timeout_ms = s->reply_timeout_ms,
	    .stats = &s->stats,
	    .now_ms = clock_wall_ms,
	    .storage_low = o->storage_low,
	    .alias_has = host_alias_has,
	    .released = host_released,
	    .arg = s,
	};
	LIST_INIT(&s->host.conns);
	if ((rc = open_listeners(s, o)) != 0)
		return rc;
	log_info("smtp: listening on %s as %s%s, %u sessions (%u per "
		 "address), %zu trusted network(s)%s%s",
		 s->lst[LST_MX]->addr, s->node_domain,
		 s->tls ? " with STARTTLS" : "", s->max_sessions, s->max_per_ip,
		 s->ntrusted,
		 s->check_users ? ", unknown users refused at RCPT "
				  "under "
				: "",
		 s->check_users ? s->mail_root : "");
	if (s->lst[LST_SUBMISSION] != NULL)
		log_info("smtp: submission (STARTTLS, then AUTH) on %s",
			 s->lst[LST_SUBMISSION]->addr);
	if (s->lst[LST_SUBMISSIONS] != NULL)
		log_info("smtp: submission over implicit TLS on %s",
			 s->lst[LST_SUBMISSIONS]->addr);
	*out = s;
	return 0;
}

/* Free the server once the listener and every connection are closed. */
static void maybe_done(struct smtp_server *s)
{
	void (*cb)(void *);
	void *arg;

	if (!s->stopping || s->lst_open > 0 || s->host.nconns > 0)
		return;
	cb = s->stop_cb;
	arg = s->stop_arg;
	log_info("smtp: stopped (%llu messages queued since start)",
		 (unsigned long long)s->stats.messages);
	free_server(s);
	if (cb != NULL)
		cb(arg);
}

static void on_listener_closed(uv_handle_t *h)
{
	struct smtp_listener *l = h->data;
	struct smtp_server *s = l->s;

	free(l);
	s->lst_open--;
	if (s->start_failed) {
		if (s->lst_open == 0)
			free_server(s);
		return;
	}
	maybe_done(s);
}

void smtp_server_stop(struct smtp_server *s, void (*cb)(void *arg), void *arg)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	s->stop_cb = cb;
	s->stop_arg = arg;
	smtp_inbound_shutdown_all(&s->host);
	for (int k = 0; k < LST__COUNT; k++) {
		if (s->lst[k] != NULL)
			smtp_listener_close(s->lst[k]);
		s->lst[k] = NULL;
	}
}

/* ---- new connections ---- */

/* The session's settings: the node's options plus the replicated
 * configuration as it is now. */
static void session_conf(struct smtp_server *s, int kind, const char *ip,
			 struct smtp_session_conf *sc, struct spool_config *cfg,
			 uint64_t *receive_timeout_ms)
{
	int rc = spool_config_load(s->sp, cfg);

	if (rc != 0) {
		log_warn("smtp: cannot read the configuration (%s); using "
			 "defaults",
			 spool_strerror(rc));
		spool_config_defaults(cfg);
	}
	memset(sc, 0, sizeof(*sc));
	sc->node_name = s->node_name;
	sc->node_domain = s->node_domain;
	sc->cluster_domain = cfg->str[CFG_CLUSTER_DOMAIN];
	sc->client_ip = ip;
	sc->node_id = s->node_id;
	sc->max_size = cfg->num[CFG_MAX_MESSAGE_SIZE];
	/* never advertise more than one proposal can carry */
	if (s->cl != NULL && sc->max_size > cluster_max_body(s->cl))
		sc->max_size = cluster_max_body(s->cl);
	sc->max_rcpt = (uint32_t)cfg->num[CFG_MAX_RECIPIENTS];
	sc->hop_max = (uint32_t)cfg->num[CFG_HOP_COUNT_MAXIMUM];
	sc->policy_allowed = cfg->num[CFG_OPT_RELAY] != 0 ||
			     policy_net_match(s->trusted, s->ntrusted, ip);
	sc->tls_available = s->tls != NULL && kind != LST_SUBMISSIONS;
	sc->submission = kind != LST_MX;
	sc->implicit_tls = kind == LST_SUBMISSIONS;
	if (sc->submission) {
		sc->sender_owned = sender_owned;
		sc->sender_arg = s;
	}
	if (s->check_users && s->sp != NULL) {
		sc->rcpt_known = rcpt_known;
		sc->rcpt_arg = s;
	}
	*receive_timeout_ms = cfg->num[CFG_RECEIVE_TIMEOUT];
	if (*receive_timeout_ms == 0)
		*receive_timeout_ms = 5 * 60 * 1000;
}

static void on_connection(uv_stream_t *l, int status)
{
	struct smtp_listener *lst = l->data;
	struct smtp_server *s = lst->s;
	struct smtp_session_conf sc;
	struct spool_config cfg;
	struct smtp_inbound *c;
	uint64_t receive_timeout_ms;
	const char *ip;
	char line[512];

	if (status < 0) {
		log_warn("smtp: accept: %s", uv_strerror(status));
		return;
	}
	c = smtp_inbound_accept(&s->host, l);
	if (c == NULL)
		return;
	ip = smtp_inbound_ip(c);
	s->stats.connections++;
	if (s->stopping) {
		snprintf(line, sizeof(line),
			 "421 4.3.2 %s Service shutting down", s->node_domain);
		smtp_inbound_refuse(c, line);
		return;
	}
	if (service_disabled(s)) {
		log_info("smtp [%s]: refused, the service is disabled on this "
			 "node",
			 ip);
		snprintf(line, sizeof(line),
			 "421 4.3.2 %s Service not available (disabled by the "
			 "administrator), try another node",
			 s->node_domain);
		s->stats.rejected[SMTP_REJ_DISABLED]++;
		smtp_inbound_refuse(c, line);
		return;
	}
	/* a proposal whose client left still holds its message: it counts */
	if (smtp_inbound_load(&s->host) > s->max_sessions) {
		log_info("smtp [%s]: refused, %u sessions open or queueing", ip,
			 smtp_inbound_load(&s->host) - 1);
		s->stats.rejected[SMTP_REJ_LIMIT]++;
		snprintf(line, sizeof(line),
			 "421 4.7.0 %s Error: too many connections, try again "
			 "later",
			 s->node_domain);
		smtp_inbound_refuse(c, line);
		return;
	}
	if (smtp_inbound_count_ip(&s->host, ip, c) >= s->max_per_ip) {
		log_info("smtp [%s]: refused, %u sessions from this address",
			 ip, s->max_per_ip);
		s->stats.rejected[SMTP_REJ_LIMIT]++;
		snprintf(line, sizeof(line),
			 "421 4.7.0 %s Error: too many connections from your "
			 "address",
			 s->node_domain);
		smtp_inbound_refuse(c, line);
		return;
	}
	session_conf(s, lst->kind, ip, &sc, &cfg, &receive_timeout_ms);
	smtp_inbound_begin(c, &sc, receive_timeout_ms);
}
