/* The SQL++ parser: tokens into the tree of ast.h, by recursive descent. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "query/ast.h"
#include "query/lex.h"

typedef struct parser {
    q_lexer lx;
    size_t i;
    int depth;
    int maxpos;
    q_arena *a;
    q_error *err;
    jmp_buf fail;
} parser;

static const char *const reserved[] = {
    "ALL",       "AND",       "ANY",    "ARRAY",  "AS",      "ASC",      "BETWEEN", "BUILD",
    "BY",        "CASE",      "CREATE", "DELETE", "DESC",    "DISTINCT", "DROP",    "ELEMENT",
    "ELSE",      "END",       "EVERY",  "EXCEPT", "EXECUTE", "EXISTS",   "EXPLAIN", "FALSE",
    "FIRST",     "FOR",       "FROM",   "GROUP",  "HAVING",  "IN",       "INDEX",   "INNER",
    "INSERT",    "INTERSECT", "INTO",   "IS",     "JOIN",    "KEY",      "KEYS",    "LEFT",
    "LET",       "LETTING",   "LIKE",   "LIMIT",  "MISSING", "NEST",     "NOT",     "NULL",
    "OFFSET",    "ON",        "OR",     "ORDER",  "OUTER",   "PREPARE",  "PRIMARY", "RAW",
    "RETURNING", "SATISFIES", "SELECT", "SET",    "SOME",    "THEN",     "TRUE",    "UNION",
    "UNNEST",    "UNSET",     "UPDATE", "UPSERT", "USE",     "USING",    "VALUE",   "VALUED",
    "VALUES",    "WHEN",      "WHERE",  "WITH",   "WITHIN",  "RIGHT",    "ESCAPE",  "OBJECT",
    "NULLS",     "MERGE",     "INFER",  "GRANT",  "REVOKE",  "BEGIN",    "COMMIT",  "ROLLBACK",
    NULL};

static int is_reserved(const char *s)
{
    for (int i = 0; reserved[i]; i++)
        if (!strcasecmp(s, reserved[i])) return 1;
    return 0;
}

static q_token *tok(parser *p)
{
    return &p->lx.toks[p->i];
}
static q_token *peek(parser *p, size_t k)
{
    size_t j = p->i + k;
    if (j >= p->lx.n) j = p->lx.n - 1;
    return &p->lx.toks[j];
}

static _Noreturn void fail_at(parser *p, q_token *t, const char *what)
{
    q_syntax_error(p->err, p->lx.text, p->lx.len, t->start, t->line, t->col, what);
    longjmp(p->fail, 1);
}

static _Noreturn void fail(parser *p, const char *what)
{
    fail_at(p, tok(p), what);
}

static void *alloc(parser *p, size_t n)
{
    void *v = q_alloc(p->a, n);
    if (!v) longjmp(p->fail, 2);
    return v;
}

static int is_kw(q_token *t, const char *kw)
{
    return t->kind == T_IDENT && !strcasecmp(t->text, kw);
}
static int at_kw(parser *p, const char *kw)
{
    return is_kw(tok(p), kw);
}
static int accept_kw(parser *p, const char *kw)
{
    if (!at_kw(p, kw)) return 0;
    p->i++;
    return 1;
}
static void expect_kw(parser *p, const char *kw)
{
    if (!accept_kw(p, kw)) {
        char what[64];
        snprintf(what, sizeof what, "expected %s", kw);
        fail(p, what);
    }
}
static int is_op(q_token *t, const char *op)
{
    return t->kind == T_OP && !strcmp(t->text, op);
}
static int at_op(parser *p, const char *op)
{
    return is_op(tok(p), op);
}
static int accept_op(parser *p, const char *op)
{
    if (!at_op(p, op)) return 0;
    p->i++;
    return 1;
}
static void expect_op(parser *p, const char *op)
{
    if (!accept_op(p, op)) {
        char what[32];
        snprintf(what, sizeof what, "expected %s", op);
        fail(p, what);
    }
}

/* An identifier: back-ticked, or bare and not reserved. NULL if none here. */
static const char *accept_ident(parser *p)
{
    q_token *t = tok(p);
    if (t->kind == T_QIDENT || (t->kind == T_IDENT && !is_reserved(t->text))) {
        p->i++;
        return t->text;
    }
    return NULL;
}
static const char *expect_ident(parser *p)
{
    const char *s = accept_ident(p);
    if (!s) fail(p, "expected an identifier");
    return s;
}

/* A growable array of pointers or structs in the arena. */
typedef struct vec {
    void *v;
    size_t n, cap, size;
} vec;
static void *vec_push(parser *p, vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        void *nv = alloc(p, cap * v->size);
        if (v->n) memcpy(nv, v->v, v->n * v->size);
        v->v = nv;
        v->cap = cap;
    }
    return (char *)v->v + v->size * v->n++;
}

static q_expr *node(parser *p, q_ekind k)
{
    q_expr *e = alloc(p, sizeof *e);
    e->kind = k;
    e->line = tok(p)->line;
    e->col = tok(p)->col;
    return e;
}

static q_expr *expr(parser *p);
static q_stmt *select_stmt(parser *p);
static q_stmt *statement(parser *p);

static void enter(parser *p)
{
    if (++p->depth > Q_MAX_DEPTH) fail(p, "statement nested too deeply");
}

static const char *const aggregates[] = {"COUNT",  "SUM",       "AVG",      "MIN",
                                         "MAX",    "ARRAY_AGG", "COUNTN",   "MEAN",
                                         "MEDIAN", "STDDEV",    "VARIANCE", NULL};
static int is_aggregate(const char *name)
{
    for (int i = 0; aggregates[i]; i++)
        if (!strcasecmp(name, aggregates[i])) return 1;
    return 0;
}

static q_expr **expr_list(parser *p, const char *close, size_t *n)
{
    vec v = {.size = sizeof(q_expr *)};
    if (!at_op(p, close)) {
        do {
            *(q_expr **)vec_push(p, &v) = expr(p);
        } while (accept_op(p, ","));
    }
    expect_op(p, close);
    *n = v.n;
    return v.v;
}

/* v [: pos] IN|WITHIN arr, ... */
static q_binding *range_bindings(parser *p, size_t *n)
{
    vec v = {.size = sizeof(q_binding)};
    do {
        q_binding *b = vec_push(p, &v);
        b->var = expect_ident(p);
        if (accept_op(p, ":")) {
            b->pos = b->var;
            b->var = expect_ident(p);
        }
        if (accept_kw(p, "WITHIN"))
            b->within = 1;
        else
            expect_kw(p, "IN");
        b->e = expr(p);
    } while (accept_op(p, ","));
    *n = v.n;
    return v.v;
}

static q_stmt *paren_select(parser *p)
{
    /* at "(" SELECT */
    size_t save = p->i;
    if (!accept_op(p, "(")) return NULL;
    if (!at_kw(p, "SELECT") && !at_kw(p, "WITH")) {
        p->i = save;
        return NULL;
    }
    q_stmt *s = select_stmt(p);
    expect_op(p, ")");
    return s;
}

static q_expr *primary(parser *p)
{
    q_token *t = tok(p);
    q_expr *e;
    switch (t->kind) {
    case T_NUMBER:
    case T_STRING:
        e = node(p, E_LIT);
        e->lit = t->num;
        p->i++;
        return e;
    case T_NPARAM:
        e = node(p, E_NPARAM);
        e->name = t->text;
        p->i++;
        return e;
    case T_PPARAM:
        e = node(p, E_PPARAM);
        e->pos = atoi(t->text);
        if (e->pos < 1) fail(p, "parameter numbers start at 1");
        if (e->pos > p->maxpos) p->maxpos = e->pos;
        p->i++;
        return e;
    case T_QIDENT:
        e = node(p, E_IDENT);
        e->name = t->text;
        p->i++;
        return e;
    case T_OP:
        if (is_op(t, "(")) {
            q_stmt *s = paren_select(p);
            if (s) {
                e = node(p, E_SUBQ);
                e->sub = s;
                return e;
            }
            p->i++;
            e = expr(p);
            expect_op(p, ")");
            return e;
        }
        if (is_op(t, "[")) {
            e = node(p, E_ARRAY);
            p->i++;
            e->args = expr_list(p, "]", &e->nargs);
            return e;
        }
        if (is_op(t, "{")) {
            e = node(p, E_OBJECT);
            p->i++;
            vec names = {.size = sizeof(char *)}, vals = {.size = sizeof(q_expr *)};
            if (!at_op(p, "}")) {
                do {
                    q_expr *k = expr(p);
                    const char *name = NULL;
                    q_expr *v;
                    if (accept_op(p, ":")) {
                        if (k->kind != E_LIT || !json_is_string(k->lit))
                            fail(p, "object member names must be strings");
                        name = json_string_value(k->lit);
                        v = expr(p);
                    } else {
                        /* {a.b} shorthand: name from the expression's last element */
                        v = k;
                        if (k->kind == E_IDENT || k->kind == E_FIELD)
                            name = k->name;
                        else
                            fail(p, "object member needs a name");
                    }
                    *(const char **)vec_push(p, &names) = name;
                    *(q_expr **)vec_push(p, &vals) = v;
                } while (accept_op(p, ","));
            }
            expect_op(p, "}");
            e->names = names.v;
            e->args = vals.v;
            e->nargs = vals.n;
            return e;
        }
        fail(p, NULL);
    case T_IDENT:
        break;
    default:
        fail(p, NULL);
    }
    /* T_IDENT: keywords that start expressions, functions, identifiers. */
    if (accept_kw(p, "TRUE") || accept_kw(p, "FALSE") || accept_kw(p, "NULL")) {
        e = node(p, E_LIT);
        e->lit = q_keep(p->a, !strcasecmp(t->text, "TRUE")    ? json_true()
                              : !strcasecmp(t->text, "FALSE") ? json_false()
                                                              : json_null());
        if (!e->lit) longjmp(p->fail, 2);
        return e;
    }
    if (accept_kw(p, "MISSING")) return node(p, E_MISSING);
    if (accept_kw(p, "CASE")) {
        e = node(p, E_CASE);
        if (!at_kw(p, "WHEN")) e->a = expr(p);
        vec v = {.size = sizeof(q_expr *)};
        while (accept_kw(p, "WHEN")) {
            *(q_expr **)vec_push(p, &v) = expr(p);
            expect_kw(p, "THEN");
            *(q_expr **)vec_push(p, &v) = expr(p);
        }
        if (!v.n) fail(p, "CASE needs WHEN");
        if (accept_kw(p, "ELSE")) e->b = expr(p);
        expect_kw(p, "END");
        e->args = v.v;
        e->nargs = v.n;
        return e;
    }
    if (at_kw(p, "ANY") || at_kw(p, "SOME") || at_kw(p, "EVERY")) {
        int every = at_kw(p, "EVERY");
        p->i++;
        e = node(p, every ? E_EVERY : E_ANY);
        if (!every && accept_kw(p, "AND")) {
            expect_kw(p, "EVERY");
            e->kind = E_ANYEVERY;
        }
        e->binds = range_bindings(p, &e->nbinds);
        expect_kw(p, "SATISFIES");
        e->a = expr(p);
        expect_kw(p, "END");
        return e;
    }
    if ((at_kw(p, "ARRAY") || at_kw(p, "FIRST") || at_kw(p, "OBJECT")) && !is_op(peek(p, 1), "(")) {
        int kind = at_kw(p, "ARRAY") ? E_ARRAYFOR : at_kw(p, "FIRST") ? E_FIRSTFOR : E_OBJFOR;
        p->i++;
        e = node(p, (q_ekind)kind);
        if (kind == E_OBJFOR) {
            e->b = expr(p);
            expect_op(p, ":");
        }
        e->a = expr(p);
        expect_kw(p, "FOR");
        e->binds = range_bindings(p, &e->nbinds);
        if (accept_kw(p, "WHEN")) e->c = expr(p);
        expect_kw(p, "END");
        return e;
    }
    if (accept_kw(p, "EXISTS")) {
        e = node(p, E_EXISTS);
        enter(p);
        e->a = primary(p);
        p->depth--;
        return e;
    }
    if (is_op(peek(p, 1), "(")) {
        p->i += 2;
        e = node(p, E_FUNC);
        e->name = t->text;
        e->agg = is_aggregate(t->text);
        if (accept_op(p, "*")) {
            e->star = 1;
            expect_op(p, ")");
            return e;
        }
        if (accept_kw(p, "DISTINCT"))
            e->distinct = 1;
        else
            accept_kw(p, "ALL");
        e->args = expr_list(p, ")", &e->nargs);
        return e;
    }
    if (is_reserved(t->text)) fail(p, NULL);
    e = node(p, E_IDENT);
    e->name = t->text;
    p->i++;
    return e;
}

static q_expr *postfix(parser *p)
{
    q_expr *e = primary(p);
    while (1) {
        if (at_op(p, ".") && !is_op(peek(p, 1), "*")) {
            p->i++;
            q_token *t = tok(p);
            if (t->kind != T_IDENT && t->kind != T_QIDENT) {
                /* a.[expr] : computed field name */
                if (accept_op(p, "[")) {
                    q_expr *f = node(p, E_ELEM);
                    f->a = e;
                    f->b = expr(p);
                    expect_op(p, "]");
                    e = f;
                    continue;
                }
                fail(p, "expected a field name");
            }
            p->i++;
            q_expr *f = node(p, E_FIELD);
            f->a = e;
            f->name = t->text;
            e = f;
        } else if (accept_op(p, "[")) {
            q_expr *f = node(p, E_ELEM);
            f->a = e;
            if (at_op(p, ":")) fail(p, "slice needs a start");
            f->b = expr(p);
            if (accept_op(p, ":")) {
                f->kind = E_SLICE;
                if (!at_op(p, "]")) f->c = expr(p);
            }
            expect_op(p, "]");
            e = f;
        } else {
            return e;
        }
    }
}

static q_expr *unary(parser *p)
{
    if (accept_op(p, "-")) {
        enter(p);
        q_expr *e = node(p, E_NEG);
        e->a = unary(p);
        p->depth--;
        return e;
    }
    if (accept_op(p, "+")) return unary(p);
    return postfix(p);
}

static q_expr *binary(parser *p, const char *op, q_expr *a, q_expr *b)
{
    q_expr *e = node(p, E_BIN);
    snprintf(e->op, sizeof e->op, "%s", op);
    e->a = a;
    e->b = b;
    return e;
}

static q_expr *mul(parser *p)
{
    q_expr *e = unary(p);
    while (at_op(p, "*") || at_op(p, "/") || at_op(p, "%")) {
        const char *op = tok(p)->text;
        p->i++;
        e = binary(p, op, e, unary(p));
    }
    return e;
}

static q_expr *add(parser *p)
{
    q_expr *e = mul(p);
    while (at_op(p, "+") || at_op(p, "-")) {
        const char *op = tok(p)->text;
        p->i++;
        e = binary(p, op, e, mul(p));
    }
    return e;
}

static q_expr *concat(parser *p)
{
    q_expr *e = add(p);
    while (accept_op(p, "||")) e = binary(p, "||", e, add(p));
    return e;
}

static q_expr *compare(parser *p)
{
    q_expr *e = concat(p);
    static const char *const cmps[] = {"=", "==", "!=", "<>", "<", "<=", ">", ">=", NULL};
    for (int i = 0; cmps[i]; i++)
        if (at_op(p, cmps[i])) {
            p->i++;
            const char *op = cmps[i];
            if (!strcmp(op, "==")) op = "=";
            if (!strcmp(op, "<>")) op = "!=";
            return binary(p, op, e, concat(p));
        }
    int neg = 0;
    if (at_kw(p, "NOT") && (is_kw(peek(p, 1), "LIKE") || is_kw(peek(p, 1), "IN") ||
                            is_kw(peek(p, 1), "BETWEEN") || is_kw(peek(p, 1), "WITHIN"))) {
        p->i++;
        neg = 1;
    }
    q_expr *r;
    if (accept_kw(p, "LIKE")) {
        r = node(p, E_LIKE);
        r->a = e;
        r->b = concat(p);
        if (accept_kw(p, "ESCAPE")) r->c = concat(p);
    } else if (accept_kw(p, "IN")) {
        r = node(p, E_IN);
        r->a = e;
        r->b = concat(p);
    } else if (accept_kw(p, "WITHIN")) {
        r = node(p, E_WITHIN);
        r->a = e;
        r->b = concat(p);
    } else if (accept_kw(p, "BETWEEN")) {
        r = node(p, E_BETWEEN);
        r->a = e;
        r->b = concat(p);
        expect_kw(p, "AND");
        r->c = concat(p);
    } else if (accept_kw(p, "IS")) {
        r = node(p, E_IS);
        r->a = e;
        r->neg = accept_kw(p, "NOT");
        if (accept_kw(p, "NULL"))
            r->is = 'N';
        else if (accept_kw(p, "MISSING"))
            r->is = 'M';
        else if (accept_kw(p, "VALUED"))
            r->is = 'V';
        else
            fail(p, "expected NULL, MISSING or VALUED");
        return r;
    } else {
        return e;
    }
    r->neg = neg;
    return r;
}

static q_expr *not_expr(parser *p)
{
    if (accept_kw(p, "NOT")) {
        enter(p);
        q_expr *e = node(p, E_NOT);
        e->a = not_expr(p);
        p->depth--;
        return e;
    }
    return compare(p);
}

static q_expr *logic(parser *p, int is_or)
{
    q_expr *first = is_or ? logic(p, 0) : not_expr(p);
    if (!at_kw(p, is_or ? "OR" : "AND")) return first;
    q_expr *e = node(p, is_or ? E_OR : E_AND);
    vec v = {.size = sizeof(q_expr *)};
    *(q_expr **)vec_push(p, &v) = first;
    while (accept_kw(p, is_or ? "OR" : "AND"))
        *(q_expr **)vec_push(p, &v) = is_or ? logic(p, 0) : not_expr(p);
    e->args = v.v;
    e->nargs = v.n;
    return e;
}

static q_expr *expr(parser *p)
{
    enter(p);
    q_expr *e = logic(p, 1);
    p->depth--;
    return e;
}

/* ---- Statements --------------------------------------------------------------------------- */

static void keyspace_path(parser *p, q_path *path)
{
    const char *first = expect_ident(p);
    if (accept_op(p, ":")) {
        path->ns = first;
        first = expect_ident(p);
    }
    path->parts[0] = first;
    path->nparts = 1;
    while (path->nparts < 3 && at_op(p, ".") &&
           (peek(p, 1)->kind == T_QIDENT ||
            (peek(p, 1)->kind == T_IDENT && !is_reserved(peek(p, 1)->text)))) {
        p->i++;
        path->parts[path->nparts++] = expect_ident(p);
    }
}

static const char *opt_alias(parser *p)
{
    if (accept_kw(p, "AS")) return expect_ident(p);
    return accept_ident(p);
}

static void use_clause(parser *p, q_from *f)
{
    while (accept_kw(p, "USE")) {
        if (accept_kw(p, "PRIMARY")) {
            expect_kw(p, "KEYS");
            f->use_keys = expr(p);
        } else if (accept_kw(p, "KEYS")) {
            f->use_keys = expr(p);
        } else if (accept_kw(p, "INDEX")) {
            expect_op(p, "(");
            int depth = 1;
            while (depth && tok(p)->kind != T_EOF) {
                if (at_op(p, "(")) depth++;
                if (at_op(p, ")")) depth--;
                p->i++;
            }
        } else {
            fail(p, "expected KEYS or INDEX");
        }
    }
}

static void from_term(parser *p, q_from *f)
{
    q_token *t = tok(p);
    int is_path = (t->kind == T_QIDENT || (t->kind == T_IDENT && !is_reserved(t->text))) &&
                  !is_op(peek(p, 1), "(");
    if (is_path) {
        f->is_path = 1;
        keyspace_path(p, &f->path);
        f->alias = opt_alias(p);
        if (!f->alias) f->alias = f->path.parts[f->path.nparts - 1];
        /* a path followed by field access is an expression on a keyspace alias: not here */
    } else {
        f->expr = expr(p);
        f->alias = opt_alias(p);
        if (!f->alias) {
            if (f->expr->kind == E_SUBQ) fail(p, "a subquery in FROM needs an alias");
            f->alias = "$1";
        }
    }
    use_clause(p, f);
}

static q_proj *projections(parser *p, size_t *n, int raw)
{
    vec v = {.size = sizeof(q_proj)};
    do {
        q_proj *pr = vec_push(p, &v);
        if (!raw && accept_op(p, "*")) {
            pr->star = 1;
            continue;
        }
        pr->e = expr(p);
        if (!raw && at_op(p, ".") && is_op(peek(p, 1), "*")) {
            p->i += 2;
            pr->star = 1;
            continue;
        }
        pr->alias = opt_alias(p);
        if (raw) break;
    } while (accept_op(p, ","));
    *n = v.n;
    return v.v;
}

static q_binding *let_bindings(parser *p, size_t *n, int with)
{
    vec v = {.size = sizeof(q_binding)};
    do {
        q_binding *b = vec_push(p, &v);
        b->var = expect_ident(p);
        if (with)
            expect_kw(p, "AS");
        else
            expect_op(p, "=");
        b->e = expr(p);
    } while (accept_op(p, ","));
    *n = v.n;
    return v.v;
}

static void order_limit(parser *p, q_stmt *s)
{
    if (accept_kw(p, "ORDER")) {
        expect_kw(p, "BY");
        vec v = {.size = sizeof(q_order)};
        do {
            q_order *o = vec_push(p, &v);
            o->e = expr(p);
            if (accept_kw(p, "DESC"))
                o->desc = 1;
            else
                accept_kw(p, "ASC");
            if (accept_kw(p, "NULLS")) {
                if (accept_kw(p, "FIRST"))
                    o->nulls = 1;
                else if (accept_kw(p, "LAST"))
                    o->nulls = 2;
                else
                    fail(p, "expected FIRST or LAST");
            }
        } while (accept_op(p, ","));
        s->order = v.v;
        s->norder = v.n;
    }
    for (int k = 0; k < 2; k++) {
        if (!s->limit && accept_kw(p, "LIMIT")) s->limit = expr(p);
        if (!s->offset && accept_kw(p, "OFFSET")) s->offset = expr(p);
    }
}

static int has_agg(const q_expr *e);
static int has_agg_list(q_expr *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (has_agg(v[i])) return 1;
    return 0;
}
static int has_agg(const q_expr *e)
{
    if (!e) return 0;
    if (e->kind == E_SUBQ) return 0;
    if (e->kind == E_FUNC && e->agg) return 1;
    if (has_agg(e->a) || has_agg(e->b) || has_agg(e->c)) return 1;
    return has_agg_list(e->args, e->nargs);
}

static q_stmt *select_stmt(parser *p)
{
    enter(p);
    q_stmt *s = alloc(p, sizeof *s);
    s->kind = S_SELECT;
    if (accept_kw(p, "WITH")) s->let = let_bindings(p, &s->nlet, 1);
    expect_kw(p, "SELECT");
    if (accept_kw(p, "DISTINCT"))
        s->distinct = 1;
    else
        accept_kw(p, "ALL");
    if (accept_kw(p, "RAW") || accept_kw(p, "ELEMENT") || accept_kw(p, "VALUE")) s->raw = 1;
    s->projs = projections(p, &s->nprojs, s->raw);
    if (accept_kw(p, "FROM")) {
        vec v = {.size = sizeof(q_from)};
        from_term(p, vec_push(p, &v));
        while (1) {
            if (accept_op(p, ",")) {
                from_term(p, vec_push(p, &v));
                continue;
            }
            int left = 0;
            size_t save = p->i;
            if (accept_kw(p, "LEFT")) {
                left = 1;
                accept_kw(p, "OUTER");
            } else {
                accept_kw(p, "INNER");
            }
            q_jkind jk = accept_kw(p, "JOIN")     ? J_JOIN
                         : accept_kw(p, "NEST")   ? J_NEST
                         : accept_kw(p, "UNNEST") ? J_UNNEST
                                                  : J_NONE;
            if (jk == J_NONE) {
                p->i = save;
                break;
            }
            q_from *f = vec_push(p, &v);
            f->join = jk;
            f->left = left;
            if (jk == J_UNNEST) {
                f->expr = expr(p);
                f->alias = opt_alias(p);
                if (!f->alias) {
                    if (f->expr->kind == E_FIELD || f->expr->kind == E_IDENT)
                        f->alias = f->expr->name;
                    else
                        fail(p, "UNNEST needs an alias");
                }
                continue;
            }
            f->is_path = 1;
            keyspace_path(p, &f->path);
            f->alias = opt_alias(p);
            if (!f->alias) f->alias = f->path.parts[f->path.nparts - 1];
            use_clause(p, f);
            expect_kw(p, "ON");
            if (accept_kw(p, "PRIMARY")) {
                expect_kw(p, "KEYS");
                f->on_keys = expr(p);
            } else if (accept_kw(p, "KEYS")) {
                f->on_keys = expr(p);
            } else {
                f->on = expr(p); /* ANSI: JOIN ks b ON a.x = b.y */
            }
        }
        s->from = v.v;
        s->nfrom = v.n;
    }
    if (accept_kw(p, "LET")) {
        size_t n;
        q_binding *b = let_bindings(p, &n, 0);
        if (s->nlet) {
            q_binding *all = alloc(p, (s->nlet + n) * sizeof *all);
            memcpy(all, s->let, s->nlet * sizeof *all);
            memcpy(all + s->nlet, b, n * sizeof *all);
            s->let = all;
            s->nlet += n;
        } else {
            s->let = b;
            s->nlet = n;
        }
    }
    if (accept_kw(p, "WHERE")) s->where = expr(p);
    if (accept_kw(p, "GROUP")) {
        expect_kw(p, "BY");
        vec v = {.size = sizeof(q_expr *)};
        do {
            *(q_expr **)vec_push(p, &v) = expr(p);
        } while (accept_op(p, ","));
        s->group = v.v;
        s->ngroup = v.n;
        if (accept_kw(p, "LETTING")) s->letting = let_bindings(p, &s->nletting, 0);
        if (accept_kw(p, "HAVING")) s->having = expr(p);
    }
    if (at_kw(p, "UNION") || at_kw(p, "INTERSECT") || at_kw(p, "EXCEPT"))
        fail(p, "UNION, INTERSECT and EXCEPT are not supported by divan");
    order_limit(p, s);
    for (size_t i = 0; i < s->nprojs; i++)
        if (has_agg(s->projs[i].e)) s->has_agg = 1;
    if (has_agg(s->having)) s->has_agg = 1;
    for (size_t i = 0; i < s->norder; i++)
        if (has_agg(s->order[i].e)) s->has_agg = 1;
    if (has_agg(s->where)) fail(p, "aggregates are not allowed in WHERE");
    p->depth--;
    return s;
}

static void returning(parser *p, q_stmt *s)
{
    if (!accept_kw(p, "RETURNING")) return;
    if (accept_kw(p, "RAW") || accept_kw(p, "ELEMENT") || accept_kw(p, "VALUE"))
        s->returning_raw = 1;
    s->returning = projections(p, &s->nreturning, s->returning_raw);
}

static void dml_target(parser *p, q_stmt *s)
{
    q_from *f = alloc(p, sizeof *f);
    f->is_path = 1;
    keyspace_path(p, &f->path);
    f->alias = opt_alias(p);
    if (!f->alias) f->alias = f->path.parts[f->path.nparts - 1];
    s->from = f;
    s->nfrom = 1;
}

static q_stmt *insert_stmt(parser *p, q_skind kind)
{
    q_stmt *s = alloc(p, sizeof *s);
    s->kind = kind;
    expect_kw(p, "INTO");
    dml_target(p, s);
    int key_value_list = 0;
    if (at_op(p, "(")) {
        p->i++;
        expect_kw(p, "KEY");
        if (accept_op(p, ",")) {
            expect_kw(p, "VALUE");
            if (accept_op(p, ",")) expect_kw(p, "OPTIONS");
            key_value_list = 1;
        } else {
            s->ins_key = expr(p);
            if (accept_op(p, ",")) {
                expect_kw(p, "VALUE");
                s->ins_value = expr(p);
            }
        }
        expect_op(p, ")");
    }
    (void)key_value_list;
    if (!s->ins_key && accept_kw(p, "VALUES")) {
        vec ks = {.size = sizeof(q_expr *)}, vs = {.size = sizeof(q_expr *)},
            os = {.size = sizeof(q_expr *)};
        do {
            accept_kw(p, "VALUES");
            expect_op(p, "(");
            *(q_expr **)vec_push(p, &ks) = expr(p);
            expect_op(p, ",");
            *(q_expr **)vec_push(p, &vs) = expr(p);
            *(q_expr **)vec_push(p, &os) = accept_op(p, ",") ? expr(p) : NULL;
            expect_op(p, ")");
        } while (accept_op(p, ","));
        s->keys = ks.v;
        s->values = vs.v;
        s->options = os.v;
        s->nvalues = ks.n;
    } else if (s->ins_key && (at_kw(p, "SELECT") || at_kw(p, "WITH") || at_op(p, "("))) {
        int paren = accept_op(p, "(");
        s->insert_select = select_stmt(p);
        if (paren) expect_op(p, ")");
    } else {
        fail(p, s->ins_key ? "expected SELECT" : "expected VALUES");
    }
    returning(p, s);
    return s;
}

static q_expr *set_path(parser *p)
{
    q_expr *e = postfix(p);
    for (q_expr *x = e; x; x = x->a) {
        if (x->kind == E_IDENT) return e;
        if (x->kind != E_FIELD && x->kind != E_ELEM) break;
    }
    fail(p, "expected a path");
}

static q_stmt *update_stmt(parser *p)
{
    q_stmt *s = alloc(p, sizeof *s);
    s->kind = S_UPDATE;
    dml_target(p, s);
    use_clause(p, s->from);
    if (accept_kw(p, "SET")) {
        vec ps = {.size = sizeof(q_expr *)}, vs = {.size = sizeof(q_expr *)};
        do {
            *(q_expr **)vec_push(p, &ps) = set_path(p);
            expect_op(p, "=");
            *(q_expr **)vec_push(p, &vs) = expr(p);
            if (at_kw(p, "FOR")) fail(p, "SET ... FOR is not supported by divan");
        } while (accept_op(p, ","));
        s->set_paths = ps.v;
        s->set_vals = vs.v;
        s->nset = ps.n;
    }
    if (accept_kw(p, "UNSET")) {
        vec ps = {.size = sizeof(q_expr *)};
        do {
            *(q_expr **)vec_push(p, &ps) = set_path(p);
        } while (accept_op(p, ","));
        s->unset_paths = ps.v;
        s->nunset = ps.n;
    }
    if (!s->nset && !s->nunset) fail(p, "expected SET or UNSET");
    if (accept_kw(p, "WHERE")) s->where = expr(p);
    if (accept_kw(p, "LIMIT")) s->limit = expr(p);
    returning(p, s);
    return s;
}

static q_stmt *delete_stmt(parser *p)
{
    q_stmt *s = alloc(p, sizeof *s);
    s->kind = S_DELETE;
    expect_kw(p, "FROM");
    dml_target(p, s);
    use_clause(p, s->from);
    if (accept_kw(p, "WHERE")) s->where = expr(p);
    if (accept_kw(p, "LIMIT")) s->limit = expr(p);
    returning(p, s);
    return s;
}

static void using_with(parser *p, q_stmt *s)
{
    for (int k = 0; k < 2; k++) {
        if (accept_kw(p, "USING")) {
            if (!accept_kw(p, "GSI") && !accept_kw(p, "VIEW")) fail(p, "expected GSI");
        }
        if (!s->with_e && accept_kw(p, "WITH")) s->with_e = expr(p);
    }
}

static void if_not_exists(parser *p, q_stmt *s)
{
    if (at_kw(p, "IF") && is_kw(peek(p, 1), "NOT")) {
        p->i += 2;
        expect_kw(p, "EXISTS");
        s->if_not_exists = 1;
    }
}

static q_stmt *create_stmt(parser *p)
{
    q_stmt *s = alloc(p, sizeof *s);
    s->kind = S_CREATE_INDEX;
    if (accept_kw(p, "PRIMARY")) {
        s->primary = 1;
        expect_kw(p, "INDEX");
        if_not_exists(p, s);
        if (!at_kw(p, "ON")) s->index_name = expect_ident(p);
        if_not_exists(p, s);
        expect_kw(p, "ON");
        dml_target(p, s);
        using_with(p, s);
        return s;
    }
    if (!accept_kw(p, "INDEX")) {
        s->kind = S_UNSUPPORTED;
        s->unsupported = "CREATE";
        return s;
    }
    s->index_name = expect_ident(p);
    if_not_exists(p, s);
    expect_kw(p, "ON");
    q_from *f = alloc(p, sizeof *f);
    f->is_path = 1;
    keyspace_path(p, &f->path);
    f->alias = f->path.parts[f->path.nparts - 1];
    s->from = f;
    s->nfrom = 1;
    expect_op(p, "(");
    vec v = {.size = sizeof(q_expr *)};
    do {
        accept_kw(p, "ALL");
        accept_kw(p, "DISTINCT");
        *(q_expr **)vec_push(p, &v) = expr(p);
        if (!accept_kw(p, "ASC")) accept_kw(p, "DESC");
    } while (accept_op(p, ","));
    expect_op(p, ")");
    s->index_keys = v.v;
    s->nindex_keys = v.n;
    for (int k = 0; k < 2; k++) {
        if (!s->npartition && accept_kw(p, "PARTITION")) {
            expect_kw(p, "BY");
            if (!accept_kw(p, "HASH")) fail(p, "expected HASH");
            expect_op(p, "(");
            s->partition = expr_list(p, ")", &s->npartition);
        }
        if (!s->index_where && accept_kw(p, "WHERE")) s->index_where = expr(p);
    }
    using_with(p, s);
    return s;
}

static q_stmt *drop_stmt(parser *p)
{
    q_stmt *s = alloc(p, sizeof *s);
    s->kind = S_DROP_INDEX;
    if (accept_kw(p, "PRIMARY")) {
        s->primary = 1;
        expect_kw(p, "INDEX");
        if (at_kw(p, "IF")) {
            p->i++;
            expect_kw(p, "EXISTS");
            s->if_exists = 1;
        }
        if (!at_kw(p, "ON")) s->index_name = expect_ident(p);
        expect_kw(p, "ON");
        dml_target(p, s);
    } else if (accept_kw(p, "INDEX")) {
        q_path path = {0};
        keyspace_path(p, &path);
        if (at_kw(p, "IF")) {
            p->i++;
            expect_kw(p, "EXISTS");
            s->if_exists = 1;
        }
        q_from *f = alloc(p, sizeof *f);
        f->is_path = 1;
        s->from = f;
        s->nfrom = 1;
        if (accept_kw(p, "ON")) {
            if (path.nparts != 1 || path.ns) fail(p, "expected an index name");
            s->index_name = path.parts[0];
            keyspace_path(p, &f->path);
        } else {
            /* legacy: [ns:]keyspace.index */
            if (path.nparts < 2) fail(p, "expected ON");
            s->index_name = path.parts[path.nparts - 1];
            f->path = path;
            f->path.nparts--;
        }
        f->alias = f->path.parts[f->path.nparts - 1];
    } else {
        s->kind = S_UNSUPPORTED;
        s->unsupported = "DROP";
        return s;
    }
    using_with(p, s);
    return s;
}

static q_stmt *build_stmt(parser *p)
{
    q_stmt *s = alloc(p, sizeof *s);
    s->kind = S_BUILD_INDEX;
    expect_kw(p, "INDEX");
    expect_kw(p, "ON");
    dml_target(p, s);
    expect_op(p, "(");
    vec v = {.size = sizeof(q_expr *)};
    do {
        *(q_expr **)vec_push(p, &v) = expr(p);
    } while (accept_op(p, ","));
    expect_op(p, ")");
    s->index_keys = v.v;
    s->nindex_keys = v.n;
    using_with(p, s);
    return s;
}

static q_stmt *statement(parser *p)
{
    enter(p);
    q_stmt *s;
    q_token *t = tok(p);
    if (at_kw(p, "SELECT") || at_kw(p, "WITH")) {
        s = select_stmt(p);
    } else if (at_op(p, "(") && (is_kw(peek(p, 1), "SELECT") || is_kw(peek(p, 1), "WITH"))) {
        p->i++;
        s = select_stmt(p);
        expect_op(p, ")");
    } else if (accept_kw(p, "INSERT")) {
        s = insert_stmt(p, S_INSERT);
    } else if (accept_kw(p, "UPSERT")) {
        s = insert_stmt(p, S_UPSERT);
    } else if (accept_kw(p, "UPDATE")) {
        s = update_stmt(p);
    } else if (accept_kw(p, "DELETE")) {
        s = delete_stmt(p);
    } else if (accept_kw(p, "CREATE")) {
        s = create_stmt(p);
    } else if (accept_kw(p, "DROP")) {
        s = drop_stmt(p);
    } else if (accept_kw(p, "BUILD")) {
        s = build_stmt(p);
    } else if (accept_kw(p, "EXPLAIN")) {
        s = alloc(p, sizeof *s);
        s->kind = S_EXPLAIN;
        s->inner = statement(p);
        p->depth--;
        return s;
    } else if (accept_kw(p, "PREPARE")) {
        s = alloc(p, sizeof *s);
        s->kind = S_PREPARE;
        accept_kw(p, "FORCE");
        if ((tok(p)->kind == T_QIDENT || tok(p)->kind == T_STRING ||
             (tok(p)->kind == T_IDENT && !is_reserved(tok(p)->text))) &&
            (is_kw(peek(p, 1), "FROM") || is_kw(peek(p, 1), "AS"))) {
            s->prep_name = tok(p)->text;
            p->i += 2;
        }
        s->inner_text = tok(p)->start;
        s->inner = statement(p);
        if (s->inner->kind == S_PREPARE || s->inner->kind == S_EXECUTE)
            fail_at(p, t, "cannot prepare PREPARE or EXECUTE");
        p->depth--;
        return s;
    } else if (accept_kw(p, "EXECUTE")) {
        s = alloc(p, sizeof *s);
        s->kind = S_EXECUTE;
        if (tok(p)->kind == T_QIDENT || tok(p)->kind == T_STRING || tok(p)->kind == T_IDENT)
            s->prep_name = tok(p)->text;
        else
            fail(p, "expected a prepared statement's name");
        p->i++;
        if (accept_kw(p, "USING")) s->exec_using = expr(p);
    } else if (t->kind == T_IDENT &&
               (is_kw(t, "MERGE") || is_kw(t, "INFER") || is_kw(t, "GRANT") || is_kw(t, "REVOKE") ||
                is_kw(t, "BEGIN") || is_kw(t, "START") || is_kw(t, "COMMIT") ||
                is_kw(t, "ROLLBACK") || is_kw(t, "SAVEPOINT") || is_kw(t, "ALTER") ||
                is_kw(t, "ADVISE") || is_kw(t, "UPDATE_STATISTICS") || is_kw(t, "SET"))) {
        s = alloc(p, sizeof *s);
        s->kind = S_UNSUPPORTED;
        s->unsupported = t->text;
        while (tok(p)->kind != T_EOF) p->i++;
    } else {
        fail(p, NULL);
    }
    p->depth--;
    return s;
}

q_stmt *q_parse(q_arena *a, const char *text, size_t n, q_error *err)
{
    memset(err, 0, sizeof *err);
    if (n > Q_MAX_STATEMENT) {
        err->code = 1194;
        snprintf(err->msg, sizeof err->msg, "Request size %zu exceeds the limit of %u bytes", n,
                 Q_MAX_STATEMENT);
        return NULL;
    }
    parser p = {0};
    p.a = a;
    p.err = err;
    p.lx.text = text;
    p.lx.len = n;
    p.lx.arena = a;
    p.lx.err = err;
    q_stmt *volatile s = NULL;
    if (q_lex(&p.lx) < 0) {
        if (!err->code) {
            err->code = 5000;
            snprintf(err->msg, sizeof err->msg, "out of memory parsing the statement");
        }
        q_lexer_free(&p.lx);
        return NULL;
    }
    int rc = setjmp(p.fail);
    if (rc == 0) {
        if (p.lx.toks[0].kind == T_EOF) fail(&p, "empty statement");
        s = statement(&p);
        accept_op(&p, ";");
        if (tok(&p)->kind != T_EOF) fail(&p, NULL);
        s->nparams_pos = p.maxpos;
    } else {
        s = NULL;
        if (rc == 2) {
            err->code = 5000;
            snprintf(err->msg, sizeof err->msg, "out of memory parsing the statement");
        }
    }
    q_lexer_free(&p.lx);
    return s;
}

/* ---- Canonical text ----------------------------------------------------------------------- */

static int fmt(const q_expr *e, dv_buf *o);

static int fmt_ident(const char *s, dv_buf *o)
{
    if (dv_buf_append_u8(o, '`') < 0) return -1;
    for (; *s; s++) {
        if (*s == '`' && dv_buf_append_u8(o, '`') < 0) return -1;
        if (dv_buf_append_u8(o, (uint8_t)*s) < 0) return -1;
    }
    return dv_buf_append_u8(o, '`');
}

static int fmt_list(q_expr *const *v, size_t n, dv_buf *o)
{
    for (size_t i = 0; i < n; i++) {
        if (i && dv_buf_append(o, ", ", 2) < 0) return -1;
        if (fmt(v[i], o) < 0) return -1;
    }
    return 0;
}

static int fmt_lit(json_t *v, dv_buf *o)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) return -1;
    int rc = dv_buf_append(o, s, strlen(s));
    free(s);
    return rc;
}

static int fmt(const q_expr *e, dv_buf *o)
{
    static const char *const is_names[] = {['N'] = "null", ['M'] = "missing", ['V'] = "valued"};
    switch (e->kind) {
    case E_LIT:
        return fmt_lit(e->lit, o);
    case E_MISSING:
        return dv_buf_printf(o, "missing");
    case E_IDENT:
        return fmt_ident(e->name, o);
    case E_FIELD:
        if (dv_buf_append_u8(o, '(') < 0 || fmt(e->a, o) < 0 || dv_buf_append_u8(o, '.') < 0 ||
            fmt_ident(e->name, o) < 0)
            return -1;
        return dv_buf_append_u8(o, ')');
    case E_ELEM:
    case E_SLICE:
        if (fmt(e->a, o) < 0 || dv_buf_append_u8(o, '[') < 0 || fmt(e->b, o) < 0) return -1;
        if (e->kind == E_SLICE && (dv_buf_append_u8(o, ':') < 0 || (e->c && fmt(e->c, o) < 0)))
            return -1;
        return dv_buf_append_u8(o, ']');
    case E_NPARAM:
        return dv_buf_printf(o, "$%s", e->name);
    case E_PPARAM:
        return dv_buf_printf(o, "$%d", e->pos);
    case E_BIN:
        if (dv_buf_append_u8(o, '(') < 0 || fmt(e->a, o) < 0 ||
            dv_buf_printf(o, " %s ", e->op) < 0 || fmt(e->b, o) < 0)
            return -1;
        return dv_buf_append_u8(o, ')');
    case E_NEG:
        if (dv_buf_append(o, "(-", 2) < 0 || fmt(e->a, o) < 0) return -1;
        return dv_buf_append_u8(o, ')');
    case E_NOT:
        if (dv_buf_append(o, "(not ", 5) < 0 || fmt(e->a, o) < 0) return -1;
        return dv_buf_append_u8(o, ')');
    case E_AND:
    case E_OR:
        if (dv_buf_append_u8(o, '(') < 0) return -1;
        for (size_t i = 0; i < e->nargs; i++) {
            if (i && dv_buf_printf(o, " %s ", e->kind == E_AND ? "and" : "or") < 0) return -1;
            if (fmt(e->args[i], o) < 0) return -1;
        }
        return dv_buf_append_u8(o, ')');
    case E_IS:
        if (dv_buf_append_u8(o, '(') < 0 || fmt(e->a, o) < 0 ||
            dv_buf_printf(o, " is %s%s)", e->neg ? "not " : "", is_names[(int)e->is]) < 0)
            return -1;
        return 0;
    case E_LIKE:
    case E_IN:
    case E_WITHIN:
        if (dv_buf_append_u8(o, '(') < 0 || fmt(e->a, o) < 0 ||
            dv_buf_printf(o, " %s%s ", e->neg ? "not " : "",
                          e->kind == E_LIKE ? "like"
                          : e->kind == E_IN ? "in"
                                            : "within") < 0 ||
            fmt(e->b, o) < 0)
            return -1;
        return dv_buf_append_u8(o, ')');
    case E_BETWEEN:
        if (dv_buf_append_u8(o, '(') < 0 || fmt(e->a, o) < 0 ||
            dv_buf_printf(o, " %sbetween ", e->neg ? "not " : "") < 0 || fmt(e->b, o) < 0 ||
            dv_buf_printf(o, " and ") < 0 || fmt(e->c, o) < 0)
            return -1;
        return dv_buf_append_u8(o, ')');
    case E_FUNC:
        for (const char *s = e->name; *s; s++)
            if (dv_buf_append_u8(o, (uint8_t)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s)) < 0)
                return -1;
        if (dv_buf_append_u8(o, '(') < 0) return -1;
        if (e->star && dv_buf_append_u8(o, '*') < 0) return -1;
        if (e->distinct && dv_buf_printf(o, "distinct ") < 0) return -1;
        if (fmt_list(e->args, e->nargs, o) < 0) return -1;
        return dv_buf_append_u8(o, ')');
    case E_ARRAY:
        if (dv_buf_append_u8(o, '[') < 0 || fmt_list(e->args, e->nargs, o) < 0) return -1;
        return dv_buf_append_u8(o, ']');
    case E_ARRAYFOR:
        if (dv_buf_printf(o, "array ") < 0 || fmt(e->a, o) < 0 || dv_buf_printf(o, " for ") < 0)
            return -1;
        for (size_t i = 0; i < e->nbinds; i++) {
            if (i && dv_buf_printf(o, ", ") < 0) return -1;
            if (fmt_ident(e->binds[i].var, o) < 0 ||
                dv_buf_printf(o, e->binds[i].within ? " within " : " in ") < 0 ||
                fmt(e->binds[i].e, o) < 0)
                return -1;
        }
        if (e->c && (dv_buf_printf(o, " when ") < 0 || fmt(e->c, o) < 0)) return -1;
        return dv_buf_printf(o, " end");
    default:
        return dv_buf_printf(o, "<expression>");
    }
}

int q_expr_format(const q_expr *e, dv_buf *out)
{
    return fmt(e, out);
}
