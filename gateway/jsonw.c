#include "gateway/jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

static bool reserve(struct jsonw *w, size_t n)
{
	if (w->failed) {
		return false;
	}
	if (w->len + n + 1 <= w->cap) {
		return true;
	}
	size_t cap = w->cap != 0 ? w->cap : 4096;
	while (cap < w->len + n + 1) {
		cap *= 2;
	}
	char *p = realloc(w->p, cap);
	if (p == NULL) {
		w->failed = true;
		return false;
	}
	w->p = p;
	w->cap = cap;
	return true;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
	if (reserve(w, n)) {
		memcpy(w->p + w->len, s, n);
		w->len += n;
	}
}

void jsonw_str(struct jsonw *w, const char *s)
{
	size_t n = strlen(s);
	if (!reserve(w, 6 * n + 2)) { /* worst case: every byte as \u00XX */
		return;
	}
	char *o = w->p + w->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default: o += sprintf(o, "u%04X", c); break;
		}
	}
	*o++ = '"';
	w->len = (size_t)(o - w->p);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
	jsonw_raw(w, buf, (size_t)n);
}

void jsonw_time(struct jsonw *w, int64_t ms)
{
	char buf[48];
	buf[0] = '"';
	timefmt_format(ms, buf + 1, sizeof(buf) - 2);
	size_t n = strlen(buf);
	buf[n++] = '"';
	jsonw_raw(w, buf, n);
}

char *jsonw_take(struct jsonw *w, size_t *len)
{
	char *p = w->failed ? NULL : w->p;
	if (p == NULL) {
		free(w->p);
	} else {
		p[w->len] = '\0';
		*len = w->len;
	}
	*w = (struct jsonw){0};
	return p;
}

json_t *gw_json_time(int64_t ms)
{
	char buf[40];
	timefmt_format(ms, buf, sizeof(buf));
	return json_string(buf);
}
