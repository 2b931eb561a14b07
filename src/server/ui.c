/* The web console's files; see ui.h. */
#include "server/ui.h"

#include <string.h>

const char *const dv_ui_headers[] = {
    "X-Content-Type-Options",
    "nosniff",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    NULL,
};

const dv_ui_file *dv_ui_find(const char *name, size_t len)
{
    for (size_t i = 0; i < dv_ui_nfiles; i++) {
        const dv_ui_file *f = &dv_ui_files[i];
        if (strlen(f->name) == len && memcmp(f->name, name, len) == 0) return f;
    }
    return NULL;
}

/* 1 if the If-None-Match list holds the etag (or is "*"). */
static int etag_matches(const char *inm, const char *etag)
{
    size_t el = strlen(etag);
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == '*') return 1;
        if (p[0] == 'W' && p[1] == '/') p += 2; /* weak comparison, as for GET */
        const char *e = p;
        while (*e && *e != ',') e++;
        size_t n = (size_t)(e - p);
        while (n > 0 && p[n - 1] == ' ') n--;
        if (n == el && memcmp(p, etag, el) == 0) return 1;
        p = e;
    }
    return 0;
}

dv_ui_reply dv_ui_lookup(const char *rest, size_t len, const char *if_none_match)
{
    dv_ui_reply r = {404, NULL, NULL};
    if (len == 0) {
        r.status = 301;
        r.location = "/ui/index.html";
        return r;
    }
    if (rest[0] != '/') return r;
    rest++;
    len--;
    if (len == 0) {
        rest = "index.html";
        len = strlen(rest);
    }
    r.file = dv_ui_find(rest, len);
    if (!r.file) return r;
    r.status = if_none_match && etag_matches(if_none_match, r.file->etag) ? 304 : 200;
    return r;
}
