/* The STAT command's groups (kv-protocol: STAT 0x10): the request key names a group, the
 * answer is one response per statistic (key = name, value = text) and an empty one to end.
 * divan serves the groups clients ask for: the default group (""), "vbucket" and
 * "vbucket-details" (all vbuckets, or "vbucket-details <vb>" for one), with kv_engine's names
 * for the statistics it has. */
#ifndef DV_SERVER_STAT_H
#define DV_SERVER_STAT_H

#include <stddef.h>
#include <stdint.h>

#include "server/bucket.h"

/* Called once per statistic; returns 0, or -1 to stop (no memory). */
typedef int (*dv_stat_emit)(void *ud, const char *name, const char *value);

typedef struct dv_stat_process {
    const char *version; /* the server's version string */
    uint64_t uptime_s;   /* seconds since the server started */
    uint64_t now_s;      /* Unix seconds */
} dv_stat_process;

/* Emit the statistics of group (len bytes) of bucket b. Returns DV_STATUS_SUCCESS,
 * DV_STATUS_KEY_ENOENT for a group divan does not serve (as kv_engine answers an unknown one),
 * DV_STATUS_EINVAL for a malformed argument (a vbucket that is not a number), or
 * DV_STATUS_NOT_MY_VBUCKET for a vbucket out of range; -1 when emit failed. */
int dv_stat_group(dv_bucket *b, const char *group, size_t len, const dv_stat_process *proc,
                  dv_stat_emit emit, void *ud);

#endif
