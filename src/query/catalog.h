/* The query catalog (internal): index definitions and prepared statements, under one mutex. */
#ifndef DV_QUERY_CATALOG_H
#define DV_QUERY_CATALOG_H

#include <jansson.h>

#include "query/query.h"

typedef struct q_index {
    char *id, *name, *bucket, *scope, *collection;
    int primary;
    int legacy;      /* created on a bucket name: keyspace_id = bucket, no bucket_id/scope_id */
    json_t *keys;    /* array of canonical key texts */
    char *condition; /* canonical text or NULL */
    char *partition; /* "HASH(`f`)" or NULL */
    char state[16];  /* "online", "deferred" */
    json_t *with;    /* the WITH object or NULL */
    /* maintenance (built secondary indexes) */
    int built;
    uint32_t ks_id;
    void *arena;         /* the parsed key and condition */
    const void *kx, *cx; /* q_expr */
    json_t *fwd, *rev;   /* encoded key value -> {doc key: true}; doc key -> encoded value */
    void *sorted;        /* q_sorted of fwd's entries by value, for ranges */
} q_index;

/* 0 added; 1 exists already; -1 out of memory. Takes over nothing: copies everything. */
int q_catalog_add(dv_query_catalog *c, const q_index *ix);
/* 0 dropped, 1 not found. */
int q_catalog_drop(dv_query_catalog *c, const char *bucket, const char *scope,
                   const char *collection, const char *name);
/* Set the state of the named index: 0 done, 1 not found. */
int q_catalog_set_state(dv_query_catalog *c, const char *bucket, const char *scope,
                        const char *collection, const char *name, const char *state);
/* Copies of every index (optionally only of one keyspace when bucket is non-NULL) as
 * system:indexes rows (a new array); each row also carries the private fields "$primary",
 * "$keys" for the planner. */
json_t *q_catalog_rows(dv_query_catalog *c, const dv_query_source *src, const char *bucket,
                       const char *scope, const char *collection);

/* Build the named secondary index of the keyspace from docs (every document of it) and keep it
 * up to date from then on (writes of keyspace ks_id). 0, 1 not found, -1 out of memory. */
int q_catalog_build(dv_query_catalog *c, const char *bucket, const char *scope,
                    const char *collection, const char *name, uint32_t ks_id,
                    const dv_query_doc *docs, size_t n);
/* The document keys whose indexed value equals value (sorted), as a new array; NULL when the
 * index is not built (the caller scans instead). */
json_t *q_catalog_lookup(dv_query_catalog *c, const char *bucket, const char *scope,
                         const char *collection, const char *name, json_t *value);

/* The document keys whose indexed value lies between lo and hi (by the collation; either may
 * be NULL for no bound), sorted; NULL when the index is not built. */
json_t *q_catalog_range(dv_query_catalog *c, const char *bucket, const char *scope,
                        const char *collection, const char *name, json_t *lo, int lo_incl,
                        json_t *hi, int hi_incl);

/* Prepared statements: name -> {text, query_context}. */
int q_catalog_prepare(dv_query_catalog *c, const char *name, const char *text,
                      const char *query_context);
/* A new reference to {"text":..., "query_context":...} or NULL. */
json_t *q_catalog_prepared(dv_query_catalog *c, const char *name);

#endif
