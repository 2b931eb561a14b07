/* The persistence record codec (server/persist.h) on arbitrary bytes: the first byte is the
 * key's length, then the key, then the record. Properties: no crash or sanitizer report, and a
 * record that decodes re-encodes to exactly the bytes it came from (key and record). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "server/persist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t nkey = data[0];
    if (nkey > size - 1) return 0;
    const uint8_t *key = data + 1, *rec = data + 1 + nkey;
    size_t nrec = size - 1 - nkey;
    uint16_t vb;
    const char *why;
    dv_item *it = dv_persist_record_decode(key, nkey, rec, nrec, &vb, &why);
    if (!it) {
        check(why != NULL);
        return 0;
    }
    dv_buf k, v;
    dv_buf_init(&k);
    dv_buf_init(&v);
    check(dv_persist_key_encode(vb, it, &k) == DV_ERR_OK);
    check(dv_persist_record_encode(it, &v) == DV_ERR_OK);
    check(dv_buf_size(&k) == nkey && memcmp(dv_buf_head(&k), key, nkey) == 0);
    check(dv_buf_size(&v) == nrec && memcmp(dv_buf_head(&v), rec, nrec) == 0);
    dv_buf_free(&k);
    dv_buf_free(&v);
    dv_item_release(it);
    return 0;
}
