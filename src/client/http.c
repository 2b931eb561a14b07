/* The HTTP/1.1 response parser and request writer of the engine's HTTP config bootstrap (see
 * http.h). The parser works line by line (status line, headers, chunk sizes, trailers), each
 * line accumulated in r->line until its LF, so that a response split at any byte boundary
 * parses the same; lines may end in CRLF or a bare LF. */
#include "client/http.h"

#include <limits.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/alloc.h"

enum {
    ST_STATUS,     /* the status line */
    ST_HEADER,     /* header lines, up to the empty line */
    ST_BODY_LEN,   /* len more body bytes (Content-Length) */
    ST_BODY_EOF,   /* body bytes up to the close */
    ST_CHUNK_SIZE, /* a chunk-size line */
    ST_CHUNK_DATA, /* len more bytes of the chunk */
    ST_CHUNK_END,  /* the CRLF after a chunk's data */
    ST_TRAILER,    /* trailer lines, up to the empty line */
    ST_DONE,
    ST_ERROR,
};

void dv_http_resp_init(dv_http_resp *r)
{
    memset(r, 0, sizeof *r);
    r->state = ST_STATUS;
}

void dv_http_resp_free(dv_http_resp *r)
{
    dv_buf_free(&r->line);
    dv_buf_free(&r->body);
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int eq_ci(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen) return 0;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
    return 1;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_ws(int c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 tchar: the characters of a header name. */
static int is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Take bytes up to and including the next LF into r->line. 1: a line is complete (*line, *len
 * without its CR LF; valid until the next call), 0: all input taken, no LF yet, -1: the line
 * (with what was read before it, r->hdr_used) is over DV_HTTP_MAX_HEADER, or no memory. */
static int take_line(dv_http_resp *r, const uint8_t **p, size_t *n, const char **line, size_t *len)
{
    const uint8_t *nl = memchr(*p, '\n', *n);
    size_t k = nl ? (size_t)(nl - *p) + 1 : *n;
    if (k > DV_HTTP_MAX_HEADER - r->hdr_used) return -1;
    r->hdr_used += k;
    if (dv_buf_append(&r->line, *p, k)) return -1;
    *p += k;
    *n -= k;
    if (!nl) return 0;
    size_t l = dv_buf_size(&r->line) - 1;
    const char *s = (const char *)dv_buf_head(&r->line);
    if (l && s[l - 1] == '\r') l--;
    *line = s;
    *len = l;
    r->line.off = r->line.len = 0; /* the bytes stay valid until the next append */
    return 1;
}

/* "HTTP/1.x NNN[ reason]" */
static int parse_status(dv_http_resp *r, const char *s, size_t len)
{
    if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !is_digit(s[7]) || s[8] != ' ') return -1;
    if (!is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11])) return -1;
    if (len > 12 && s[12] != ' ') return -1;
    r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (s[7] == '0') r->close = 1; /* HTTP/1.0: no keep-alive assumed */
    return r->status >= 100 && r->status <= 599 ? 0 : -1;
}

static uint64_t max_body(const dv_http_resp *r)
{
    return r->max_body ? r->max_body : DV_HTTP_MAX_BODY;
}

static int parse_header(dv_http_resp *r, const char *s, size_t len)
{
    const char *colon = memchr(s, ':', len);
    if (!colon || colon == s) return -1;
    size_t nlen = (size_t)(colon - s);
    for (size_t i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)s[i])) return -1; /* also refuses obsolete line folding */
    const char *v = colon + 1, *end = s + len;
    while (v < end && is_ws((unsigned char)*v)) v++;
    while (end > v && is_ws((unsigned char)end[-1])) end--;
    size_t vlen = (size_t)(end - v);
    if (eq_ci(s, nlen, "content-length")) {
        if (vlen == 0) return -1;
        uint64_t x = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (!is_digit((unsigned char)v[i])) return -1;
            x = x * 10 + (uint64_t)(v[i] - '0');
            if (x > max_body(r)) return -1;
        }
        if (r->has_len && r->len != x) return -1;
        r->has_len = 1;
        r->len = x;
    } else if (eq_ci(s, nlen, "connection")) {
        for (size_t i = 0; i + 5 <= vlen; i++) /* a token list: "close" anywhere in it */
            if (eq_ci(v + i, 5, "close")) r->close = 1;
    } else if (eq_ci(s, nlen, "transfer-encoding")) {
        /* Only chunked: a compressed body could not be parsed as a config anyway. */
        if (!eq_ci(v, vlen, "chunked")) return -1;
        r->chunked = 1;
    }
    return 0;
}

/* The empty line after the headers: decide how the body is delimited. */
static int headers_done(dv_http_resp *r)
{
    r->hdr_used = 0;
    if (r->status < 200) { /* an interim response: the real one follows */
        if (r->status == 101) return ST_ERROR;
        r->chunked = r->has_len = 0;
        r->len = 0;
        return ST_STATUS;
    }
    if (r->status == 204 || r->status == 304) return ST_DONE;
    if (r->chunked) return ST_CHUNK_SIZE; /* chunked wins over a Content-Length */
    if (r->has_len) return r->len ? ST_BODY_LEN : ST_DONE;
    r->close = 1;
    return ST_BODY_EOF;
}

/* "hex-size[ ; extensions]" */
static int parse_chunk_size(dv_http_resp *r, const char *s, size_t len)
{
    size_t i = 0;
    uint64_t x = 0;
    for (; i < len; i++) {
        int c = lower((unsigned char)s[i]);
        int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0) break;
        x = x * 16 + (uint64_t)d;
        if (x > max_body(r)) return -1;
    }
    if (i == 0) return -1;
    while (i < len && is_ws((unsigned char)s[i])) i++;
    if (i < len && s[i] != ';') return -1;
    if (x > max_body(r) - dv_buf_size(&r->body)) return -1;
    r->len = x;
    return 0;
}

static int take_body(dv_http_resp *r, const uint8_t **p, size_t *n, size_t k)
{
    if (k > max_body(r) - dv_buf_size(&r->body) || dv_buf_append(&r->body, *p, k)) return -1;
    *p += k;
    *n -= k;
    return 0;
}

static int step(dv_http_resp *r, const uint8_t **p, size_t *n)
{
    const char *s = NULL;
    size_t len = 0;
    int rc;
    switch (r->state) {
    case ST_BODY_LEN:
    case ST_CHUNK_DATA: {
        size_t k = *n < r->len ? *n : (size_t)r->len;
        if (take_body(r, p, n, k)) return ST_ERROR;
        r->len -= k;
        if (r->len) return r->state;
        if (r->state == ST_BODY_LEN) return ST_DONE;
        r->hdr_used = 0;
        return ST_CHUNK_END;
    }
    case ST_BODY_EOF:
        return take_body(r, p, n, *n) ? ST_ERROR : ST_BODY_EOF;
    default:
        break;
    }
    rc = take_line(r, p, n, &s, &len);
    if (rc <= 0) return rc < 0 ? ST_ERROR : r->state;
    switch (r->state) {
    case ST_STATUS:
        return parse_status(r, s, len) ? ST_ERROR : ST_HEADER;
    case ST_HEADER:
        if (len == 0) return headers_done(r);
        return parse_header(r, s, len) ? ST_ERROR : ST_HEADER;
    case ST_CHUNK_SIZE:
        if (parse_chunk_size(r, s, len)) return ST_ERROR;
        r->hdr_used = 0;
        return r->len ? ST_CHUNK_DATA : ST_TRAILER;
    case ST_CHUNK_END:
        r->hdr_used = 0;
        return len == 0 ? ST_CHUNK_SIZE : ST_ERROR;
    case ST_TRAILER:
        return len == 0 ? ST_DONE : ST_TRAILER;
    default:
        return ST_ERROR;
    }
}

dv_http_rc dv_http_resp_feed(dv_http_resp *r, const uint8_t *p, size_t n)
{
    while (n && r->state != ST_DONE && r->state != ST_ERROR) r->state = step(r, &p, &n);
    if (r->state == ST_DONE) r->trailing += n;
    /* A Content-Length of 0 or a 204 completes without more bytes. */
    return r->state == ST_DONE ? DV_HTTP_DONE : r->state == ST_ERROR ? DV_HTTP_ERROR : DV_HTTP_MORE;
}

dv_http_rc dv_http_resp_eof(dv_http_resp *r)
{
    if (r->state == ST_BODY_EOF) r->state = ST_DONE;
    if (r->state != ST_DONE) r->state = ST_ERROR;
    return r->state == ST_DONE ? DV_HTTP_DONE : DV_HTTP_ERROR;
}

int dv_http_request(dv_buf *out, const char *host, uint16_t port, const char *path,
                    const char *user, const char *password)
{
    return dv_http_request_ex(out, "GET", host, port, path, user, password, NULL, NULL, 0, 0);
}

int dv_http_request_ex(dv_buf *out, const char *method, const char *host, uint16_t port,
                       const char *path, const char *user, const char *password,
                       const char *content_type, const void *body, size_t body_len, int keep_alive)
{
    int v6 = strchr(host, ':') != NULL;
    if (dv_buf_printf(
            out, v6 ? "%s %s HTTP/1.1\r\nHost: [%s]:%u\r\n" : "%s %s HTTP/1.1\r\nHost: %s:%u\r\n",
            method, path, host, (unsigned)port))
        return -1;
    if (user) {
        size_t ul = strlen(user), pl = password ? strlen(password) : 0;
        if (ul + pl > (size_t)INT_MAX / 2) return -1;
        size_t cl = ul + 1 + pl;
        uint8_t *cred = dv_malloc(cl + 4 * ((cl + 2) / 3) + 1);
        if (!cred) return -1;
        memcpy(cred, user, ul);
        cred[ul] = ':';
        if (pl) memcpy(cred + ul + 1, password, pl);
        uint8_t *b64 = cred + cl;
        EVP_EncodeBlock(b64, cred, (int)cl); /* NUL-terminated */
        int rc = dv_buf_printf(out, "Authorization: Basic %s\r\n", (const char *)b64);
        memset(cred, 0, cl); /* the password */
        dv_free(cred);
        if (rc) return -1;
    }
    if (content_type && dv_buf_printf(out, "Content-Type: %s\r\n", content_type)) return -1;
    int has_body = body || strcmp(method, "GET") != 0;
    if (has_body && dv_buf_printf(out, "Content-Length: %zu\r\n", body_len)) return -1;
    if (dv_buf_printf(out,
                      "Accept: application/json\r\nUser-Agent: divan/0.1.0\r\n"
                      "Connection: %s\r\n\r\n",
                      keep_alive ? "keep-alive" : "close"))
        return -1;
    return body_len ? dv_buf_append(out, body, body_len) : 0;
}

int dv_http_bucket_path(dv_buf *out, const char *bucket)
{
    static const char hex[] = "0123456789ABCDEF";
    if (dv_buf_printf(out, "/pools/default/b/")) return -1;
    for (const unsigned char *s = (const unsigned char *)bucket; *s; s++) {
        int plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || is_digit(*s) ||
                    *s == '-' || *s == '.' || *s == '_' || *s == '~';
        if (plain ? dv_buf_append_u8(out, *s)
                  : dv_buf_printf(out, "%%%c%c", hex[*s >> 4], hex[*s & 15]))
            return -1;
    }
    return 0;
}
