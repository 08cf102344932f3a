/* Times on the wire: RFC 3339 in UTC (what the gateway writes and reads,
 * and what the CLI sends). */
#ifndef SHIPLOG_LIB_TIMEFMT_H
#define SHIPLOG_LIB_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* ms since the epoch as "2023-12-01T10:30:00Z" (".123" before the Z when the
 * milliseconds are not zero) into out (>= 32 bytes). */
void timefmt_format(int64_t ms, char *out, size_t cap);

#define TIMEFMT_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

/* RFC 3339 / ISO 8601 with a zone ("Z" or +hh:mm), 'T' or a space between
 * date and time, any fraction (milliseconds kept); 0 on success, -1 when
 * malformed or outside 1970-01-01T00:00:00Z .. TIMEFMT_MAX_MS. */
int timefmt_parse(const char *s, int64_t *ms);

#endif
