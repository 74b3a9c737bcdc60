/*
 * cluster_rafttls.c — the raft port's mutual TLS: the secure channel
 * (struct rtransport_wrap, raft/transport.h) under the raft transport.
 * libraft reads and writes one end of a local socket pair; each
 * connection here pumps the other end through TLS over TCP
 * (src/base/conn.c, the cluster's contexts in struct peer_tls), in both
 * directions, with flow control (a side stops reading while the other
 * side's write queue is over RTLS_HIGH_WATER).
 *
 * Accepting: TLS with a client certificate from the cluster CA, whose
 * node id goes to the transport with the local end (the transport checks
 * it against the handshake's server id). Connecting: TLS, and the
 * server's certificate must name the server raft dials.
 *
 * Owns the pumps (struct rpump) and their two connections. Does not own
 * the contexts (cluster_tls.c), the raft handshake (raft/transport.c) or
 * the streams libraft holds. Fails closed: a TLS failure, a certificate
 * that names no node or the wrong one, or a handshake not finished in
 * RTLS_HANDSHAKE_MS ends the connection before libraft sees a byte, with
 * a log line (peer address and reason) and one more in refused. Once
 * pumping, an error or end of stream on either side closes both (the
 * other side gracefully, so what was already read is delivered).
 */
#include "src/cluster/cluster_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "src/base/log.h"

#define RTLS_HANDSHAKE_MS 5000
#define RTLS_HIGH_WATER (4u << 20) /* stop reading the other side above */
#define RTLS_LOW_WATER (1u << 20)  /* resume below */

enum rp_state { RP_CONNECTING, RP_TLS, RP_PUMP, RP_CLOSED };

static const unsigned char rp_legal[RP_CLOSED + 1][RP_CLOSED + 1] = {
    [RP_CONNECTING] = {[RP_TLS] = 1, [RP_CLOSED] = 1},
    [RP_TLS] = {[RP_PUMP] = 1, [RP_CLOSED] = 1},
    [RP_PUMP] = {[RP_CLOSED] = 1},
};

struct rpump {
	struct rafttls *rt;
	struct conn net; /* TCP with TLS */
	struct conn loc; /* our end of the socket pair (RP_PUMP) */
	int nopen;	 /* connections not yet closed */
	int have_loc;	 /* loc was initialized */
	enum rp_state state;
	rwrap_done done; /* NULL once called or cancelled */
	void *arg;
	uint64_t expect_id; /* connecting: the server dialled; 0 accepting */
	char peer[96];
	struct rpump *next, *prev;
};

struct rafttls {
	uv_loop_t *loop;
	struct peer_tls *tls;
	struct rtransport_wrap iface;
	struct rpump *pumps;
	unsigned long long refused;
	int freeing; /* rtls_free was called: free with the last pump */
};

static void rp_close(struct rpump *p, int graceful_loc, int graceful_net);

static int rp_enter(struct rpump *p, enum rp_state to)
{
	if (!rp_legal[p->state][to]) {
		log_error("raft tls: %s: illegal state change %d -> %d",
			  p->peer, p->state, to);
		rp_close(p, 0, 0);
		return -1;
	}
	p->state = to;
	return 0;
}

/* Tell the transport once: fd >= 0 delivers, -1 fails. */
static void rp_report(struct rpump *p, int fd, uint64_t id)
{
	rwrap_done done = p->done;

	p->done = NULL;
	if (done != NULL)
		done(p->arg, fd, id, p->peer);
	else if (fd >= 0)
		close(fd);
}

static void rp_close(struct rpump *p, int graceful_loc, int graceful_net)
{
	if (p->state == RP_PUMP) {
		conn_close(&p->loc, graceful_loc);
	}
	p->state = RP_CLOSED;
	conn_close(&p->net, graceful_net);
	rp_report(p, -1, 0);
}

/* Refuse before libraft saw anything: log, count, close. */
static void rp_refuse(struct rpump *p, const char *what, const char *why)
{
	if (p->state == RP_CLOSED)
		return;
	p->rt->refused++;
	log_warn("raft tls: refused %s: %s%s", p->peer, what, why);
	rp_close(p, 0, 0);
}

static void rp_free_maybe(struct rpump *p)
{
	struct rafttls *rt = p->rt;

	if (--p->nopen > 0)
		return;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		rt->pumps = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	free(p);
	if (rt->freeing && rt->pumps == NULL)
		free(rt);
}

/* ---- the TLS side ---- */

static void net_data(struct conn *k, const char *d, size_t n)
{
	struct rpump *p = k->data;

	if (p->state != RP_PUMP)
		return;
	if (conn_write(&p->loc, d, n) != 0) {
		rp_close(p, 0, 0);
		return;
	}
	if (conn_write_queue_size(&p->loc) > RTLS_HIGH_WATER)
		conn_read_stop(&p->net);
}

/* The channel is up and the certificate checked: make the socket pair
 * and hand one end to the transport. */
static void start_pump(struct rpump *p, uint64_t id);

static void net_tls(struct conn *k)
{
	struct rpump *p = k->data;
	unsigned long long id;
	char why[96];

	if (conn_tls_peer_node(k, &id) != 0) {
		rp_refuse(p, "its certificate names no node (CN=node-<id>)",
			  "");
		return;
	}
	if (p->expect_id != 0 && id != p->expect_id) {
		snprintf(why, sizeof(why), "node %llu, expected node %" PRIu64,
			 id, p->expect_id);
		rp_refuse(p, "its certificate names ", why);
		return;
	}
	start_pump(p, id);
}

static void net_error(struct conn *k, enum conn_event ev, int code)
{
	struct rpump *p = k->data;

	if (p->state == RP_TLS) {
		if (ev == CONN_EV_TLS)
			rp_refuse(p,
				  "TLS handshake failed: ", conn_tls_error(k));
		else
			rp_refuse(
			    p, "during the TLS handshake: ", uv_strerror(code));
		return;
	}
	/* the peer went: let libraft read what arrived, then EOF */
	rp_close(p, 1, 0);
}

static void net_written(struct conn *k)
{
	struct rpump *p = k->data;

	if (p->state == RP_PUMP && !conn_reading(&p->loc) &&
	    conn_write_queue_size(&p->net) < RTLS_LOW_WATER)
		conn_read_start(&p->loc);
}

static void net_timer(struct conn *k)
{
	struct rpump *p = k->data;

	if (p->state != RP_PUMP)
		rp_refuse(p, "TLS handshake not finished in time", "");
}

static void net_connect(struct conn *k, int status)
{
	struct rpump *p = k->data;

	if (status == 0)
		status = conn_read_start(k);
	if (status != 0) {
		/* libraft retries; a node that is down is not news */
		log_debug("raft tls: cannot connect to %s: %s", p->peer,
			  uv_strerror(status));
		rp_close(p, 0, 0);
		return;
	}
	conn_set_nodelay(k);
	if (rp_enter(p, RP_TLS) != 0)
		return;
	if (conn_starttls_client(k, p->rt->tls->client, NULL) != 0)
		rp_close(p, 0, 0);
}

static void any_close(struct conn *k)
{
	rp_free_maybe(k->data);
}

static const struct conn_cbs net_cbs = {
    .on_connect = net_connect,
    .on_data = net_data,
    .on_tls = net_tls,
    .on_error = net_error,
    .on_written = net_written,
    .on_timer = net_timer,
    .on_close = any_close,
};

/* ---- the local side ---- */

static void loc_data(struct conn *k, const char *d, size_t n)
{
	struct rpump *p = k->data;

	if (conn_write(&p->net, d, n) != 0) {
		rp_close(p, 0, 0);
		return;
	}
	if (conn_write_queue_size(&p->net) > RTLS_HIGH_WATER)
		conn_read_stop(&p->loc);
}

static void loc_error(struct conn *k, enum conn_event ev, int code)
{
	struct rpump *p = k->data;

	(void)ev;
	(void)code;
	/* libraft closed its end: send what it wrote, then close_notify */
	rp_close(p, 0, 1);
}

static void loc_written(struct conn *k)
{
	struct rpump *p = k->data;

	if (p->state == RP_PUMP && !conn_reading(&p->net) &&
	    conn_write_queue_size(&p->loc) < RTLS_LOW_WATER)
		conn_read_start(&p->net);
}

static const struct conn_cbs loc_cbs = {
    .on_data = loc_data,
    .on_error = loc_error,
    .on_written = loc_written,
    .on_close = any_close,
};

static void start_pump(struct rpump *p, uint64_t id)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		log_error("raft tls: socketpair: %s", strerror(errno));
		rp_close(p, 0, 0);
		return;
	}
	if (conn_init(&p->loc, p->rt->loop, CONN_PIPE, &loc_cbs, p) != 0) {
		close(sv[0]);
		close(sv[1]);
		rp_close(p, 0, 0);
		return;
	}
	p->nopen++;
	p->have_loc = 1;
	if (conn_open_fd(&p->loc, sv[0]) != 0) {
		close(sv[0]);
		close(sv[1]);
		conn_close(&p->loc, 0);
		rp_close(p, 0, 0);
		return;
	}
	if (rp_enter(p, RP_PUMP) != 0) {
		close(sv[1]);
		return;
	}
	conn_timer(&p->net, 0);
	if (conn_read_start(&p->loc) != 0) {
		close(sv[1]);
		rp_close(p, 0, 0);
		return;
	}
	rp_report(p, sv[1], id);
}

/* ---- the wrap ---- */

static struct rpump *rp_new(struct rafttls *rt, rwrap_done done, void *arg)
{
	struct rpump *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (conn_init(&p->net, rt->loop, CONN_TCP, &net_cbs, p) != 0) {
		free(p);
		return NULL;
	}
	p->rt = rt;
	p->nopen = 1;
	p->done = done;
	p->arg = arg;
	p->next = rt->pumps;
	if (rt->pumps != NULL)
		rt->pumps->prev = p;
	rt->pumps = p;
	conn_timer(&p->net, RTLS_HANDSHAKE_MS);
	return p;
}

static int w_accept(void *data, uv_stream_t *listener, rwrap_done done,
		    void *arg)
{
	struct rafttls *rt = data;
	struct rpump *p = rp_new(rt, done, arg);
	int rc;

	if (p == NULL)
		return UV_ENOMEM;
	snprintf(p->peer, sizeof(p->peer), "?");
	rc = conn_accept(&p->net, listener);
	if (rc == 0) {
		conn_peer_name(&p->net, p->peer, sizeof(p->peer));
		p->state = RP_TLS;
		rc = conn_starttls_server(&p->net, rt->tls->server);
	}
	if (rc == 0)
		rc = conn_read_start(&p->net);
	if (rc != 0) {
		p->done = NULL; /* the caller learns it from rc */
		rp_close(p, 0, 0);
	}
	return rc;
}

static int w_connect(void *data, const struct sockaddr *sa, const char *address,
		     uint64_t id, rwrap_done done, void *arg)
{
	struct rafttls *rt = data;
	struct rpump *p = rp_new(rt, done, arg);
	int rc;

	if (p == NULL)
		return UV_ENOMEM;
	snprintf(p->peer, sizeof(p->peer), "%s", address);
	p->expect_id = id;
	rc = conn_connect_tcp(&p->net, sa);
	if (rc != 0) {
		p->done = NULL;
		rp_close(p, 0, 0);
	}
	return rc;
}

static void w_cancel(void *data, void *arg)
{
	struct rafttls *rt = data;

	for (struct rpump *p = rt->pumps; p != NULL; p = p->next) {
		if (p->done != NULL && p->arg == arg) {
			p->done = NULL;
			rp_close(p, 0, 0);
			return;
		}
	}
}

struct rafttls *rtls_new(uv_loop_t *loop, struct peer_tls *tls)
{
	struct rafttls *rt = calloc(1, sizeof(*rt));

	if (rt == NULL)
		return NULL;
	rt->loop = loop;
	rt->tls = tls;
	rt->iface.data = rt;
	rt->iface.accept = w_accept;
	rt->iface.connect = w_connect;
	rt->iface.cancel = w_cancel;
	return rt;
}

const struct rtransport_wrap *rtls_wrap(struct rafttls *rt)
{
	return &rt->iface;
}

unsigned long long rtls_refused(const struct rafttls *rt)
{
	return rt != NULL ? rt->refused : 0;
}

void rtls_free(struct rafttls *rt)
{
	if (rt == NULL)
		return;
	rt->freeing = 1;
	for (struct rpump *p = rt->pumps; p != NULL; p = p->next) {
		p->done = NULL;
		if (p->state != RP_CLOSED)
			rp_close(p, 0, 0);
		else
			conn_close(&p->net, 0); /* cut graceful closes short */
		if (p->have_loc)
			conn_close(&p->loc, 0);
	}
	if (rt->pumps == NULL)
		free(rt);
}
