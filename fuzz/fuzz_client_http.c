/* Fuzz the engine's HTTP response parser (src/client/http.c), used by the HTTP config
 * bootstrap. Input: byte 0 picks how the rest is cut into pieces (whole, fixed sizes, or sizes
 * taken from the input itself) and whether the stream then ends (dv_http_resp_eof). Whatever
 * the bytes: no crash, no leak, results within the limits, and the same outcome, status and
 * body as when the same bytes are fed whole. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static dv_http_rc run(const uint8_t *p, size_t n, unsigned mode, dv_http_resp *r)
{
    dv_http_resp_init(r);
    dv_http_rc rc = DV_HTTP_MORE;
    size_t off = 0, k = 0;
    while (off < n && rc == DV_HTTP_MORE) {
        switch (mode & 3) {
        case 0:
            k = n - off;
            break;
        case 1:
            k = 1;
            break;
        case 2:
            k = 7;
            break;
        default:
            k = (size_t)p[off] % 13 + 1;
            break; /* sizes from the data itself */
        }
        if (k > n - off) k = n - off;
        rc = dv_http_resp_feed(r, p + off, k);
        off += k;
    }
    if (rc == DV_HTTP_MORE && (mode & 4)) rc = dv_http_resp_eof(r);
    CHECK(dv_buf_size(&r->body) <= DV_HTTP_MAX_BODY);
    CHECK(r->hdr_used <= DV_HTTP_MAX_HEADER);
    if (rc == DV_HTTP_DONE) CHECK(r->status >= 100 && r->status <= 599);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    dv_http_resp a, b;
    dv_http_rc ra = run(p, n, mode, &a);
    dv_http_rc rb = run(p, n, mode & 4, &b); /* whole */
    CHECK(ra == rb);
    if (ra == DV_HTTP_DONE) {
        CHECK(a.status == b.status);
        CHECK(dv_buf_size(&a.body) == dv_buf_size(&b.body));
        if (dv_buf_size(&a.body))
            CHECK(memcmp(dv_buf_head(&a.body), dv_buf_head(&b.body), dv_buf_size(&a.body)) == 0);
    }
    dv_http_resp_free(&a);
    dv_http_resp_free(&b);
    return 0;
}
