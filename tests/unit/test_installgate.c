/*
 * test_installgate.c — the install gate (raft/installgate.c) over a fake
 * raft_io and a real loop, playing libraft's compatibility layer (load
 * the snapshot, then send it; free what it was given): a second load
 * while one is in flight waits for it and gets a marker; while the image
 * is on its way to a server, requests are answered with markers and the
 * markers are never sent; after the window, a failed send, or a newer
 * snapshot, the image is loaded and sent again; close waits for the
 * gate's pending callbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>
#include <uv.h>

#include "raft/installgate.h"

#define IMAGE_LEN 64

static uv_loop_t loop;
static struct raft_io io;
static struct rigate gate;
static uint64_t now;

/* the fake backend */
static int loads; /* snapshot_get calls reaching it */
static struct raft_io_snapshot_get *load_req[4];
static raft_io_snapshot_get_cb load_cb[4];
static int sends; /* InstallSnapshot messages reaching it */
static size_t sent_len[8];
static struct raft_io_send *send_req[8];
static raft_io_send_cb send_cb[8];
static raft_index snap_index; /* what a load returns */
static int closed;

static uint64_t fake_now(void)
{
	return now;
}

static int fake_get(struct raft_io *i, struct raft_io_snapshot_get *req,
		    raft_io_snapshot_get_cb cb)
{
	(void)i;
	assert_true(loads < 4);
	load_req[loads] = req;
	load_cb[loads] = cb;
	loads++;
	return 0;
}

/* the backend's load ends: a snapshot of IMAGE_LEN bytes */
static void finish_load(int k)
{
	struct raft_snapshot *s = raft_calloc(1, sizeof(*s));

	s->index = snap_index;
	s->term = 2;
	raft_configuration_init(&s->configuration);
	assert_int_equal(raft_configuration_add(&s->configuration, 1,
						"127.0.0.1:1", RAFT_VOTER),
			 0);
	s->configuration_index = 1;
	s->bufs = raft_malloc(sizeof(*s->bufs));
	s->bufs[0].base = raft_calloc(1, IMAGE_LEN);
	s->bufs[0].len = IMAGE_LEN;
	s->n_bufs = 1;
	load_cb[k](load_req[k], s, 0);
}

static int fake_send(struct raft_io *i, struct raft_io_send *req,
		     const struct raft_message *m, raft_io_send_cb cb)
{
	(void)i;
	if (m->type != RAFT_INSTALL_SNAPSHOT)
		return 0;
	assert_true(sends < 8);
	sent_len[sends] = m->install_snapshot.data.len;
	send_req[sends] = req;
	send_cb[sends] = cb;
	sends++;
	return 0;
}

static int fake_put(struct raft_io *i, unsigned trailing,
		    struct raft_io_snapshot_put *req,
		    const struct raft_snapshot *snapshot,
		    raft_io_snapshot_put_cb cb)
{
	(void)i;
	(void)trailing;
	(void)req;
	(void)snapshot;
	(void)cb;
	return 0;
}

static void fake_close(struct raft_io *i, raft_io_close_cb cb)
{
	(void)i;
	(void)cb;
	closed = 1;
}

/* libraft's side: one install to a server, as its legacy layer does */
struct install {
	struct raft_io_snapshot_get get;
	struct raft_io_send send;
	struct raft_message m;
	raft_id to;
	int loaded; /* the get's callback ran */
	int sent_cb;
	int send_status;
	int send_rv;
	size_t len; /* what the snapshot carried */
};

static struct install inst[8];

static void raft_send_cb(struct raft_io_send *req, int status)
{
	struct install *x = req->data;

	x->sent_cb++;
	x->send_status = status;
	raft_configuration_close(&x->m.install_snapshot.conf);
	raft_free(x->m.install_snapshot.data.base);
}

static void raft_load_cb(struct raft_io_snapshot_get *req,
			 struct raft_snapshot *s, int status)
{
	struct install *x = req->data;

	assert_int_equal(status, 0);
	x->loaded = 1;
	x->len = s->bufs[0].len;
	memset(&x->m, 0, sizeof(x->m));
	x->m.type = RAFT_INSTALL_SNAPSHOT;
	x->m.server_id = x->to;
	x->m.server_address = "127.0.0.2:1";
	x->m.install_snapshot.last_index = s->index;
	x->m.install_snapshot.last_term = s->term;
	x->m.install_snapshot.data = s->bufs[0];
	x->m.install_snapshot.conf = s->configuration;
	raft_free(s->bufs);
	raft_free(s);
	x->send.data = x;
	x->send_rv = io.send(&io, &x->send, &x->m, raft_send_cb);
	if (x->send_rv != 0) {
		raft_configuration_close(&x->m.install_snapshot.conf);
		raft_free(x->m.install_snapshot.data.base);
	}
}

static void start_install(int k, raft_id to)
{
	memset(&inst[k], 0, sizeof(inst[k]));
	inst[k].to = to;
	inst[k].get.data = &inst[k];
	assert_int_equal(io.snapshot_get(&io, &inst[k].get, raft_load_cb), 0);
}

static void run_loop(void)
{
	uv_run(&loop, UV_RUN_DEFAULT);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	memset(&io, 0, sizeof(io));
	io.snapshot_get = fake_get;
	io.send = fake_send;
	io.snapshot_put = fake_put;
	io.close = fake_close;
	loads = sends = closed = 0;
	snap_index = 100;
	now = 1000;
	rigate_install(&gate, &io, &loop, fake_now);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	run_loop();
	/* what the backend still holds: its callbacks end it */
	for (int k = 0; k < sends; k++) {
		if (send_req[k] != NULL)
			send_cb[k](send_req[k], RAFT_CANCELED);
	}
	rigate_remove(&gate);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

/* the backend finished writing install k */
static void finish_send(int k, int status)
{
	struct raft_io_send *r = send_req[k];

	send_req[k] = NULL;
	send_cb[k](r, status);
}

static void test_a_second_load_waits_for_the_first(void **state)
{
	(void)state;
	start_install(0, 2);
	start_install(1, 2);
	start_install(2, 2);
	assert_int_equal(loads, 1);
	finish_load(0);
	assert_int_equal(inst[0].len, IMAGE_LEN);
	assert_int_equal(inst[1].len, 0);
	assert_int_equal(inst[2].len, 0);
	run_loop();
	/* one image on the wire; the markers' sends completed unsent */
	assert_int_equal(sends, 1);
	assert_int_equal(sent_len[0], IMAGE_LEN);
	assert_int_equal(inst[1].sent_cb, 1);
	assert_int_equal(inst[2].sent_cb, 1);
	assert_int_equal(inst[0].sent_cb, 0);
	finish_send(0, 0);
	assert_int_equal(inst[0].sent_cb, 1);
}

static void test_no_load_while_the_image_is_on_its_way(void **state)
{
	(void)state;
	start_install(0, 2);
	finish_load(0);
	start_install(1, 2); /* a rejected heartbeat asks again */
	run_loop();
	assert_int_equal(loads, 1);
	assert_int_equal(sends, 1);
	assert_int_equal(inst[1].loaded, 1);
	assert_int_equal(inst[1].sent_cb, 1);
	finish_send(0, 0);
	now += RIGATE_RECENT_MS - 1;
	start_install(2, 2); /* still within the window */
	run_loop();
	assert_int_equal(loads, 1);
	assert_int_equal(sends, 1);
}

static void test_after_the_window_the_image_is_sent_again(void **state)
{
	(void)state;
	start_install(0, 2);
	finish_load(0);
	finish_send(0, 0);
	now += RIGATE_RECENT_MS;
	start_install(1, 2);
	assert_int_equal(loads, 2);
	finish_load(1);
	assert_int_equal(sends, 2);
	assert_int_equal(sent_len[1], IMAGE_LEN);
}

static void test_a_failed_send_is_not_remembered(void **state)
{
	(void)state;
	start_install(0, 2);
	finish_load(0);
	finish_send(0, RAFT_NOCONNECTION);
	start_install(1, 2);
	assert_int_equal(loads, 2);
	finish_load(1);
	assert_int_equal(sends, 2);
	assert_int_equal(sent_len[1], IMAGE_LEN);
}

static void test_a_newer_snapshot_is_loaded(void **state)
{
	struct raft_snapshot take;
	struct raft_io_snapshot_put put;

	(void)state;
	start_install(0, 2);
	finish_load(0);
	memset(&take, 0, sizeof(take));
	take.index = 200; /* this node took a newer snapshot */
	assert_int_equal(io.snapshot_put(&io, 10, &put, &take, NULL), 0);
	snap_index = 200;
	start_install(1, 2);
	assert_int_equal(loads, 2);
	finish_load(1);
	assert_int_equal(sends, 2);
	assert_int_equal(inst[1].m.install_snapshot.last_index, 200);
}

static void test_close_waits_for_pending_callbacks(void **state)
{
	(void)state;
	start_install(0, 2);
	finish_load(0);
	start_install(1, 2); /* a marker, its callback pending */
	io.close(&io, NULL);
	assert_int_equal(closed, 0);
	run_loop();
	assert_int_equal(closed, 1);
	/* the marker's send was refused while closing, never sent */
	assert_int_equal(inst[1].loaded, 1);
	assert_int_equal(inst[1].send_rv, RAFT_CANCELED);
	assert_int_equal(sends, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_a_second_load_waits_for_the_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_no_load_while_the_image_is_on_its_way, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_after_the_window_the_image_is_sent_again, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_failed_send_is_not_remembered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_newer_snapshot_is_loaded,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_close_waits_for_pending_callbacks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
