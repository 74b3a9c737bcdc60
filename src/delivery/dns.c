/*
 * dns.c — c-ares on the libuv loop (see dns.h).
 *
 * Owns: the c-ares channel, one uv_poll_t per socket c-ares opens (created
 * and stopped from the sock-state callback), one uv_timer_t that fires at
 * ares_timeout(), and the query records handed to c-ares. Every handle is
 * freed in its close callback; dns_close() calls its own callback once the
 * last one has closed.
 *
 * Failure: c-ares errors are folded into four statuses (dns.h). Server
 * failure, timeout and refusal are DNS_TEMP, so the caller defers rather
 * than bounces on a sick resolver.
 */
#include "src/delivery/dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "spool/codec/err.h"
#include "src/base/log.h"

#define DNS_TIMEOUT_MS 3000
#define DNS_TRIES 2

struct dns_sock {
	uv_poll_t poll;
	ares_socket_t fd;
	struct dns *d;
	LIST_ENTRY(dns_sock) next;
};

struct dns {
	uv_loop_t *loop;
	ares_channel ch;
	int have_ch;
	uv_timer_t timer;
	LIST_HEAD(dns_sock_head, dns_sock) socks;
	LIST_HEAD(dns_flight_head, dns_flight) flights;
	unsigned open_handles; /* timer + polls not yet closed */
	int closing;
	void (*close_cb)(void *);
	void *close_arg;
};

enum { Q_MX = 1, Q_ADDR = 2 };

/* One caller waiting for an answer. */
struct dns_query {
	struct dns *d;
	int cancelled;
	dns_mx_cb mx_cb;
	dns_addr_cb addr_cb;
	void *arg;
	struct dns_query **slot;
	SLIST_ENTRY(dns_query) next; /* in its flight */
};

/* One question on the wire; every caller asking the same one waits on
 * it (coalescing: a burst of deliveries to one domain asks once). */
struct dns_flight {
	struct dns *d;
	int type;
	char name[DNS_NAME_MAX + 1];
	SLIST_HEAD(dns_query_head, dns_query) waiters;
	LIST_ENTRY(dns_flight) next;
};

const char *dns_status_name(int status)
{
	switch (status) {
	case DNS_OK:
		return "OK";
	case DNS_NODATA:
		return "NODATA";
	case DNS_NXDOMAIN:
		return "NXDOMAIN";
	default:
		return "TEMPFAIL";
	}
}

/* Fold a c-ares status into ours. */
static int fold_status(int st)
{
	switch (st) {
	case ARES_SUCCESS:
		return DNS_OK;
	case ARES_ENODATA:
		return DNS_NODATA;
	case ARES_ENOTFOUND:
		return DNS_NXDOMAIN;
	default:
		return DNS_TEMP;
	}
}

/* Free the resolver once every handle has closed. */
static void maybe_free(struct dns *d)
{
	if (!d->closing || d->open_handles > 0)
		return;
	if (d->close_cb != NULL)
		d->close_cb(d->close_arg);
	free(d);
}

static void handle_closed(uv_handle_t *h)
{
	struct dns *d = h->data;

	d->open_handles--;
	maybe_free(d);
}

static void sock_closed(uv_handle_t *h)
{
	struct dns_sock *s = h->data;
	struct dns *d = s->d;

	free(s);
	d->open_handles--;
	maybe_free(d);
}

static void on_timer(uv_timer_t *t);

/* Arm the timer for c-ares's next timeout (or stop it). */
static void reschedule(struct dns *d)
{
	struct timeval tvbuf, *tv;
	uint64_t ms;

	if (!d->have_ch || d->closing)
		return;
	tv = ares_timeout(d->ch, NULL, &tvbuf);
	if (tv == NULL) {
		uv_timer_stop(&d->timer);
		return;
	}
	ms = (uint64_t)tv->tv_sec * 1000 + (uint64_t)tv->tv_usec / 1000;
	uv_timer_start(&d->timer, on_timer, ms, 0);
}

static void destroy_now(struct dns *d);

static void on_timer(uv_timer_t *t)
{
	struct dns *d = t->data;

	if (d->closing) {
		destroy_now(d);
		return;
	}
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	reschedule(d);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct dns_sock *s = p->data;
	struct dns *d = s->d;
	ares_socket_t fd = s->fd;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	if (d->closing)
		return;
	if (status < 0) {
		rfd = wfd = fd; /* let c-ares see the error */
	} else {
		if (events & UV_READABLE)
			rfd = fd;
		if (events & UV_WRITABLE)
			wfd = fd;
	}
	/* s may be closed by the sock-state callback inside this call */
	ares_process_fd(d->ch, rfd, wfd);
	reschedule(d);
}

/* c-ares opens, changes or closes interest in a socket. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_sock *s;
	int ev = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);

	LIST_FOREACH (s, &d->socks, next)
		if (s->fd == fd)
			break;
	if (ev == 0) {
		if (s == NULL)
			return;
		LIST_REMOVE(s, next);
		uv_poll_stop(&s->poll);
		uv_close((uv_handle_t *)&s->poll, sock_closed);
		return;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return; /* c-ares times the query out */
		if (uv_poll_init_socket(d->loop, &s->poll, fd) != 0) {
			free(s);
			return;
		}
		s->fd = fd;
		s->d = d;
		s->poll.data = s;
		LIST_INSERT_HEAD(&d->socks, s, next);
		d->open_handles++;
	}
	uv_poll_start(&s->poll, ev, on_poll);
}

int dns_init(struct dns **out, uv_loop_t *loop, const char *servers)
{
	static int lib_ready;
	struct ares_options opts;
	int mask, rc;
	struct dns *d;
	char lookups[] = "b";

	if (!lib_ready) {
		if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
			return SPOOL_E_IO;
		lib_ready = 1;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return SPOOL_E_NOMEM;
	d->loop = loop;
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = sock_state;
	opts.sock_state_cb_data = d;
	opts.timeout = DNS_TIMEOUT_MS;
	opts.tries = DNS_TRIES;
	opts.flags = ARES_FLAG_NOSEARCH;
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	       ARES_OPT_FLAGS;
	if (servers != NULL && servers[0] != '\0') {
		opts.domains = NULL;
		opts.ndomains = 0;
		opts.lookups = lookups;
		mask |= ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS;
	}
	rc = ares_init_options(&d->ch, &opts, mask);
	if (rc != ARES_SUCCESS) {
		log_error("dns: ares_init_options: %s", ares_strerror(rc));
		free(d);
		return rc == ARES_ENOMEM ? SPOOL_E_NOMEM : SPOOL_E_IO;
	}
	d->have_ch = 1;
	if (servers != NULL && servers[0] != '\0') {
		rc = ares_set_servers_ports_csv(d->ch, servers);
		if (rc != ARES_SUCCESS) {
			log_error("dns: bad server list \"%s\": %s", servers,
				  ares_strerror(rc));
			goto err_after_channel;
		}
	}
	if (uv_timer_init(loop, &d->timer) != 0)
		goto err_after_channel;
	d->timer.data = d;
	d->open_handles = 1;
	*out = d;
	return 0;

err_after_channel:
	ares_destroy(d->ch);
	free(d);
	return rc == ARES_SUCCESS ? SPOOL_E_IO : SPOOL_E_INVAL;
}

/* The closing work, from the timer: never inside a c-ares call. */
static void destroy_now(struct dns *d)
{
	struct dns_sock *s;

	/* Queries see DNS_TEMP (ARES_EDESTRUCTION); sockets are closed
	 * through sock_state (interest 0). */
	if (d->have_ch) {
		d->have_ch = 0;
		ares_destroy(d->ch);
	}
	while ((s = LIST_FIRST(&d->socks)) != NULL) {
		LIST_REMOVE(s, next);
		uv_poll_stop(&s->poll);
		uv_close((uv_handle_t *)&s->poll, sock_closed);
	}
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, handle_closed);
}

/* Close from any context (even a query callback): the work runs from the
 * timer on the next loop turn. */
void dns_close(struct dns *d, void (*cb)(void *), void *arg)
{
	if (d == NULL || d->closing)
		return;
	d->close_cb = cb;
	d->close_arg = arg;
	d->closing = 1;
	uv_timer_stop(&d->timer);
	uv_timer_start(&d->timer, on_timer, 0, 0);
}

/* Detach q from its caller's slot. */
static void unslot(struct dns_query *q)
{
	if (q->slot != NULL && *q->slot == q)
		*q->slot = NULL;
	q->slot = NULL;
}

void dns_cancel(struct dns_query *q)
{
	if (q == NULL)
		return;
	q->cancelled = 1;
	unslot(q);
}

/* Take flight f out of the running list. */
static void flight_detach(struct dns_flight *f)
{
	LIST_REMOVE(f, next);
}

/* Hand one answer to every waiter of f, then free f and them. A waiter's
 * callback may start new queries (a new flight) or cancel other waiters
 * (skipped). */
static void flight_deliver(struct dns_flight *f, int st, const void *res,
			   size_t n)
{
	struct dns_query *q;

	SLIST_FOREACH (q, &f->waiters, next) {
		if (q->cancelled)
			continue;
		q->cancelled = 1; /* answered: once only */
		unslot(q);
		if (f->type == Q_MX)
			q->mx_cb(q->arg, st, res, n);
		else
			q->addr_cb(q->arg, st, res, n);
	}
	while ((q = SLIST_FIRST(&f->waiters)) != NULL) {
		SLIST_REMOVE_HEAD(&f->waiters, next);
		free(q);
	}
	free(f);
}

/* c-ares answer of an MX query. */
static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf,
		  int alen)
{
	struct dns_flight *f = arg;
	struct dns_mx *res = NULL;
	size_t n = 0;
	int st = fold_status(status);

	flight_detach(f);
	if (st == DNS_OK) {
		struct ares_mx_reply *mx = NULL, *m;
		int prc = ares_parse_mx_reply(abuf, alen, &mx);

		if (prc != ARES_SUCCESS) {
			st = prc == ARES_ENODATA ? DNS_NODATA : DNS_TEMP;
		} else {
			res = calloc(DNS_ANSWERS_MAX, sizeof(*res));
			if (res == NULL)
				st = DNS_TEMP;
			for (m = mx;
			     res != NULL && m != NULL && n < DNS_ANSWERS_MAX;
			     m = m->next) {
				size_t l = strlen(m->host);

				if (l > DNS_NAME_MAX)
					continue;
				memcpy(res[n].host, m->host, l + 1);
				/* "." is the root: the null MX */
				if (l == 1 && m->host[0] == '.')
					res[n].host[0] = '\0';
				res[n].pref = m->priority;
				n++;
			}
			if (res != NULL && n == 0)
				st = DNS_NODATA;
		}
		if (mx != NULL)
			ares_free_data(mx);
	}
	flight_deliver(f, st, res, st == DNS_OK ? n : 0);
	free(res);
}

/* c-ares answer of an address query. */
static void on_addr(void *arg, int status, int timeouts,
		    struct ares_addrinfo *ai)
{
	struct dns_flight *f = arg;
	struct dns_addr *res = NULL;
	size_t n = 0;
	int st = fold_status(status);

	flight_detach(f);
	if (st == DNS_OK && ai != NULL) {
		struct ares_addrinfo_node *nd;

		res = calloc(DNS_ANSWERS_MAX, sizeof(*res));
		if (res == NULL)
			st = DNS_TEMP;
		for (nd = ai->nodes;
		     res != NULL && nd != NULL && n < DNS_ANSWERS_MAX;
		     nd = nd->ai_next) {
			const void *src;
			int dup = 0;

			if (nd->ai_family == AF_INET)
				src =
				    &((struct sockaddr_in *)(void *)nd->ai_addr)
					 ->sin_addr;
			else if (nd->ai_family == AF_INET6)
				src = &((struct sockaddr_in6 *)(void *)
					    nd->ai_addr)
					   ->sin6_addr;
			else
				continue;
			if (inet_ntop(nd->ai_family, src, res[n].ip,
				      sizeof(res[n].ip)) == NULL)
				continue;
			for (size_t i = 0; i < n; i++)
				if (strcmp(res[i].ip, res[n].ip) == 0)
					dup = 1;
			if (dup)
				continue;
			res[n].family = nd->ai_family;
			n++;
		}
		if (res != NULL && n == 0)
			st = DNS_NODATA;
	} else if (st == DNS_OK) {
		st = DNS_NODATA;
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	flight_deliver(f, st, res, st == DNS_OK ? n : 0);
	free(res);
}

/* Join the running query for (type, name), or start one. */
static int query(struct dns *d, int type, const char *name, dns_mx_cb mcb,
		 dns_addr_cb acb, void *arg, struct dns_query **slot)
{
	struct dns_flight *f;
	struct dns_query *q;
	size_t l;

	if (d->closing || name == NULL || name[0] == '\0' ||
	    (l = strlen(name)) > DNS_NAME_MAX)
		return SPOOL_E_INVAL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return SPOOL_E_NOMEM;
	q->d = d;
	q->arg = arg;
	q->mx_cb = mcb;
	q->addr_cb = acb;
	LIST_FOREACH (f, &d->flights, next)
		if (f->type == type && strcasecmp(f->name, name) == 0)
			break;
	if (f != NULL) {
		/* the same question is already asked: wait for its answer */
		SLIST_INSERT_HEAD(&f->waiters, q, next);
		q->slot = slot;
		if (slot != NULL)
			*slot = q;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		free(q);
		return SPOOL_E_NOMEM;
	}
	f->d = d;
	f->type = type;
	memcpy(f->name, name, l + 1);
	SLIST_INIT(&f->waiters);
	SLIST_INSERT_HEAD(&f->waiters, q, next);
	LIST_INSERT_HEAD(&d->flights, f, next);
	q->slot = slot;
	if (slot != NULL)
		*slot = q;
	if (type == Q_MX) {
		ares_query(d->ch, name, 1 /* C_IN */, 15 /* T_MX */, on_mx, f);
	} else {
		struct ares_addrinfo_hints hints;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_flags = ARES_AI_NOSORT;
		ares_getaddrinfo(d->ch, name, NULL, &hints, on_addr, f);
	}
	reschedule(d);
	return 0;
}

int dns_mx(struct dns *d, const char *name, dns_mx_cb cb, void *arg,
	   struct dns_query **slot)
{
	return query(d, Q_MX, name, cb, NULL, arg, slot);
}

int dns_addr(struct dns *d, const char *name, dns_addr_cb cb, void *arg,
	     struct dns_query **slot)
{
	return query(d, Q_ADDR, name, NULL, cb, arg, slot);
}
