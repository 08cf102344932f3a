#include "lib/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_bounds[METRICS_BUCKETS] = {0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                0.05,    0.1,    0.25,  0.5,    1,     2.5,   10};

static double scale_of(const struct metrics_hist *h)
{
	return h->scale > 0 ? h->scale : 1;
}

void metrics_observe(struct metrics_hist *h, double v)
{
	size_t i = 0;
	double scale = scale_of(h);
	while (i < METRICS_BUCKETS && v > metrics_bounds[i] * scale) {
		i++;
	}
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

void metrics_printf(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	for (int tries = 0; tries < 2; tries++) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = vsnprintf(t->p != NULL ? t->p + t->len : NULL, t->p != NULL ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap + (size_t)n + 1) * 2;
		char *np = realloc(t->p, cap);
		if (np == NULL) {
			return;
		}
		t->p = np;
		t->cap = cap;
	}
}

void metrics_header(struct metrics_text *t, const char *name, const char *type, const char *help)
{
	metrics_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_hist_render(struct metrics_text *t, const char *name, const char *labels, const struct metrics_hist *h)
{
	double scale = scale_of(h);
	uint64_t cum = 0;
	const char *sep = labels[0] != '\0' ? "," : "";
	for (size_t i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->counts[i];
		metrics_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, metrics_bounds[i] * scale,
		               (unsigned long long)cum);
	}
	cum += h->counts[METRICS_BUCKETS];
	metrics_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
	const char *open = labels[0] != '\0' ? "{" : "", *close = labels[0] != '\0' ? "}" : "";
	metrics_printf(t, "%s_sum%s%s%s %g\n%s_count%s%s%s %llu\n", name, open, labels, close, h->sum, name, open, labels,
	               close, (unsigned long long)h->count);
}

void metrics_text_free(struct metrics_text *t)
{
	free(t->p);
	t->p = NULL;
	t->len = t->cap = 0;
}
