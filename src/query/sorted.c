/* A skip list ordered by q_collate (Pugh's structure: each node on level i is on level i + 1
 * with probability 1/4). */
#include "query/sorted.h"

#include <stdint.h>

#include "base/alloc.h"
#include "query/eval.h"

#define MAX_LEVEL 16

struct q_sorted_node {
    json_t *v, *entry;
    int level;
    q_sorted_node *next[]; /* level pointers */
};

struct q_sorted {
    q_sorted_node *head; /* a sentinel with MAX_LEVEL pointers */
    int level;           /* levels in use */
    uint64_t rng;
};

q_sorted *q_sorted_new(void)
{
    q_sorted *o = dv_calloc(1, sizeof *o);
    if (!o) return NULL;
    o->head = dv_calloc(1, sizeof *o->head + MAX_LEVEL * sizeof(q_sorted_node *));
    if (!o->head) {
        dv_free(o);
        return NULL;
    }
    o->head->level = MAX_LEVEL;
    o->level = 1;
    o->rng = 0x9e3779b97f4a7c15ull;
    return o;
}

void q_sorted_free(q_sorted *o)
{
    if (!o) return;
    q_sorted_node *n = o->head;
    while (n) {
        q_sorted_node *next = n->next[0];
        dv_free(n);
        n = next;
    }
    dv_free(o);
}

static int random_level(q_sorted *o)
{
    o->rng ^= o->rng << 13;
    o->rng ^= o->rng >> 7;
    o->rng ^= o->rng << 17;
    uint64_t r = o->rng;
    int level = 1;
    while (level < MAX_LEVEL && (r & 3) == 0) {
        level++;
        r >>= 2;
    }
    return level;
}

/* Fill prev[i] with the last node on level i whose value collates below v. */
static void find_prev(const q_sorted *o, const json_t *v, q_sorted_node **prev)
{
    q_sorted_node *n = o->head;
    for (int i = o->level - 1; i >= 0; i--) {
        while (n->next[i] && q_collate(n->next[i]->v, v) < 0) n = n->next[i];
        prev[i] = n;
    }
}

int q_sorted_insert(q_sorted *o, json_t *v, json_t *entry)
{
    q_sorted_node *prev[MAX_LEVEL];
    find_prev(o, v, prev);
    int level = random_level(o);
    for (int i = o->level; i < level; i++) prev[i] = o->head;
    if (level > o->level) o->level = level;
    q_sorted_node *n = dv_malloc(sizeof *n + (size_t)level * sizeof(q_sorted_node *));
    if (!n) return -1;
    n->v = v;
    n->entry = entry;
    n->level = level;
    for (int i = 0; i < level; i++) {
        n->next[i] = prev[i]->next[i];
        prev[i]->next[i] = n;
    }
    return 0;
}

void q_sorted_remove(q_sorted *o, json_t *v, json_t *entry)
{
    q_sorted_node *prev[MAX_LEVEL];
    find_prev(o, v, prev);
    /* the pair is among the nodes that collate equal to v, after prev[0] */
    q_sorted_node *n = prev[0]->next[0];
    while (n && n->entry != entry && q_collate(n->v, v) == 0) n = n->next[0];
    if (!n || n->entry != entry) return;
    for (int i = 0; i < n->level; i++) {
        /* on each level, walk from prev[i] to n's predecessor (equal values may precede it) */
        q_sorted_node *p = prev[i];
        while (p->next[i] && p->next[i] != n) p = p->next[i];
        if (p->next[i] == n) p->next[i] = n->next[i];
    }
    dv_free(n);
    while (o->level > 1 && !o->head->next[o->level - 1]) o->level--;
}

q_sorted_node *q_sorted_seek(const q_sorted *o, const json_t *lo, int incl)
{
    if (!lo) return o->head->next[0];
    q_sorted_node *n = o->head;
    for (int i = o->level - 1; i >= 0; i--)
        while (n->next[i] && q_collate(n->next[i]->v, lo) < 0) n = n->next[i];
    n = n->next[0];
    if (!incl)
        while (n && q_collate(n->v, lo) == 0) n = n->next[0];
    return n;
}

q_sorted_node *q_sorted_next(const q_sorted_node *n)
{
    return n->next[0];
}

json_t *q_sorted_value(const q_sorted_node *n)
{
    return n->v;
}

json_t *q_sorted_entry(const q_sorted_node *n)
{
    return n->entry;
}
