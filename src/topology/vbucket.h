/* Key -> vbucket hashing and the vbucket map (kv-protocol.md 7.6, 7.5).
 *
 * A key's vbucket is ((CRC-32(key) >> 16) & 0x7fff) % nvb, where CRC-32 is the IEEE/zlib CRC
 * and nvb is the number of rows of the bucket's vBucketMap (not a constant 1024). The key is
 * the raw user key, never the collection-id prefix. */
#ifndef DV_TOPOLOGY_VBUCKET_H
#define DV_TOPOLOGY_VBUCKET_H

#include <stddef.h>
#include <stdint.h>

#include "divan/error.h"

/* Limits of a map divan accepts or builds: vbucket ids are u16 on the wire, a row holds the
 * active node and at most three replicas, node indexes are int16. */
#define DV_VBMAP_MAX_VBUCKETS 65536u
#define DV_VBMAP_MAX_WIDTH    4u
#define DV_VBMAP_MAX_NODES    32767u

/* CRC-32 (reflected polynomial 0xEDB88320, initial 0xFFFFFFFF, final complement). */
uint32_t dv_crc32(const void *data, size_t len);
/* The 15-bit key hash: (crc32(key) >> 16) & 0x7fff. */
uint16_t dv_vbucket_hash(const void *key, size_t len);
/* The key's vbucket among nvb (1..DV_VBMAP_MAX_VBUCKETS; 0 gives 0). */
uint16_t dv_vbucket_of(const void *key, size_t len, uint32_t nvb);

/* nvb rows of width entries each, row-major: entry 0 is the active node, entry i the i-th
 * replica, as an index into the config's node list; -1 = no node. nvb == 0: no map. */
typedef struct dv_vbmap {
    uint32_t nvb;
    uint32_t width;
    int16_t *nodes;
} dv_vbmap;

#define DV_VBMAP_INIT                                                                              \
    {                                                                                              \
        0, 0, NULL                                                                                 \
    }

/* A map of nvb rows of width entries, all -1. Any previous content of m is not freed. */
dv_error dv_vbmap_init(dv_vbmap *m, uint32_t nvb, uint32_t width);
/* The even spread of kv-protocol.md 7.5: nvb vbuckets over nnodes nodes with nreplicas
 * replicas; row(vb) = [vb % n, (vb+1) % n, ..., (vb+R) % n], entries i >= nnodes are -1. */
dv_error dv_vbmap_spread(dv_vbmap *m, uint32_t nvb, uint32_t nnodes, uint32_t nreplicas);
void dv_vbmap_free(dv_vbmap *m);
dv_error dv_vbmap_copy(dv_vbmap *dst, const dv_vbmap *src);
int dv_vbmap_equal(const dv_vbmap *a, const dv_vbmap *b);

/* Entry i (0 = active) of row vb; -1 when absent or out of range. */
static inline int dv_vbmap_get(const dv_vbmap *m, uint32_t vb, uint32_t i)
{
    if (vb >= m->nvb || i >= m->width) return -1;
    return m->nodes[(size_t)vb * m->width + i];
}

static inline void dv_vbmap_set(dv_vbmap *m, uint32_t vb, uint32_t i, int16_t node)
{
    if (vb < m->nvb && i < m->width) m->nodes[(size_t)vb * m->width + i] = node;
}

#endif
