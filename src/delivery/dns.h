/*
 * dns.h — the delivery side's DNS resolver: c-ares driven by the libuv
 * loop (one uv_poll per resolver socket, one uv_timer for c-ares's own
 * timeouts). Two questions only: the MX records of a name, and its A/AAAA
 * addresses.
 *
 * Servers: "IP:PORT,IP:PORT" (ares_set_servers_ports_csv), or "" / NULL
 * for the system's resolv.conf. With explicit servers the resolver asks
 * only them (no /etc/hosts, no search list), so tests see exactly the zone
 * their own DNS server holds.
 *
 * Queries and cancellation: a query's caller passes a slot (struct
 * dns_query **). The slot holds the running query and is set to NULL
 * before the callback runs, or by dns_cancel(); a cancelled query never
 * calls back. The callback may run inside dns_mx()/dns_addr() itself (for
 * example for an address literal). Runs on the loop thread only.
 */
#ifndef SRC_DNS_H
#define SRC_DNS_H

#include <stddef.h>
#include <uv.h>

#define DNS_NAME_MAX 255
#define DNS_IP_MAX 46 /* INET6_ADDRSTRLEN */
#define DNS_ANSWERS_MAX 64

enum dns_status {
	DNS_OK = 0,	  /* records in the answer */
	DNS_NODATA = 1,	  /* the name exists, no record of that type */
	DNS_NXDOMAIN = 2, /* the name does not exist */
	DNS_TEMP = 3,	  /* server failure, timeout, refusal, no memory */
};

struct dns_mx {
	unsigned pref;
	char host[DNS_NAME_MAX + 1]; /* "" for the null MX "." */
};

struct dns_addr {
	int family; /* AF_INET / AF_INET6 */
	char ip[DNS_IP_MAX];
};

/* Results are valid during the call only. */
typedef void (*dns_mx_cb)(void *arg, int status, const struct dns_mx *mx,
			  size_t n);
typedef void (*dns_addr_cb)(void *arg, int status, const struct dns_addr *a,
			    size_t n);

struct dns;
struct dns_query;

/* A resolver on loop. 0, SPOOL_E_INVAL (bad server list) or
 * SPOOL_E_NOMEM / SPOOL_E_IO. */
int dns_init(struct dns **out, uv_loop_t *loop, const char *servers);

/* Cancel every query (their callbacks run with DNS_TEMP unless they were
 * cancelled), close every handle, then call cb(arg) and free d. */
void dns_close(struct dns *d, void (*cb)(void *), void *arg);

/* MX records of name (at most DNS_ANSWERS_MAX, unsorted). 0 or a
 * negative error (no callback then). */
int dns_mx(struct dns *d, const char *name, dns_mx_cb cb, void *arg,
	   struct dns_query **slot);

/* A and AAAA addresses of name (at most DNS_ANSWERS_MAX). */
int dns_addr(struct dns *d, const char *name, dns_addr_cb cb, void *arg,
	     struct dns_query **slot);

/* Forget a running query: no callback. q may be NULL. */
void dns_cancel(struct dns_query *q);

/* Text for a status ("NXDOMAIN"...). */
const char *dns_status_name(int status);

#endif
