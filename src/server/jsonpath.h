/* Strict JSON scanning and sub-document paths over raw bytes, for the sub-document engine.
 *
 * Nothing here builds a tree: functions find byte ranges in the caller's text, so that the
 * engine can splice a document and leave every other byte as it was (number spellings, key
 * order, whitespace). Every function is bounded by the length it is given and never reads past
 * it, whatever the input; scanning is iterative, so deep nesting costs no stack.
 *
 * Levels count values the way kv_engine's parser does: the top-level value is level 1, a
 * member or element of a container at level L is at level L + 1, and primitives count. */
#ifndef DV_SERVER_JSONPATH_H
#define DV_SERVER_JSONPATH_H

#include <stddef.h>
#include <stdint.h>

enum {
    DV_JSON_OK = 0,
    DV_JSON_EINVAL = -1,   /* not JSON (syntax, control character, bad UTF-8) */
    DV_JSON_EDEPTH = -2,   /* a value sits deeper than the level limit */
    DV_JSON_MISMATCH = -3, /* dv_json_find: the path and the document disagree on a type */
    DV_JSON_ERANGE = -4,   /* dv_json_int64: the integer does not fit in 64 bits */
};

/* The deepest level a sub-document operation walks through (kv_engine: 33). */
#define DV_JSON_DOC_LEVELS 33
/* The deepest level any scan tracks; deeper documents are reported DV_JSON_EDEPTH. */
#define DV_JSON_MAX_LEVELS 2048

/* 1 if p[0..n) is well-formed UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF; ASCII control characters are the caller's business). */
int dv_json_utf8_valid(const char *p, size_t n);

/* Index of the first non-whitespace byte at or after i (n if none). */
size_t dv_json_ws(const char *p, size_t n, size_t i);

/* Scan the one value that starts exactly at p[i], at nesting level `level`; any value deeper
 * than max_level fails with DV_JSON_EDEPTH. On success *end is the index just past it. */
int dv_json_scan(const char *p, size_t n, size_t i, unsigned level, unsigned max_level,
                 size_t *end);

/* The whole text is exactly one value, with optional whitespace around it. *start and *end
 * (either may be NULL) receive the value's range. */
int dv_json_validate(const char *p, size_t n, unsigned max_level, size_t *start, size_t *end);

/* The text is one or more values separated by commas (the values of an array operation), each
 * at level 1. */
int dv_json_validate_list(const char *p, size_t n, unsigned max_level);

/* Iterating the children of a container. */
typedef struct dv_json_iter {
    const char *p;
    size_t n;
    size_t i;       /* next byte to look at; after the end, one past the closing bracket */
    size_t count;   /* children returned so far */
    unsigned level; /* level of the container */
    char close;     /* '}' or ']' */
    uint8_t state;  /* internal */
} dv_json_iter;

typedef struct dv_json_child {
    size_t kstart, kend; /* objects: the key string, quotes included; arrays: both vstart */
    size_t vstart;       /* first byte of the value */
} dv_json_child;

/* p[start] must be '{' or '['; level is the container's level. */
void dv_json_iter_init(dv_json_iter *it, const char *p, size_t n, size_t start, unsigned level);
/* The next child: 1 (c filled), 0 at the closing bracket (it->i is then one past it), or an
 * error. Each child returned must be skipped with dv_json_iter_skip before asking for the next. */
int dv_json_iter_next(dv_json_iter *it, dv_json_child *c);
/* Scan the current child's value (depth-checked against DV_JSON_DOC_LEVELS); *vend (may be
 * NULL) receives its end. */
int dv_json_iter_skip(dv_json_iter *it, size_t *vend);

/* A parsed sub-document path: dotted names, `backtick` quoted names (`` escapes a backtick),
 * [n] and [-1]. Name components keep their JSON escapes (\" etc.) and are compared with the
 * raw bytes of document keys, as kv_engine does. */
#define DV_PATH_MAX_COMPONENTS 31 /* kv_engine: 32 with the implicit root */
#define DV_PATH_BUF            1024

typedef struct dv_path_comp {
    const char *key; /* names: raw key bytes (into the path or the path's buffer) */
    size_t nkey;
    int64_t index; /* [n]; -1 = the last element */
    uint8_t is_index;
} dv_path_comp;

typedef struct dv_path {
    size_t n;
    dv_path_comp c[DV_PATH_MAX_COMPONENTS];
    size_t used;
    char buf[DV_PATH_BUF]; /* names with backtick escapes, unescaped */
} dv_path;

enum {
    DV_PATH_OK = 0,
    DV_PATH_EINVAL = -1, /* syntax */
    DV_PATH_E2BIG = -2,  /* more than DV_PATH_MAX_COMPONENTS components */
};

/* Parse s; the path keeps pointers into s. An empty s is the root (n = 0). */
int dv_path_parse(dv_path *path, const char *s, size_t n);

/* Where the first `ncomp` components of path lead in the document whose root value starts at
 * p[root]. */
typedef struct dv_json_hit {
    int found;    /* the whole path exists */
    size_t depth; /* components matched */
    /* found: the value */
    size_t vstart;   /* first byte of the value */
    size_t kstart;   /* first byte of its member: the key's opening quote, or vstart */
    unsigned vlevel; /* its level */
    /* not found: the deepest container that exists on the path (the would-be parent when
     * depth == ncomp - 1) */
    size_t cstart, cend; /* brackets included */
    size_t ccount;       /* its members or elements */
    unsigned clevel;
    char ctype; /* '{' or '[' */
} dv_json_hit;

/* DV_JSON_OK (see hit->found), DV_JSON_MISMATCH when a component meets a value of the wrong
 * type (a name in an array, an index in an object, anything below a primitive), or the errors of
 * the scanner for the siblings it had to skip. Only what lies before the target is scanned. */
int dv_json_find(const char *p, size_t n, size_t root, const dv_path *path, size_t ncomp,
                 dv_json_hit *hit);

/* The JSON integer (no fraction or exponent) at p[i]: DV_JSON_OK and *out, DV_JSON_MISMATCH
 * when the value there is not an integer, DV_JSON_ERANGE when it does not fit in int64. */
int dv_json_int64(const char *p, size_t n, size_t i, int64_t *out);

#endif
