/* The web console of divan-server (issue 23): the files of src/server/ui/, built into the
 * binary by cmake/embed.cmake, served by the REST listener at /ui/ without authentication (the
 * page logs in with the REST API's own users; every action it takes is a REST call checked as
 * any other).
 *
 * dv_ui_lookup decides the answer for a path below /ui: the file with its content type, or a
 * 304 when the browser's copy is current (ETag), a redirect for /ui itself, or 404. The files
 * are revalidated on every load (Cache-Control: no-cache with an ETag), so a new build is seen
 * at once and an unchanged one costs a 304. */
#ifndef DV_SERVER_UI_H
#define DV_SERVER_UI_H

#include <stddef.h>

typedef struct dv_ui_file {
    const char *name;  /* "index.html" */
    const char *ctype; /* "text/html; charset=utf-8" */
    const char *etag;  /* quoted, from the file's SHA-256 */
    const unsigned char *data;
    size_t len;
} dv_ui_file;

extern const dv_ui_file dv_ui_files[];
extern const size_t dv_ui_nfiles;
extern const size_t dv_ui_total_bytes;

/* The file of that name (len bytes), or NULL. */
const dv_ui_file *dv_ui_find(const char *name, size_t len);

typedef struct dv_ui_reply {
    unsigned status;        /* 200, 304, 301 or 404 */
    const dv_ui_file *file; /* 200, 304 */
    const char *location;   /* 301 */
} dv_ui_reply;

/* The answer for the path after "/ui" (rest: "", "/", "/app.js"; len bytes) given the request's
 * If-None-Match header (NULL: none). */
dv_ui_reply dv_ui_lookup(const char *rest, size_t len, const char *if_none_match);

/* The headers every console answer carries (name, value pairs, NULL-ended): no sniffing, no
 * framing, and a content security policy allowing only the console's own files and the REST
 * API of the same origin. */
extern const char *const dv_ui_headers[];

#endif
