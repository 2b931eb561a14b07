/* The SQL++ syntax tree, the tokenizer and the parser (internal to src/query).
 *
 * Every node and string of one parsed statement lives in one arena (q_arena) and is freed with
 * it; literal values are jansson values the arena releases. A parse error carries the real
 * service's code (3000) and a message "syntax error - line L, column C, near '...', at: ...". */
#ifndef DV_QUERY_AST_H
#define DV_QUERY_AST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define Q_MAX_DEPTH     128        /* nesting of expressions and subqueries */
#define Q_MAX_STATEMENT (1u << 20) /* bytes of statement text */

/* ---- The arena ---------------------------------------------------------------------------- */

typedef struct q_block q_block;
typedef struct q_arena {
    q_block *blocks;
    json_t **vals; /* literals to release */
    size_t nvals, capvals;
    int oom;
} q_arena;

void *q_alloc(q_arena *a, size_t n); /* zeroed; NULL (and a->oom) on failure */
char *q_strndup(q_arena *a, const char *s, size_t n);
json_t *q_keep(q_arena *a, json_t *v); /* the arena releases v; returns v */
void q_arena_free(q_arena *a);

/* ---- Tokens ------------------------------------------------------------------------------- */

typedef enum q_tok {
    T_EOF,
    T_IDENT,  /* bare identifier or keyword */
    T_QIDENT, /* `back-ticked` identifier */
    T_STRING,
    T_NUMBER,
    T_NPARAM, /* $name / @name */
    T_PPARAM, /* $1 */
    T_QMARK,  /* ? */
    T_OP,     /* punctuation and operators; text in tok.text */
    T_ERROR
} q_tok;

typedef struct q_token {
    q_tok kind;
    const char *start; /* in the statement */
    size_t len;
    char *text; /* decoded identifier, string or operator (arena) */
    json_t *num;
    int line, col;
} q_token;

/* ---- Expressions -------------------------------------------------------------------------- */

typedef enum q_ekind {
    E_LIT,     /* lit */
    E_MISSING, /* the literal MISSING */
    E_IDENT,   /* name */
    E_FIELD,   /* a.name */
    E_ELEM,    /* a[b] */
    E_SLICE,   /* a[b:c]; c may be NULL */
    E_NPARAM,  /* $name */
    E_PPARAM,  /* $n, ?; pos 1-based */
    E_BIN,     /* op: = != < <= > >= + - * / % || */
    E_NEG,
    E_NOT,
    E_AND,  /* args */
    E_OR,   /* args */
    E_IS,   /* is: 'N' null 'M' missing 'V' valued; neg */
    E_LIKE, /* a LIKE b [ESCAPE c]; neg */
    E_IN,   /* a IN b; neg */
    E_WITHIN,
    E_BETWEEN, /* a BETWEEN b AND c; neg */
    E_FUNC,    /* name(args) / name(*) / name(DISTINCT x) */
    E_CASE,    /* [a] WHEN args[2i] THEN args[2i+1] ... ELSE b */
    E_ARRAY,   /* [args] */
    E_OBJECT,  /* {names[i]: args[i]} */
    E_ANY,     /* ANY/SOME vars IN/WITHIN arr SATISFIES a END */
    E_EVERY,
    E_ANYEVERY,
    E_ARRAYFOR, /* ARRAY a FOR v IN arr [WHEN b] END */
    E_FIRSTFOR, /* FIRST a FOR ... */
    E_OBJFOR,   /* OBJECT n:a FOR ... */
    E_SUBQ,     /* (SELECT ...) */
    E_EXISTS,   /* EXISTS a */
} q_ekind;

typedef struct q_stmt q_stmt;
typedef struct q_expr q_expr;

typedef struct q_binding { /* v IN arr / v WITHIN arr / LET v = e */
    const char *var;
    const char *pos; /* optional position/name variable (v:p IN ...) */
    q_expr *e;
    int within;
} q_binding;

struct q_expr {
    q_ekind kind;
    char op[3];
    int neg, star, distinct;
    char is;
    int pos;
    const char *name;
    json_t *lit;
    q_expr *a, *b, *c;
    q_expr **args;
    size_t nargs;
    const char **names; /* E_OBJECT member names (NULL entry: name from args expression) */
    q_binding *binds;
    size_t nbinds;
    q_stmt *sub;
    int agg; /* E_FUNC: an aggregate */
    int line, col;
};

/* ---- Statements --------------------------------------------------------------------------- */

typedef struct q_path { /* [namespace:]bucket[.scope.collection] */
    const char *ns;
    const char *parts[3];
    int nparts;
} q_path;

typedef enum q_jkind { J_NONE, J_JOIN, J_NEST, J_UNNEST } q_jkind;

typedef struct q_from {
    q_jkind join; /* J_NONE for the first term and comma terms */
    int left;     /* LEFT [OUTER] */
    int is_path;
    q_path path;
    q_expr *expr; /* expression term, or UNNEST's expression */
    const char *alias;
    q_expr *use_keys;
    q_expr *on_keys; /* JOIN/NEST ON KEYS */
    q_expr *on;      /* ANSI JOIN/NEST ... ON condition */
} q_from;

typedef struct q_proj {
    q_expr *e; /* NULL for * */
    const char *alias;
    int star; /* e.* or * */
} q_proj;

typedef struct q_order {
    q_expr *e;
    int desc;
    int nulls; /* 0 default, 1 first, 2 last */
} q_order;

typedef enum q_skind {
    S_SELECT,
    S_INSERT,
    S_UPSERT,
    S_UPDATE,
    S_DELETE,
    S_CREATE_INDEX,
    S_DROP_INDEX,
    S_BUILD_INDEX,
    S_EXPLAIN,
    S_PREPARE,
    S_EXECUTE,
    S_UNSUPPORTED
} q_skind;

struct q_stmt {
    q_skind kind;
    /* SELECT */
    int distinct, raw;
    q_proj *projs;
    size_t nprojs;
    q_from *from;
    size_t nfrom;
    q_binding *let; /* LET (after FROM) and WITH (before SELECT) */
    size_t nlet;
    q_expr *where;
    q_expr **group;
    size_t ngroup;
    q_binding *letting;
    size_t nletting;
    q_expr *having;
    q_order *order;
    size_t norder;
    q_expr *limit, *offset;
    int has_agg;
    q_stmt *set_next; /* UNION [ALL] etc: not supported */
    /* DML: keyspace in from[0] */
    q_expr **keys, **values, **options; /* INSERT/UPSERT VALUES rows */
    size_t nvalues;
    q_stmt *insert_select; /* INSERT ... SELECT */
    q_expr *ins_key, *ins_value;
    q_expr **set_paths, **set_vals;
    size_t nset;
    q_expr **unset_paths;
    size_t nunset;
    q_proj *returning;
    size_t nreturning;
    int returning_raw;
    /* index DDL */
    int primary, if_exists, if_not_exists;
    const char *index_name;
    q_expr **index_keys;
    size_t nindex_keys;
    q_expr *index_where;
    q_expr **partition;
    size_t npartition;
    q_expr *with_e; /* WITH {...} */
    const char **build_names;
    size_t nbuild;
    /* EXPLAIN / PREPARE / EXECUTE */
    q_stmt *inner;
    const char *inner_text; /* PREPARE: the statement text after the name */
    const char *prep_name;
    q_expr *exec_using;
    const char *unsupported; /* S_UNSUPPORTED: the statement's first word(s) */
    int nparams_pos;         /* highest positional parameter seen (?/$n) */
};

typedef struct q_error {
    int code;
    char msg[512];
    int line, col; /* 0 when none */
} q_error;

/* Parse one statement (n bytes, trailing ';' allowed). NULL with *err filled on a syntax error
 * or a statement over the limits. */
q_stmt *q_parse(q_arena *a, const char *text, size_t n, q_error *err);

/* The canonical text of e as the real service writes index keys and conditions:
 * identifiers back-ticked, every binary operation parenthesised, lower-case keywords. Appended
 * to out (a json string is made by the caller). 0, or -1 on allocation failure. */
struct dv_buf;
int q_expr_format(const q_expr *e, struct dv_buf *out);

#endif
