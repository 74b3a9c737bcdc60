/*
 * bench_spool.c — how fast the spool state machine applies ENQUEUE,
 * CLAIM and COMPLETE of 4 KiB messages (no Raft, no network): the FSM's
 * share of the cost of one message. Prints one line per phase.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool/codec/ctlname.h"
#include "spool/store/spool.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int apply(struct spool *sp, const struct spool_cmd *c,
		 struct spool_result *res)
{
	struct wbuf wb;
	int rc;

	wbuf_init(&wb);
	if (spool_cmd_encode(c, &wb) != 0)
		return -1;
	rc = spool_apply(sp, wb.p, wb.len, res);
	wbuf_free(&wb);
	return rc;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	char dir[] = "/tmp/benchspool.XXXXXX";
	struct spool_opts o = {.map_size = (size_t)4 << 30};
	struct spool *sp;
	static char body[4096];
	char(*names)[64];
	uint64_t *fence, t = 1700000000000ull;
	struct spool_rcpt r = {
	    .addr = "rcpt@remote.test", .orcpt = "", .reply = ""};
	double t0, t1, t2, t3;

	if (n <= 0 || mkdtemp(dir) == NULL || spool_open(&sp, dir, &o) != 0)
		return 1;
	names = calloc((size_t)n, sizeof(*names));
	fence = calloc((size_t)n, sizeof(*fence));
	memset(body, 'x', sizeof(body));
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		struct spool_cmd c = {.type = CMD_ENQUEUE, .stamp = t};
		struct spool_result res;

		ctlname_make(names[i], 64, t, "TCPIP$SMTP", (uint32_t)i,
			     "BENCH");
		c.u.enqueue.name = names[i];
		c.u.enqueue.rec.user = "TCPIP$SMTP";
		c.u.enqueue.rec.sender = "bench@example.com";
		c.u.enqueue.rec.client = "127.0.0.1";
		c.u.enqueue.rec.helo = "bench";
		c.u.enqueue.rec.envid = "";
		c.u.enqueue.rec.nrcpt = 1;
		c.u.enqueue.rec.rcpt = &r;
		c.u.enqueue.body = body;
		c.u.enqueue.body_len = sizeof(body);
		if (apply(sp, &c, &res) != 0 || res.status != 0)
			return 2;
		spool_result_free(&res);
	}
	t1 = now_s();
	for (int i = 0; i < n; i++) {
		const char *nm[1] = {names[i]};
		struct spool_cmd c = {.type = CMD_CLAIM, .stamp = t + 1};
		struct spool_result res;

		c.u.claim.node = 1;
		c.u.claim.lease_ms = 600000;
		c.u.claim.n = 1;
		c.u.claim.names = nm;
		if (apply(sp, &c, &res) != 0 || res.items[0].status != 0)
			return 3;
		fence[i] = res.items[0].fence;
		spool_result_free(&res);
	}
	t2 = now_s();
	for (int i = 0; i < n; i++) {
		struct spool_outcome_item it = {0, OUT_DELIVERED, "250 ok"};
		struct spool_cmd c = {.type = CMD_COMPLETE, .stamp = t + 2};
		struct spool_result res;

		c.u.complete.name = names[i];
		c.u.complete.node = 1;
		c.u.complete.fence = fence[i];
		c.u.complete.n = 1;
		c.u.complete.items = &it;
		if (apply(sp, &c, &res) != 0 || res.status != 0)
			return 4;
		spool_result_free(&res);
	}
	t3 = now_s();
	printf("spool fsm: %d x 4 KiB  enqueue %.0f/s  claim %.0f/s  "
	       "complete %.0f/s\n",
	       n, n / (t1 - t0), n / (t2 - t1), n / (t3 - t2));
	spool_close(sp);
	snprintf(body, sizeof(body), "%s/data.mdb", dir);
	unlink(body);
	snprintf(body, sizeof(body), "%s/lock.mdb", dir);
	unlink(body);
	rmdir(dir);
	free(names);
	free(fence);
	return 0;
}
