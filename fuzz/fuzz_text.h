/* A fuzz input as a NUL-terminated string, for decoders of text. */
#ifndef SHIPLOG_FUZZ_TEXT_H
#define SHIPLOG_FUZZ_TEXT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* data[0..size) copied and terminated (free() it); NULL when out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif
