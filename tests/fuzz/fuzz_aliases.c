/*
 * fuzz_aliases.c — libFuzzer target for the local alias file parser
 * (spool/codec/aliases.c): a file an operator writes, read at start-up and
 * on SIGHUP. Invariants that abort when broken:
 *   - a parse either fails with a line number inside the input and a
 *     reason, or gives at most ALIASES_COUNT_MAX names;
 *   - every name is 1..ALIASES_NAME_MAX characters, lower case, passes
 *     aliases_domain_ok and is listed once;
 *   - the names, one a line, parse again to the same list.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/aliases.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_names(const struct aliases *a)
{
	if (a->n > ALIASES_COUNT_MAX)
		abort();
	for (size_t i = 0; i < a->n; i++) {
		size_t len = strlen(a->names[i]);
		if (len == 0 || len > ALIASES_NAME_MAX ||
		    !aliases_domain_ok(a->names[i]))
			abort();
		for (size_t j = 0; j < len; j++)
			if (isupper((unsigned char)a->names[i][j]))
				abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->names[i], a->names[j]) == 0)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aliases a, again;
	char *text;
	size_t len = 0, lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	memset(&a, 0, sizeof(a));
	if (aliases_parse((const char *)data, size, &a) != 0) {
		if (a.err_line < 0 || (size_t)a.err_line > lines)
			abort();
		aliases_free(&a);
		return 0;
	}
	check_names(&a);
	text = malloc(a.n * (ALIASES_NAME_MAX + 1) + 1);
	if (text == NULL)
		abort();
	for (size_t i = 0; i < a.n; i++) {
		size_t n = strlen(a.names[i]);
		memcpy(text + len, a.names[i], n);
		len += n;
		text[len++] = '\n';
	}
	memset(&again, 0, sizeof(again));
	if (aliases_parse(text, len, &again) != 0 || again.n != a.n)
		abort();
	for (size_t i = 0; i < a.n; i++)
		if (strcmp(a.names[i], again.names[i]) != 0)
			abort();
	aliases_free(&again);
	aliases_free(&a);
	free(text);
	return 0;
}
