/* Task-local storage: values keyed by the address of a static edo_task_local, kept in a short
 * list on the task and destroyed when it completes. A task rarely holds more than a few, so a
 * list beats a table. It follows the task across workers, unlike a thread-local. */
#include <stdlib.h>

#include "core/task.h"
#include "edo/error.h"
#include "edo/task.h"

typedef struct edo__task_locals {
    const edo_task_local *key;
    void *value;
    struct edo__task_locals *next;
} edo__task_locals;

static edo__task_locals *find(edo__task *t, const edo_task_local *key)
{
    for (edo__task_locals *l = t->locals; l; l = l->next)
        if (l->key == key)
            return l;
    return NULL;
}

int edo_task_local_set(const edo_task_local *key, void *value)
{
    if (!key)
        return -EINVAL;
    edo__task *t = edo__task_current();
    if (!t)
        return -EPERM;
    edo__task_locals *l = find(t, key);
    if (l) {
        if (l->value != value && key->destroy && l->value)
            key->destroy(l->value);
        l->value = value;
        return 0;
    }
    if (!(l = malloc(sizeof *l)))
        return -ENOMEM;
    l->key = key;
    l->value = value;
    l->next = t->locals;
    t->locals = l;
    return 0;
}

void *edo_task_local_get(const edo_task_local *key)
{
    edo__task *t = edo__task_current();
    if (!key || !t)
        return NULL;
    edo__task_locals *l = find(t, key);
    return l ? l->value : NULL;
}

void edo__task_locals_destroy(edo__task *t)
{
    /* A destructor may set another value: keep going until none is left. */
    while (t->locals) {
        edo__task_locals *l = t->locals;
        t->locals = l->next;
        if (l->key->destroy && l->value)
            l->key->destroy(l->value);
        free(l);
    }
}
