/* Tracing of the raft actor: SHIPLOG_TRACE=1 in the environment turns it
 * on (read once at start); off, a trace costs one branch. */
#ifndef SHIPLOG_RAFT_TRACE_H
#define SHIPLOG_RAFT_TRACE_H

#include <stdbool.h>

#define repl_tracef(...)                                         \
	do {                                                     \
		if (repl_trace_on) {                             \
			repl_trace(__FILE__, __LINE__, __VA_ARGS__); \
		}                                                \
	} while (0)

extern bool repl_trace_on;

/* Writes "repl FILE:LINE message" to stderr. */
void repl_trace(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
