/* divan-server's management REST API (the port Couchbase serves on 8091), on libmicrohttpd.
 *
 * It serves the paths of kv-protocol.md section 8 over the cluster's bucket registry: the config
 * endpoints (/pools, /pools/default, /pools/nodes, /pools/default/nodeServices, the terse
 * bucket config /pools/default/b/<b> and the streaming /pools/default/bs/<b> and
 * /pools/default/nodeServicesStreaming), bucket management under /pools/default/buckets, and
 * scopes and collections under /pools/default/buckets/<b>/scopes. GET / answers anyone (the
 * official core's ping only needs an answer); everything else needs HTTP basic auth against the
 * dv_users registry, and each request is checked against the user's roles (DV_PERM_*).
 *
 * Threading: libmicrohttpd runs one thread per connection (MHD_USE_THREAD_PER_CONNECTION). A
 * request may then take its time (a PBKDF2 password check, creating a bucket) without holding
 * up other clients, and a streaming response is simply a connection thread that sleeps in
 * poll() on its socket and a wake-up pipe until dv_rest_notify or dv_rest_stop writes to the
 * pipe: no busy waiting, no timers, and a client that hangs up is noticed at once. The handlers
 * call the thread-safe bucket and user registries directly.
 *
 * Basic auth would run PBKDF2 on every request; a small cache keyed by a keyed hash of (user,
 * password) and valid for one dv_users_generation lets SDK pollers skip it. */
#ifndef DV_SERVER_REST_H
#define DV_SERVER_REST_H

#include <stddef.h>

#include "server/bucket.h"
#include "server/http_limits.h"
#include "server/users.h"

/* The version string nodes report, in Couchbase's form. */
#define DV_REST_VERSION "7.6.2-3721-enterprise"

typedef struct dv_rest dv_rest;

typedef struct dv_rest_options {
    const char *host; /* bind address or name, e.g. "127.0.0.1", "::1"; NULL: the wildcard
                       * address the resolver lists first (usually 0.0.0.0) */
    int port;         /* 0 picks a free port */
    /* Called after a REST change to buckets, scopes or collections (the server then pushes new
     * configs to KV clients). It runs on a REST connection thread, possibly on several at once.
     * May be NULL. */
    void (*changed)(void *ud);
    void *ud;
    dv_http_limits limits; /* connections, per-address connections, timeouts (0: defaults) */
} dv_rest_options;

/* Bind and start serving (o NULL: the wildcard address, a free port, no callback). c and users
 * must outlive the dv_rest. NULL on failure, with a message in err (bad address, port in use,
 * allocation failure). */
dv_rest *dv_rest_start(dv_cluster *c, dv_users *users, const dv_rest_options *o, char *err,
                       size_t errlen);
/* The port bound (useful with port 0). */
int dv_rest_port(const dv_rest *r);
/* Configs may have changed (thread-safe): each streaming response sends its config again if it
 * differs from the one it sent last. REST changes call this themselves. */
void dv_rest_notify(dv_rest *r);
/* End the streaming responses, stop serving, wait for the connection threads and free r. Not to
 * be called concurrently with dv_rest_notify. */
void dv_rest_stop(dv_rest *r);

#endif
