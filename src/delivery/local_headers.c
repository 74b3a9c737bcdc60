/*
 * local_headers.c — the header fields local delivery shows (see
 * local_headers.h): the two lists of field names and the filter that
 * copies a message without the fields its /OPTIONS= mode leaves out.
 *
 * Owns: nothing (pure). Does not own: where the filtered copy goes (the
 * Maildir writer in local.c, the LMTP data in deliver.c) nor the headers
 * local delivery adds itself (Delivered-To:, Return-Path:, X-VMS-From:).
 * Fails: never; a header section it cannot parse ends where parsing
 * stops, and the rest is copied unchanged.
 */
#include "src/delivery/local_headers.h"

#include <string.h>
#include <strings.h>

#include "spool/codec/config.h"
#include "spool/codec/msghdr.h"

/* OpenVMS Mail's own fields (NOHEADERS); the MIME ones are matched apart. */
static const char *const vms_fields[] = {"From",    "To",   "Cc",
					 "Subject", "Date", "MIME-Version"};

/* What TOP_HEADERS adds: the other originator and identification fields
 * of RFC 5322 3.6 (the informational ones too). */
static const char *const top_fields[] = {
    "Reply-To",	  "Sender",   "Message-ID", "In-Reply-To",
    "References", "Comments", "Keywords"};

/* 1 if name (len bytes) is one of the n names of list, any case. */
static int in_list(const char *name, size_t len, const char *const *list,
		   size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len &&
		    strncasecmp(name, list[i], len) == 0)
			return 1;
	return 0;
}

/* 1 if name (len bytes) starts with prefix, any case. */
static int has_prefix(const char *name, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len > n && strncasecmp(name, prefix, n) == 0;
}

int local_header_kept(const char *name, size_t len, int mode)
{
	if (mode != CFG_HEADERS_TOP && mode != CFG_HEADERS_NONE)
		return 1;
	if (in_list(name, len, vms_fields,
		    sizeof(vms_fields) / sizeof(vms_fields[0])) ||
	    has_prefix(name, len, "Content-"))
		return 1;
	if (mode == CFG_HEADERS_NONE)
		return 0;
	return in_list(name, len, top_fields,
		       sizeof(top_fields) / sizeof(top_fields[0])) ||
	       has_prefix(name, len, "Resent-");
}

size_t local_headers_filter(const char *msg, size_t len, int mode, char *out)
{
	struct msghdr_iter it;
	struct msghdr_field f;
	size_t o = 0, body;

	if (mode != CFG_HEADERS_TOP && mode != CFG_HEADERS_NONE) {
		memcpy(out, msg, len);
		return len;
	}
	msghdr_iter_init(&it, msg, len);
	while (msghdr_iter_next(&it, &f)) {
		if (local_header_kept(f.p, f.name_len, mode)) {
			memcpy(out + o, f.p, f.len);
			o += f.len;
		}
	}
	body = msghdr_iter_pos(&it);
	memcpy(out + o, msg + body, len - body);
	return o + (len - body);
}
