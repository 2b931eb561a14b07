/* The engine's minimal HTTP/1.1 client side: the bootstrap fall-back that fetches a bucket's
 * terse config with GET /pools/default/b/<bucket> from a node's management port
 * (kv-protocol.md §8.1) when KV bootstrap (GET_CLUSTER_CONFIG) is not possible, and the service
 * requests of engine_http.c (query, management; one request per connection).
 *
 * Sans-I/O like the engine: dv_http_request() writes a request into a buffer, a dv_http_resp
 * takes the response's bytes in pieces of any size and says when it is complete. The response
 * may delimit its body by Content-Length, by chunked transfer coding, or by closing the
 * connection (dv_http_resp_eof). Everything is bounded (status line + headers, each chunk-size
 * or trailer line, the body); any malformed input, whatever its bytes, is an error, never a
 * crash. 1xx interim responses are skipped. */
#ifndef DV_CLIENT_HTTP_H
#define DV_CLIENT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define DV_HTTP_MAX_HEADER       (16u * 1024)        /* status line + headers, and the trailers */
#define DV_HTTP_MAX_BODY         (16u * 1024 * 1024) /* the config body (the default limit) */
#define DV_HTTP_MAX_SERVICE_BODY ((uint64_t)1024 * 1024 * 1024) /* a query's or REST reply */

typedef enum dv_http_rc {
    DV_HTTP_MORE = 0, /* give it more bytes (or the end of the stream) */
    DV_HTTP_DONE,     /* a complete response: status and body are final */
    DV_HTTP_ERROR,    /* malformed or over a limit; what follows is ignored */
} dv_http_rc;

typedef struct dv_http_resp {
    int state;         /* private: where in the response the parser is */
    int status;        /* the status code, once the status line is read */
    int chunked;       /* Transfer-Encoding: chunked */
    int has_len;       /* Content-Length was given */
    uint64_t len;      /* Content-Length, or the current chunk's remaining size */
    int close;         /* the connection cannot carry another request: "Connection: close",
                          HTTP/1.0, or a body delimited by the close */
    size_t trailing;   /* bytes after the complete response (ignored) */
    uint64_t max_body; /* the body's limit; 0 (dv_http_resp_init): DV_HTTP_MAX_BODY */
    size_t hdr_used;   /* bytes of status line + headers (or trailers) so far */
    dv_buf line;       /* the line being read */
    dv_buf body;       /* the body so far */
} dv_http_resp;

void dv_http_resp_init(dv_http_resp *r);
void dv_http_resp_free(dv_http_resp *r);
/* Feed the next n bytes of the stream. Bytes after a complete response are ignored. */
dv_http_rc dv_http_resp_feed(dv_http_resp *r, const uint8_t *p, size_t n);
/* The peer closed the stream: DONE for a body delimited by the close (or a response already
 * complete), else ERROR (a truncated response). */
dv_http_rc dv_http_resp_eof(dv_http_resp *r);

/* Append "GET <path> HTTP/1.1" with Host (host:port, IPv6 in brackets), Authorization: Basic
 * base64(user:password) (no header if user is NULL), Accept and Connection: close. path is
 * written as given (see dv_http_bucket_path). 0, or -1 on allocation failure. */
int dv_http_request(dv_buf *out, const char *host, uint16_t port, const char *path,
                    const char *user, const char *password);
/* The same with any method, and a body: Content-Type when content_type is not NULL,
 * Content-Length for a body or any method but GET, then the body's bytes; "Connection:
 * keep-alive" instead of close when keep_alive. 0, or -1. */
int dv_http_request_ex(dv_buf *out, const char *method, const char *host, uint16_t port,
                       const char *path, const char *user, const char *password,
                       const char *content_type, const void *body, size_t body_len, int keep_alive);
/* Append "/pools/default/b/<bucket>" with the bucket name percent-encoded (anything but
 * unreserved characters). 0, or -1 on allocation failure. */
int dv_http_bucket_path(dv_buf *out, const char *bucket);

#endif
