#include "base/clock.h"

#include <time.h>

static uint64_t read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * DV_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t dv_clock_now_ns(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

uint64_t dv_clock_wall_ns(void)
{
    return read_clock(CLOCK_REALTIME);
}
