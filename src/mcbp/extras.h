/* Typed builders and parsers for the common extras and small fixed bodies of §2 (all fields
 * big-endian). Encoders write into a caller's array of the given size, so a frame's extras can
 * point at a stack array; decoders check the exact length and return DV_MCBP_OK or
 * DV_MCBP_EEXTRAS (DV_MCBP_EVALUE for value bodies). */
#ifndef DV_MCBP_EXTRAS_H
#define DV_MCBP_EXTRAS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* SET/ADD/REPLACE request: u32 flags | u32 expiry. */
#define DV_EXTRAS_STORE_LEN 8
void dv_extras_store_encode(uint8_t out[DV_EXTRAS_STORE_LEN], uint32_t flags, uint32_t expiry);
int dv_extras_store_decode(const uint8_t *p, size_t n, uint32_t *flags, uint32_t *expiry);

/* One u32: GET-family response flags, TOUCH/GAT expiry, GET_LOCKED lock time. */
#define DV_EXTRAS_U32_LEN 4
void dv_extras_u32_encode(uint8_t out[DV_EXTRAS_U32_LEN], uint32_t v);
int dv_extras_u32_decode(const uint8_t *p, size_t n, uint32_t *v);
/* GET_LOCKED request: lock seconds; empty extras give 0 (= the server default). */
int dv_extras_lock_time_decode(const uint8_t *p, size_t n, uint32_t *seconds);

/* INCREMENT/DECREMENT request: u64 delta | u64 initial | u32 expiry (0xffffffff: do not
 * create). */
#define DV_EXTRAS_COUNTER_LEN 20
typedef struct dv_counter_extras {
    uint64_t delta;
    uint64_t initial;
    uint32_t expiry;
} dv_counter_extras;
void dv_extras_counter_encode(uint8_t out[DV_EXTRAS_COUNTER_LEN], const dv_counter_extras *c);
int dv_extras_counter_decode(const uint8_t *p, size_t n, dv_counter_extras *c);

/* Mutation token (MutationSeqno): u64 vbucket uuid, then u64 seqno. */
#define DV_EXTRAS_TOKEN_LEN 16
typedef struct dv_mutation_token {
    uint64_t vbucket_uuid;
    uint64_t seqno;
} dv_mutation_token;
void dv_extras_token_encode(uint8_t out[DV_EXTRAS_TOKEN_LEN], const dv_mutation_token *t);
int dv_extras_token_decode(const uint8_t *p, size_t n, dv_mutation_token *t);

/* GET_META: request u8 version (2 = with datatype); response u32 deleted | u32 flags | u32
 * expiry | u64 seqno | u8 datatype (v2: 21 bytes; v1 without the datatype: 20 bytes, decoded
 * with datatype 0). */
#define DV_GET_META_VERSION    2
#define DV_EXTRAS_GET_META_LEN 21
typedef struct dv_get_meta {
    uint32_t deleted;
    uint32_t flags;
    uint32_t expiry;
    uint64_t seqno;
    uint8_t datatype;
} dv_get_meta;
void dv_extras_get_meta_encode(uint8_t out[DV_EXTRAS_GET_META_LEN], const dv_get_meta *m);
int dv_extras_get_meta_decode(const uint8_t *p, size_t n, dv_get_meta *m);

/* GET_CLUSTER_CONFIG request (known version) and clustermap push: i64 epoch | i64 revision.
 * The push decoder also takes the older 4-byte form (u32 revision; epoch reported as 0). */
#define DV_EXTRAS_CONFIG_VERSION_LEN 16
typedef struct dv_config_version {
    int64_t epoch;
    int64_t revision;
} dv_config_version;
void dv_extras_config_version_encode(uint8_t out[DV_EXTRAS_CONFIG_VERSION_LEN],
                                     const dv_config_version *v);
int dv_extras_config_version_decode(const uint8_t *p, size_t n, dv_config_version *v);
int dv_extras_clustermap_push_decode(const uint8_t *p, size_t n, dv_config_version *v);

/* GET_COLLECTION_ID / GET_SCOPE_ID response: u64 manifest uid | u32 id. */
#define DV_EXTRAS_COLLECTION_ID_LEN 12
void dv_extras_collection_id_encode(uint8_t out[DV_EXTRAS_COLLECTION_ID_LEN], uint64_t manifest_uid,
                                    uint32_t id);
int dv_extras_collection_id_decode(const uint8_t *p, size_t n, uint64_t *manifest_uid,
                                   uint32_t *id);

/* OBSERVE_SEQNO response value: u8 format | u16 vbucket | u64 vbucket uuid | u64 last persisted
 * seqno | u64 current seqno, and for format 1 (failover) also u64 old vbucket uuid | u64 last
 * received seqno. 27 or 43 bytes. */
#define DV_OBSERVE_SEQNO_LEN          27
#define DV_OBSERVE_SEQNO_FAILOVER_LEN 43
typedef struct dv_observe_seqno {
    uint8_t format; /* 0, or 1 after a failover */
    uint16_t vbucket;
    uint64_t vbucket_uuid;
    uint64_t last_persisted_seqno;
    uint64_t current_seqno;
    uint64_t old_vbucket_uuid;    /* format 1 */
    uint64_t last_received_seqno; /* format 1 */
} dv_observe_seqno;
int dv_observe_seqno_encode(dv_buf *b, const dv_observe_seqno *o);
int dv_observe_seqno_decode(const uint8_t *p, size_t n, dv_observe_seqno *o);

/* OBSERVE (0x92), the legacy per-key observe. The request value repeats u16 vbucket | u16 key
 * length | key; the response value repeats the same with u8 key state | u64 CAS after each key.
 * The key is the protocol key (with its collection-id prefix when collections were negotiated).
 * The response header's CAS carries u32 persist time | u32 replicate time (ms estimates). */
typedef enum dv_observe_state {
    DV_OBSERVE_FOUND_NOT_PERSISTED = 0x00,
    DV_OBSERVE_FOUND_PERSISTED = 0x01,
    DV_OBSERVE_NOT_FOUND = 0x80,   /* absent, or deleted and persisted */
    DV_OBSERVE_LOGICAL_DEL = 0x81, /* deleted, not yet persisted */
} dv_observe_state;

typedef struct dv_observe_key {
    uint16_t vbucket;
    const uint8_t *key; /* borrowed from the value */
    uint16_t key_len;
    uint8_t state; /* response entries */
    uint64_t cas;  /* response entries */
} dv_observe_key;

/* The next entry at *pos of a request value (response = 0) or a response value (response = 1):
 * 1 with *out filled and *pos advanced, 0 at the end, DV_MCBP_EVALUE when an entry is cut
 * short or a request key is empty. */
int dv_observe_next(const uint8_t *p, size_t n, int response, size_t *pos, dv_observe_key *out);
/* Append one entry (response = 1 adds state and CAS): DV_MCBP_OK or DV_MCBP_ENOMEM. */
int dv_observe_append(dv_buf *b, int response, const dv_observe_key *k);

/* An 8-byte big-endian u64 value: INCREMENT/DECREMENT response, OBSERVE_SEQNO request. */
void dv_value_u64_encode(uint8_t out[8], uint64_t v);
int dv_value_u64_decode(const uint8_t *p, size_t n, uint64_t *v);

#endif
