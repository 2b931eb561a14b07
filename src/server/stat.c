/* STAT groups; see stat.h. */
#include "server/stat.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mcbp/protocol.h"
#include "server/persist.h"
#include "server/store.h"

static int emit_u64(dv_stat_emit emit, void *ud, const char *name, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, v);
    return emit(ud, name, num);
}

static int default_group(dv_bucket *b, const dv_stat_process *p, dv_stat_emit emit, void *ud)
{
    dv_store *st = dv_bucket_store(b);
    dv_store_stats s;
    dv_store_stats_get(st, &s);
    dv_bucket_settings set;
    dv_bucket_settings_get(b, &set);
    int ephemeral = strcmp(dv_bucket_type_name(set.type), "ephemeral") == 0;
    if (emit_u64(emit, ud, "pid", (uint64_t)getpid()) ||
        emit_u64(emit, ud, "uptime", p->uptime_s) || emit_u64(emit, ud, "time", p->now_s) ||
        emit(ud, "version", p->version) || emit_u64(emit, ud, "pointer_size", 8 * sizeof(void *)) ||
        emit_u64(emit, ud, "curr_items", s.items) ||
        emit_u64(emit, ud, "curr_items_tot", s.items) ||
        emit_u64(emit, ud, "vb_active_curr_items", s.items) ||
        emit_u64(emit, ud, "vb_replica_curr_items", 0) ||
        emit_u64(emit, ud, "ep_num_non_resident", 0) || emit_u64(emit, ud, "mem_used", s.bytes) ||
        emit_u64(emit, ud, "ep_max_size", (uint64_t)set.ram_quota_mb << 20) ||
        emit_u64(emit, ud, "vb_active_num", dv_store_nvb(st)) ||
        emit_u64(emit, ud, "vb_replica_num", 0) || emit_u64(emit, ud, "vb_pending_num", 0) ||
        emit(ud, "ep_bucket_type", ephemeral ? "ephemeral" : "persistent") ||
        emit_u64(emit, ud, "ep_max_vbuckets", dv_store_nvb(st)))
        return -1;
    dv_persist *pe = dv_bucket_persist(b);
    if (pe) {
        /* The disk queue as kv_engine names it: entries waiting, records written, commits. */
        dv_persist_stats ps;
        dv_persist_stats_get(pe, &ps);
        if (emit_u64(emit, ud, "ep_queue_size", ps.queued) ||
            emit_u64(emit, ud, "ep_diskqueue_items", ps.queued) ||
            emit_u64(emit, ud, "ep_total_persisted", ps.written) ||
            emit_u64(emit, ud, "ep_commit_num", ps.commits) ||
            emit_u64(emit, ud, "ep_item_commit_failed", ps.failures))
            return -1;
    }
    return DV_STATUS_SUCCESS;
}

/* "vb_<n>" = "active", and with details its uuid and high seqno. */
static int vbucket_stats(dv_store *st, uint16_t vb, int details, dv_stat_emit emit, void *ud)
{
    char name[48];
    snprintf(name, sizeof name, "vb_%u", (unsigned)vb);
    if (emit(ud, name, "active")) return -1;
    if (!details) return 0;
    dv_vbucket *v = dv_store_lock(st, vb);
    uint64_t uuid = dv_vbucket_uuid(v), high = dv_vbucket_high_seqno(v);
    dv_vbucket_unlock(v);
    snprintf(name, sizeof name, "vb_%u:uuid", (unsigned)vb);
    if (emit_u64(emit, ud, name, uuid)) return -1;
    snprintf(name, sizeof name, "vb_%u:high_seqno", (unsigned)vb);
    if (emit_u64(emit, ud, name, high)) return -1;
    snprintf(name, sizeof name, "vb_%u:num_replicas", (unsigned)vb); /* none on this node */
    return emit_u64(emit, ud, name, 0);
}

/* A vbucket number of 1..5 digits. */
static int parse_vb(const char *s, size_t len, unsigned long *out)
{
    if (len == 0 || len > 5) return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int starts_with(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && memcmp(s, word, n) == 0 && (len == n || s[n] == ' ');
}

int dv_stat_group(dv_bucket *b, const char *group, size_t len, const dv_stat_process *proc,
                  dv_stat_emit emit, void *ud)
{
    if (len == 0) return default_group(b, proc, emit, ud);
    int details;
    size_t word;
    if (starts_with(group, len, "vbucket-details")) {
        details = 1;
        word = strlen("vbucket-details");
    } else if (starts_with(group, len, "vbucket")) {
        details = 0;
        word = strlen("vbucket");
    } else {
        return DV_STATUS_KEY_ENOENT;
    }
    dv_store *st = dv_bucket_store(b);
    unsigned nvb = dv_store_nvb(st);
    if (len > word) {
        unsigned long vb;
        if (parse_vb(group + word + 1, len - word - 1, &vb) != 0) return DV_STATUS_EINVAL;
        if (vb >= nvb) return DV_STATUS_NOT_MY_VBUCKET;
        return vbucket_stats(st, (uint16_t)vb, details, emit, ud) ? -1 : DV_STATUS_SUCCESS;
    }
    for (unsigned vb = 0; vb < nvb; vb++)
        if (vbucket_stats(st, (uint16_t)vb, details, emit, ud)) return -1;
    return DV_STATUS_SUCCESS;
}
