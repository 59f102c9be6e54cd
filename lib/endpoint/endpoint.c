/* libasyncrt - the dump endpoint: public start/stop, the environment, the service
 * thread's life, fork
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * State and ownership.  `lock` guards every static below.  `listen_fd` is the
 * endpoint's listening socket while it is started (-1 otherwise); `thread_running`,
 * `thread` and `stop_fd` describe the one service thread, which runs while the
 * endpoint is started or the dump signal is armed (signal.c).  The thread never
 * takes `lock`: stopping it (write to stop_fd, join) happens under the lock, so every
 * change of configuration is "stop the thread, change, start a new one", and the
 * thread's configuration is immutable while it runs.
 *
 * Legal transitions: env_read false -> true once per process (and again in a child
 * after fork()); listen_fd -1 <-> open by start/stop; the thread is (re)started after
 * any change if listen_fd >= 0 or the signal is armed, and stopped otherwise.
 *
 * fork(): atfork handlers take `lock` (and the service's descriptor table lock)
 * around fork().  In the child the service thread does not exist: the child closes
 * its copies of the listening socket, the stop eventfd and the connections, forgets
 * the thread, and reads the environment again when it builds its next runtime (its
 * endpoint then listens under the child's own pid).
 */
#include "endpoint/endpoint-private.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool env_read;
static int listen_fd = -1;
static bool thread_running;
static pthread_t thread;
static int stop_fd = -1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ---- the listening socket -------------------------------------------------------------- */

static int
listen_socket (int *ret_fd)
{
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_un addr;
  memset (&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  /* An abstract name: sun_path[0] is NUL, nothing exists on disk, the kernel drops
   * the name with the last descriptor (also after SIGKILL). */
  int n = snprintf (addr.sun_path + 1, sizeof addr.sun_path - 1, "asyncrt/%ld",
                    (long) getpid ());
  socklen_t len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + (size_t) n);
  if (bind (fd, (struct sockaddr *) &addr, len) < 0
      || listen (fd, ASYNCRT_ENDPOINT_BACKLOG) < 0)
    {
      int e = errno;
      close (fd);
      return -e;
    }
  *ret_fd = fd;
  return 0;
}

/* ---- the service thread ------------------------------------------------------------------ */

static void
thread_stop_locked (void)
{
  if (!thread_running)
    return;
  uint64_t one = 1;
  while (write (stop_fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
  pthread_join (thread, NULL);
  close (stop_fd);
  stop_fd = -1;
  thread_running = false;
}

/* Starts the thread if there is anything to serve.  0 or a negative errno. */
static int
thread_start_locked (void)
{
  int signal_fd = asyncrt__dump_signal_wake_fd ();
  if (thread_running || (listen_fd < 0 && signal_fd < 0))
    return 0;
  int sfd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (sfd < 0)
    return -errno;
  AsyncrtServiceConfig *cfg = g_new (AsyncrtServiceConfig, 1);
  cfg->stop_fd = sfd;
  cfg->listen_fd = listen_fd;
  cfg->signal_fd = signal_fd;
  /* The thread runs with every signal blocked, so no handler of the program ever
   * runs on it and no signal is delivered to it by mistake. */
  sigset_t all, old;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  int r = pthread_create (&thread, NULL, asyncrt__service_main, cfg);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (r != 0)
    {
      g_free (cfg);
      close (sfd);
      return -r;
    }
  stop_fd = sfd;
  thread_running = true;
  return 0;
}

/* ---- fork ------------------------------------------------------------------------------ */

static void
atfork_prepare (void)
{
  pthread_mutex_lock (&lock);
  asyncrt__clients_atfork_prepare ();
}

static void
atfork_parent (void)
{
  asyncrt__clients_atfork_parent ();
  pthread_mutex_unlock (&lock);
}

static void
atfork_child (void)
{
  asyncrt__clients_atfork_child ();
  asyncrt__dump_signal_atfork_child ();
  if (listen_fd >= 0)
    close (listen_fd);
  if (stop_fd >= 0)
    close (stop_fd);
  listen_fd = -1;
  stop_fd = -1;
  thread_running = false;
  env_read = false;
  pthread_mutex_unlock (&lock);
}

static void
atfork_register (void)
{
  pthread_atfork (atfork_prepare, atfork_parent, atfork_child);
}

static void
lock_state (void)
{
  pthread_once (&atfork_once, atfork_register);
  pthread_mutex_lock (&lock);
}

/* ---- the environment ----------------------------------------------------------------- */

void
asyncrt__endpoint_runtime_built (void)
{
  lock_state ();
  if (env_read)
    {
      pthread_mutex_unlock (&lock);
      return;
    }
  env_read = true;
  /* secure_getenv: a set-user-ID program never takes these from its caller. */
  const char *value = secure_getenv ("ASYNCRT_DUMP_ENDPOINT");
  bool want_endpoint = false;
  if (value != NULL && value[0] != '\0')
    {
      if (strcmp (value, "1") == 0)
        want_endpoint = true;
      else if (strcmp (value, "0") != 0)
        {
          char esc[300];
          asyncrt__escape_value (value, esc, sizeof esc);
          asyncrt__warn ("ignoring ASYNCRT_DUMP_ENDPOINT=%s (expected 1 or 0); "
                         "the dump endpoint is not started", esc);
        }
    }
  thread_stop_locked ();
  asyncrt__dump_signal_arm_from_env ();
  if (want_endpoint && listen_fd < 0)
    {
      int r = listen_socket (&listen_fd);
      if (r < 0)
        asyncrt__warn ("ASYNCRT_DUMP_ENDPOINT=1: cannot listen on @asyncrt/%ld: %s",
                       (long) getpid (), g_strerror (-r));
    }
  int r = thread_start_locked ();
  if (r < 0)
    asyncrt__warn ("cannot start the dump endpoint's thread: %s", g_strerror (-r));
  pthread_mutex_unlock (&lock);
}

/* ---- public API ------------------------------------------------------------------------ */

/**
 * asyncrt_dump_endpoint_start:
 *
 * Starts the dump endpoint of the process, if it is not started yet: a Unix stream
 * socket with the abstract name `@asyncrt/PID`, served by one library thread, through
 * which `asyncrt-dump PID` takes task dumps of the process's runtimes (see the
 * section description for the rules and the protocol).  The same as starting the
 * program with `ASYNCRT_DUMP_ENDPOINT=1` in its environment.  Runtimes built before
 * or after the call are all served, until asyncrt_dump_endpoint_stop().
 *
 * Thread safety: any thread.  It may wait for a dump the endpoint is taking to end
 * (at most that dump's timeout).
 *
 * Returns: 0 if the endpoint is started (or was already); -EADDRINUSE if another
 *   socket already has the name (some other process took it); -EMFILE, -ENFILE,
 *   -ENOMEM if the socket cannot be created; -EAGAIN if the thread cannot be created.
 * Since: 0.2
 */
int
asyncrt_dump_endpoint_start (void)
{
  lock_state ();
  if (listen_fd >= 0)
    {
      pthread_mutex_unlock (&lock);
      return 0;
    }
  int fd;
  int r = listen_socket (&fd);
  if (r == 0)
    {
      thread_stop_locked ();
      listen_fd = fd;
      r = thread_start_locked ();
      if (r < 0)
        {
          close (listen_fd);
          listen_fd = -1;
          thread_start_locked ();         /* the signal's thread, if it is armed */
        }
    }
  pthread_mutex_unlock (&lock);
  return r;
}

/**
 * asyncrt_dump_endpoint_stop:
 *
 * Stops the dump endpoint: closes its socket (its name disappears) and the
 * connections being served.  The dump on a signal (`ASYNCRT_DUMP_SIGNAL`) is not
 * affected.  Nothing happens if the endpoint is not started.
 *
 * Thread safety: any thread.  It may wait for a dump the endpoint is taking to end
 * (at most that dump's timeout).
 *
 * Since: 0.2
 */
void
asyncrt_dump_endpoint_stop (void)
{
  lock_state ();
  if (listen_fd >= 0)
    {
      thread_stop_locked ();
      close (listen_fd);
      listen_fd = -1;
      int r = thread_start_locked ();
      if (r < 0)
        asyncrt__warn ("cannot restart the dump-on-signal thread: %s", g_strerror (-r));
    }
  pthread_mutex_unlock (&lock);
}
