/* Parsing a request target (gateway/target.c). */
#ifndef SHIPLOG_GATEWAY_TARGET_H
#define SHIPLOG_GATEWAY_TARGET_H

#include <h2o/memory.h>
#include <stdbool.h>
#include <stddef.h>

#define GW_MAX_SEGS 12
#define GW_MAX_QUERY 16

struct gw_target {
	char *seg[GW_MAX_SEGS]; /* decoded path segments, in pool memory */
	int n_seg;
	char *qk[GW_MAX_QUERY], *qv[GW_MAX_QUERY]; /* decoded query keys and values ('+' is a space) */
	int n_query;
};

/* Splits path[0..len) (query_at: the offset of '?', SIZE_MAX for none) into
 * out. An absolute-form target ("http://host/...") is read from its path.
 * False on a target not starting with '/', malformed or NUL-holding percent
 * encoding, or more than GW_MAX_SEGS segments or GW_MAX_QUERY parameters. */
bool gw_parse_target(h2o_mem_pool_t *pool, const char *path, size_t len, size_t query_at, struct gw_target *out);

/* Splits q[0..qlen), "k=v&k2=v2" (a query, or a form-encoded body), into at
 * most max decoded keys and values in pool memory, *n of them ('+' is a
 * space; empty parts skipped). False when malformed, NUL-holding or over max. */
bool gw_parse_query(h2o_mem_pool_t *pool, const char *q, size_t qlen, char **keys, char **vals, int max, int *n);

#endif
