/*
 * fuzz_cmd.c — libFuzzer target for the spool's binary decoders: the input
 * is decoded as a command, as a control-file record and as a result. Each
 * must either refuse it cleanly or accept it canonically: whatever decodes
 * re-encodes to exactly the input bytes, and that re-encoding decodes
 * again. Any difference aborts (a crash for the fuzzer).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "spool/codec/record.h"
#include "spool/store/spool.h"
#include "spool/codec/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless wb holds exactly data[0..size). */
static void check_same(const struct wbuf *wb, const uint8_t *data, size_t size)
{
	if (wb->err != 0 || wb->len != size ||
	    (size > 0 && memcmp(wb->p, data, size) != 0))
		abort();
}

/* A command: decode, re-encode, compare, decode the re-encoding. */
static void fuzz_command(const uint8_t *data, size_t size)
{
	struct spool_cmd cmd, again;
	struct wbuf wb;

	if (spool_cmd_decode(&cmd, data, size) != 0)
		return;
	wbuf_init(&wb);
	if (spool_cmd_encode(&cmd, &wb) != 0)
		abort();
	check_same(&wb, data, size);
	if (spool_cmd_decode(&again, wb.p, wb.len) != 0 ||
	    again.type != cmd.type)
		abort();
	(void)spool_cmd_name(cmd.type);
	spool_cmd_free(&again);
	spool_cmd_free(&cmd);
	wbuf_free(&wb);
}

/* A control-file record, the same way. */
static void fuzz_record(const uint8_t *data, size_t size)
{
	struct spool_rec rec, again;
	struct wbuf wb;

	if (spool_rec_decode(&rec, data, size) != 0)
		return;
	wbuf_init(&wb);
	if (spool_rec_encode(&rec, &wb) != 0)
		abort();
	check_same(&wb, data, size);
	if (spool_rec_decode(&again, wb.p, wb.len) != 0 ||
	    spool_rec_due(&again) != spool_rec_due(&rec) ||
	    spool_rec_count(&again, RCPT_PENDING) !=
		spool_rec_count(&rec, RCPT_PENDING))
		abort();
	spool_rec_free(&again);
	spool_rec_free(&rec);
	wbuf_free(&wb);
}

/* A result, the same way. */
static void fuzz_result(const uint8_t *data, size_t size)
{
	struct spool_result res, again;
	struct wbuf wb;

	if (spool_result_decode(&res, data, size) != 0)
		return;
	wbuf_init(&wb);
	if (spool_result_encode(&res, &wb) != 0)
		abort();
	check_same(&wb, data, size);
	if (spool_result_decode(&again, wb.p, wb.len) != 0 ||
	    again.status != res.status || again.n != res.n)
		abort();
	spool_result_free(&again);
	spool_result_free(&res);
	wbuf_free(&wb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libFuzzer passes a heap copy of exactly size bytes, so any read past
	 * the end is caught by ASan */
	fuzz_command(data, size);
	fuzz_record(data, size);
	fuzz_result(data, size);
	return 0;
}
