/* An index's entries in collation order: a skip list of (value, entry) pairs ordered by
 * q_collate, so that a range of an index is found by one seek and a walk instead of a test of
 * every entry. Values and entries are borrowed: the index's fwd object owns them, and an entry
 * is removed here before it leaves fwd. Not thread-safe (the catalog's lock covers it). */
#ifndef DV_QUERY_SORTED_H
#define DV_QUERY_SORTED_H

#include <jansson.h>

typedef struct q_sorted q_sorted;
typedef struct q_sorted_node q_sorted_node;

q_sorted *q_sorted_new(void);
void q_sorted_free(q_sorted *o);
/* Add an entry of value v (values that collate equal may repeat). 0, or -1 out of memory. */
int q_sorted_insert(q_sorted *o, json_t *v, json_t *entry);
/* Remove the pair (v, entry), if present. */
void q_sorted_remove(q_sorted *o, json_t *v, json_t *entry);
/* The first node whose value is >= lo (> lo when !incl; the first node when lo is NULL), or
 * NULL; then q_sorted_next walks on in order. */
q_sorted_node *q_sorted_seek(const q_sorted *o, const json_t *lo, int incl);
q_sorted_node *q_sorted_next(const q_sorted_node *n);
json_t *q_sorted_value(const q_sorted_node *n);
json_t *q_sorted_entry(const q_sorted_node *n);

#endif
