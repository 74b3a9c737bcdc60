/*
 * fsync_dir.h — make a rename or a new name in a directory durable: the
 * one home of "open the directory, fsync it, close it", for every writer
 * that renames a temporary file into place (Maildir delivery, the
 * service.conf override).
 *
 * Owns: nothing (no state). Not: the file's own fsync, the rename.
 * Fails: -1 with errno from open(2) or fsync(2); the descriptor is always
 * closed.
 */
#ifndef SRC_BASE_FSYNC_DIR_H
#define SRC_BASE_FSYNC_DIR_H

/* fsync directory path. 0, or -1 with errno set. */
int fsync_dir(const char *path);

#endif
