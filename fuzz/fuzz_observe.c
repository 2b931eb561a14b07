/* The legacy OBSERVE value codec (mcbp/extras.h) on arbitrary bytes, read as a request and as
 * a response. Properties: no crash or sanitizer report, entries stay inside the input, and what
 * was read re-encodes to exactly the bytes it came from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/extras.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int response = 0; response < 2; response++) {
        dv_buf b;
        dv_buf_init(&b);
        size_t pos = 0, last = 0;
        dv_observe_key k;
        int rc;
        while ((rc = dv_observe_next(data, size, response, &pos, &k)) == 1) {
            check(pos > last && pos <= size);
            check(k.key >= data && k.key + k.key_len <= data + size);
            check(dv_observe_append(&b, response, &k) == 0);
            last = pos;
        }
        check(rc == 0 || rc < 0);
        check(dv_buf_size(&b) == last);
        check(last == 0 || memcmp(dv_buf_head(&b), data, last) == 0);
        if (rc == 0) check(last == size);
        dv_buf_free(&b);
    }
    return 0;
}
