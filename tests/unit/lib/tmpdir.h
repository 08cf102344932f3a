/* Temporary directories for unit tests: made with mkdtemp, removed with
 * everything in them. */
#ifndef SHIPLOG_TESTS_UNIT_LIB_TMPDIR_H
#define SHIPLOG_TESTS_UNIT_LIB_TMPDIR_H

#include <stddef.h>

/* Makes a fresh directory /tmp/shiplog-<tag>-XXXXXX (TMPDIR is honoured)
 * and writes its path into buf (len bytes). Returns 0, or -1 with errno set
 * (the path did not fit, or mkdtemp failed). */
int tmpdir_make(char *buf, size_t len, const char *tag);

/* Removes dir and everything below it, without following symbolic links.
 * Returns 0, or -1 if anything could not be removed. */
int tmpdir_remove(const char *dir);

#endif
