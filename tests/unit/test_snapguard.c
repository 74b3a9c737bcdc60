/*
 * test_snapguard.c — the snapshot guard (raft/snapguard.c) over a fake
 * raft_io: an InstallSnapshot that arrives while the node takes its own
 * snapshot reaches raft only after the take's put completed; other
 * messages pass at once; what is still held at close is released. And
 * the take serialized in libuv's pool (a real loop) before its put, with
 * a close or a failure while it runs. And an install's image restored in
 * the pool while the backend stores it, raft told after both.
 */
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>

#include "raft/snapguard.h"

/* the fake backend: records what the guard hands it */
static raft_io_recv_cb io_recv;
static struct raft_io_snapshot_put *io_put_req;
static raft_io_snapshot_put_cb io_put_cb;
static const struct raft_snapshot *io_put_snap;
static int io_closed;

static int fake_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		      raft_io_recv_cb recv)
{
	(void)io;
	(void)msecs;
	(void)tick;
	io_recv = recv;
	return 0;
}

static int fake_put(struct raft_io *io, unsigned trailing,
		    struct raft_io_snapshot_put *req,
		    const struct raft_snapshot *snapshot,
		    raft_io_snapshot_put_cb cb)
{
	(void)io;
	(void)trailing;
	io_put_snap = snapshot;
	io_put_req = req;
	io_put_cb = cb;
	return 0;
}

static void fake_close(struct raft_io *io, raft_io_close_cb cb)
{
	(void)io;
	(void)cb;
	io_closed = 1;
}

/* raft's side: what it received, and its take-snapshot callback */
static struct raft raft;
static int got;
static int got_type[8];
static char got_addr[8][64];
static int put_done;

static void raft_recv(struct raft_io *io, struct raft_message *m)
{
	(void)io;
	if (got < 8) {
		got_type[got] = m->type;
		snprintf(got_addr[got], sizeof(got_addr[got]), "%s",
			 m->server_address);
	}
	got++;
	if (m->type == RAFT_INSTALL_SNAPSHOT) {
		raft_configuration_close(&m->install_snapshot.conf);
		raft_free(m->install_snapshot.data.base);
	}
}

static void take_cb(struct raft_io_snapshot_put *req, int status)
{
	(void)req;
	assert_int_equal(status, 0);
	raft.legacy.snapshot_taking = false; /* as takeSnapshotClose does */
	put_done++;
}

static struct rsnapguard guard;
static struct raft_io io;

static int setup(void **state)
{
	(void)state;
	memset(&io, 0, sizeof(io));
	memset(&raft, 0, sizeof(raft));
	io.start = fake_start;
	io.snapshot_put = fake_put;
	io.close = fake_close;
	got = 0;
	put_done = 0;
	io_closed = 0;
	io_put_req = NULL;
	io_put_snap = NULL;
	assert_int_equal(rsnapguard_install(&guard, &io, &raft), 0);
	assert_int_equal(io.start(&io, 100, NULL, raft_recv), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rsnapguard_remove(&guard);
	return 0;
}

/* An install as raft_uv hands it over: conf and data owned by the callee,
 * the address in a buffer that is reused after the callback. */
static void deliver_install(raft_id from, char *addr_buf, const char *addr)
{
	struct raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = RAFT_INSTALL_SNAPSHOT;
	m.server_id = from;
	snprintf(addr_buf, 64, "%s", addr);
	m.server_address = addr_buf;
	raft_configuration_init(&m.install_snapshot.conf);
	assert_int_equal(raft_configuration_add(&m.install_snapshot.conf, 1,
						"127.0.0.1:1", RAFT_VOTER),
			 0);
	m.install_snapshot.data.base = raft_malloc(16);
	m.install_snapshot.data.len = 16;
	io_recv(&io, &m);
	memset(addr_buf, 'x', 8); /* raft_uv reuses it */
}

static void deliver(int type)
{
	struct raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = (unsigned short)type;
	m.server_id = 1;
	m.server_address = "127.0.0.1:1";
	io_recv(&io, &m);
}

/* raft starts taking a snapshot: its put goes to the backend */
static struct raft_io_snapshot_put take_req;
static struct raft_snapshot take_snap;

static void start_take(void)
{
	memset(&take_snap, 0, sizeof(take_snap));
	assert_int_equal(
	    io.snapshot_put(&io, 4, &take_req, &take_snap, take_cb), 0);
	raft.legacy.snapshot_taking = true;
}

static void test_install_during_a_take_waits_for_the_put(void **state)
{
	char addr[64];

	(void)state;
	start_take();

	deliver_install(1, addr, "127.0.0.1:27201");
	assert_int_equal(got, 0); /* held */
	deliver(RAFT_APPEND_ENTRIES);
	assert_int_equal(got, 1); /* others pass */
	assert_int_equal(got_type[0], RAFT_APPEND_ENTRIES);
	assert_int_equal(rsnapguard_held(&guard), 1);

	io_put_cb(io_put_req, 0); /* the backend finished the put */
	assert_int_equal(put_done, 1);
	assert_int_equal(got, 2);
	assert_int_equal(got_type[1], RAFT_INSTALL_SNAPSHOT);
	assert_string_equal(got_addr[1], "127.0.0.1:27201");
}

static void test_install_without_a_take_passes_at_once(void **state)
{
	char addr[64];

	(void)state;
	deliver_install(2, addr, "127.0.0.2:27201");
	assert_int_equal(got, 1);
	assert_int_equal(got_type[0], RAFT_INSTALL_SNAPSHOT);
	assert_int_equal(rsnapguard_held(&guard), 0);
}

static void test_installs_keep_their_order(void **state)
{
	char a1[64], a2[64];

	(void)state;
	start_take();
	deliver_install(1, a1, "first");
	deliver_install(3, a2, "second");
	assert_int_equal(got, 0);
	io_put_cb(io_put_req, 0);
	assert_int_equal(got, 2);
	assert_string_equal(got_addr[0], "first");
	assert_string_equal(got_addr[1], "second");
}

static void test_close_releases_held_installs(void **state)
{
	char addr[64];

	(void)state;
	start_take();
	deliver_install(1, addr, "127.0.0.1:27201");
	raft.legacy.closing = true;
	io.close(&io, NULL);
	assert_int_equal(io_closed, 1);
	assert_int_equal(got, 0); /* freed, not delivered (ASan: no leak) */
}

static void test_a_second_install_of_the_same_io_is_refused(void **state)
{
	struct rsnapguard other;

	(void)state;
	assert_int_equal(rsnapguard_install(&other, &io, &raft), -1);
}

/* --- the take serialized in the pool --- */

static uv_loop_t loop;
static pthread_t loop_thread;
static int fill_on_loop_thread;
static int fill_calls;
static int fill_rv;
static sem_t fill_go; /* fill() waits for it when fill_wait is set */
static int fill_wait;
static char image[] = "the spool image";
static struct raft_buffer image_buf;
static int fail_calls;
static int fail_rv;
static int cancel_status;
static int cancels;

static int fill(void *arg, struct raft_buffer **bufs, unsigned *n_bufs)
{
	(void)arg;
	fill_calls++;
	fill_on_loop_thread = pthread_equal(pthread_self(), loop_thread);
	if (fill_wait) {
		sem_wait(&fill_go);
	}
	if (fill_rv != 0) {
		return fill_rv;
	}
	image_buf.base = image;
	image_buf.len = sizeof(image);
	*bufs = &image_buf;
	*n_bufs = 1;
	return 0;
}

static void on_fail(void *arg, int rv)
{
	(void)arg;
	fail_calls++;
	fail_rv = rv;
}

/* raft's take callback when the take may end cancelled (closing) */
static void take_cb_any(struct raft_io_snapshot_put *req, int status)
{
	(void)req;
	raft.legacy.snapshot_taking = false;
	cancel_status = status;
	cancels++;
}

static int setup_fill(void **state)
{
	setup(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	loop_thread = pthread_self();
	fill_calls = fill_on_loop_thread = fill_rv = fill_wait = 0;
	fail_calls = fail_rv = cancels = 0;
	cancel_status = 1;
	sem_init(&fill_go, 0, 0);
	rsnapguard_set_fill(&guard, &loop, fill, on_fail, NULL);
	return 0;
}

static int teardown_fill(void **state)
{
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	sem_destroy(&fill_go);
	return teardown(state);
}

static void start_empty_take(raft_io_snapshot_put_cb cb)
{
	memset(&take_snap, 0, sizeof(take_snap));
	take_snap.index = 42;
	assert_int_equal(io.snapshot_put(&io, 4, &take_req, &take_snap, cb), 0);
	raft.legacy.snapshot_taking = true;
}

static void test_take_is_serialized_in_the_pool_then_put(void **state)
{
	char addr[64];

	(void)state;
	start_empty_take(take_cb);
	assert_null(io_put_req); /* not before fill() */
	deliver_install(1, addr, "127.0.0.1:27201");
	assert_int_equal(got, 0); /* still taking: held */

	uv_run(&loop, UV_RUN_DEFAULT); /* until fill() is back */
	assert_int_equal(fill_calls, 1);
	assert_int_equal(fill_on_loop_thread, 0);
	assert_ptr_equal(io_put_req, &take_req);
	assert_int_equal(io_put_snap->n_bufs, 1);
	assert_ptr_equal(io_put_snap->bufs[0].base, image);
	assert_int_equal(io_put_snap->index, 42); /* raft's metadata kept */
	assert_int_equal(put_done, 0);

	io_put_cb(io_put_req, 0);
	assert_int_equal(put_done, 1);
	assert_int_equal(got, 1); /* the held install, after the take */
	assert_int_equal(rsnapguard_filled(&guard), 1);

	/* the next take is serialized again */
	io_put_req = NULL;
	start_empty_take(take_cb);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(fill_calls, 2);
	assert_ptr_equal(io_put_req, &take_req);
	io_put_cb(io_put_req, 0);
	assert_int_equal(put_done, 2);
}

static void test_put_with_buffers_is_not_serialized_again(void **state)
{
	static char data[] = "install";
	struct raft_buffer b = {data, sizeof(data)};

	(void)state;
	memset(&take_snap, 0, sizeof(take_snap));
	take_snap.bufs = &b;
	take_snap.n_bufs = 1;
	assert_int_equal(
	    io.snapshot_put(&io, 0, &take_req, &take_snap, take_cb_any), 0);
	assert_ptr_equal(io_put_req, &take_req); /* at once */
	assert_ptr_equal(io_put_snap, &take_snap);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(fill_calls, 0);
	io_put_cb(io_put_req, 0);
	assert_int_equal(cancels, 1);
	assert_int_equal(cancel_status, 0);
}

static void test_close_during_fill_waits_then_cancels(void **state)
{
	(void)state;
	fill_wait = 1;
	start_empty_take(take_cb_any);
	uv_run(&loop, UV_RUN_NOWAIT);
	raft.legacy.closing = true;
	io.close(&io, NULL);
	assert_int_equal(io_closed, 0); /* fill() still runs */
	assert_int_equal(cancels, 0);

	sem_post(&fill_go);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(cancels, 1);
	assert_int_equal(cancel_status, RAFT_CANCELED);
	assert_int_equal(io_closed, 1);
	assert_null(io_put_req); /* never handed to the backend */
}

static void test_failed_fill_is_fatal_and_close_cancels(void **state)
{
	(void)state;
	fill_rv = RAFT_NOMEM;
	start_empty_take(take_cb_any);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(fail_calls, 1);
	assert_int_equal(fail_rv, RAFT_NOMEM);
	assert_null(io_put_req);
	assert_int_equal(cancels, 0); /* raft may not see a failed take */

	raft.legacy.closing = true;
	io.close(&io, NULL);
	assert_int_equal(cancels, 1);
	assert_int_equal(cancel_status, RAFT_CANCELED);
	assert_int_equal(io_closed, 1);
}

/* --- an install restored in the pool --- */

static int restore_begun, restore_runs, restore_ended, restore_ran;
static int restore_on_loop_thread;
static const void *restore_base;
static sem_t restore_go;

static void r_begin(void *arg, const struct raft_buffer *buf)
{
	(void)arg;
	restore_begun++;
	restore_base = buf->base;
}

static void r_run(void *arg)
{
	(void)arg;
	restore_on_loop_thread = pthread_equal(pthread_self(), loop_thread);
	sem_wait(&restore_go);
	restore_runs++;
}

static void r_end(void *arg, int ran)
{
	(void)arg;
	restore_ended++;
	restore_ran = ran;
}

static int setup_restore(void **state)
{
	setup_fill(state);
	restore_begun = restore_runs = restore_ended = restore_ran = 0;
	restore_on_loop_thread = 1;
	restore_base = NULL;
	sem_init(&restore_go, 0, 0);
	rsnapguard_set_restore(&guard, r_begin, r_run, r_end, NULL);
	return 0;
}

static int teardown_restore(void **state)
{
	int rv = teardown_fill(state);

	sem_destroy(&restore_go);
	return rv;
}

static char install_data[] = "the leader's image";
static struct raft_buffer install_buf;

static void start_install_put(void)
{
	install_buf.base = install_data;
	install_buf.len = sizeof(install_data);
	memset(&take_snap, 0, sizeof(take_snap));
	take_snap.bufs = &install_buf;
	take_snap.n_bufs = 1;
	raft.legacy.snapshot_install = true; /* as legacy.c sets it */
	assert_int_equal(
	    io.snapshot_put(&io, 0, &take_req, &take_snap, take_cb_any), 0);
}

static void
test_install_is_restored_in_the_pool_before_raft_is_told(void **state)
{
	(void)state;
	start_install_put();
	assert_int_equal(restore_begun, 1);
	assert_ptr_equal(restore_base, install_data);
	assert_ptr_equal(io_put_req, &take_req); /* stored meanwhile */
	io_put_cb(io_put_req, 0);		 /* the backend is done first */
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(cancels, 0); /* raft waits for the restore */

	sem_post(&restore_go);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(restore_runs, 1);
	assert_int_equal(restore_on_loop_thread, 0);
	assert_int_equal(restore_ended, 1);
	assert_int_equal(restore_ran, 1);
	assert_int_equal(cancels, 1); /* raft's callback, after the end */
	assert_int_equal(cancel_status, 0);
}

static void test_restore_done_before_the_put_waits_for_it(void **state)
{
	(void)state;
	start_install_put();
	sem_post(&restore_go);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(restore_ended, 1);
	assert_int_equal(cancels, 0); /* the backend is still storing */
	io_put_cb(io_put_req, 0);
	assert_int_equal(cancels, 1);
}

static void test_close_during_the_restore_waits_for_it(void **state)
{
	(void)state;
	start_install_put();
	uv_run(&loop, UV_RUN_NOWAIT);
	raft.legacy.closing = true;
	io.close(&io, NULL);
	assert_int_equal(io_closed, 0); /* the restore still runs */
	sem_post(&restore_go);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(restore_ended, 1);
	assert_int_equal(io_closed, 1);
}

static void test_a_take_is_not_restored(void **state)
{
	(void)state;
	start_empty_take(take_cb_any);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_ptr_equal(io_put_req, &take_req);
	io_put_cb(io_put_req, 0);
	assert_int_equal(restore_begun, 0);
	assert_int_equal(cancels, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_install_during_a_take_waits_for_the_put, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_install_without_a_take_passes_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_installs_keep_their_order,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_releases_held_installs,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_second_install_of_the_same_io_is_refused, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_take_is_serialized_in_the_pool_then_put, setup_fill,
		teardown_fill),
	    cmocka_unit_test_setup_teardown(
		test_put_with_buffers_is_not_serialized_again, setup_fill,
		teardown_fill),
	    cmocka_unit_test_setup_teardown(
		test_close_during_fill_waits_then_cancels, setup_fill,
		teardown_fill),
	    cmocka_unit_test_setup_teardown(
		test_failed_fill_is_fatal_and_close_cancels, setup_fill,
		teardown_fill),
	    cmocka_unit_test_setup_teardown(
		test_install_is_restored_in_the_pool_before_raft_is_told,
		setup_restore, teardown_restore),
	    cmocka_unit_test_setup_teardown(
		test_restore_done_before_the_put_waits_for_it, setup_restore,
		teardown_restore),
	    cmocka_unit_test_setup_teardown(
		test_close_during_the_restore_waits_for_it, setup_restore,
		teardown_restore),
	    cmocka_unit_test_setup_teardown(test_a_take_is_not_restored,
					    setup_restore, teardown_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
