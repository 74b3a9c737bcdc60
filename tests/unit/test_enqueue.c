/*
 * test_enqueue.c — the one ENQUEUE builder (spool/codec/enqueue.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/cmd.h"
#include "spool/codec/enqueue.h"
#include "spool/codec/record.h"
#include "spool/codec/wire.h"

static void test_round_trip_keeps_every_field(void **state)
{
	struct spool_rcpt rc[2] = {
	    {.addr = "a@x", .orcpt = "rfc822;a@x", .notify = 3, .reply = ""},
	    {.addr = "b@y", .orcpt = "", .reply = ""}};
	struct enqueue_msg m = {.name = "n1",
				.user = "TCPIP$SMTP",
				.sender = "s@z",
				.client = "192.0.2.1",
				.helo = "client.example",
				.envid = "E1",
				.ret = 1,
				.kind = KIND_MAIL,
				.hops = 2,
				.origin_node = 7,
				.nrcpt = 2,
				.rcpt = rc,
				.body = "hi\r\n",
				.body_len = 4};
	struct spool_cmd out;
	struct wbuf wb;

	(void)state;
	assert_int_equal(enqueue_encode(1234, &m, &wb), 0);
	assert_int_equal(spool_cmd_decode(&out, wb.p, wb.len), 0);
	assert_int_equal(out.type, CMD_ENQUEUE);
	assert_int_equal(out.stamp, 1234);
	assert_string_equal(out.u.enqueue.name, "n1");
	assert_string_equal(out.u.enqueue.rec.user, "TCPIP$SMTP");
	assert_string_equal(out.u.enqueue.rec.sender, "s@z");
	assert_string_equal(out.u.enqueue.rec.client, "192.0.2.1");
	assert_string_equal(out.u.enqueue.rec.helo, "client.example");
	assert_string_equal(out.u.enqueue.rec.envid, "E1");
	assert_int_equal(out.u.enqueue.rec.hops, 2);
	assert_int_equal(out.u.enqueue.rec.origin_node, 7);
	assert_int_equal(out.u.enqueue.rec.nrcpt, 2);
	assert_string_equal(out.u.enqueue.rec.rcpt[0].orcpt, "rfc822;a@x");
	assert_int_equal(out.u.enqueue.rec.rcpt[0].notify, 3);
	assert_int_equal(out.u.enqueue.body_len, 4);
	assert_memory_equal(out.u.enqueue.body, "hi\r\n", 4);
	spool_cmd_free(&out);
	wbuf_free(&wb);
}

static void test_missing_strings_are_empty(void **state)
{
	struct spool_rcpt rc = {.addr = "a@x", .orcpt = "", .reply = ""};
	struct enqueue_msg m = {.name = "n1",
				.user = "SYSTEM",
				.sender = "",
				.nrcpt = 1,
				.rcpt = &rc};
	struct spool_cmd cmd;

	(void)state;
	enqueue_cmd(&cmd, 5, &m);
	assert_int_equal(cmd.type, CMD_ENQUEUE);
	assert_int_equal(cmd.stamp, 5);
	assert_string_equal(cmd.u.enqueue.rec.client, "");
	assert_string_equal(cmd.u.enqueue.rec.helo, "");
	assert_string_equal(cmd.u.enqueue.rec.envid, "");
	assert_int_equal(cmd.u.enqueue.rec.created_ms, 0);
	assert_int_equal(cmd.u.enqueue.rec.hold, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_keeps_every_field),
	    cmocka_unit_test(test_missing_strings_are_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
