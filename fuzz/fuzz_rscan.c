/* The range-scan bodies: create JSON, key and document records. The first byte chooses the
 * parser. Properties: no crash, no sanitizer report; a parsed create has bounds within
 * DV_RSCAN_TERM_MAX; decoded records lie within the input and re-encode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/rscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond) abort();
}

static void records(const uint8_t *p, size_t n, int docs)
{
    dv_buf b;
    dv_buf_init(&b);
    size_t pos = 0;
    while (pos < n) {
        long used;
        if (docs) {
            dv_rscan_doc d;
            used = dv_rscan_get_doc(p + pos, n - pos, &d);
            if (used < 0) break;
            check(d.key >= p && d.key + d.nkey <= p + n && d.value + d.nvalue <= p + n);
            check(dv_rscan_put_doc(&b, &d) == 0);
        } else {
            const uint8_t *k;
            size_t nk;
            used = dv_rscan_get_key(p + pos, n - pos, &k, &nk);
            if (used < 0) break;
            check(k >= p && k + nk <= p + n);
            check(dv_rscan_put_key(&b, k, nk) == 0);
        }
        check(used > 0 && (size_t)used <= n - pos);
        pos += (size_t)used;
    }
    /* The records read re-encode byte for byte (lengths are canonical LEB128). */
    check(dv_buf_size(&b) == pos && (pos == 0 || memcmp(dv_buf_head(&b), p, pos) == 0));
    dv_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0] % 4;
    data++;
    size--;
    if (mode == 0) {
        dv_rscan_create c;
        char err[96];
        if (dv_rscan_create_parse(data, size, &c, err, sizeof err) == 0) {
            check(c.start_len <= DV_RSCAN_TERM_MAX && c.end_len <= DV_RSCAN_TERM_MAX);
            check(c.sampling ? c.samples > 0 : 1);
        }
    } else if (mode == 3) {
        if (size < DV_RSCAN_CONTINUE_EXTRAS_LEN) return 0;
        dv_rscan_continue c;
        uint8_t x[DV_RSCAN_CONTINUE_EXTRAS_LEN];
        dv_rscan_continue_decode(data, &c);
        dv_rscan_continue_encode(x, &c);
        check(memcmp(x, data, sizeof x) == 0);
    } else {
        records(data, size, mode == 2);
    }
    return 0;
}
