/* libasyncrt - task memory: blocks of freed tasks kept for new ones
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tasks are spawned on one thread and often freed on another (a task stolen by a
 * sibling worker completes there).  With the C library's allocator alone, a block
 * freed by another thread than the one that allocated it goes back, past a few, to the
 * allocating thread's arena under that arena's lock, which the allocating thread is
 * taking at the same time: the two workers then contend on every task.  So freed task
 * blocks are kept here, in magazines of MAG_SIZE blocks (a singly linked list through
 * each dead block's first word):
 *   - each thread has one magazine of its own (thread-local: only its thread touches
 *     it); it allocates from it and frees into it;
 *   - a thread whose magazine is full when it frees a block moves the magazine to the
 *     depot (at most DEPOT_MAX magazines; past that it gives the blocks back to the C
 *     library) and starts an empty one; a thread whose magazine is empty when it
 *     allocates takes a full one from the depot, or allocates with malloc();
 *   - depot, n_depot: guarded by depot_lock.  A thread's magazine goes to the depot
 *     when the thread exits (the key's destructor).
 * So a block crosses threads through the depot, a magazine at a time, one lock hold
 * per MAG_SIZE blocks.  fork: depot_lock is process-wide, so pthread_atfork handlers
 * (registered when the library is loaded) take it before fork() and release it in the
 * parent and the child (which inherits the depot, and the forking thread's magazine;
 * the other threads' magazines are lost to it, as their threads are).  Memory kept: at most MAG_SIZE blocks per thread and
 * DEPOT_MAX * MAG_SIZE in the depot.  Under AddressSanitizer blocks go straight back to
 * the C library, so that a use after free is still caught.
 */
#include "task/task-private.h"

#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define TASK_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TASK_CACHE 0
#endif
#endif
#ifndef TASK_CACHE
#define TASK_CACHE 1
#endif

#define MAG_SIZE 32u
#define DEPOT_MAX 32u

typedef struct _Block Block;
struct _Block
{
  Block *next;
};

typedef struct
{
  Block *head;
  unsigned n;
} Magazine;

#if TASK_CACHE

static pthread_mutex_t depot_lock = PTHREAD_MUTEX_INITIALIZER;
static Block *depot[DEPOT_MAX];           /* guarded by depot_lock: full magazines */
static unsigned n_depot;                  /* guarded by depot_lock */

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;                 /* set (non-NULL) once the thread keeps blocks */
static _Thread_local Magazine mag;
static _Thread_local bool registered;

static void
free_blocks (Block *b)
{
  while (b != NULL)
    {
      Block *next = b->next;
      free (b);
      b = next;
    }
}

/* Hands a full magazine to the depot, or its blocks to the C library. */
static void
depot_put (Block *head)
{
  pthread_mutex_lock (&depot_lock);
  if (n_depot < DEPOT_MAX)
    {
      depot[n_depot++] = head;
      head = NULL;
    }
  pthread_mutex_unlock (&depot_lock);
  free_blocks (head);
}

static void
fork_prepare (void)
{
  pthread_mutex_lock (&depot_lock);
}

static void
fork_release (void)
{
  pthread_mutex_unlock (&depot_lock);
}

__attribute__((constructor)) static void
register_fork_handlers (void)
{
  pthread_atfork (fork_prepare, fork_release, fork_release);
}

static Block *
depot_get (void)
{
  Block *head = NULL;
  pthread_mutex_lock (&depot_lock);
  if (n_depot > 0)
    head = depot[--n_depot];
  pthread_mutex_unlock (&depot_lock);
  return head;
}

/* Thread exit: what the thread kept goes to the depot (a partial magazine too: the
 * depot only counts magazines). */
static void
thread_exit (void *data)
{
  (void) data;
  if (mag.head != NULL)
    depot_put (mag.head);
  mag.head = NULL;
  mag.n = 0;
}

static void
make_key (void)
{
  if (pthread_key_create (&key, thread_exit) != 0)
    abort ();
}

/* The thread will keep blocks: have them given to the depot when it exits. */
static inline void
register_thread (void)
{
  if (ASYNCRT_LIKELY (registered))
    return;
  pthread_once (&key_once, make_key);
  pthread_setspecific (key, &mag);
  registered = true;
}

AsyncrtTask *
asyncrt__task_alloc (void)
{
  if (mag.n == 0)
    {
      Block *head = depot_get ();
      if (head == NULL)
        return malloc (sizeof (AsyncrtTask));
      register_thread ();
      mag.head = head;
      mag.n = MAG_SIZE;
    }
  Block *b = mag.head;
  mag.head = b->next;
  mag.n--;
  if (mag.head == NULL)
    mag.n = 0;   /* a partial magazine from an exited thread */
  return (AsyncrtTask *) (void *) b;
}

void
asyncrt__task_release (AsyncrtTask *t)
{
  if (mag.n == MAG_SIZE)
    {
      depot_put (mag.head);
      mag.head = NULL;
      mag.n = 0;
    }
  register_thread ();
  Block *b = (Block *) (void *) t;
  b->next = mag.head;
  mag.head = b;
  mag.n++;
}

#else /* !TASK_CACHE */

AsyncrtTask *
asyncrt__task_alloc (void)
{
  return malloc (sizeof (AsyncrtTask));
}

void
asyncrt__task_release (AsyncrtTask *t)
{
  free (t);
}

#endif
