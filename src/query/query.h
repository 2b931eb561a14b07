/* divan's SQL++ engine: statements in, rows out, over documents it reads through callbacks.
 *
 * The engine knows nothing of sockets or the store (as SQLite's core knows nothing of files
 * beyond its VFS): the server hands it a dv_query_source, a table of callbacks that open a
 * keyspace, scan it, fetch a document by key, write one and check a privilege. Values are
 * jansson values; MISSING is the NULL pointer, NULL is json_null().
 *
 * A dv_query_catalog holds what outlives a request: index definitions (per keyspace) and
 * prepared statements. It is thread-safe.
 *
 *     dv_query_request rq = {.statement = "SELECT 1", .len = 8};
 *     dv_query_result res;
 *     dv_query_run(&rq, &source, catalog, &res);
 *     ... res.status, res.results, res.errors ...
 *     dv_query_result_clear(&res);
 */
#ifndef DV_QUERY_QUERY_H
#define DV_QUERY_QUERY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One document as the source hands it over. value: a reference the engine releases (JSON
 * documents), or NULL with is_json 0 for a binary document. */
typedef struct dv_query_doc {
    char *key; /* NUL-terminated, owned (dv_malloc) */
    json_t *value;
    int is_json;
    uint64_t cas;
    uint32_t flags;
    uint32_t exptime; /* absolute Unix seconds; 0 = none */
} dv_query_doc;

void dv_query_doc_clear(dv_query_doc *d);

typedef enum dv_query_write_op {
    DV_QUERY_INSERT,
    DV_QUERY_UPSERT,
    DV_QUERY_REPLACE,
    DV_QUERY_DELETE,
} dv_query_write_op;

/* Privileges the engine asks about, after the query_* roles of Couchbase. */
typedef enum dv_query_priv {
    DV_QUERY_PRIV_SELECT,
    DV_QUERY_PRIV_INSERT,
    DV_QUERY_PRIV_UPDATE,
    DV_QUERY_PRIV_DELETE,
    DV_QUERY_PRIV_MANAGE_INDEX,
} dv_query_priv;

typedef struct dv_query_source {
    void *ud;
    /* Resolve bucket.scope.collection (scope and collection "_default" when the statement names
     * a bucket only). 0 and *ks, or an error code of the real service (12003 keyspace not
     * found, 12021 scope not found) with its message in msg. */
    int (*open)(void *ud, const char *bucket, const char *scope, const char *collection, void **ks,
                char *msg, size_t msglen);
    void (*close)(void *ud, void *ks);
    /* Every live document of the keyspace, in key order: a dv_malloc'ed array of *n documents
     * (the engine clears each and frees the array). 0, or -1 when out of memory. */
    int (*scan)(void *ud, void *ks, dv_query_doc **docs, size_t *n);
    /* 1 and *doc filled if key exists, 0 if not. */
    int (*get)(void *ud, void *ks, const char *key, dv_query_doc *doc);
    /* Write one document. value is NULL for DELETE; cas 0 = no compare; expiry as on the wire
     * (0 = none); preserve_expiry keeps the document's. 0 and *cas_out on success, else the
     * reason code of the real service (17012 duplicate key, 17014 key not found, 12033 CAS
     * mismatch, 12009 other) with a message. */
    int (*write)(void *ud, void *ks, dv_query_write_op op, const char *key, json_t *value,
                 uint64_t cas, uint32_t expiry, int preserve_expiry, uint64_t *cas_out, char *msg,
                 size_t msglen);
    /* 1 if the request's user holds priv on the keyspace. */
    int (*allow)(void *ud, dv_query_priv priv, const char *bucket, const char *scope,
                 const char *collection);
    /* A number naming the open keyspace within its bucket (the server's collection id), under
     * which dv_query_catalog_index_doc reports writes. NULL: secondary indexes of this source
     * are definitions only and queries that use them scan the keyspace. */
    uint32_t (*keyspace_id)(void *ud, void *ks);
    /* Every keyspace the user may see, for system:keyspaces: a new array of
     * {"bucket", "scope", "collection", "bucket_uuid"} objects. May be NULL. */
    json_t *(*keyspaces)(void *ud);
    /* The datastore URL for system:indexes rows ("http://127.0.0.1:8091"). */
    const char *datastore;
} dv_query_source;

typedef struct dv_query_catalog dv_query_catalog;

dv_query_catalog *dv_query_catalog_new(void);
void dv_query_catalog_free(dv_query_catalog *c);
/* Drop every index of a bucket (the bucket was deleted). */
void dv_query_catalog_drop_bucket(dv_query_catalog *c, const char *bucket);
/* Call fn (outside the catalog's lock) after each change of a bucket's index definitions or
 * states (created, dropped, built); NULL stops it. For keeping the definitions on disk. */
void dv_query_catalog_on_change(dv_query_catalog *c, void (*fn)(void *ud, const char *bucket),
                                void *ud);
/* A bucket's index definitions as a new array of {name, scope, collection, primary, legacy,
 * keys, state, condition?, partition?, with?} objects; NULL when out of memory. */
json_t *dv_query_catalog_definitions(dv_query_catalog *c, const char *bucket);
/* Add one definition of that shape back to the catalog; a secondary index comes back
 * "deferred" (build it with BUILD INDEX to have it online). 0, 1 exists already, -1 out of
 * memory, -2 not a definition. */
int dv_query_catalog_restore(dv_query_catalog *c, const char *bucket, const json_t *def);

/* Secondary index maintenance (thread-safe): a document of keyspace ks_id of bucket was
 * written (doc: its value; NULL for a binary document) or removed (removed set). Updates every
 * built index on that keyspace. dv_query_catalog_watches tells whether any index would care,
 * so that a caller can skip decoding the document. */
void dv_query_catalog_index_doc(dv_query_catalog *c, const char *bucket, uint32_t ks_id,
                                const char *key, json_t *doc, int removed);
int dv_query_catalog_watches(dv_query_catalog *c, const char *bucket, uint32_t ks_id);

typedef struct dv_query_request {
    const char *statement; /* may be NULL when prepared is set */
    size_t len;
    const char *prepared;      /* the "prepared" request field: a name from PREPARE */
    json_t *named;             /* object: parameter name (without $) -> value; may be NULL */
    json_t *positional;        /* array; may be NULL */
    const char *query_context; /* [default:]bucket[.scope], parts optionally back-ticked */
    int readonly;
    int preserve_expiry;
    int auto_execute;
    uint64_t deadline_ns;     /* dv_clock_now_ns() deadline; 0 = none */
    const char *timeout_text; /* as given, for the timeout error ("1.5s") */
    size_t max_values;        /* memory bound: values held at once; 0 = the default */
    /* Optional row sink. When row is set, the rows of the final result (a SELECT's after
     * projection, DISTINCT, ORDER BY, OFFSET and LIMIT; any other statement's once it is done)
     * are handed to it one by one in output order instead of being kept in res->results, which
     * stays an empty array. A SELECT without ORDER BY, DISTINCT or grouping hands each row on
     * as it is projected; the others hold their rows until they are sorted. begin (may be NULL)
     * is called once before the first row, with the signature (NULL for JSON null) and the
     * PREPARE name of auto_execute (else NULL); it may be called with no row following. row's
     * value is borrowed. A nonzero return from either stops execution: with status "timeout"
     * if the deadline has passed, else "stopped" (no errors). */
    int (*begin)(void *ud, const json_t *signature, const char *prepared);
    int (*row)(void *ud, const json_t *row);
    void *sink_ud;
} dv_query_request;

typedef struct dv_query_result {
    json_t *signature;  /* NULL for JSON null */
    json_t *results;    /* array; NULL when the request failed before execution */
    json_t *errors;     /* array of {code, msg, ...}; NULL when none */
    json_t *warnings;   /* NULL when none */
    char *prepared;     /* PREPARE with auto_execute: the name (dv_malloc) */
    const char *status; /* "success", "errors", "fatal", "timeout", "stopped" (by the sink) */
    uint64_t mutation_count, sort_count;
    int http_status;
} dv_query_result;

/* How rows are written: fields in name order (as the real service writes them), reals with 15
 * significant digits (so that 19.99 stays 19.99). */
#define DV_QUERY_JSON_FLAGS                                                                        \
    (JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_REAL_PRECISION(15))

#define DV_QUERY_DEFAULT_MAX_VALUES 2000000u

/* Run one request. Always fills *res (clear it with dv_query_result_clear). */
void dv_query_run(const dv_query_request *rq, const dv_query_source *src, dv_query_catalog *cat,
                  dv_query_result *res);
void dv_query_result_clear(dv_query_result *res);

/* 1 if the statement only reads (SELECT, EXPLAIN, EXECUTE of a SELECT): for GET requests and
 * readonly. Statements that do not parse count as read-only (they fail anyway). */
int dv_query_is_readonly(const char *statement, size_t len);

/* ---- An in-memory source, for tests and fuzzing ------------------------------------------
 * Keyspaces are the members of data: "bucket.scope.collection" -> object key -> document, in
 * key order. Writes change data; CAS values count up from 1; every privilege is granted unless
 * deny names one (1 << priv). */
typedef struct dv_query_memsource {
    json_t *data;
    uint64_t next_cas;
    unsigned deny;
    dv_query_catalog *cat; /* when set, writes maintain its indexes (as the server's hook does) */
} dv_query_memsource;

/* Fill src with callbacks over m (borrowed for src's life). */
void dv_query_memsource_init(dv_query_source *src, dv_query_memsource *m);

#endif
