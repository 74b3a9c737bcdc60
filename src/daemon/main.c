/*
 * main.c — smtpclusterd: read the node's config, open the spool, start the
 * raft node, the control socket, the SMTP receiver, the delivery engine
 * and the symbiont, run the loop until SIGTERM/SIGINT, then stop in order:
 * SMTP receiver (stop accepting; a session waiting for its quorum gets its
 * answer first), symbiont (no new claims; running deliveries finish and
 * are completed), cluster (a leader hands leadership over first), control
 * socket, delivery engine, spool.
 *
 *   smtpclusterd -c FILE [--bootstrap] [-f] [-v]
 *
 * -f stays in the foreground (the default: the daemon never forks; the
 * flag is accepted for service managers), -v logs at debug level,
 * --bootstrap makes a one-node cluster on the first start. Exit codes:
 * 0 after a clean stop, 64 usage, 78 bad config (EX_CONFIG), 71 start-up
 * failure (EX_OSERR), 70 when the spool failed under the FSM (EX_SOFTWARE).
 *
 * SIGHUP reopens the log files ([log] file, the receive and activity
 * logs) for log rotation and reloads the cluster's TLS certificates
 * ([cluster] tls_*) and the submission listeners' sender-login map
 * ([submission] sender_logins; a bad one is logged and the old kept). Under
 * systemd (Type=notify, deploy/systemd/) the daemon says READY=1 once the
 * SMTP receiver and the control socket are up and the node knows a
 * cluster leader (polled: cluster.h has no state callback), STOPPING=1
 * when the stop sequence begins, RELOADING=1 ... READY=1 around SIGHUP.
 * Without $NOTIFY_SOCKET sd_notify does nothing.
 *
 * Started as root with [node] user set, it becomes that user (keeping
 * only CAP_NET_BIND_SERVICE) right after reading node.conf, before any
 * file is opened, and refuses a data_dir that is not the user's.
 *
 * Owns: start-up order, the stop sequence, the statistics providers of
 * "show service smtp" (sections "receiver" and "symbiont") and the
 * node-local alias file the delivery engine consults.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <uv.h>

#include "spool/codec/aliases.h"
#include "spool/store/spool.h"
#include "src/base/diskguard.h"
#include "src/base/looplag.h"
#include "src/base/readfile.h"
#include "src/cluster/cluster.h"
#include "src/control/control.h"
#include "src/delivery/deliver.h"
#include "src/base/log.h"
#include "src/base/nodeconf.h"
#include "src/base/privdrop.h"
#include "src/smtpd/smtp_auth.h"
#include "src/smtpd/smtp_recvlog.h"
#include "src/smtpd/smtp_server.h"
#include "src/delivery/symbiont.h"
#include "src/metrics/metrics_collect.h"
#include "src/metrics/metrics_http.h"
#ifdef SMTPCLUSTER_TESTHOOKS
#include "src/testhooks/testhooks.h" /* the test daemon only */
#endif

#define EX_USAGE_ 64
#define EX_SOFTWARE_ 70
#define EX_OSERR_ 71
#define EX_CONFIG_ 78
#define ALIASES_FILE_MAX (1 << 20)

struct daemon {
	uv_loop_t *loop;
	struct nodeconf conf;
	struct spool *sp;
	struct cluster *cl;
	struct control *ctl;
	struct smtp_server *smtp;
	struct deliverer *dlv;
	struct symbiont *sym;
	struct aliases local_aliases; /* node-local alias file, for delivery */
	struct metrics_http *metrics; /* [metrics] listen, or NULL */
	struct metrics_refs mrefs;
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t ready_timer; /* polls for a leader until READY=1 */
	int ready;		/* READY=1 sent */
	int stopping;
	int exit_code;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: smtpclusterd -c FILE [--bootstrap] [-f] [-v]\n");
}

/* mkdir -p */
static int mkdirs(const char *path)
{
	char buf[NODECONF_STR + 64];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || buf[i] == '\0') {
			char save = buf[i];
			buf[i] = '\0';
			if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
				return -1;
			}
			buf[i] = save;
		}
	}
	return 0;
}

/* ---- node-local aliases for the delivery engine ---- */

/* Read the node-local alias file (seed 18.3); a missing file is no alias.
 * 0, or -1 when the file exists but does not parse. */
static int load_local_aliases(struct daemon *d)
{
	const char *path = d->conf.smtp_aliases_file;
	char *text;
	size_t n;
	int rc;

	if (path[0] == '\0') {
		return 0;
	}
	rc = readfile(path, ALIASES_FILE_MAX, &text, &n);
	if (rc == -ENOENT || rc == -EACCES) {
		log_warn("aliases file %s: %s (no node-local aliases)", path,
			 strerror(-rc));
		return 0;
	}
	if (rc != 0) {
		log_error("aliases file %s: %s", path, strerror(-rc));
		return -1;
	}
	rc = aliases_parse(text, n, &d->local_aliases);
	free(text);
	if (rc != 0) {
		log_error("aliases file %s:%d: %s", path,
			  d->local_aliases.err_line, d->local_aliases.err);
		return -1;
	}
	return 0;
}

/* deliver_opts.local_alias_has: 1 when domain is a node-local alias. */
static int local_alias_has(void *arg, const char *domain)
{
	const struct daemon *d = arg;

	for (size_t i = 0; i < d->local_aliases.n; i++) {
		if (strcasecmp(d->local_aliases.names[i], domain) == 0) {
			return 1;
		}
	}
	return 0;
}

/* ---- statistics for "show service smtp" ---- */

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

/* control_stats_fn for the "receiver" section. */
static int receiver_stats(void *arg, struct json_object *out)
{
	const struct daemon *d = arg;
	struct smtp_stats st;
	struct json_object *rej;

	if (d->smtp == NULL) {
		return -1;
	}
	smtp_server_stats(d->smtp, &st);
	add_u64(out, "connections", st.connections);
	add_u64(out, "active", st.active);
	add_u64(out, "messages", st.messages);
	add_u64(out, "bytes", st.bytes);
	add_u64(out, "discarded", st.discarded);
	add_u64(out, "tls_sessions", st.tls_sessions);
	add_u64(out, "auth_logins", st.logins);
	rej = json_object_new_object();
	for (int i = 0; i < SMTP_REJ__COUNT; i++) {
		add_u64(rej, smtp_reject_name(i), st.rejected[i]);
	}
	json_object_object_add(out, "rejected", rej);
	return 0;
}

/* control_service_fn (SET SERVICE SMTP): the receiver applies and
 * persists the change (smtp_server_reconfigure), then the daemon's copy
 * and the node table follow. */
static int receiver_reconfigure(void *arg, const struct nodeconf *next,
				unsigned mask, char *err, size_t errsize)
{
	struct daemon *d = arg;

	if (d->smtp == NULL || d->stopping) {
		snprintf(err, errsize, "the SMTP receiver is not running");
		return -1;
	}
	if (smtp_server_reconfigure(d->smtp, next, mask, err, errsize) != 0)
		return -1;
	nodeconf_override_copy(&d->conf, next, mask);
	if (mask & NODECONF_OV_LISTEN)
		cluster_set_smtp_address(d->cl, next->smtp_listen);
	return 0;
}

/* control_stats_fn for the "symbiont" section. */
static int symbiont_stats_json(void *arg, struct json_object *out)
{
	const struct daemon *d = arg;
	struct symbiont_stats st;

	if (d->sym == NULL) {
		return -1;
	}
	symbiont_stats(d->sym, &st);
	json_object_object_add(
	    out, "mail",
	    json_object_new_string(st.claiming ? "started" : "stopped"));
	add_u64(out, "slots", st.slots);
	add_u64(out, "in_flight", st.in_flight);
	add_u64(out, "claims", st.claims);
	add_u64(out, "claims_refused", st.claims_refused);
	add_u64(out, "delivered", st.delivered);
	add_u64(out, "deferred", st.deferred);
	add_u64(out, "failed", st.failed);
	add_u64(out, "bounces", st.bounces);
	add_u64(out, "bounces_dropped", st.bounces_dropped);
	add_u64(out, "renewals", st.renewals);
	add_u64(out, "lease_lost", st.lease_lost);
	add_u64(out, "lease_expired", st.lease_expired);
	add_u64(out, "complete_errors", st.complete_errors);
	add_u64(out, "released", st.released);
	return 0;
}

/* ---- stop sequence: smtp -> symbiont -> cluster -> control -> deliverer */

static void close_signals(struct daemon *d)
{
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
	uv_close((uv_handle_t *)&d->ready_timer, NULL);
}

static void deliverer_closed(void *arg)
{
	struct daemon *d = arg;

	d->dlv = NULL;
	close_signals(d);
}

static void control_stopped(void *arg)
{
	struct daemon *d = arg;

	d->ctl = NULL;
	if (d->dlv != NULL) {
		deliverer_close(d->dlv, deliverer_closed, d);
	} else {
		close_signals(d);
	}
}

static void cluster_stopped(void *arg)
{
	struct daemon *d = arg;

	if (d->ctl != NULL) {
		control_set_stats(d->ctl, "receiver", NULL, NULL);
		control_set_service(d->ctl, NULL, NULL);
		control_set_stats(d->ctl, "symbiont", NULL, NULL);
		control_set_stats(d->ctl, "cluster", NULL, NULL);
		control_stop(d->ctl, control_stopped, d);
	} else {
		control_stopped(d);
	}
}

static void symbiont_stopped(void *arg)
{
	struct daemon *d = arg;

	d->sym = NULL;
	cluster_set_service_hook(d->cl, NULL, NULL);
	cluster_stop(d->cl, cluster_stopped, d);
}

static void smtp_stopped(void *arg)
{
	struct daemon *d = arg;

	d->smtp = NULL;
	if (d->sym != NULL) {
		symbiont_stop(d->sym, symbiont_stopped, d);
	} else {
		symbiont_stopped(d);
	}
}

/* How often the disk reserve is read (src/base/diskguard.h). */
#define DISKGUARD_INTERVAL_MS 500

static void begin_stop(struct daemon *d, const char *why)
{
	if (d->stopping) {
		return;
	}
	d->stopping = 1;
	log_info("stopping (%s)", why);
	uv_timer_stop(&d->ready_timer);
	sd_notifyf(0, "STOPPING=1\nSTATUS=stopping (%s)", why);
	diskguard_stop();
	looplag_stop();
	metrics_http_stop(d->metrics, NULL, NULL);
	d->metrics = NULL;
	if (d->smtp != NULL) {
		smtp_server_stop(d->smtp, smtp_stopped, d);
	} else {
		smtp_stopped(d);
	}
}

/* ---- service manager readiness (sd_notify) ---- */

#define READY_POLL_MS 100

/* Ready once the node knows a leader: it has joined its cluster. */
static void ready_poll(uv_timer_t *t)
{
	struct daemon *d = t->data;

	if (d->stopping || d->ready || cluster_leader_id(d->cl) == 0) {
		return;
	}
	d->ready = 1;
	uv_timer_stop(t);
	log_info("ready: leader %llu known, SMTP on %s",
		 (unsigned long long)cluster_leader_id(d->cl),
		 d->conf.smtp_listen);
	sd_notifyf(0, "READY=1\nSTATUS=running; SMTP %s", d->conf.smtp_listen);
}

/* SIGHUP: reopen the log files (log rotation), load the cluster's TLS
 * certificates again (rotation without downtime) and the sender-login
 * map. The rest of the
 * configuration is not re-read: restart the node for that. */
static void on_sighup(struct daemon *d)
{
	if (d->ready) {
		sd_notify(0, "RELOADING=1");
	}
	log_reopen();
	smtp_recvlog_reopen();
	if (d->sym != NULL)
		symbiont_reopen_log(d->sym);
	log_info("SIGHUP: log files reopened");
	if (d->cl != NULL)
		cluster_tls_reload(d->cl);
	if (d->smtp != NULL)
		smtp_server_reload(d->smtp);
	if (d->ready) {
		sd_notifyf(0, "READY=1\nSTATUS=running; SMTP %s",
			   d->conf.smtp_listen);
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	if (signum == SIGHUP) {
		if (!d->stopping) {
			on_sighup(d);
		}
		return;
	}
	if (d->stopping) {
		log_warn("second %s: exiting now", strsignal(signum));
		exit(d->exit_code != 0 ? d->exit_code : 1);
	}
	begin_stop(d, strsignal(signum));
}

/* The FSM could not use the spool: stop; the next start rebuilds it. */
static void on_fatal(void *arg, int err)
{
	struct daemon *d = arg;

	d->exit_code = EX_SOFTWARE_;
	begin_stop(d, "spool failure");
}

/* ---- start ---- */

/* SASL for the submission listeners. 0 or -1 (logged). */
static int start_auth(const struct nodeconf *c)
{
	struct smtp_auth_conf ac;
	char err[512];

	memset(&ac, 0, sizeof(ac));
	ac.sasldb = c->sub_sasldb;
	ac.hostname = c->domain[0] != '\0' ? c->domain : c->name;
	ac.realm = c->sub_realm;
	if (smtp_auth_init(&ac, err, sizeof(err)) != 0) {
		log_error("%s: [submission]: %s", c->path, err);
		return -1;
	}
	return 0;
}

/* Start the receiver, the delivery engine and the symbiont. 0 or -1
 * (logged). */
static int start_mail(struct daemon *d)
{
	const struct nodeconf *c = &d->conf;
	struct smtp_opts so;
	struct deliver_opts dopt;
	struct symbiont_opts yo;
	int rv;

	memset(&so, 0, sizeof(so));
	so.node_name = c->name;
	so.node_domain = c->domain;
	so.node_id = c->id;
	so.listen = c->smtp_listen;
	so.tls_cert = c->smtp_tls_cert;
	so.tls_key = c->smtp_tls_key;
	so.trusted = c->smtp_trusted;
	so.aliases_file = c->smtp_aliases_file;
	so.max_sessions = c->smtp_max_sessions;
	so.storage_low = diskguard_low;
	so.max_per_ip = c->smtp_max_per_ip;
	so.reply_timeout_ms = c->smtp_reply_timeout_ms;
	so.local_backend = c->dlv_backend;
	so.mail_root = c->dlv_mail_root;
	so.submission_listen = c->sub_listen;
	so.submission_tls_listen = c->sub_tls_listen;
	so.sender_logins = c->sub_sender_logins;
	if ((c->sub_listen[0] != '\0' || c->sub_tls_listen[0] != '\0') &&
	    start_auth(c) != 0)
		return -1;
	smtp_recvlog_open(c->receive_log);
	rv = smtp_server_start(&d->smtp, d->loop, &so, d->cl, d->sp);
	if (rv != 0) {
		log_error("cannot start the SMTP receiver on %s: %s",
			  c->smtp_listen, spool_strerror(rv));
		d->smtp = NULL;
		return -1;
	}

	if (d->ctl != NULL) {
		control_set_stats(d->ctl, "receiver", receiver_stats, d);
		control_set_service(d->ctl, receiver_reconfigure, d);
	}
	if (!c->dlv_enabled) {
		log_info("delivery disabled in %s: no symbiont on this node",
			 c->path);
		return 0;
	}
	if (load_local_aliases(d) != 0) {
		return -1;
	}
	memset(&dopt, 0, sizeof(dopt));
	dopt.node_name = c->name;
	dopt.node_domain = c->domain;
	dopt.helo_name = c->dlv_helo;
	dopt.local_backend = c->dlv_backend;
	dopt.mail_root = c->dlv_mail_root;
	dopt.lmtp_address = c->dlv_lmtp;
	dopt.dns_servers = c->dlv_dns_servers;
	dopt.max_per_host = c->dlv_max_per_host;
	dopt.smtp_port = c->dlv_smtp_port;
	dopt.tls_ca_file = c->dlv_tls_ca_file;
	dopt.local_alias_has = local_alias_has;
	dopt.local_alias_arg = d;
	rv = deliverer_init(&d->dlv, d->loop, &dopt, d->sp);
	if (rv != 0) {
		log_error("cannot start the delivery engine (%d)", rv);
		d->dlv = NULL;
		return -1;
	}

	memset(&yo, 0, sizeof(yo));
	yo.node_id = c->id;
	yo.node_name = c->name;
	yo.node_domain = c->domain;
	yo.lease_ms = c->dlv_lease_ms;
	yo.grace_ms = c->dlv_grace_ms;
	yo.scan_interval_ms = c->dlv_scan_interval_ms;
	yo.claim_batch = c->dlv_claim_batch;
	yo.activity_log = c->dlv_activity_log;
	yo.log_dir = c->log_dir;
	rv = symbiont_start(&d->sym, d->loop, &yo, d->cl, d->sp, d->dlv);
	if (rv != 0) {
		log_error("cannot start the symbiont: %s", spool_strerror(rv));
		d->sym = NULL;
		return -1;
	}
	if (d->ctl != NULL) {
		control_set_stats(d->ctl, "symbiont", symbiont_stats_json, d);
	}
	return 0;
}

/* The Prometheus endpoint, when [metrics] listen is set. 0 or -1. */
static int start_metrics(struct daemon *d)
{
	d->mrefs.smtp = &d->smtp;
	d->mrefs.sym = &d->sym;
	d->mrefs.cl = &d->cl;
	d->mrefs.sp = &d->sp;
	d->mrefs.node_id = d->conf.id;
	d->mrefs.node_name = d->conf.name;
	if (d->conf.metrics_listen[0] == '\0')
		return 0;
	return metrics_http_start(&d->metrics, d->loop, d->conf.metrics_listen,
				  metrics_collect, &d->mrefs) == 0
		   ? 0
		   : -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"bootstrap", no_argument, NULL, 'b'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon d;
	struct spool_opts so;
	const char *path = NULL;
	char err[512];
	char spool_dir[NODECONF_STR + 16];
	int bootstrap = 0, verbose = 0;
	int opt, rv;

	memset(&d, 0, sizeof(d));
	while ((opt = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'b':
			bootstrap = 1;
			break;
		case 'f':
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE_;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return EX_USAGE_;
	}
	nodeconf_defaults(&d.conf);
	if (nodeconf_load(&d.conf, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "smtpclusterd: %s\n", err);
		return EX_CONFIG_;
	}
	if (bootstrap) {
		d.conf.bootstrap = 1;
	}
	/* least privilege before anything is opened or created: every file
	 * of the node is then the user's (src/base/privdrop.h) */
	if (privdrop_become(d.conf.user, d.conf.group, err, sizeof(err)) != 0) {
		fprintf(stderr, "smtpclusterd: %s\n", err);
		return EX_CONFIG_;
	}
	log_init(d.conf.name, verbose ? "debug" : d.conf.log_level,
		 d.conf.log_file);
	cluster_log_init(); /* raft/ logs through the daemon's log */
	signal(SIGPIPE, SIG_IGN);

	if (mkdirs(d.conf.data_dir) != 0) {
		log_error("cannot create %s: %s", d.conf.data_dir,
			  strerror(errno));
		return EX_OSERR_;
	}
	if (d.conf.user[0] != '\0' &&
	    privdrop_check_dir(d.conf.data_dir, err, sizeof(err)) != 0) {
		log_error("[node] data_dir: %s", err);
		return EX_CONFIG_;
	}
	if (geteuid() == 0)
		log_warn("running as root: set [node] user (docs/security.md)");
	else if (d.conf.user[0] != '\0')
		log_info("running as %s (uid %ld), only CAP_NET_BIND_SERVICE "
			 "kept",
			 d.conf.user, (long)geteuid());
	snprintf(spool_dir, sizeof(spool_dir), "%s/spool", d.conf.data_dir);
	memset(&so, 0, sizeof(so));
	so.keep = 0; /* rebuilt from raft's snapshot and log */
	rv = spool_open(&d.sp, spool_dir, &so);
	if (rv != 0) {
		log_error("cannot open the spool in %s: %s", spool_dir,
			  spool_strerror(rv));
		return EX_OSERR_;
	}
	d.loop = uv_default_loop();
	rv = diskguard_start(d.loop, d.conf.data_dir,
			     d.conf.min_free_mb * 1024 * 1024,
			     DISKGUARD_INTERVAL_MS);
	if (rv != 0) {
		log_error("cannot examine the disk of %s: %s", d.conf.data_dir,
			  strerror(-rv));
		spool_close(d.sp);
		return EX_OSERR_;
	}
	looplag_start(d.loop);
	rv = cluster_start(&d.cl, d.loop, &d.conf, d.sp);
	if (rv != 0) {
		log_error("cannot start the cluster node (%d)", rv);
		spool_close(d.sp);
		return EX_OSERR_;
	}
	cluster_set_fatal_cb(d.cl, on_fatal, &d);
	uv_signal_init(d.loop, &d.sigterm);
	uv_signal_init(d.loop, &d.sigint);
	uv_signal_init(d.loop, &d.sighup);
	d.sigterm.data = d.sigint.data = d.sighup.data = &d;
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	uv_signal_start(&d.sighup, on_signal, SIGHUP);
	uv_timer_init(d.loop, &d.ready_timer);
	d.ready_timer.data = &d;
#ifdef SMTPCLUSTER_TESTHOOKS
	testhooks_register();
#endif
	rv = control_start(&d.ctl, d.loop, &d.conf, d.cl, d.sp);
	if (rv != 0) {
		log_error("cannot start the control socket %s (%d)",
			  d.conf.control_socket, rv);
		d.ctl = NULL;
		d.exit_code = EX_OSERR_;
		begin_stop(&d, "start-up failure");
	} else if (start_mail(&d) != 0) {
		d.exit_code = EX_OSERR_;
		begin_stop(&d, "start-up failure");
	} else if (start_metrics(&d) != 0) {
		d.exit_code = EX_OSERR_;
		begin_stop(&d, "start-up failure");
	} else {
		control_set_stats(d.ctl, "cluster", cluster_peer_stats, d.cl);
		/* set/show service smtp --node asked by another member */
		cluster_set_service_hook(d.cl, control_service_remote, d.ctl);
		log_info("smtpclusterd node %llu (%s) running; SMTP %s, "
			 "control socket %s",
			 (unsigned long long)d.conf.id, d.conf.name,
			 d.conf.smtp_listen, d.conf.control_socket);
		sd_notify(0, "STATUS=waiting for a cluster leader");
		uv_timer_start(&d.ready_timer, ready_poll, 0, READY_POLL_MS);
	}

	uv_run(d.loop, UV_RUN_DEFAULT);

	cluster_free(d.cl);
	spool_close(d.sp);
	aliases_free(&d.local_aliases);
	smtp_recvlog_close();
	smtp_auth_done();
	if (uv_loop_close(d.loop) != 0) {
		log_debug("loop closed with handles still open");
	}
	log_info("exited");
	return d.exit_code;
}
