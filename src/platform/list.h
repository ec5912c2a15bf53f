/* The intrusive doubly linked list: the node lives inside what is listed (a waiting future, a
 * task, a token), so listing allocates nothing and unlinking is O(1) from the node alone. Both
 * ends are NULL-terminated and the list keeps head and tail, so it serves as a FIFO (push_back,
 * pop_front) and as a set with O(1) removal (push_front, remove). Not thread-safe: every list
 * here lives under its owner's lock. */
#ifndef EDO_PLATFORM_LIST_H
#define EDO_PLATFORM_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct edo__list_node {
    struct edo__list_node *next, *prev;
} edo__list_node;

typedef struct edo__list {
    edo__list_node *head, *tail;
} edo__list;

/* The struct of `type` whose field `member` is the node `node` points to. */
#define edo__list_entry(node, type, member) \
    ((type *)(void *)((char *)(node) - offsetof(type, member)))

/* Visits every node from the head; `it` may be removed (or freed) while visited. */
#define edo__list_for_each(it, list)                                                   \
    for (edo__list_node *it = (list)->head, *it##_next_ = it ? it->next : NULL; it;    \
         it = it##_next_, it##_next_ = it ? it->next : NULL)

static inline bool edo__list_is_empty(const edo__list *l) { return l->head == NULL; }

/* Whether `n` is in `l` (a node off every list has both links NULL). */
static inline bool edo__list_is_linked(const edo__list *l, const edo__list_node *n)
{
    return n->prev != NULL || l->head == n;
}

static inline void edo__list_push_back(edo__list *l, edo__list_node *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

static inline void edo__list_push_front(edo__list *l, edo__list_node *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
}

/* Unlinks `n`, which is in `l`, leaving its links NULL. */
static inline void edo__list_remove(edo__list *l, edo__list_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->next = n->prev = NULL;
}

/* Unlinks and returns the head (NULL when empty). */
static inline edo__list_node *edo__list_pop_front(edo__list *l)
{
    edo__list_node *n = l->head;
    if (n)
        edo__list_remove(l, n);
    return n;
}

#endif
