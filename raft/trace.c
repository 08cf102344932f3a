#include "raft/trace.h"

#include <stdarg.h>
#include <stdio.h>

bool repl_trace_on = false;

void repl_trace(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "repl %s:%d ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
