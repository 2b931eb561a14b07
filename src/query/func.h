/* SQL++ functions and aggregates (internal). */
#ifndef DV_QUERY_FUNC_H
#define DV_QUERY_FUNC_H

#include "query/eval.h"

/* Call the function of e (not META). Aggregates read env->group. */
json_t *q_call(q_ctx *c, const q_expr *e, const q_env *env);
/* 1 if name is a function divan knows (scalar or aggregate). */
int q_func_known(const char *name);
/* A number value from a double: an integer when it is one. */
json_t *q_number(double d);

#endif
