/* The program tests/endpoint/test-endpoint dumps from outside: a multi-thread runtime
 * "web" and optionally a current-thread runtime "bg", with tasks waiting on a notify
 * that never fires, and nothing else.  It prints "ready PID" on stdout once set up,
 * then waits for SIGTERM or SIGINT and exits 0 after freeing everything.
 *
 *   --workers N    workers of "web" (default 2)
 *   --tasks N      idle "waiter" tasks on "web" (default 3)
 *   --ct           also a current-thread runtime "bg", run by a thread in block_on,
 *                  with two waiters
 *   --block-all    one task per worker of "web" blocks its worker in read() on a pipe
 *                  (released at exit)
 *   --start        call asyncrt_dump_endpoint_start() (instead of the environment)
 *   --own-usr1     install its own SIGUSR1 handler first (it writes "own handler\n")
 *   --ignore-usr1  set SIGUSR1 to SIG_IGN first
 *   --fork-child   after setup, fork a child that builds and serves its own runtime,
 *                  and print "child PID" (the child exits on SIGTERM too)
 *   --ticker       also a task "ticker" on "web" that sleeps 1 ms in a loop: it makes
 *                  progress all the time
 *   --rebuild-on-usr2  on SIGUSR2, free "web" and build a new runtime "web" with the
 *                  same tasks, then print "rebuilt" (the runtime is replaced under
 *                  the same name)
 */
#include <asyncrt/asyncrt.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static AsyncrtNotify never;              /* never notified */
static AsyncrtNotify stop_bg;            /* ends the current-thread block_on */
static atomic_int n_blocked;
static int block_pipe[2] = { -1, -1 };

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotified wait;
} Waiter;

static AsyncrtPoll __attribute__ ((noinline))
target_wait_poll (void *p, AsyncrtContext *cx)
{
  Waiter *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_notified_init (&self->wait, &never);
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->wait, cx));
  asyncrt_notified_clear (&self->wait);
  ASYNCRT_END (&self->co);
}

static void
waiter_free (void *p)
{
  Waiter *self = p;
  asyncrt_notified_clear (&self->wait);
  free (self);
}

static void
spawn_waiters (AsyncrtHandle *h, int n)
{
  for (int i = 0; i < n; i++)
    asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "waiter", target_wait_poll,
                                                          calloc (1, sizeof (Waiter)),
                                                          waiter_free));
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep sleep;
} Ticker;

static AsyncrtPoll
target_tick_poll (void *p, AsyncrtContext *cx)
{
  Ticker *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (;;)
    {
      asyncrt_sleep_init (&self->sleep, 1);
      ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
      asyncrt_sleep_clear (&self->sleep);
    }
  ASYNCRT_END (&self->co);
}

static void
ticker_free (void *p)
{
  Ticker *self = p;
  asyncrt_sleep_clear (&self->sleep);
  free (self);
}

/* Blocks its worker thread in a system call: no leaf future, no await. */
static AsyncrtPoll
blocker_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  atomic_fetch_add (&n_blocked, 1);
  char c;
  while (read (block_pipe[0], &c, 1) < 0 && errno == EINTR)
    ;
  return ASYNCRT_READY;
}

/* ---- the current-thread runtime's block_on future ----------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotified wait;
  bool spawned;
} BgMain;

static AsyncrtPoll
bg_main_poll (void *p, AsyncrtContext *cx)
{
  BgMain *self = p;
  ASYNCRT_BEGIN (&self->co);
  spawn_waiters (asyncrt_handle_current (), 2);
  asyncrt_notified_init (&self->wait, &stop_bg);
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->wait, cx));
  asyncrt_notified_clear (&self->wait);
  ASYNCRT_END (&self->co);
}

static void *
bg_thread (void *data)
{
  BgMain m = { 0 };
  asyncrt_runtime_block_on (data, bg_main_poll, &m);
  return NULL;
}

static void
own_usr1 (int sig)
{
  (void) sig;
  static const char msg[] = "own handler\n";
  ssize_t r = write (STDOUT_FILENO, msg, sizeof msg - 1);
  (void) r;
}

static int
build (AsyncrtBuilder *b, const char *name, AsyncrtRuntime **rt)
{
  asyncrt_builder_set_name (b, name);
  int r = asyncrt_builder_build (b, rt);
  asyncrt_builder_free (b);
  if (r < 0)
    fprintf (stderr, "endpoint-target: cannot build %s: %s\n", name, strerror (-r));
  return r;
}

static int
wait_for_stop (const sigset_t *stop)
{
  int sig;
  while (sigwait (stop, &sig) != 0)
    ;
  return sig;
}

static int
build_web (unsigned workers, int tasks, bool ticker, AsyncrtRuntime **web)
{
  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  asyncrt_builder_set_worker_threads (b, workers);
  if (build (b, "web", web) < 0)
    return -1;
  AsyncrtHandle *h = asyncrt_runtime_get_handle (*web);
  spawn_waiters (h, tasks);
  if (ticker)
    asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "ticker", target_tick_poll,
                                                          calloc (1, sizeof (Ticker)),
                                                          ticker_free));
  return 0;
}

int
main (int argc, char **argv)
{
  unsigned workers = 2;
  int tasks = 3;
  bool ct = false, block_all = false, start = false, fork_child = false, ticker = false,
       rebuild = false;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--workers") == 0 && i + 1 < argc)
        workers = (unsigned) atoi (argv[++i]);
      else if (strcmp (argv[i], "--tasks") == 0 && i + 1 < argc)
        tasks = atoi (argv[++i]);
      else if (strcmp (argv[i], "--ct") == 0)
        ct = true;
      else if (strcmp (argv[i], "--block-all") == 0)
        block_all = true;
      else if (strcmp (argv[i], "--start") == 0)
        start = true;
      else if (strcmp (argv[i], "--fork-child") == 0)
        fork_child = true;
      else if (strcmp (argv[i], "--ticker") == 0)
        ticker = true;
      else if (strcmp (argv[i], "--rebuild-on-usr2") == 0)
        rebuild = true;
      else if (strcmp (argv[i], "--own-usr1") == 0)
        {
          struct sigaction sa;
          memset (&sa, 0, sizeof sa);
          sa.sa_handler = own_usr1;
          sigaction (SIGUSR1, &sa, NULL);
        }
      else if (strcmp (argv[i], "--ignore-usr1") == 0)
        signal (SIGUSR1, SIG_IGN);
      else
        {
          fprintf (stderr, "endpoint-target: unknown argument %s\n", argv[i]);
          return 2;
        }
    }

  /* SIGTERM and SIGINT are taken by sigwait() here; every thread inherits the mask. */
  sigset_t stop;
  sigemptyset (&stop);
  sigaddset (&stop, SIGTERM);
  sigaddset (&stop, SIGINT);
  if (rebuild)
    sigaddset (&stop, SIGUSR2);
  pthread_sigmask (SIG_BLOCK, &stop, NULL);
  asyncrt_notify_init (&never);
  asyncrt_notify_init (&stop_bg);

  if (start && asyncrt_dump_endpoint_start () < 0)
    {
      fprintf (stderr, "endpoint-target: asyncrt_dump_endpoint_start failed\n");
      return 1;
    }

  AsyncrtRuntime *web = NULL, *bg = NULL;
  if (build_web (workers, tasks, ticker, &web) < 0)
    return 1;
  AsyncrtHandle *h = asyncrt_runtime_get_handle (web);

  pthread_t bg_tid;
  if (ct)
    {
      if (build (asyncrt_builder_new_current_thread (), "bg", &bg) < 0)
        return 1;
      pthread_create (&bg_tid, NULL, bg_thread, bg);
    }

  if (block_all)
    {
      if (pipe (block_pipe) < 0)
        return 1;
      for (unsigned i = 0; i < workers; i++)
        asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "blocker", blocker_poll,
                                                              NULL, NULL));
      for (int i = 0; i < 2000 && atomic_load (&n_blocked) < (int) workers; i++)
        {
          struct timespec ts = { 0, 10000000 };
          nanosleep (&ts, NULL);
        }
      if (atomic_load (&n_blocked) < (int) workers)
        {
          fprintf (stderr, "endpoint-target: only %d of %u workers blocked\n",
                   atomic_load (&n_blocked), workers);
          return 1;
        }
    }

  pid_t child = -1;
  if (fork_child)
    {
      fflush (stdout);
      child = fork ();
      if (child == 0)
        {
          /* The child: its own runtime (the environment is read again). */
          AsyncrtRuntime *rt = NULL;
          if (build (asyncrt_builder_new_multi_thread (), "child", &rt) < 0)
            _exit (1);
          spawn_waiters (asyncrt_runtime_get_handle (rt), 1);
          printf ("child ready %ld\n", (long) getpid ());
          fflush (stdout);
          wait_for_stop (&stop);
          asyncrt_runtime_free (rt);
          _exit (0);
        }
      printf ("child %ld\n", (long) child);
    }

  printf ("ready %ld\n", (long) getpid ());
  fflush (stdout);
  while (wait_for_stop (&stop) == SIGUSR2)
    {
      asyncrt_runtime_free (web);
      if (build_web (workers, tasks, ticker, &web) < 0)
        return 1;
      printf ("rebuilt\n");
      fflush (stdout);
    }

  if (child > 0)
    {
      kill (child, SIGTERM);
      int st;
      while (waitpid (child, &st, 0) < 0 && errno == EINTR)
        ;
      if (!WIFEXITED (st) || WEXITSTATUS (st) != 0)
        {
          fprintf (stderr, "endpoint-target: the child failed\n");
          return 1;
        }
    }
  if (block_all)
    {
      char c[64] = { 0 };
      ssize_t r = write (block_pipe[1], c, workers);     /* release the blocked workers */
      (void) r;
    }
  if (ct)
    {
      asyncrt_notify_notify_one (&stop_bg);
      pthread_join (bg_tid, NULL);
      asyncrt_runtime_free (bg);
    }
  asyncrt_runtime_free (web);
  asyncrt_notify_clear (&never);
  asyncrt_notify_clear (&stop_bg);
  if (block_all)
    {
      close (block_pipe[0]);
      close (block_pipe[1]);
    }
  return 0;
}
