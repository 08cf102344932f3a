/* Prometheus text exposition helpers shared by the actors: counters and
 * fixed-bucket histograms, rendered into a growable text buffer. Each actor
 * owns its metrics (no sharing between threads); the gateway collects the
 * rendered text of the others over the bus for GET /metrics. */
#ifndef SHIPLOG_LIB_METRICS_H
#define SHIPLOG_LIB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_BUCKETS 14

/* Seconds buckets from 0.25 ms to 10 s; for sizes, the same bounds x 1000. */
extern const double metrics_bounds[METRICS_BUCKETS];

struct metrics_hist {
	uint64_t counts[METRICS_BUCKETS + 1]; /* the last one is +Inf */
	double sum;
	uint64_t count;
	double scale; /* bounds are metrics_bounds x scale (0 means 1) */
};

void metrics_observe(struct metrics_hist *h, double v);

struct metrics_text {
	char *p;
	size_t len, cap;
};

/* Appends a formatted line (printf-style). */
void metrics_printf(struct metrics_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* # HELP and # TYPE lines. */
void metrics_header(struct metrics_text *t, const char *name, const char *type, const char *help);
/* A histogram's _bucket/_sum/_count lines; labels like `route="x"` or "". */
void metrics_hist_render(struct metrics_text *t, const char *name, const char *labels, const struct metrics_hist *h);
void metrics_text_free(struct metrics_text *t);

#endif
