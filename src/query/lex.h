/* The SQL++ tokenizer (internal): the whole statement into an array of tokens, ending in T_EOF. */
#ifndef DV_QUERY_LEX_H
#define DV_QUERY_LEX_H

#include <limits.h>

#include "query/ast.h"

typedef struct q_lexer {
    const char *text;
    size_t len;
    q_arena *arena;
    q_error *err;
    q_token *toks;
    size_t n, cap;
} q_lexer;

/* 0, or -1 with *err filled (syntax) or arena->oom set. */
int q_lex(q_lexer *lx);
void q_lexer_free(q_lexer *lx);
/* Fill err with a code-3000 message pointing at `at` in text. */
void q_syntax_error(q_error *err, const char *text, size_t len, const char *at, int line, int col,
                    const char *what);

#endif
