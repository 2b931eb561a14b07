#include "divan/error.h"

#include <stddef.h>

typedef struct row {
    int num;
    dv_error_category cat;
    int retryable;
    const char *name, *python, *msg;
} row;

static const row rows[] = {
#define DV_X_(name, num, cat, retry, py, msg) {num, DV_CAT_##cat, retry, #name, py, msg},
    DV_ERRORS(DV_X_)
#undef DV_X_
};

static const char *category_names[] = {
#define DV_X_(name, str) str,
    DV_ERROR_CATEGORIES(DV_X_)
#undef DV_X_
};

static const row *find(int err)
{
    /* The table is sorted by number: binary search. */
    size_t lo = 0, hi = sizeof rows / sizeof rows[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rows[mid].num == err) return &rows[mid];
        if (rows[mid].num < err)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *dv_strerror(int err)
{
    const row *r = find(err);
    return r ? r->msg : "unknown error";
}

const char *dv_error_name(int err)
{
    const row *r = find(err);
    return r ? r->name : NULL;
}

dv_error_category dv_error_category_of(int err)
{
    const row *r = find(err);
    return r ? r->cat : DV_CAT_NONE;
}

const char *dv_error_category_name(dv_error_category cat)
{
    if ((size_t)cat >= sizeof category_names / sizeof category_names[0]) return "unknown";
    return category_names[cat];
}

int dv_error_retryable(int err)
{
    const row *r = find(err);
    return r ? r->retryable : 0;
}

const char *dv_error_python_class(int err)
{
    const row *r = find(err);
    return r && r->python[0] ? r->python : "CouchbaseException";
}
