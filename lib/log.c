/* Log lines (see log.h). A line is formatted into one buffer and written
 * with a single write(2), so lines from different threads never interleave. */
#include "lib/log.h"
#include "lib/assert.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096 /* a longer message is cut (text) or still whole (json, allocated) */

static _Atomic int log_min = LOG_LEVEL_INFO;
static _Atomic int log_fmt = LOG_FORMAT_TEXT;
static char log_node[64];

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const level_upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_setup(enum log_level level, enum log_format format, const char *node)
{
	atomic_store(&log_min, (int)level);
	atomic_store(&log_fmt, (int)format);
	snprintf(log_node, sizeof(log_node), "%s", node != NULL ? node : "");
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

int log_format_parse(const char *s, enum log_format *out)
{
	if (strcasecmp(s, "text") == 0) {
		*out = LOG_FORMAT_TEXT;
	} else if (strcasecmp(s, "json") == 0) {
		*out = LOG_FORMAT_JSON;
	} else {
		return -1;
	}
	return 0;
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load(&log_min);
}

static void format_now(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, buf, len);
		if (w <= 0) {
			return; /* nowhere to report it */
		}
		buf += w;
		len -= (size_t)w;
	}
}

static void write_text(enum log_level level, const char *component, const struct log_field *fields, size_t n,
                       const char *msg)
{
	char line[LOG_LINE_MAX], now[40];
	format_now(now, sizeof(now));
	int len = snprintf(line, sizeof(line), "%s %s %s: %s", now, level_upper[level], component, msg);
	for (size_t i = 0; i < n && len >= 0 && (size_t)len < sizeof(line); i++) {
		len += snprintf(line + len, sizeof(line) - (size_t)len, " %s=%s", fields[i].key,
		                fields[i].value != NULL ? fields[i].value : "");
	}
	if (len < 0) {
		return;
	}
	if ((size_t)len >= sizeof(line) - 1) {
		len = (int)sizeof(line) - 2; /* cut: keep the newline */
	}
	line[len++] = '\n';
	write_all(line, (size_t)len);
}

/* A JSON string of s; bytes that are not UTF-8 (a path, a peer's bytes)
 * become '?' so the line stays valid JSON. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j != NULL) {
		return j;
	}
	char clean[LOG_LINE_MAX];
	size_t i = 0;
	for (; s[i] != '\0' && i < sizeof(clean) - 1; i++) {
		clean[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	}
	clean[i] = '\0';
	return json_string(clean);
}

static void write_json(enum log_level level, const char *component, const struct log_field *fields, size_t n,
                       const char *msg)
{
	char now[40];
	format_now(now, sizeof(now));
	json_t *o = json_object();
	if (o == NULL) {
		return;
	}
	json_object_set_new(o, "time", json_string(now));
	json_object_set_new(o, "level", json_string(level_names[level]));
	json_object_set_new(o, "component", json_string(component));
	json_object_set_new(o, "node", json_string(log_node));
	json_object_set_new(o, "message", json_text(msg));
	for (size_t i = 0; i < n; i++) {
		if (json_object_get(o, fields[i].key) == NULL) { /* the fixed keys win */
			json_object_set_new(o, fields[i].key, json_text(fields[i].value != NULL ? fields[i].value : ""));
		}
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s == NULL) {
		return;
	}
	size_t len = strlen(s);
	char *line = realloc(s, len + 2);
	if (line == NULL) {
		free(s);
		return;
	}
	line[len] = '\n';
	write_all(line, len + 1);
	free(line);
}

void log_write(enum log_level level, const char *component, const struct log_field *fields, size_t n,
               const char *fmt, ...)
{
	if (!log_enabled(level)) {
		return;
	}
	char msg[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n') {
		msg[--len] = '\0'; /* the line ends here, once */
	}
	if (atomic_load(&log_fmt) == LOG_FORMAT_JSON) {
		write_json(level, component, fields, n, msg);
	} else {
		write_text(level, component, fields, n, msg);
	}
}

void lib_panic(const char *file, int line, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct log_field where[] = {{"file", file}, {"line", NULL}};
	char num[16];
	snprintf(num, sizeof(num), "%d", line);
	where[1].value = num;
	log_write(LOG_LEVEL_ERROR, "panic", where, 2, "PANIC %s:%d: %s", file, line, msg);
	abort();
}
