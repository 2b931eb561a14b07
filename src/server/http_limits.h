/* The limits of divan-server's HTTP listeners, shared by every libmicrohttpd daemon it runs
 * (the REST API on 8091 today; a query listener would take the same): connections in all and
 * per client address, idle time, memory for a request's head, and the time a client has to
 * send its first request's headers.
 *
 * libmicrohttpd (0.9.75 in Debian 12) has options for the total and the idle timeout. Its
 * timeout counts from the last byte received, so a client trickling one header byte at a time
 * never meets it (slowloris): a guard thread therefore cuts (shutdown()) a connection whose
 * first request has not delivered all its headers within header_timeout_ms, and libmicrohttpd
 * closes it. Later requests on a kept-alive connection fall under the idle timeout only. The
 * per-address limit is the guard's accept policy rather than libmicrohttpd's option, which logs
 * every connection it refuses: under a connection flood those log writes, made on the
 * listening thread, would stall accepting once the log cannot keep up. The guard logs refusals
 * at most once a second and cut connections once per sweep. */
#ifndef DV_SERVER_HTTP_LIMITS_H
#define DV_SERVER_HTTP_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

typedef struct dv_http_limits {
    unsigned max_connections;   /* all clients (default DV_HTTP_DEFAULT_MAX_CONNECTIONS) */
    unsigned max_per_ip;        /* per client address (default DV_HTTP_DEFAULT_MAX_PER_IP) */
    unsigned idle_timeout_s;    /* since the last byte (default DV_HTTP_DEFAULT_IDLE_TIMEOUT_S) */
    uint32_t header_timeout_ms; /* first request's headers (DV_HTTP_DEFAULT_HEADER_TIMEOUT_MS) */
    /* PEM texts (kept alive by the caller): both set, the listener speaks HTTPS (libmicrohttpd's
     * own TLS); NULL: plain HTTP. */
    const char *tls_cert_pem, *tls_key_pem;
} dv_http_limits;

#define DV_HTTP_DEFAULT_MAX_CONNECTIONS   1000u
#define DV_HTTP_DEFAULT_MAX_PER_IP        64u
#define DV_HTTP_DEFAULT_IDLE_TIMEOUT_S    120u
#define DV_HTTP_DEFAULT_HEADER_TIMEOUT_MS 10000u

typedef struct dv_http_guard dv_http_guard;

/* Start the guard for one listener (l NULL or 0 fields: the defaults); name is for logs
 * ("REST"). NULL on allocation or thread failure. */
dv_http_guard *dv_http_guard_new(const dv_http_limits *l, const char *name);
/* The daemon options that apply the limits, for MHD_OPTION_ARRAY: fills opts (room for
 * DV_HTTP_GUARD_OPTIONS entries, the last MHD_OPTION_END). The daemon must not set
 * MHD_OPTION_NOTIFY_CONNECTION itself. */
#define DV_HTTP_GUARD_OPTIONS 6
void dv_http_guard_options(dv_http_guard *g, struct MHD_OptionItem opts[DV_HTTP_GUARD_OPTIONS]);
/* The daemon flags the limits need besides the daemon's own (MHD_USE_TLS for HTTPS). */
unsigned dv_http_guard_flags(const dv_http_guard *g);
/* The accept policy to give MHD_start_daemon (apc, with the guard as apc_cls): refuses a
 * connection from an address that has max_per_ip open, and logs it. */
enum MHD_Result dv_http_guard_accept(void *guard, const struct sockaddr *addr, socklen_t len);
/* From the access handler's first call for a request: its headers are in. */
void dv_http_guard_headers_done(dv_http_guard *g, struct MHD_Connection *c);
/* Stop the guard; after MHD_stop_daemon. NULL is fine. */
void dv_http_guard_free(dv_http_guard *g);

#endif
