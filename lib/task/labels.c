/* libasyncrt - task labels: asyncrt_task_set_label() and the label sets
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ownership (see labels-private.h and "Who may touch which field" in task-private.h):
 * only the task itself, while it runs, replaces its labels pointer (in its extra block,
 * AsyncrtTaskExtra, which it allocates on its first label if it has none), and it
 * does so under its owned-shard lock, which is the lock dumps hold while they take a
 * reference to the set (collect.c).  The task reads its own pointers without a lock
 * (it is the only writer); sets are never modified once published.
 */
#include "task/task-private.h"
#include "task/labels-private.h"
#include "scheduler/scheduler-private.h"

#include <stdlib.h>
#include <string.h>

AsyncrtLabels *
asyncrt__labels_ref (AsyncrtLabels *l)
{
  if (l != NULL)
    atomic_fetch_add_explicit (&l->refs, 1, memory_order_relaxed);
  return l;
}

void
asyncrt__labels_unref (AsyncrtLabels *l)
{
  if (l != NULL && atomic_fetch_sub_explicit (&l->refs, 1, memory_order_acq_rel) == 1)
    free (l);
}

static bool
key_char_ok (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || c == '_' || c == '-' || c == '.' || c == ':' || c == '/';
}

/* 0, -EINVAL or -E2BIG. */
static int
check_key (const char *key)
{
  if (key == NULL || key[0] == '\0')
    return -EINVAL;
  size_t i = 0;
  for (; key[i] != '\0'; i++)
    {
      if (i >= ASYNCRT_TASK_LABEL_KEY_MAX)
        return -E2BIG;
      if (!key_char_ok (key[i]))
        return -EINVAL;
    }
  return 0;
}

/* A new set: @old with @key set to @value (replaced in place, or appended), or
 * removed when @value is NULL.  *@ret is NULL when no label is left. */
static int
labels_with (const AsyncrtLabels *old, const char *key, const char *value,
             AsyncrtLabels **ret)
{
  AsyncrtLabel items[ASYNCRT_TASK_MAX_LABELS + 1];
  unsigned n = 0;
  bool found = false;
  for (unsigned i = 0; old != NULL && i < old->n; i++)
    {
      if (strcmp (old->items[i].key, key) == 0)
        {
          found = true;
          if (value == NULL)
            continue;
          items[n].key = key;
          items[n++].value = value;
        }
      else
        items[n++] = old->items[i];
    }
  if (!found && value != NULL)
    {
      if (n == ASYNCRT_TASK_MAX_LABELS)
        return -ENOSPC;
      items[n].key = key;
      items[n++].value = value;
    }
  if (n == 0)
    {
      *ret = NULL;
      return 0;
    }

  size_t bytes = sizeof (AsyncrtLabels) + n * sizeof (AsyncrtLabel);
  for (unsigned i = 0; i < n; i++)
    bytes += strlen (items[i].key) + 1 + strlen (items[i].value) + 1;
  AsyncrtLabels *l = malloc (bytes);
  if (l == NULL)
    return -ENOMEM;
  atomic_init (&l->refs, 1);
  l->n = n;
  char *p = (char *) &l->items[n];
  for (unsigned i = 0; i < n; i++)
    {
      size_t kl = strlen (items[i].key) + 1, vl = strlen (items[i].value) + 1;
      memcpy (p, items[i].key, kl);
      l->items[i].key = p;
      p += kl;
      memcpy (p, items[i].value, vl);
      l->items[i].value = p;
      p += vl;
    }
  *ret = l;
  return 0;
}

/**
 * asyncrt_task_set_label:
 * @key: the label's name: 1 to %ASYNCRT_TASK_LABEL_KEY_MAX characters among
 *   `A-Z a-z 0-9 _ - . : /`
 * @value: (nullable): its value, any string of at most
 *   %ASYNCRT_TASK_LABEL_VALUE_MAX bytes (copied); %NULL removes the label
 *
 * Sets a label of the calling task — a request id, a peer address, a tenant — the
 * way Tokio programs use `task_local!` for diagnostics.  Labels are shown by every
 * dump format (asyncrt_dump_to_string(), asyncrt_dump_to_json(), and read with
 * asyncrt_dump_task_get_label()); values are printed escaped, so they may hold
 * anything, including text from the network.
 *
 * Tasks spawned afterwards by this task inherit its labels as they are at the spawn
 * (changing a label later does not change the children's), and may override or
 * remove them with their own calls.  A task has at most %ASYNCRT_TASK_MAX_LABELS
 * labels.  Setting a key again replaces its value in place.  Nothing happens while a
 * dump traces the task (a trace poll has no side effects).
 *
 * Thread safety: call it from the task itself, while it runs (labels belong to the
 * current task; other threads read them only through dumps).
 *
 * Returns: 0; -ESRCH outside a task (a `block_on` future is not a task); -EINVAL if
 *   @key is %NULL, empty or holds another character; -E2BIG if @key or @value is
 *   too long; -ENOSPC if the task already has %ASYNCRT_TASK_MAX_LABELS other labels;
 *   -ENOMEM.  The task's labels are unchanged on error.
 * Since: 0.2
 */
int
asyncrt_task_set_label (const char *key, const char *value)
{
  int r = check_key (key);
  if (r < 0)
    return r;
  if (value != NULL && strnlen (value, ASYNCRT_TASK_LABEL_VALUE_MAX + 1)
                       > ASYNCRT_TASK_LABEL_VALUE_MAX)
    return -E2BIG;
  AsyncrtTask *t = asyncrt__current_task;
  if (t == NULL)
    return -ESRCH;
  if (asyncrt_trace_is_tracing ())
    return 0;

  AsyncrtLabels *old = asyncrt__task_labels (t), *l = NULL;
  r = labels_with (old, key, value, &l);
  if (r < 0)
    return r;
  AsyncrtTaskExtra *x = t->extra;
  if (x == NULL)
    {
      /* The first label of a task without an extra block: made here, published
       * under the shard lock with the labels in it. */
      x = malloc (sizeof *x);
      if (x == NULL)
        {
          asyncrt__labels_unref (l);
          return -ENOMEM;
        }
      *x = (AsyncrtTaskExtra) { NULL, 0, l, { NULL, NULL, 0 } };
      asyncrt__owned_lock_task (&t->handle->owned, t);
      t->extra = x;
      asyncrt__owned_unlock_task (&t->handle->owned, t);
      return 0;
    }
  asyncrt__owned_lock_task (&t->handle->owned, t);
  x->labels = l;
  asyncrt__owned_unlock_task (&t->handle->owned, t);
  asyncrt__labels_unref (old);
  return 0;
}

/**
 * asyncrt_task_get_label:
 * @key: a label name
 *
 * Reads a label of the calling task, set by the task itself or inherited from the
 * task that spawned it.
 *
 * Thread safety: the task itself, while it runs.
 *
 * Returns: (transfer none) (nullable): the value, valid until the task changes that
 *   label or finishes; %NULL if the task has no such label, outside a task, or for a
 *   %NULL @key.
 * Since: 0.2
 */
const char *
asyncrt_task_get_label (const char *key)
{
  AsyncrtTask *t = asyncrt__current_task;
  const AsyncrtLabels *ls = t != NULL ? asyncrt__task_labels (t) : NULL;
  if (key == NULL || ls == NULL)
    return NULL;
  for (unsigned i = 0; i < ls->n; i++)
    if (strcmp (ls->items[i].key, key) == 0)
      return ls->items[i].value;
  return NULL;
}
