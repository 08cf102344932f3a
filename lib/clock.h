/* The wall clock, as every actor stamps times (proposals, leases, pings). */
#ifndef SHIPLOG_LIB_CLOCK_H
#define SHIPLOG_LIB_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). Never call it inside
 * store apply: apply reads times from the command. */
int64_t wall_now_ms(void);

#endif
