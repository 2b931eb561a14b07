/* The SQL++ evaluator (internal): expressions over jansson values, MISSING as NULL pointers. */
#ifndef DV_QUERY_EVAL_H
#define DV_QUERY_EVAL_H

#include <jansson.h>
#include <stdint.h>

#include "query/ast.h"
#include "query/query.h"

typedef struct q_var {
    const char *name;
    json_t *val; /* borrowed; NULL = MISSING */
    const struct q_var *next;
} q_var;

/* One row in flight: alias -> value and alias -> META() object. */
typedef struct q_item {
    json_t *row;
    json_t *metas;
} q_item;

typedef struct q_env {
    const q_var *vars;
    json_t *row;         /* object alias -> value; may be NULL */
    json_t *metas;       /* object alias -> meta; may be NULL */
    json_t *proj;        /* the projected row, for ORDER BY on projection aliases */
    const char *dflt;    /* the alias unqualified names resolve in */
    const q_item *group; /* the group's rows, for aggregates */
    size_t ngroup;
    const struct q_env *outer;   /* enclosing query, for correlated subqueries */
    const struct q_aggval *aggs; /* aggregates computed while streaming (exec.c) */
    size_t naggs;
} q_env;

/* The value of one aggregate node, computed without materialising its group. */
typedef struct q_aggval {
    const q_expr *e;
    json_t *v;
} q_aggval;

typedef struct q_ctx {
    const dv_query_request *rq;
    const dv_query_source *src;
    dv_query_catalog *cat;
    int code; /* first error; 0 = none; Q_STOPPED: the row sink asked to stop */
    char msg[512];
    json_t *reason; /* optional "reason" object of the error */
    size_t values, max_values;
    uint64_t ticks;
    uint64_t mutations, sorts;
    char ctx_bucket[256], ctx_scope[256]; /* query_context; empty when none */
    int has_ctx;
    int no_meta; /* a SELECT that never calls META(): documents are read without their metadata */
    int begun;   /* rq->begin was called */
} q_ctx;

#define Q_STOPPED (-1)

/* Record an error (the first one wins); returns NULL for convenience. */
json_t *q_fail(q_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Count n more values held; records the memory-quota error when over. 0 or -1. */
int q_charge(q_ctx *c, size_t n);
/* Check the deadline every so often; -1 (and the timeout error) once passed. */
int q_tick(q_ctx *c);

/* A new reference, NULL for MISSING (or on error: check c->code). */
json_t *q_eval(q_ctx *c, const q_expr *e, const q_env *env);

/* Truth of a condition value: only TRUE-ish values pass (MISSING, NULL, FALSE, 0, "", [] and {}
 * do not). */
int q_truthy(const json_t *v);
/* The ORDER BY collation of query-service.md 10.1: <0, 0, >0. */
int q_collate(const json_t *a, const json_t *b);
/* TYPE(v) */
const char *q_type_name(const json_t *v);
/* Deep equality by collation (1 = 1.0). */
int q_equal(const json_t *a, const json_t *b);

/* Run a SELECT for a subquery or the top level: a new array of rows, NULL on error. */
json_t *q_select(q_ctx *c, const q_stmt *s, const q_env *outer);

#endif
