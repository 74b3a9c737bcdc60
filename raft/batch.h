/*
 * batch.h — the payload of one raft entry: a batch of encoded spool
 * commands (group commit), and the array of encoded results that applying
 * it gives back to the proposer.
 *
 * Entry layout (big-endian): u8 version (RBATCH_VERSION), u32 count, then
 * count times { u32 len, len bytes }, then 0 to 7 zero bytes so that the
 * entry is a multiple of 8 bytes long (libraft's libuv backend refuses
 * other lengths). Every byte must be used; a count of 0, a length past
 * the end, or leftover bytes other than that padding make the entry
 * malformed.
 *
 * Ownership: rbatch_encode() returns a raft_malloc()'d buffer, ready to be
 * handed to raft_apply(). The iterator only borrows the entry. A results
 * array is malloc'd by rbatch_results_new() and released with
 * rbatch_results_free().
 */
#ifndef RAFT_BATCH_H
#define RAFT_BATCH_H

#include <stddef.h>
#include <stdint.h>

#define RBATCH_VERSION 1
#define RBATCH_HDR_LEN 5
#define RBATCH_MAX_COUNT 1000000u

struct rbatch_cmd {
	const void *p;
	size_t len;
};

/* Bytes an entry of these commands takes (padding included). */
size_t rbatch_size(const struct rbatch_cmd *cmds, uint32_t n);

/* Build the entry, writing stamp (ms) into every command's stamp field
 * (spool_cmd_set_stamp). Each command must be at least SPOOL_CMD_HDR_LEN
 * bytes. 0, or -1 on a bad
 * argument or when raft_malloc fails. */
int rbatch_encode(const struct rbatch_cmd *cmds, uint32_t n, uint64_t stamp,
		  void **out, size_t *outlen);

struct rbatch_iter {
	const uint8_t *p;
	size_t len;
	size_t off;
	uint32_t count;
	uint32_t next;
};

/* Check the whole entry and start iterating. 0, or -1 when malformed. */
int rbatch_iter_init(struct rbatch_iter *it, const void *p, size_t len);
/* Next command: 1 and (*p, *len), or 0 at the end. */
int rbatch_iter_next(struct rbatch_iter *it, const void **p, size_t *len);

/* Results of one entry, in the order of its commands. */
struct rbatch_results {
	uint32_t n;	 /* commands in the entry */
	uint32_t filled; /* results appended so far */
	struct {
		uint32_t off;
		uint32_t len;
	} * items;
	uint8_t *data; /* concatenated encoded spool results */
	size_t data_len;
	size_t data_cap;
};

struct rbatch_results *rbatch_results_new(uint32_t n);
/* Append the next result's encoding (copied). 0 or -1 (out of memory, or
 * more results than commands). */
int rbatch_results_add(struct rbatch_results *r, const void *p, size_t len);
/* Result i: 0 and (*p, *len), or -1 when i is out of range. */
int rbatch_results_get(const struct rbatch_results *r, uint32_t i,
		       const void **p, size_t *len);
void rbatch_results_free(struct rbatch_results *r);

#endif
