/* Temporary directories for unit tests (see tmpdir.h). */
#define _XOPEN_SOURCE 700
#include "tests/unit/lib/tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int tmpdir_make(char *buf, size_t len, const char *tag)
{
	const char *base = getenv("TMPDIR");
	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	int n = snprintf(buf, len, "%s/shiplog-%s-XXXXXX", base, tag);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(buf) != NULL ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) == 0 ? 0 : -1;
}

int tmpdir_remove(const char *dir)
{
	/* depth first: a directory's files go before it */
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
