/* One logging call for every folder: a level, the component that speaks
 * (raft, gateway, store, ...) and a message, written as one line to stderr,
 * either as text ("2026-12-07T16:10:00.123Z INFO raft: message k=v") or as
 * one JSON object per line ({"time","level","component","node","message",
 * and the fields}) for Loki or Elasticsearch. Safe from any thread. */
#ifndef SHIPLOG_LIB_LOG_H
#define SHIPLOG_LIB_LOG_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* A structured field; value is copied as a string. */
struct log_field {
	const char *key;
	const char *value;
};

/* Sets what is written from now on (call before the actor threads start; the
 * default is info, text, no node name). node may be NULL. */
void log_setup(enum log_level level, enum log_format format, const char *node);

/* "debug", "info", "warn" (or "warning"), "error": 0 and *out set, else -1. */
int log_level_parse(const char *s, enum log_level *out);
/* "text" or "json": 0 and *out set, else -1. */
int log_format_parse(const char *s, enum log_format *out);

/* Whether a message of this level is written (so a caller can skip costly
 * formatting). */
bool log_enabled(enum log_level level);

/* Writes one line: component, then the printf-formatted message, then n
 * fields (fields may be NULL when n is 0). Lines below the set level are
 * dropped. */
void log_write(enum log_level level, const char *component, const struct log_field *fields, size_t n,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_debug(comp, ...) log_write(LOG_LEVEL_DEBUG, comp, NULL, 0, __VA_ARGS__)
#define log_info(comp, ...) log_write(LOG_LEVEL_INFO, comp, NULL, 0, __VA_ARGS__)
#define log_warn(comp, ...) log_write(LOG_LEVEL_WARN, comp, NULL, 0, __VA_ARGS__)
#define log_error(comp, ...) log_write(LOG_LEVEL_ERROR, comp, NULL, 0, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
