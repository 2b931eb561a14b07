#include "base/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int dv_base64_encode(dv_buf *out, const void *in, size_t len)
{
    const uint8_t *p = in;
    if (len > (SIZE_MAX - 3) / 4 * 3) return -1;
    size_t n = (len + 2) / 3 * 4;
    uint8_t *d = dv_buf_reserve(out, n ? n : 1);
    if (!d) return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len) v |= p[i + 2];
        d[o++] = (uint8_t)alphabet[v >> 18];
        d[o++] = (uint8_t)alphabet[(v >> 12) & 63];
        d[o++] = (uint8_t)(i + 1 < len ? alphabet[(v >> 6) & 63] : '=');
        d[o++] = (uint8_t)(i + 2 < len ? alphabet[v & 63] : '=');
    }
    dv_buf_commit(out, o);
    return 0;
}

static int digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int dv_base64_decode(const char *in, size_t len, int mode, uint8_t *out, size_t cap,
                     size_t *out_len)
{
    size_t n = len;
    if (mode == DV_BASE64_STRICT && n % 4 != 0) return -1;
    /* At most two '=' of final padding. */
    for (int k = 0; k < 2 && n && in[n - 1] == '='; k++) n--;
    if (n % 4 == 1) return -1; /* a dangling sextet carries no whole byte */
    if (mode == DV_BASE64_STRICT && (len - n) != (4 - n % 4) % 4) return -1;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int d = digit((unsigned char)in[i]);
        if (d < 0) return -1;
        acc = (acc << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap) return -1;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (mode == DV_BASE64_STRICT && acc != 0) return -1; /* bits no byte carries must be 0 */
    *out_len = o;
    return 0;
}
