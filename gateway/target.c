/* Request targets: the path split into percent-decoded segments and the
 * query into decoded keys and values (target.h). No h2o request needed, so
 * fuzz/ drives it with any bytes. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "gateway/target.h"

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes [p, p+n) into pool memory; NULL if malformed or holding NUL. */
static char *decode(h2o_mem_pool_t *pool, const char *p, size_t n, bool plus_is_space)
{
	char *out = h2o_mem_alloc_pool(pool, n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = hexval(p[i + 1])) < 0 || (lo = hexval(p[i + 2])) < 0) {
				return NULL;
			}
			char c = (char)(hi * 16 + lo);
			if (c == '\0') {
				return NULL;
			}
			out[o++] = c;
			i += 2;
		} else if (p[i] == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = p[i];
		}
	}
	out[o] = '\0';
	return out;
}

/* The length of "http://authority" before the path of an absolute-form
 * target (RFC 9112 3.2.2: a server accepts it; Go's Transport sends it to a
 * proxy, and a transparent one may pass it on), 0 for origin form. */
static size_t absolute_form_skip(const char *p, size_t n)
{
	size_t scheme = n >= 7 && strncasecmp(p, "http://", 7) == 0    ? 7
	                : n >= 8 && strncasecmp(p, "https://", 8) == 0 ? 8
	                                                               : 0;
	if (scheme == 0) {
		return 0;
	}
	const char *slash = memchr(p + scheme, '/', n - scheme);
	return slash != NULL ? (size_t)(slash - p) : n;
}

bool gw_parse_target(h2o_mem_pool_t *pool, const char *path, size_t len, size_t query_at, struct gw_target *out)
{
	size_t plen = query_at != SIZE_MAX ? query_at : len;
	const char *p = path;
	memset(out, 0, sizeof(*out));
	if (query_at != SIZE_MAX && query_at >= len) {
		return false;
	}
	size_t i = absolute_form_skip(p, plen);
	if (plen == 0 || i >= plen || p[i] != '/') {
		return false;
	}
	p += i;
	plen -= i;
	i = 0;
	while (i < plen) {
		i++; /* skip '/' */
		size_t start = i;
		while (i < plen && p[i] != '/') {
			i++;
		}
		if (out->n_seg == GW_MAX_SEGS) {
			return false;
		}
		char *s = decode(pool, p + start, i - start, false);
		if (s == NULL) {
			return false;
		}
		out->seg[out->n_seg++] = s;
	}
	if (query_at == SIZE_MAX) {
		return true;
	}
	return gw_parse_query(pool, path + query_at + 1, len - query_at - 1, out->qk, out->qv, GW_MAX_QUERY, &out->n_query);
}

bool gw_parse_query(h2o_mem_pool_t *pool, const char *q, size_t qlen, char **keys, char **vals, int max, int *n)
{
	size_t j = 0;
	*n = 0;
	while (j < qlen) {
		size_t start = j;
		while (j < qlen && q[j] != '&') {
			j++;
		}
		if (j > start) {
			const char *eq = memchr(q + start, '=', j - start);
			size_t klen = eq != NULL ? (size_t)(eq - (q + start)) : j - start;
			if (*n == max) {
				return false;
			}
			char *k = decode(pool, q + start, klen, true);
			char *v = eq != NULL ? decode(pool, eq + 1, (size_t)(q + j - eq - 1), true) : decode(pool, "", 0, true);
			if (k == NULL || v == NULL) {
				return false;
			}
			keys[*n] = k;
			vals[(*n)++] = v;
		}
		j++;
	}
	return true;
}

