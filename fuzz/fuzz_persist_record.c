/* The persistence record codec (server/persist.h) on arbitrary bytes: the first byte is the
 * key's length, then the key, then the record; the second byte says whether the record's
 * checksum is set right first (odd: yes, so that the fields behind it are reached), and is not
 * part of the record. Properties: no crash or sanitizer report, and a record that decodes
 * re-encodes to exactly the bytes it came from (key and record). */
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
    if (size < 2) return 0;
    size_t nkey = data[0];
    int fix = data[1] & 1;
    if (nkey > size - 2) return 0;
    const uint8_t *key = data + 2;
    size_t nrec = size - 2 - nkey;
    uint8_t *rec = malloc(nrec ? nrec : 1);
    if (!rec) return 0;
    memcpy(rec, data + 2 + nkey, nrec);
    if (fix && nrec >= 8) {
        uint32_t c = dv_persist_record_crc(key, nkey, rec, nrec);
        rec[4] = (uint8_t)(c >> 24);
        rec[5] = (uint8_t)(c >> 16);
        rec[6] = (uint8_t)(c >> 8);
        rec[7] = (uint8_t)c;
    }
    uint16_t vb;
    const char *why;
    dv_item *it = dv_persist_record_decode(key, nkey, rec, nrec, &vb, &why);
    if (!it) {
        check(why != NULL);
        free(rec);
        return 0;
    }
    dv_buf k, v;
    dv_buf_init(&k);
    dv_buf_init(&v);
    check(dv_persist_key_encode(vb, it, &k) == DV_ERR_OK);
    check(dv_persist_record_encode(vb, it, &v) == DV_ERR_OK);
    check(dv_buf_size(&k) == nkey && memcmp(dv_buf_head(&k), key, nkey) == 0);
    check(dv_buf_size(&v) == nrec && memcmp(dv_buf_head(&v), rec, nrec) == 0);
    dv_buf_free(&k);
    dv_buf_free(&v);
    dv_item_release(it);
    free(rec);
    return 0;
}
