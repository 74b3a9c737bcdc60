/*
 * msghdr.c — the header-section reader (msghdr.h).
 */
#include "spool/codec/msghdr.h"

#include <string.h>
#include <strings.h>

void msghdr_iter_init(struct msghdr_iter *it, const void *msg, size_t len)
{
	it->msg = msg != NULL ? msg : "";
	it->len = msg != NULL ? len : 0;
	it->pos = 0;
	it->done = 0;
}

size_t msghdr_line_len(const char *p, size_t n)
{
	const char *lf = memchr(p, '\n', n);

	return lf != NULL ? (size_t)(lf - p) + 1 : n;
}

size_t msghdr_name_len(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == ':')
			return i;
		if (ch <= ' ' || ch > '~')
			return 0;
	}
	return 0;
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

int msghdr_iter_next(struct msghdr_iter *it, struct msghdr_field *f)
{
	const char *p = it->msg + it->pos;
	size_t rest = it->len - it->pos;
	size_t n, name, end;

	if (it->done || rest == 0) {
		it->done = 1;
		return 0;
	}
	n = msghdr_line_len(p, rest);
	name = msghdr_name_len(p, n);
	if (name == 0) {
		/* the empty line, a body line, or a stray continuation */
		it->done = 1;
		return 0;
	}
	end = n;
	while (end < rest && is_wsp(p[end]))
		end += msghdr_line_len(p + end, rest - end);
	f->p = p;
	f->len = end;
	f->name_len = name;
	it->pos += end;
	return 1;
}

size_t msghdr_iter_pos(const struct msghdr_iter *it)
{
	return it->pos;
}

int msghdr_field_is(const struct msghdr_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && strncasecmp(f->p, name, n) == 0;
}
