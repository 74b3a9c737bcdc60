/*
 * test_snapguard.c — the snapshot guard (raft/snapguard.c) over a fake
 * raft_io: an InstallSnapshot that arrives while the node takes its own
 * snapshot reaches raft only after the take's put completed; other
 * messages pass at once; what is still held at close is released.
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

#include "raft/snapguard.h"

/* the fake backend: records what the guard hands it */
static raft_io_recv_cb io_recv;
static struct raft_io_snapshot_put *io_put_req;
static raft_io_snapshot_put_cb io_put_cb;
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
	(void)snapshot;
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
