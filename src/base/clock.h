/* Clocks. Monotonic time drives deadlines; wall time only stamps data (CAS, expiry). */
#ifndef DV_BASE_CLOCK_H
#define DV_BASE_CLOCK_H

#include <stdint.h>

/* Nanoseconds on a monotonic clock with an arbitrary origin. */
uint64_t dv_clock_now_ns(void);
/* Nanoseconds since the Unix epoch. */
uint64_t dv_clock_wall_ns(void);

#define DV_NS_PER_MS  1000000ull
#define DV_NS_PER_SEC 1000000000ull

#endif
