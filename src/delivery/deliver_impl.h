/*
 * deliver_impl.h — the delivery engine's insides, shared by its files
 * (deliver.c and deliver_*.c) and by their unit tests; nothing else
 * includes it: the rest of the daemon sees deliver.h only.
 *
 * Files of the engine, one concern each:
 *   deliver.c          the attempt: deliver_start/cancel, outcomes, the
 *                      delivery's life, the prepared body, the deliverer
 *   deliver_group.c    the group: its state machine, making the groups
 *                      and putting each recipient in one
 *   deliver_remote.c   remote groups: route, merge, try each address
 *   deliver_hostcap.c  the per-host connection cap and its wait queues
 *   deliver_conncache.c the idle connections kept for the next message
 *   deliver_local.c    local groups: the Maildir job, the LMTP session
 *   deliver_self.c     which addresses and domains are this cluster's
 *   deliver_resolve.c  route.c's lookups over dns.c and the spool tables
 *
 * Ownership: a struct delivery owns its groups, items, outcomes, its copy
 * of the control file, the message body handed to deliver_start() and the
 * prepared (dot-stuffed) data; all of it is freed in one place,
 * delivery_free(), from the close callback of the delivery's timer.
 */
#ifndef SRC_DELIVER_IMPL_H
#define SRC_DELIVER_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>
#include <uv.h>

#include "spool/store/spool.h"
#include "src/delivery/deliver.h"
#include "src/delivery/dns.h"
#include "src/delivery/local.h"
#include "src/delivery/route.h"
#include "src/delivery/smtp_client.h"

/* ---- the per-host connection cap (deliver_hostcap.c) ---- */

struct host_slot;
struct deliverer;

/* One party waiting for a place at a host; granted runs once a place is
 * taken for it (from hostcap_release()), or an idle connection that
 * holds one is handed over (conn, from conncache_put()). */
struct host_wait {
	TAILQ_ENTRY(host_wait) q;
	struct host_slot *slot; /* the host waited for; NULL: not waiting */
	struct smtp_conn *conn; /* with the grant: an idle connection */
	void (*granted)(struct host_wait *w, struct host_slot *h);
};

/* An idle connection kept in its host's cache (deliver_conncache.c). */
struct idle_conn {
	TAILQ_ENTRY(idle_conn) q;
	struct deliverer *d;
	struct host_slot *h;
	struct smtp_conn *conn;
};

/* Open connections to one destination address (each holds a place,
 * busy or idle), who waits for one, and the idle ones. */
struct host_slot {
	char ip[DNS_IP_MAX];
	unsigned port;
	unsigned active;
	TAILQ_HEAD(host_waitq, host_wait) waiters;
	TAILQ_HEAD(host_idleq, idle_conn) idle;
	SLIST_ENTRY(host_slot) next;
};

/* Every destination this deliverer has connected to; max 0 = no cap. */
struct hostcap {
	SLIST_HEAD(host_slotq, host_slot) hosts;
	unsigned max;
};

void hostcap_init(struct hostcap *hc, unsigned max);
void hostcap_free(struct hostcap *hc);
/* The slot of ip:port, made when missing; NULL when out of memory. */
struct host_slot *hostcap_get(struct hostcap *hc, const char *ip,
			      unsigned port);
/* Take a place at h: 1 when taken now, 0 when w was queued (granted runs
 * when a place frees up). */
int hostcap_acquire(struct hostcap *hc, struct host_slot *h,
		    struct host_wait *w,
		    void (*granted)(struct host_wait *, struct host_slot *));
/* A connection to h ended: hand the place to the next in line. */
void hostcap_release(struct hostcap *hc, struct host_slot *h);
/* Leave the queue w waits in (nothing when not waiting). */
void hostcap_unwait(struct host_wait *w);

/* ---- the connection cache (deliver_conncache.c) ---- */

/* Messages one connection carries at most, and how long it waits idle. */
#define DELIVER_REUSE_MAX 100
#define DELIVER_IDLE_MS 2000

/* An idle connection to h that meets the TLS policy level (TLSPOL_*) of
 * mail for the MX host name host, out of the cache (its place at h goes
 * with it), or NULL. */
struct smtp_conn *conncache_take(struct deliverer *d, struct host_slot *h,
				 int level, const char *host);
/* 1 when connection c may carry mail of TLS policy level to host:
 * encrypt needs TLS, verify TLS verified for that host name. */
int conncache_fits(const struct smtp_conn *c, int level, const char *host);
/* keep (to h, holding a place there) finished a message: hand it to h's
 * first waiter, or park it until its idle time ends. */
void conncache_put(struct deliverer *d, struct host_slot *h,
		   struct smtp_conn *keep);
/* Close every idle connection (the deliverer closes). */
void conncache_close_all(struct deliverer *d);

/* ---- the engine ---- */

/* Copy src into dst, cut to size (always terminated). */
static inline void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (size == 0)
		return;
	if (n >= size)
		n = size - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

struct deliverer {
	uv_loop_t *loop;
	struct spool *sp;
	struct deliver_opts o;
	char *s_node, *s_domain, *s_helo, *s_backend, *s_root, *s_lmtp, *s_dns;
	struct dns *dns;
	struct ssl_ctx_st *tls;
	struct ssl_ctx_st *tls_verify; /* TLS policy verify; NULL: none */
	char tls_verify_err[256];      /* why tls_verify is NULL */
	struct route_resolver rv;
	struct route_self self; /* listeners from the options + addresses */
	struct hostcap hc;
	unsigned nidle; /* parked connections not closed yet */
	/* deliver.c's, called by the cache when a parked connection closed
	 * (a pointer: the cache does not call back into deliver.c) */
	void (*idle_closed)(struct deliverer *d);
	LIST_HEAD(delivery_head, delivery) live;
	uint64_t seq;
	int closing;
	void (*close_cb)(void *);
	void *close_arg;
};

enum gkind { G_REMOTE = 1, G_MAILDIR = 2, G_LMTP = 3 };

/* One recipient of the delivery. */
struct item {
	uint32_t oi;		       /* index into out[] */
	char addr[SPOOL_ADDR_MAX + 1]; /* the address delivered to */
	const char *orig;	       /* the control file's address */
	struct local_target lt;
	int settled;
	int hard_all; /* every address tried refused it with a 5xx */
	unsigned tried;
	char last[SMTP_CLIENT_REPLY_MAX];
	char last_relay[300];
	int dup_of; /* local: same mailbox as item dup_of (-1: none) */
};

struct maildir_job {
	uint32_t item;
	int outcome;
	char reply[SMTP_CLIENT_REPLY_MAX];
};

/* The life of a group (deliver_group.c holds the legal moves):
 *
 *   NEW --> ROUTING --> PARKED --> WAIT_HOST <--> SENDING --> DONE
 *    |                    \__________________________^
 *    +--> SENDING (local groups: the Maildir job or the LMTP session)
 *
 * and every state but DONE may end in DONE (a failure, a merge, the
 * cancel). SENDING -> SENDING is the next address of a remote group. */
enum group_state {
	GS_NEW = 0,   /* made by classification, not started */
	GS_ROUTING,   /* remote: route_start() running (rq) */
	GS_PARKED,    /* remote: routed, waiting for the delivery's other
			 routes (to merge groups bound for the same hosts) */
	GS_WAIT_HOST, /* remote: in a host's queue for a connection place */
	GS_SENDING,   /* an SMTP / LMTP session (conn) or the Maildir job */
	GS_DONE,      /* finished; counted off the delivery */
	GS__COUNT
};

struct group {
	struct delivery *dv;
	SLIST_ENTRY(group) next; /* in the delivery */
	enum gkind kind;
	enum group_state state;
	char key[DNS_NAME_MAX + 3]; /* route target, lower case */
	uint32_t *it;
	uint32_t nit;

	/* remote */
	struct route_req *rq;
	struct route_hop *hops;
	uint32_t nhops, hi;
	struct host_wait wait;	 /* in a host's queue (GS_WAIT_HOST) */
	struct host_slot *held;	 /* the connection place held */
	struct smtp_conn *reuse; /* idle connection handed over, not used */
	int notls;
	int tls_level; /* TLSPOL_* of its recipients' domains (a part of the
			  group's identity: groups of other levels do not
			  merge) */
	struct smtp_conn *conn;
	struct smtp_client_rcpt *cr;
	uint32_t *cr_item;
	uint32_t ncr;
	char peer[DNS_NAME_MAX + DNS_IP_MAX + 16];

	/* maildir */
	uv_work_t work;
	struct maildir_job *jobs;
	uint32_t njobs;
};

/* The bytes of the data phase, made once per attempt and only when a
 * group sends over SMTP or LMTP (deliver_data_prepare()). With LMTP the
 * buffer starts with the X-VMS-From: line; SMTP sends what follows it. */
struct deliver_data {
	char *buf; /* malloc'd, NULL: not needed */
	size_t len;
	size_t smtp_off; /* SMTP data: buf + smtp_off (the prefix skipped) */
	int lmtp;	 /* buf starts with the LMTP prefix */
	int eightbit;	 /* the body (not the prefix) has 8-bit octets */
	int head8bit;	 /* its header section has 8-bit octets */
	/* the LMTP data apart, when /OPTIONS=TOP_HEADERS or NOHEADERS
	 * leaves header fields out of local delivery (deliver_data_local()):
	 * malloc'd, the prefix first; NULL: LMTP sends buf whole */
	char *lbuf;
	size_t llen;
};

struct delivery {
	struct deliverer *d;
	LIST_ENTRY(delivery) next; /* in the deliverer's live list */
	char name[SPOOL_NAME_MAX + 1];
	void *raw;
	struct spool_rec rec;
	int have_rec;
	char *body; /* the caller's, owned from deliver_start() on */
	size_t len;
	struct spool_config cfg;
	char zone[SPOOL_CFG_STR_MAX + 1]; /* the zone in effect (route_zone) */
	struct route_self self;
	deliver_cb cb;
	void *arg;
	struct deliver_outcome *out;
	struct item *items;
	uint32_t n;
	SLIST_HEAD(group_head, group) groups;
	unsigned routing; /* remote groups whose route is not known yet */
	unsigned busy;	  /* groups running + the start guard */
	int cancelled, reported, finishing;
	uv_timer_t timer; /* completion is reported from here */
	struct deliver_data data;
	char vms_from[512];
	uint64_t seed;
};

/* deliver.c */
void delivery_settle(struct delivery *dv, uint32_t ii, int outcome,
		     const char *reply, const char *relay);
void delivery_release(struct delivery *dv);
/* Prepare the data phase for SMTP (need_smtp) and LMTP (need_lmtp, with
 * the X-VMS-From: vms_from line first) from msg: one buffer shared by
 * both, nothing when neither is needed. 0 or SPOOL_E_NOMEM. */
int deliver_data_prepare(struct deliver_data *dd, const void *msg, size_t len,
			 int need_smtp, int need_lmtp, const char *vms_from);
/* Make dd's LMTP data apart (dd->lbuf) from msg without the header
 * fields the headers mode (enum spool_cfg_headers) leaves out; nothing
 * under CFG_HEADERS_ALL. 0 or SPOOL_E_NOMEM. */
int deliver_data_local(struct deliver_data *dd, const void *msg, size_t len,
		       int headers, const char *vms_from);
void deliver_data_free(struct deliver_data *dd);

/* deliver_group.c */
const char *group_state_name(enum group_state st);
/* 1 when a group may move from one state to the other. */
int group_move_legal(enum group_state from, enum group_state to);
/* The one place a group's state changes: asserts the move is legal, logs
 * old -> new at debug level. Entering GS_DONE is group_done()'s. */
void group_enter(struct group *g, enum group_state next);
/* The group of kind, key and TLS policy level (0 for local groups),
 * made when missing; NULL when out of memory. */
struct group *group_for(struct delivery *dv, enum gkind kind, const char *key,
			int tls_level);
void group_free(struct group *g);
/* Finish g (once; later calls do nothing): local duplicates take their
 * mailbox's outcome, and the delivery has one running part less. */
void group_done(struct group *g);
/* Give every recipient of g the same outcome and finish the group. */
void group_settle_all(struct group *g, int outcome, const char *reply,
		      const char *relay);
/* Put recipient ii in its group (or settle it). */
void group_classify(struct delivery *dv, uint32_t ii,
		    const struct local_env *env);
/* The RCPT list of the group's unsettled recipients (mailbox: the local
 * mailbox address, for LMTP). Returns the count. */
uint32_t group_build_rcpts(struct group *g, int mailbox);
/* The client's settings for a session of g. */
void group_client_cfg(struct group *g, struct smtp_client_cfg *cfg, int lmtp);

/* deliver_remote.c */
void remote_group_start(struct group *g);
/* Every remote group of dv has its route: merge, then send. */
void remote_groups_routed(struct delivery *dv);

/* deliver_local.c */
void maildir_group_start(struct group *g);
void lmtp_group_start(struct group *g);

/* deliver_self.c */
/* The listeners of the options and this host's addresses. */
void deliver_self_init(struct deliverer *d, const char *const *own, unsigned n);
/* d's own addresses plus the `nodes` table's listeners, for one attempt. */
void deliver_self_load(struct deliverer *d, struct route_self *self);
/* Which recipient domains are local, for local_resolve(). */
void deliver_self_env(struct deliverer *d, const struct spool_config *cfg,
		      struct local_env *env);

/* deliver_resolve.c */
void deliver_resolver_init(struct deliverer *d);
/* The TLS policy level for mail to domain (spool `tlspolicy` table,
 * TLSPOL_MAY when no entry), or a negative SPOOL_E_*. */
int deliver_tls_level(struct deliverer *d, const char *domain);

#endif
