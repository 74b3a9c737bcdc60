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

/* Length of the field name of the line at p (n bytes): the printable
 * characters before its colon (RFC 5322 ftext), 0 if it is no field. */
static size_t field_name_len(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == ':')
			return i;
		if (ch <= 32 || ch >= 127)
			return 0;
	}
	return 0;
}

size_t local_headers_filter(const char *msg, size_t len, int mode, char *out)
{
	size_t i = 0, o = 0;
	int keep = 1;

	if (mode != CFG_HEADERS_TOP && mode != CFG_HEADERS_NONE) {
		memcpy(out, msg, len);
		return len;
	}
	while (i < len) {
		const char *lf = memchr(msg + i, '\n', len - i);
		size_t n = lf != NULL ? (size_t)(lf - (msg + i)) + 1 : len - i;
		const char *p = msg + i;
		size_t name;

		if (p[0] == '\n' || (p[0] == '\r' && n > 1 && p[1] == '\n'))
			break; /* the empty line: the body follows */
		if (p[0] == ' ' || p[0] == '\t') {
			/* a continuation: goes with its field */
		} else if ((name = field_name_len(p, n)) > 0) {
			keep = local_header_kept(p, name, mode);
		} else {
			break; /* not a header line: the body starts here */
		}
		if (keep) {
			memcpy(out + o, p, n);
			o += n;
		}
		i += n;
	}
	memcpy(out + o, msg + i, len - i);
	return o + (len - i);
}
