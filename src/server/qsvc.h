/* divan-server's query service (the port Couchbase serves on 8093), on libmicrohttpd.
 *
 * POST /query/service (and /query) with a JSON body or form fields, GET with query-string
 * parameters for read-only statements; HTTP basic auth against the same dv_users registry as
 * KV and REST. Requests are checked as the real service checks them (query-service.md 4), run
 * by the SQL++ engine of src/query over the cluster's stores (the dv_query_source below), and
 * answered in the real service's response shape (query-service.md 5).
 *
 * Threading: one thread per connection, as rest.c; a query runs on a producer thread (pooled)
 * that streams the response into a bounded buffer the connection's thread sends from (see
 * "Streaming the response" in qsvc.c), and reads the store one vbucket lock at a time. The MHD
 * daemon's setup lives in this file alone so that it can adopt rest.c's listener settings. */
#ifndef DV_SERVER_QSVC_H
#define DV_SERVER_QSVC_H

#include "server/http_limits.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "query/query.h"
#include "server/bucket.h"
#include "server/users.h"

typedef struct dv_qsvc dv_qsvc;

typedef struct dv_qsvc_options {
    const char *host;      /* NULL: the wildcard address */
    int port;              /* 0 picks a free port */
    dv_http_limits limits; /* as the REST listener's (zeros: the defaults) */
    dv_qsvc *share;        /* serve that service's indexes and prepared statements (TLS) */
} dv_qsvc_options;

dv_qsvc *dv_qsvc_start(dv_cluster *c, dv_users *users, const dv_qsvc_options *o, char *err,
                       size_t errlen);
int dv_qsvc_port(const dv_qsvc *q);
/* Stops it; one that others share is stopped after them. */
void dv_qsvc_stop(dv_qsvc *q);

/* ---- The request's parameters (exposed for tests and fuzzing) ----------------------------- */

typedef struct dv_qsvc_params {
    dv_query_request rq;
    json_t *named;      /* owned */
    json_t *positional; /* owned */
    json_t *converted;  /* owned: the parameters converted from strings */
    char client_context_id[65];
    int has_client_context_id;
    int metrics; /* default 1 */
    int profile; /* 0 off, 1 phases, 2 timings */
    uint64_t timeout_ns;
    char timeout_text[32];
} dv_qsvc_params;

/* Check the request parameters (an object of field -> JSON value; form and GET fields arrive as
 * strings and are converted as the real service converts them) into p. 0, or the real
 * service's error code with its message in msg. Release p with dv_qsvc_params_clear in both
 * cases. params is borrowed and must outlive p (the statement may point into it). */
int dv_qsvc_params_parse(json_t *params, int from_strings, dv_qsvc_params *p, char *msg,
                         size_t msglen);
void dv_qsvc_params_clear(dv_qsvc_params *p);

/* A Go duration ("74500ms", "1.5s", "1m30s", "" = 0) in nanoseconds; -1 if malformed. */
int64_t dv_qsvc_duration(const char *s);

/* The query source over the cluster's stores for one user (NULL: every privilege). With svc,
 * the stores it opens report their writes to svc's index catalog (secondary indexes are kept
 * up to date by every KV write); without, secondary indexes are definitions only. */
void dv_qsvc_source(dv_query_source *src, void *ctx_storage, dv_cluster *c, dv_user *u,
                    const char *datastore, dv_qsvc *svc);
/* Bytes of ctx_storage dv_qsvc_source needs. */
size_t dv_qsvc_source_size(void);

#endif
