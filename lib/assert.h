/* Invariants: what must never happen stops the process loudly, with where
 * and why, instead of running on in a state nobody designed for. Always on
 * (they do not depend on NDEBUG). */
#ifndef SHIPLOG_LIB_ASSERT_H
#define SHIPLOG_LIB_ASSERT_H

/* Logs "PANIC file:line: message" at error level and aborts. */
_Noreturn void lib_panic(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Stops the process with a message: a state the code cannot be in. */
#define PANIC(...) lib_panic(__FILE__, __LINE__, __VA_ARGS__)

/* Stops the process when cond is false (an invariant, not input checking). */
#define ASSERT(cond)                                                      \
	do {                                                              \
		if (__builtin_expect(!(cond), 0)) {                       \
			lib_panic(__FILE__, __LINE__, "assertion failed: %s", #cond); \
		}                                                         \
	} while (0)

#endif
