/*
 * readfile.h — read a small configuration-like file whole, bounded: the
 * node-local alias file (the receiver and the delivery engine) and the
 * sender-login map. One home for open, bound, read and close.
 *
 * Owns: nothing after it returns (the caller frees *text).
 * Fails: a negative errno: the open's or the read's, -EFBIG when the
 * file holds more than max bytes, -ENOMEM.
 */
#ifndef SRC_BASE_READFILE_H
#define SRC_BASE_READFILE_H

#include <stddef.h>

/* Read path (at most max bytes) into a new NUL-terminated *text of *len
 * bytes. 0 or a negative errno; *text is NULL then. */
int readfile(const char *path, size_t max, char **text, size_t *len);

#endif
