/* The splitter of query response bodies (rowsplit.h). One pass over each byte; a row that lies
 * whole within one feed is handed out in place, one that spans feeds is gathered in s->row. */
#include "client/rowsplit.h"

#include <string.h>

enum {
    S_START,    /* before the top-level value */
    S_PASS,     /* not an object: the rest passes through */
    S_KEY_WAIT, /* in the top object, before a key (or its end) */
    S_KEY,      /* in a top-level key */
    S_COLON,    /* after a key */
    S_VALUE_AT, /* after the colon, before the value */
    S_VALUE,    /* in a top-level value other than "results" */
    S_ROW_WAIT, /* in "results", between rows */
    S_ROW,      /* in a row */
    S_END,      /* after the top object */
};

enum { ROW_CONTAINER = 1, ROW_STRING, ROW_SCALAR };

void dv_rowsplit_init(dv_rowsplit *s)
{
    memset(s, 0, sizeof *s);
    dv_buf_init(&s->meta);
    dv_buf_init(&s->row);
}

void dv_rowsplit_free(dv_rowsplit *s)
{
    dv_buf_free(&s->meta);
    dv_buf_free(&s->row);
}

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int meta_put(dv_rowsplit *s, const uint8_t *p, size_t n)
{
    if (n > DV_ROWSPLIT_MAX_META - dv_buf_size(&s->meta)) return -1;
    return dv_buf_append(&s->meta, p, n);
}

/* Strings and nesting of a value outside the rows: 1 when the byte closes the top object. */
static int track(dv_rowsplit *s, uint8_t c)
{
    if (s->in_str) {
        if (s->esc)
            s->esc = 0;
        else if (c == '\\')
            s->esc = 1;
        else if (c == '"')
            s->in_str = 0;
        return 0;
    }
    if (c == '"')
        s->in_str = 1;
    else if (c == '{' || c == '[')
        s->depth++;
    else if ((c == '}' || c == ']') && --s->depth == 0)
        return 1;
    return 0;
}

/* Is byte c, read in a row, its last one? (A scalar's end is the byte after it, see feed.) */
static int row_ends(dv_rowsplit *s, uint8_t c)
{
    if (s->in_str) {
        if (s->esc)
            s->esc = 0;
        else if (c == '\\')
            s->esc = 1;
        else if (c == '"') {
            s->in_str = 0;
            return s->in_row == ROW_STRING;
        }
        return 0;
    }
    if (c == '"')
        s->in_str = 1;
    else if (c == '{' || c == '[')
        s->depth++;
    else if ((c == '}' || c == ']') && --s->depth == 2)
        return 1;
    return 0;
}

/* Hand out the row that ends before p[end] (started at p[start], or earlier in s->row). */
static int row_done(dv_rowsplit *s, const uint8_t *p, size_t start, size_t end, dv_rowsplit_cb cb,
                    void *ud, int *stop)
{
    s->in_row = 0;
    s->rows++;
    if (!dv_buf_size(&s->row)) {
        *stop = cb(ud, (const char *)p + start, end - start);
        return 0;
    }
    if (end - start > DV_ROWSPLIT_MAX_ROW - dv_buf_size(&s->row) ||
        dv_buf_append(&s->row, p + start, end - start))
        return -1;
    *stop = cb(ud, (const char *)dv_buf_head(&s->row), dv_buf_size(&s->row));
    dv_buf_reset(&s->row);
    return 0;
}

long dv_rowsplit_feed(dv_rowsplit *s, const uint8_t *p, size_t n, dv_rowsplit_cb cb, void *ud)
{
    size_t i = 0, start = 0;
    int stop = 0;
    while (i < n && !stop) {
        uint8_t c = p[i];
        switch (s->state) {
        case S_START:
            if (c == '{') {
                s->depth = 1;
                s->state = S_KEY_WAIT;
            } else if (!is_ws(c)) {
                s->state = S_PASS;
                continue;
            }
            break;
        case S_PASS:
        case S_END:
            if (meta_put(s, p + i, n - i)) return -1;
            return (long)n;
        case S_KEY_WAIT:
            if (c == '"') {
                s->state = S_KEY;
                s->key_len = 0;
            } else if (c == '}') {
                s->depth = 0;
                s->state = S_END;
            }
            break;
        case S_KEY:
            if (s->esc) {
                s->esc = 0;
                s->key_len = sizeof s->key + 1; /* an escaped key is not "results" */
            } else if (c == '\\') {
                s->esc = 1;
            } else if (c == '"') {
                s->state = S_COLON;
            } else if (s->key_len < sizeof s->key) {
                s->key[s->key_len++] = (char)c;
            } else {
                s->key_len = sizeof s->key + 1;
            }
            break;
        case S_COLON:
            if (c == ':') s->state = S_VALUE_AT;
            break;
        case S_VALUE_AT:
            if (is_ws(c)) break;
            if (c == '[' && s->key_len == 7 && memcmp(s->key, "results", 7) == 0) {
                s->depth = 2;
                s->state = S_ROW_WAIT;
                break;
            }
            s->state = S_VALUE;
            continue;
        case S_VALUE:
            if (!s->in_str && s->depth == 1 && c == ',') {
                s->state = S_KEY_WAIT;
                break;
            }
            if (track(s, c)) s->state = S_END;
            break;
        case S_ROW_WAIT:
            if (is_ws(c) || c == ',') {
                i++; /* between rows: neither a row's nor the rest's */
                continue;
            }
            if (c == ']') {
                s->depth = 1;
                s->state = S_VALUE;
                break;
            }
            s->state = S_ROW;
            start = i;
            if (c == '{' || c == '[') {
                s->in_row = ROW_CONTAINER;
                s->depth = 3;
            } else if (c == '"') {
                s->in_row = ROW_STRING;
                s->in_str = 1;
            } else {
                s->in_row = ROW_SCALAR;
            }
            i++;
            continue;
        case S_ROW:
            if (s->in_row == ROW_SCALAR) {
                if (c == ',' || c == ']' || is_ws(c)) {
                    s->state = S_ROW_WAIT;
                    if (row_done(s, p, start, i, cb, ud, &stop)) return -1;
                    continue; /* the delimiter is read in S_ROW_WAIT */
                }
            } else if (row_ends(s, c)) {
                s->state = S_ROW_WAIT;
                i++;
                if (row_done(s, p, start, i, cb, ud, &stop)) return -1;
                continue;
            }
            i++;
            continue;
        }
        if (meta_put(s, &c, 1)) return -1;
        i++;
    }
    if (s->in_row && !stop) { /* the row goes on in the next feed */
        if (i - start > DV_ROWSPLIT_MAX_ROW - dv_buf_size(&s->row) ||
            dv_buf_append(&s->row, p + start, i - start))
            return -1;
    }
    return (long)i;
}

int dv_rowsplit_end(dv_rowsplit *s)
{
    int cut = s->in_row != 0; /* even a scalar: its end was never seen */
    s->in_row = 0;
    dv_buf_reset(&s->row);
    return cut ? -1 : 0;
}
