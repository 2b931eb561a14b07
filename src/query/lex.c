/* The arena and the tokenizer of SQL++. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "query/ast.h"
#include "query/lex.h"

/* ---- The arena ---------------------------------------------------------------------------- */

struct q_block {
    q_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define BLOCK_SIZE 8192

void *q_alloc(q_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    q_block *b = a->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_SIZE ? n : BLOCK_SIZE;
        b = dv_malloc(sizeof *b + cap);
        if (!b) {
            a->oom = 1;
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        b->next = a->blocks;
        a->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *q_strndup(q_arena *a, const char *s, size_t n)
{
    char *p = q_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

json_t *q_keep(q_arena *a, json_t *v)
{
    if (!v) {
        a->oom = 1;
        return NULL;
    }
    if (a->nvals == a->capvals) {
        size_t cap = a->capvals ? a->capvals * 2 : 16;
        json_t **nv = dv_realloc(a->vals, cap * sizeof *nv);
        if (!nv) {
            json_decref(v);
            a->oom = 1;
            return NULL;
        }
        a->vals = nv;
        a->capvals = cap;
    }
    a->vals[a->nvals++] = v;
    return v;
}

void q_arena_free(q_arena *a)
{
    for (size_t i = 0; i < a->nvals; i++) json_decref(a->vals[i]);
    dv_free(a->vals);
    q_block *b = a->blocks;
    while (b) {
        q_block *n = b->next;
        dv_free(b);
        b = n;
    }
    memset(a, 0, sizeof *a);
}

/* ---- The tokenizer ------------------------------------------------------------------------ */

static int lex_fail(q_lexer *lx, const char *at, const char *what)
{
    int line = 1, col = 1;
    for (const char *p = lx->text; p < at; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    q_syntax_error(lx->err, lx->text, lx->len, at, line, col, what);
    return -1;
}

void q_syntax_error(q_error *err, const char *text, size_t len, const char *at, int line, int col,
                    const char *what)
{
    const char *from = at - text > 30 ? at - 30 : text, *end = text + len;
    int near = (int)(at - from), atn = 0;
    while (at + atn < end && at[atn] && atn < 30 && at[atn] != '\n') atn++;
    err->code = 3000;
    err->line = line;
    err->col = col;
    snprintf(err->msg, sizeof err->msg,
             "syntax error - line %d, column %d, near '%.*s', at: %.*s%s%s", line, col, near, from,
             atn, at, what ? " - " : "", what ? what : "");
}

static int push(q_lexer *lx, q_token t)
{
    if (lx->n == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 64;
        q_token *nt = dv_realloc(lx->toks, cap * sizeof *nt);
        if (!nt) {
            lx->arena->oom = 1;
            return -1;
        }
        lx->toks = nt;
        lx->cap = cap;
    }
    lx->toks[lx->n++] = t;
    return 0;
}

/* Decode a quoted string or identifier starting at p (the quote); returns the end. */
static const char *quoted(q_lexer *lx, const char *p, const char *end, char **out, size_t *outn)
{
    char q = *p++;
    size_t cap = 16, n = 0;
    char *buf = dv_malloc(cap);
    if (!buf) return NULL;
    while (p < end) {
        char c = *p++;
        if (c == q) {
            if (p < end && *p == q && q != '`') { /* '' and "" double the quote */
                c = *p++;
            } else if (p < end && *p == q && q == '`') {
                c = *p++;
            } else {
                *out = q_strndup(lx->arena, buf, n);
                *outn = n;
                dv_free(buf);
                return *out ? p : NULL;
            }
        } else if (c == '\\' && q != '`' && p < end) {
            char e = *p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                unsigned cp = 0;
                int i;
                for (i = 0; i < 4 && p < end && isxdigit((unsigned char)*p); i++, p++)
                    cp =
                        cp * 16 + (unsigned)(isdigit((unsigned char)*p) ? *p - '0'
                                                                        : (tolower(*p) - 'a' + 10));
                if (i < 4) {
                    dv_free(buf);
                    return NULL;
                }
                char u[4];
                size_t un;
                if (cp < 0x80) {
                    u[0] = (char)cp;
                    un = 1;
                } else if (cp < 0x800) {
                    u[0] = (char)(0xc0 | (cp >> 6));
                    u[1] = (char)(0x80 | (cp & 0x3f));
                    un = 2;
                } else {
                    u[0] = (char)(0xe0 | (cp >> 12));
                    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    u[2] = (char)(0x80 | (cp & 0x3f));
                    un = 3;
                }
                if (n + un + 1 > cap) {
                    cap = (n + un + 1) * 2;
                    char *nb = dv_realloc(buf, cap);
                    if (!nb) {
                        dv_free(buf);
                        return NULL;
                    }
                    buf = nb;
                }
                memcpy(buf + n, u, un);
                n += un;
                continue;
            }
            default:
                c = e;
                break;
            }
        }
        if (n + 2 > cap) {
            cap *= 2;
            char *nb = dv_realloc(buf, cap);
            if (!nb) {
                dv_free(buf);
                return NULL;
            }
            buf = nb;
        }
        buf[n++] = c;
    }
    dv_free(buf);
    return NULL;
}

static const char *const ops3[] = {NULL};
static const char *const ops2[] = {"==", "!=", "<>", "<=", ">=", "||", NULL};
static const char ops1[] = "=<>+-*/%()[]{},.:;";

int q_lex(q_lexer *lx)
{
    (void)ops3;
    const char *p = lx->text, *end = lx->text + lx->len;
    int line = 1;
    const char *line_start = p;
    int qmarks = 0;
    while (1) {
        /* Spaces and comments. */
        while (p < end) {
            if (*p == '\n') {
                line++;
                line_start = p + 1;
                p++;
            } else if (isspace((unsigned char)*p)) {
                p++;
            } else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
                while (p < end && *p != '\n') p++;
            } else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
                const char *c = p + 2;
                while (c + 1 < end && !(c[0] == '*' && c[1] == '/')) c++;
                if (c + 1 >= end) return lex_fail(lx, p, "unterminated comment");
                for (const char *q = p; q < c; q++)
                    if (*q == '\n') {
                        line++;
                        line_start = q + 1;
                    }
                p = c + 2;
            } else {
                break;
            }
        }
        q_token t = {0};
        t.start = p;
        t.line = line;
        t.col = (int)(p - line_start) + 1;
        if (p >= end) {
            t.kind = T_EOF;
            return push(lx, t);
        }
        unsigned char c = (unsigned char)*p;
        if (isalpha(c) || c == '_') {
            const char *s = p;
            while (p < end && (isalnum((unsigned char)*p) || *p == '_')) p++;
            t.kind = T_IDENT;
            t.text = q_strndup(lx->arena, s, (size_t)(p - s));
        } else if (c == '`' || c == '"' || c == '\'') {
            size_t n;
            const char *e = quoted(lx, p, end, &t.text, &n);
            if (!e) {
                if (lx->arena->oom) return -1;
                return lex_fail(lx, p,
                                c == '`' ? "unterminated identifier" : "unterminated string");
            }
            if (c == '`') {
                t.kind = T_QIDENT;
            } else {
                t.kind = T_STRING;
                t.num = q_keep(lx->arena, json_stringn(t.text, n));
                if (!t.num) return -1;
            }
            p = e;
        } else if (isdigit(c) || (c == '.' && p + 1 < end && isdigit((unsigned char)p[1]))) {
            const char *s = p;
            int is_float = 0;
            while (p < end && isdigit((unsigned char)*p)) p++;
            if (p < end && *p == '.') {
                is_float = 1;
                p++;
                while (p < end && isdigit((unsigned char)*p)) p++;
            }
            if (p < end && (*p == 'e' || *p == 'E')) {
                const char *e = p + 1;
                if (e < end && (*e == '+' || *e == '-')) e++;
                if (e < end && isdigit((unsigned char)*e)) {
                    is_float = 1;
                    p = e;
                    while (p < end && isdigit((unsigned char)*p)) p++;
                }
            }
            char tmp[64];
            size_t n = (size_t)(p - s);
            if (n >= sizeof tmp) return lex_fail(lx, s, "number too long");
            memcpy(tmp, s, n);
            tmp[n] = '\0';
            json_t *v;
            if (!is_float) {
                char *e2;
                long long ll = strtoll(tmp, &e2, 10);
                if (n > 18 && (ll == LLONG_MAX))
                    v = json_real(strtod(tmp, NULL));
                else
                    v = json_integer(ll);
            } else {
                v = json_real(strtod(tmp, NULL));
            }
            t.kind = T_NUMBER;
            t.num = q_keep(lx->arena, v);
            if (!t.num) return -1;
            t.text = q_strndup(lx->arena, s, n);
        } else if ((c == '$' || c == '@') && p + 1 < end) {
            const char *s = ++p;
            if (isdigit((unsigned char)*p) && c == '$') {
                while (p < end && isdigit((unsigned char)*p)) p++;
                if (p - s > 6) return lex_fail(lx, s - 1, "parameter number too large");
                t.kind = T_PPARAM;
                t.text = q_strndup(lx->arena, s, (size_t)(p - s));
            } else if (isalpha((unsigned char)*p) || *p == '_') {
                while (p < end && (isalnum((unsigned char)*p) || *p == '_')) p++;
                t.kind = T_NPARAM;
                t.text = q_strndup(lx->arena, s, (size_t)(p - s));
            } else {
                return lex_fail(lx, s - 1, NULL);
            }
        } else if (c == '?') {
            p++;
            char num[16];
            snprintf(num, sizeof num, "%d", ++qmarks);
            t.kind = T_PPARAM;
            t.text = q_strndup(lx->arena, num, strlen(num));
        } else {
            t.kind = T_OP;
            for (int i = 0; ops2[i]; i++)
                if (p + 1 < end && p[0] == ops2[i][0] && p[1] == ops2[i][1]) {
                    t.text = q_strndup(lx->arena, p, 2);
                    p += 2;
                    break;
                }
            if (!t.text) {
                if (!c || !strchr(ops1, c)) return lex_fail(lx, p, NULL);
                t.text = q_strndup(lx->arena, p, 1);
                p++;
            }
        }
        if (!t.text) return -1;
        t.len = (size_t)(p - t.start);
        if (push(lx, t) < 0) return -1;
    }
}

void q_lexer_free(q_lexer *lx)
{
    dv_free(lx->toks);
    lx->toks = NULL;
}
