/*
 * control.h — the Unix control socket: smtpctl's only way in.
 *
 * Protocol (version 1): each request and response is one JSON object on one
 * line (newline-terminated, at most 1 MiB). Request:
 *   {"v":1, "cmd":"cluster status", "args":{...}}
 * Response:
 *   {"v":1, "ok":true, "result":{...}}  or
 *   {"v":1, "ok":false, "error":"text", "code":"not_admin"|"usage"|
 *    "no_quorum"|"not_found"|...}
 * The peer's credentials (SO_PEERCRED) decide admin (uid 0 or a member of
 * the configured admin group) versus an ordinary user; commands are marked
 * admin in the server's table, not checked ad hoc. See docs/control.md.
 */
#ifndef SRC_CONTROL_H
#define SRC_CONTROL_H

#include <uv.h>

#include "spool/store/spool.h"
#include "src/cluster/cluster.h"
#include "src/base/nodeconf.h"

struct control;

int control_start(struct control **out, uv_loop_t *loop,
		  const struct nodeconf *conf, struct cluster *cl,
		  struct spool *sp);
void control_stop(struct control *ctl, void (*cb)(void *arg), void *arg);

/* Statistics for "show service smtp" (issue #6): a provider fills out (a
 * JSON object, owned by the caller) with its counters and returns 0, or a
 * negative value on failure (the section then says so). Sections are named
 * by the caller: "receiver" (connections, messages accepted, rejected by
 * reason, bytes, TLS sessions) and "symbiont" (delivered, deferred,
 * bounced, in flight). Setting a section again replaces its provider; fn
 * NULL removes it. A section without a provider is shown as "not running
 * on this node". Providers run on the loop thread, during the command. */
struct json_object;
typedef int (*control_stats_fn)(void *arg, struct json_object *out);
void control_set_stats(struct control *ctl, const char *section,
		       control_stats_fn fn, void *arg);

/* SET SERVICE SMTP (issue #14): the daemon's hook that applies a node's
 * new receiver settings. next is the control server's configuration with
 * the keys of mask (NODECONF_OV_*, nodeconf.h) changed; fn applies them to
 * the running receiver and persists them (the override file), both or
 * neither: 0, or -1 with the reason in err and nothing changed. Without a
 * hook (fn NULL) set service smtp answers that the receiver does not run on
 * this node. Runs on the loop thread, during the command. */
typedef int (*control_service_fn)(void *arg, const struct nodeconf *next,
				  unsigned mask, char *err, size_t errsize);
void control_set_service(struct control *ctl, control_service_fn fn, void *arg);

/* SET / SHOW SERVICE SMTP asked by another member (a cluster_service_fn,
 * cluster.h; arg is the struct control): the same checks, hook and
 * persistence as a request on this node's socket. values[k] is the text
 * of bit 1 << k of mask (NODECONF_OV_*). Returns the answer as JSON text
 * (malloc'd, the caller frees; NULL when out of memory):
 * {"result": {...}} with what the socket would answer, or {"error":
 * CODE, "message": TEXT}. */
char *control_service_remote(void *arg, int set, unsigned mask,
			     const char *const values[]);

#endif
