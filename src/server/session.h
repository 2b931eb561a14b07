/* divan-server's KV sessions: one per connection, a sans-I/O state machine over src/mcbp.
 *
 * The network layer hands a session the bytes it has read; the session answers every complete
 * request in them, in order, appending the replies to one output buffer (so that the replies
 * to one read go out in one write), and says how many bytes it consumed. A session holds what
 * the connection negotiated: HELLO features, the authenticated user, the selected bucket and
 * the last config revision it has seen or was pushed.
 *
 * Dispatch follows kv-protocol.md §13.1 and the privilege column of the opcode table
 * (dv_opcode_privilege), checked in one place before any handler: an opcode outside the table
 * gets UNKNOWN_COMMAND, one without a privilege EACCESS; before SASL succeeds only HELLO, SASL,
 * the error map and QUIT are served (else EACCESS); data commands need a bucket (else
 * NO_BUCKET) and the user's roles on the bucket, scope or collection (else EACCESS), and
 * sub-document xattr paths the xattr permissions. Statuses are the extended ones; a
 * client that did not negotiate XERROR gets the lock statuses remapped as kv_engine does. */
#ifndef DV_SERVER_SESSION_H
#define DV_SERVER_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "server/bucket.h"
#include "server/users.h"

/* What every session of a server shares: read-only once sessions exist, except through the
 * thread-safe cluster and users objects. */
typedef struct dv_session_ctx dv_session_ctx;

/* Borrows cluster and users for the context's life. NULL on allocation failure. */
dv_session_ctx *dv_session_ctx_new(dv_cluster *cluster, dv_users *users);
void dv_session_ctx_free(dv_session_ctx *ctx);
/* Limits on what a client may do before and around authentication; 0 fields take the
 * defaults. */
typedef struct dv_session_limits {
    size_t preauth_max_body;    /* largest request body before SASL succeeds */
    unsigned max_auth_failures; /* failed SASL attempts before the connection is closed */
    dv_scan_limits scans;       /* range scans: per connection, per bucket, idle timeout */
    int plain_needs_tls;        /* SASL PLAIN only on TLS connections */
} dv_session_limits;

#define DV_SESSION_DEFAULT_PREAUTH_MAX_BODY  (16u * 1024u)
#define DV_SESSION_DEFAULT_MAX_AUTH_FAILURES 3u

/* Set before sessions exist; NULL restores the defaults. */
void dv_session_ctx_set_limits(dv_session_ctx *ctx, const dv_session_limits *l);
/* Tests: a fixed clock (Unix seconds) instead of the wall clock; 0 restores it. */
void dv_session_ctx_set_now(dv_session_ctx *ctx, uint32_t now);

typedef struct dv_session dv_session;

/* peer: the client's address, for logs (copied). NULL on allocation failure. */
dv_session *dv_session_new(dv_session_ctx *ctx, const char *peer);
void dv_session_free(dv_session *s);

/* Treat the session as authenticated as u (a reference is taken), as a connection
 * authenticated by other means (a client certificate) would be; for embedding and tests. */
void dv_session_authenticate(dv_session *s, dv_user *u);
/* The connection is TLS: SASL PLAIN is allowed on it whatever plain_needs_tls says. */
void dv_session_set_tls(dv_session *s);

/* Answer the complete requests in p[0..n), appending replies to out, stopping before the next
 * request once out holds at least limit bytes (0: no limit). Returns the bytes consumed (an
 * incomplete or unserved request is left for the next call), or -1 when the connection must be
 * closed once out is written: a frame that cannot be a request (bad magic, lying lengths, a
 * body above the maximum, which before authentication is preauth_max_body), QUIT, the selected
 * bucket was deleted, max_auth_failures failed SASL attempts, or no memory for a reply. */
long dv_session_data(dv_session *s, const uint8_t *p, size_t n, dv_buf *out, size_t limit);
/* 1 once SASL succeeded (or dv_session_authenticate was called). */
int dv_session_authenticated(const dv_session *s);

/* The cluster changed (dv_net_broadcast): push the new config to a client that asked for
 * clustermap notifications, if it is newer than what the client has seen. */
void dv_session_notify(dv_session *s, dv_buf *out);

#endif
