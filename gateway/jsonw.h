/* A JSON text writer for the large read responses (release history and
 * current releases): rows go straight into one growing buffer, without a
 * jansson tree of small allocations. Output matches json_dumps(JSON_COMPACT)
 * of the same values: keys in the order written, "/" and non-ASCII bytes
 * as they are, control characters escaped. */
#ifndef SHIPLOG_GATEWAY_JSONW_H
#define SHIPLOG_GATEWAY_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
	char *p;
	size_t len, cap;
	bool failed; /* an allocation failed: jsonw_take returns NULL */
};

/* Appends n bytes as they are (punctuation, keys known to need no escaping). */
void jsonw_raw(struct jsonw *w, const char *s, size_t n);
#define jsonw_lit(w, s) jsonw_raw((w), (s), sizeof(s) - 1)
/* Appends s as a quoted, escaped JSON string. */
void jsonw_str(struct jsonw *w, const char *s);
/* Appends a JSON integer. */
void jsonw_int(struct jsonw *w, int64_t v);
/* Appends ms since the epoch as a quoted time, as timefmt_format writes it. */
void jsonw_time(struct jsonw *w, int64_t ms);
/* The text written (NUL-terminated, *len without the NUL), now the caller's
 * to free; NULL if an allocation failed. The writer is empty afterwards. */
char *jsonw_take(struct jsonw *w, size_t *len);

#endif
