/* demo: a tiny TCP key-value server with two bugs that make requests hang, a client
 * load in the same process, and the task dump that shows where every task is stuck,
 * and why.
 *
 *   ./examples/demo              prints the dump as text
 *   ./examples/demo --json       prints it as JSON
 *   ./examples/demo --serve      stays stuck until interrupted, for `asyncrt-dump PID`
 *                                (start it with ASYNCRT_DUMP_ENDPOINT=1) and `kill -USR1`
 *   ./examples/demo --deadlock   another bug: two transfers take two locks in opposite
 *                                order (a deadlock the dump names)
 *   ./examples/demo --join-cycle another: a task joins a task that waits for it
 *   ./examples/demo --blocking   another: a task blocks its worker thread in read()
 *                                while it holds a lock (the dump shows that thread's
 *                                native stack; ASYNCRT_STALL_MS=100 reports the stall)
 *
 * What happens:
 *   - "server" listens on 127.0.0.1 (an ephemeral port), starts four "client" tasks
 *     and one "session" task per connection.  A session parses "SET key value" and
 *     "GET key" lines and runs each request under the store's async mutex.
 *   - After 200 ms, "snapshot" takes the store lock and, while holding it, awaits a
 *     reply from "disk-writer" (bug 1: a lock held across an await).
 *   - "disk-writer" waits for work on a channel nobody ever sends on: it was given
 *     the wrong receiver (bug 2).
 *   So every session queues behind the lock, every client waits for its reply, and
 *   the program makes no progress: the usual hung-server report.  The dump says so
 *   itself: it opens with "snapshot" holding the store's lock, the tasks it blocks,
 *   and what "snapshot" waits for; every lock and channel has a name.
 *
 * The main thread then sends itself SIGUSR1, the way an operator would with
 * `kill -USR1 <pid>`.  A dedicated thread waits for that signal with sigwait() (never
 * in a signal handler), takes the dump with asyncrt_handle_dump() and prints it.
 */
#include <asyncrt/asyncrt.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_CLIENTS 4
#define N_KEYS 16
#define LINE_MAX_LEN 128

/* ---- the store: a small table behind an async mutex ------------------------------ */

typedef struct
{
  AsyncrtMutex lock;
  char keys[N_KEYS][32];
  long values[N_KEYS];
  int n;
} Store;

static Store store;
static atomic_long requests_done;
static atomic_int server_port;

/* Runs with the lock held: no await in here. */
static void
store_apply (const char *line, char *reply, size_t reply_size)
{
  char key[32];
  long value;
  if (sscanf (line, "SET %31s %ld", key, &value) == 2)
    {
      int i;
      for (i = 0; i < store.n && strcmp (store.keys[i], key) != 0; i++)
        ;
      if (i == store.n && store.n < N_KEYS)
        strcpy (store.keys[store.n++], key);
      if (i < N_KEYS)
        store.values[i] = value;
      snprintf (reply, reply_size, i < N_KEYS ? "OK\n" : "FULL\n");
    }
  else if (sscanf (line, "GET %31s", key) == 1)
    {
      int i;
      for (i = 0; i < store.n && strcmp (store.keys[i], key) != 0; i++)
        ;
      if (i < store.n)
        snprintf (reply, reply_size, "%ld\n", store.values[i]);
      else
        snprintf (reply, reply_size, "NOTFOUND\n");
    }
  else
    snprintf (reply, reply_size, "ERROR\n");
}

/* ---- handle_request: one request under the store lock ---------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutexLock lock;
  bool waiting, locked;
  const char *line;
  char *reply;
  size_t reply_size;
} HandleRequest;

static void
handle_request_init (HandleRequest *self, const char *line, char *reply, size_t reply_size)
{
  memset (self, 0, sizeof *self);
  self->line = line;
  self->reply = reply;
  self->reply_size = reply_size;
}

static AsyncrtPoll
handle_request_poll (HandleRequest *self, AsyncrtContext *cx)
{
  ASYNCRT_BEGIN (&self->co);
  asyncrt_mutex_lock_init (&self->lock, &store.lock);
  self->waiting = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
  self->waiting = false;
  self->locked = asyncrt_mutex_lock_result (&self->lock) == 0;
  asyncrt_mutex_lock_clear (&self->lock);
  if (self->locked)
    {
      store_apply (self->line, self->reply, self->reply_size);
      asyncrt_mutex_unlock (&store.lock);
      self->locked = false;
    }
  else
    snprintf (self->reply, self->reply_size, "ERROR\n");
  ASYNCRT_END (&self->co);
}

static void
handle_request_cancel (HandleRequest *self)
{
  if (self->waiting)
    asyncrt_mutex_lock_clear (&self->lock);
  if (self->locked)
    asyncrt_mutex_unlock (&store.lock);
}

/* ---- session: one connection, line by line ---------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd conn;
  bool open;
  char buf[LINE_MAX_LEN];
  size_t len;
  int64_t n;
  char *eol;
  HandleRequest request;
  char reply[64];
  size_t written;
} Session;

static AsyncrtPoll
session_poll (void *p, AsyncrtContext *cx)
{
  Session *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (;;)
    {
      while ((self->eol = memchr (self->buf, '\n', self->len)) == NULL)
        {
          if (self->len == sizeof self->buf)
            goto done;                          /* line too long: drop the client */
          ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->conn, cx,
                                                          self->buf + self->len,
                                                          sizeof self->buf - self->len,
                                                          &self->n));
          if (self->n <= 0)
            goto done;                          /* end of file or error */
          self->len += (size_t) self->n;
        }
      *self->eol = '\0';
      handle_request_init (&self->request, self->buf, self->reply, sizeof self->reply);
      ASYNCRT_AWAIT (&self->co, handle_request_poll (&self->request, cx));
      self->written = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->conn, cx, self->reply,
                                                           strlen (self->reply),
                                                           &self->written, &self->n));
      if (self->n < 0)
        goto done;
      self->len -= (size_t) (self->eol + 1 - self->buf);
      memmove (self->buf, self->eol + 1, self->len);
    }
done:
  asyncrt_fd_close (&self->conn);
  self->open = false;
  ASYNCRT_END (&self->co);
}

static void
session_free (void *p)
{
  Session *self = p;
  handle_request_cancel (&self->request);
  if (self->open)
    asyncrt_fd_close (&self->conn);
  free (self);
}

/* ---- client: a request every 20 ms ----------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  int id, i, res;
  AsyncrtFd conn;
  bool open, sleeping;
  char line[64], reply[64];
  size_t len, written;
  int64_t n;
  AsyncrtSleep pause;
} Client;

static AsyncrtPoll
client_poll (void *p, AsyncrtContext *cx)
{
  Client *self = p;
  ASYNCRT_BEGIN (&self->co);
  self->res = asyncrt_tcp_connect_start (&self->conn, "127.0.0.1",
                                         (uint16_t) atomic_load (&server_port));
  if (self->res < 0)
    goto done;
  self->open = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_socket_connect_poll (&self->conn, cx, &self->res));
  if (self->res < 0)
    goto done;
  for (self->i = 0;; self->i++)
    {
      snprintf (self->line, sizeof self->line, self->i % 2 ? "GET key%d\n" : "SET key%d %d\n",
                self->id, self->i);
      self->written = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->conn, cx, self->line,
                                                           strlen (self->line),
                                                           &self->written, &self->n));
      if (self->n < 0)
        goto done;
      for (self->len = 0; self->len == 0 || self->reply[self->len - 1] != '\n';)
        {
          ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->conn, cx,
                                                          self->reply + self->len,
                                                          sizeof self->reply - self->len,
                                                          &self->n));
          if (self->n <= 0)
            goto done;
          self->len += (size_t) self->n;
        }
      atomic_fetch_add (&requests_done, 1);
      asyncrt_sleep_init (&self->pause, 20);
      self->sleeping = true;
      ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->pause, cx));
      asyncrt_sleep_clear (&self->pause);
      self->sleeping = false;
    }
done:
  if (self->open)
    asyncrt_fd_close (&self->conn);
  self->open = false;
  ASYNCRT_END (&self->co);
}

static void
client_free (void *p)
{
  Client *self = p;
  if (self->sleeping)
    asyncrt_sleep_clear (&self->pause);
  if (self->open)
    asyncrt_fd_close (&self->conn);
  free (self);
}

/* ---- server: listen, start the clients, accept ----------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd listener;
  bool open;
  int res, i;
  Session *next;
} Server;

static AsyncrtPoll
server_poll (void *p, AsyncrtContext *cx)
{
  Server *self = p;
  ASYNCRT_BEGIN (&self->co);
  if (asyncrt_tcp_listen (&self->listener, "127.0.0.1", 0, 64) < 0)
    goto done;
  self->open = true;
  atomic_store (&server_port, asyncrt_socket_get_local_port (&self->listener));
  for (self->i = 0; self->i < N_CLIENTS; self->i++)
    {
      Client *c = calloc (1, sizeof *c);
      c->id = self->i;
      asyncrt_join_handle_free (asyncrt_spawn_named ("client", client_poll, c, client_free));
    }
  for (;;)
    {
      self->next = calloc (1, sizeof *self->next);
      ASYNCRT_AWAIT (&self->co, asyncrt_socket_accept_poll (&self->listener, cx,
                                                            &self->next->conn, &self->res));
      if (self->res < 0)
        break;
      self->next->open = true;
      asyncrt_join_handle_free (asyncrt_spawn_named ("session", session_poll, self->next,
                                                     session_free));
      self->next = NULL;
    }
done:
  free (self->next);
  self->next = NULL;
  if (self->open)
    asyncrt_fd_close (&self->listener);
  self->open = false;
  ASYNCRT_END (&self->co);
}

static void
server_free (void *p)
{
  Server *self = p;
  free (self->next);
  if (self->open)
    asyncrt_fd_close (&self->listener);
  free (self);
}

/* ---- disk-writer (bug 2: it listens on a channel nobody sends on) ---------------- */

static AsyncrtMpscSender *disk_tx;          /* where snapshot sends its work */
static AsyncrtMpscReceiver *disk_rx;
static AsyncrtMpscSender *orphan_tx;        /* kept open, never used */
static AsyncrtMpscReceiver *orphan_rx;

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMpscReceiver *rx;
  AsyncrtMpscRecv recv;
  bool receiving;
  void *msg;
  int res;
} DiskWriter;

static AsyncrtPoll
disk_writer_poll (void *p, AsyncrtContext *cx)
{
  DiskWriter *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (;;)
    {
      asyncrt_mpsc_recv_init (&self->recv, self->rx);
      self->receiving = true;
      ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_recv_poll (&self->recv, cx));
      self->res = asyncrt_mpsc_recv_result (&self->recv, &self->msg);
      asyncrt_mpsc_recv_clear (&self->recv);
      self->receiving = false;
      if (self->res < 0)
        break;
      /* The message is the oneshot sender of the request: acknowledge it. */
      asyncrt_oneshot_send (self->msg, NULL);
      asyncrt_oneshot_sender_free (self->msg);
    }
  ASYNCRT_END (&self->co);
}

static void
disk_writer_free (void *p)
{
  DiskWriter *self = p;
  if (self->receiving)
    asyncrt_mpsc_recv_clear (&self->recv);
  free (self);
}

static void
free_oneshot_sender (void *msg)
{
  asyncrt_oneshot_sender_free (msg);
}

/* ---- snapshot (bug 1: holds the store lock across an await) ---------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtOneshotSender *ack_tx;
  AsyncrtOneshotReceiver *ack_rx;
  AsyncrtOneshotRecv ack;
  bool waiting;
  void *value;
} FlushToDisk;

static AsyncrtPoll
flush_to_disk_poll (FlushToDisk *self, AsyncrtContext *cx)
{
  ASYNCRT_BEGIN (&self->co);
  if (asyncrt_oneshot_new (NULL, &self->ack_tx, &self->ack_rx) < 0)
    goto done;
  asyncrt_oneshot_receiver_set_name (self->ack_rx, "disk-ack");
  if (asyncrt_mpsc_try_send (disk_tx, self->ack_tx) < 0)
    asyncrt_oneshot_sender_free (self->ack_tx);
  self->ack_tx = NULL;                        /* the channel owns it now */
  asyncrt_oneshot_recv_init (&self->ack, self->ack_rx);
  self->waiting = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_oneshot_recv_poll (&self->ack, cx));
  asyncrt_oneshot_recv_result (&self->ack, &self->value);
  asyncrt_oneshot_recv_clear (&self->ack);
  self->waiting = false;
done:
  asyncrt_oneshot_receiver_free (self->ack_rx);
  self->ack_rx = NULL;
  ASYNCRT_END (&self->co);
}

static void
flush_to_disk_cancel (FlushToDisk *self)
{
  if (self->waiting)
    asyncrt_oneshot_recv_clear (&self->ack);
  asyncrt_oneshot_receiver_free (self->ack_rx);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtSleep delay;
  bool sleeping, waiting, locked;
  AsyncrtMutexLock lock;
  FlushToDisk flush;
} Snapshot;

static AsyncrtPoll
snapshot_poll (void *p, AsyncrtContext *cx)
{
  Snapshot *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_sleep_init (&self->delay, 200);
  self->sleeping = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->delay, cx));
  asyncrt_sleep_clear (&self->delay);
  self->sleeping = false;

  asyncrt_mutex_lock_init (&self->lock, &store.lock);
  self->waiting = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
  self->waiting = false;
  self->locked = asyncrt_mutex_lock_result (&self->lock) == 0;
  asyncrt_mutex_lock_clear (&self->lock);

  /* BUG: awaiting while the store lock is held. */
  ASYNCRT_AWAIT (&self->co, flush_to_disk_poll (&self->flush, cx));

  if (self->locked)
    asyncrt_mutex_unlock (&store.lock);
  self->locked = false;
  ASYNCRT_END (&self->co);
}

static void
snapshot_free (void *p)
{
  Snapshot *self = p;
  if (self->sleeping)
    asyncrt_sleep_clear (&self->delay);
  if (self->waiting)
    asyncrt_mutex_lock_clear (&self->lock);
  flush_to_disk_cancel (&self->flush);
  if (self->locked)
    asyncrt_mutex_unlock (&store.lock);
  free (self);
}

/* ---- --deadlock: two transfers take two locks in opposite order ------------------ */

static AsyncrtMutex accounts, ledger;
static atomic_int transfers_holding;

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutex *first, *second;
  AsyncrtMutexLock lock;
  bool waiting, holds_first, holds_second;
  AsyncrtSleep pause;
  bool sleeping;
} Transfer;

static AsyncrtPoll
transfer_poll (void *p, AsyncrtContext *cx)
{
  Transfer *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_mutex_lock_init (&self->lock, self->first);
  self->waiting = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
  self->waiting = false;
  self->holds_first = asyncrt_mutex_lock_result (&self->lock) == 0;
  asyncrt_mutex_lock_clear (&self->lock);
  atomic_fetch_add (&transfers_holding, 1);
  /* Some work under the first lock, long enough for the other transfer to take its
   * own first lock. */
  asyncrt_sleep_init (&self->pause, 50);
  self->sleeping = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->pause, cx));
  asyncrt_sleep_clear (&self->pause);
  self->sleeping = false;
  /* BUG: the other transfer takes these two locks in the other order. */
  asyncrt_mutex_lock_init (&self->lock, self->second);
  self->waiting = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
  self->waiting = false;
  self->holds_second = asyncrt_mutex_lock_result (&self->lock) == 0;
  asyncrt_mutex_lock_clear (&self->lock);
  if (self->holds_second)
    asyncrt_mutex_unlock (self->second);
  if (self->holds_first)
    asyncrt_mutex_unlock (self->first);
  self->holds_first = self->holds_second = false;
  ASYNCRT_END (&self->co);
}

static void
transfer_free (void *p)
{
  Transfer *self = p;
  if (self->waiting)
    asyncrt_mutex_lock_clear (&self->lock);
  if (self->sleeping)
    asyncrt_sleep_clear (&self->pause);
  if (self->holds_second)
    asyncrt_mutex_unlock (self->second);
  if (self->holds_first)
    asyncrt_mutex_unlock (self->first);
  free (self);
}

static void
start_deadlock (AsyncrtHandle *h)
{
  asyncrt_mutex_init (&accounts);
  asyncrt_mutex_set_name (&accounts, "accounts");
  asyncrt_mutex_init (&ledger);
  asyncrt_mutex_set_name (&ledger, "ledger");
  Transfer *a = calloc (1, sizeof *a), *b = calloc (1, sizeof *b);
  a->first = &accounts;
  a->second = &ledger;
  b->first = &ledger;
  b->second = &accounts;
  asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "transfer-a", transfer_poll, a,
                                                        transfer_free));
  asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "transfer-b", transfer_poll, b,
                                                        transfer_free));
}

/* ---- --join-cycle: a task joins a task that waits for it ---------------------------- */

/* "supervisor" spawns "worker" and waits for it to finish; the worker, before it
 * reports, waits for its supervisor to finish (BUG: it meant to wait for the
 * supervisor's go-ahead, not its end).  Neither can finish first. */
typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtJoinHandle *other;
  _Atomic (AsyncrtJoinHandle *) *handoff;   /* the supervisor's own join handle */
  AsyncrtSleep pause;
  bool sleeping;
} Joiner;

static _Atomic (AsyncrtJoinHandle *) supervisor_handle;

static AsyncrtPoll
worker_poll (void *p, AsyncrtContext *cx)
{
  Joiner *self = p;
  ASYNCRT_BEGIN (&self->co);
  while ((self->other = atomic_load (self->handoff)) == NULL)
    {
      asyncrt_sleep_init (&self->pause, 1);
      self->sleeping = true;
      ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->pause, cx));
      asyncrt_sleep_clear (&self->pause);
      self->sleeping = false;
    }
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->other, cx));
  ASYNCRT_END (&self->co);
}

static void
worker_free (void *p)
{
  Joiner *self = p;
  if (self->sleeping)
    asyncrt_sleep_clear (&self->pause);
  free (self);
}

static AsyncrtPoll
supervisor_poll (void *p, AsyncrtContext *cx)
{
  Joiner *self = p;
  ASYNCRT_BEGIN (&self->co);
  {
    Joiner *w = calloc (1, sizeof *w);
    w->handoff = &supervisor_handle;
    self->other = asyncrt_spawn_named ("worker", worker_poll, w, worker_free);
  }
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->other, cx));
  ASYNCRT_END (&self->co);
}

static void
supervisor_free (void *p)
{
  Joiner *self = p;
  asyncrt_join_handle_free (self->other);
  free (self);
}

static void
start_join_cycle (AsyncrtHandle *h)
{
  Joiner *s = calloc (1, sizeof *s);
  /* The worker's handle on its supervisor: this one, kept until the runtime is
   * freed (the supervisor never finishes on its own). */
  atomic_store (&supervisor_handle,
                asyncrt_handle_spawn_named (h, "supervisor", supervisor_poll, s, supervisor_free));
}

/* ---- --blocking: a task blocks its worker in read() while it holds a lock ---------- */

/* "reload" takes the "settings" lock and then reads its configuration with a plain
 * read() (BUG: a blocking call on a worker thread; it belonged in
 * asyncrt_spawn_blocking()).  Nobody writes to the pipe, so its worker is stuck in
 * the system call, and the "lookup" tasks wait for the lock.  No async trace can show
 * where "reload" is: the dump samples its thread's native stack instead. */
static AsyncrtMutex settings;
static int config_pipe[2] = { -1, -1 };

__attribute__((noinline)) static ssize_t
load_config (int fd, char *buf, size_t len)
{
  ssize_t n;
  do
    n = read (fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMutexLock lock;
  AsyncrtSleep pause;
  bool waiting, holds, sleeping;
} Settings;

static AsyncrtPoll
reload_poll (void *p, AsyncrtContext *cx)
{
  Settings *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_mutex_lock_init (&self->lock, &settings);
  self->waiting = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
  self->waiting = false;
  self->holds = asyncrt_mutex_lock_result (&self->lock) == 0;
  asyncrt_mutex_lock_clear (&self->lock);
  {
    char buf[256];
    load_config (config_pipe[0], buf, sizeof buf);      /* BUG: blocks the worker */
  }
  if (self->holds)
    asyncrt_mutex_unlock (&settings);
  self->holds = false;
  ASYNCRT_END (&self->co);
}

static AsyncrtPoll
lookup_poll (void *p, AsyncrtContext *cx)
{
  Settings *self = p;
  ASYNCRT_BEGIN (&self->co);
  asyncrt_sleep_init (&self->pause, 50);               /* after "reload" took the lock */
  self->sleeping = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->pause, cx));
  asyncrt_sleep_clear (&self->pause);
  self->sleeping = false;
  asyncrt_mutex_lock_init (&self->lock, &settings);
  self->waiting = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_mutex_lock_poll (&self->lock, cx));
  self->waiting = false;
  if (asyncrt_mutex_lock_result (&self->lock) == 0)
    asyncrt_mutex_unlock (&settings);
  asyncrt_mutex_lock_clear (&self->lock);
  ASYNCRT_END (&self->co);
}

static void
settings_free (void *p)
{
  Settings *self = p;
  if (self->waiting)
    asyncrt_mutex_lock_clear (&self->lock);
  if (self->sleeping)
    asyncrt_sleep_clear (&self->pause);
  if (self->holds)
    asyncrt_mutex_unlock (&settings);
  free (self);
}

static bool
start_blocking (AsyncrtHandle *h)
{
  if (pipe (config_pipe) < 0)
    {
      fprintf (stderr, "demo: cannot create a pipe: %s\n", strerror (errno));
      return false;
    }
  asyncrt_mutex_init (&settings);
  asyncrt_mutex_set_name (&settings, "settings");
  asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "reload", reload_poll,
                                                        calloc (1, sizeof (Settings)),
                                                        settings_free));
  for (int i = 0; i < 3; i++)
    asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "lookup", lookup_poll,
                                                          calloc (1, sizeof (Settings)),
                                                          settings_free));
  return true;
}

/* ---- the dump thread: waits for SIGUSR1, never dumps from a signal handler -------- */

typedef struct
{
  AsyncrtHandle *handle;
  sigset_t signals;
  bool json;
  int status;
} Dumper;

static void *
dumper_thread (void *data)
{
  Dumper *d = data;
  int sig = 0;
  if (sigwait (&d->signals, &sig) != 0)
    {
      d->status = -EINTR;
      return NULL;
    }
  AsyncrtDump *dump = NULL;
  d->status = asyncrt_handle_dump (d->handle, 2000, &dump);
  if (d->status < 0)
    {
      fprintf (stderr, "demo: dump failed: %s\n", strerror (-d->status));
      return NULL;
    }
  /* Grouped: the four clients and the four sessions are one entry each. */
  char *text = asyncrt_dump_format (dump, d->json ? ASYNCRT_DUMP_FORMAT_JSON
                                                  : ASYNCRT_DUMP_FORMAT_TEXT, ASYNCRT_DUMP_GROUP);
  if (!d->json)
    printf ("---- task dump, taken on SIGUSR1 ----\n");
  fputs (text ? text : "(no output)\n", stdout);
  if (!d->json)
    printf ("---- end of dump ----\n");
  fflush (stdout);
  free (text);
  asyncrt_dump_free (dump);
  return NULL;
}

/* ---- --serve: stay stuck until interrupted, to be dumped from outside -------------- */

static void
print_dump (AsyncrtHandle *h)
{
  AsyncrtDump *dump = NULL;
  int r = asyncrt_handle_dump (h, 2000, &dump);
  if (r < 0)
    {
      fprintf (stderr, "demo: dump failed: %s\n", strerror (-r));
      return;
    }
  char *text = asyncrt_dump_format (dump, ASYNCRT_DUMP_FORMAT_TEXT, ASYNCRT_DUMP_GROUP);
  printf ("---- task dump, taken on SIGUSR1 ----\n%s---- end of dump ----\n",
          text ? text : "(no output)\n");
  fflush (stdout);
  free (text);
  asyncrt_dump_free (dump);
}

/* The server is stuck (or soon will be: "snapshot" takes the lock at 200 ms).  Waits
 * for SIGUSR1 (prints a dump), SIGINT or SIGTERM (returns), all blocked in every
 * thread; the library's dump endpoint, if enabled, answers asyncrt-dump meanwhile. */
static int
serve_until_interrupted (AsyncrtHandle *h, const sigset_t *signals)
{
  long pid = (long) getpid ();
  const char *endpoint = getenv ("ASYNCRT_DUMP_ENDPOINT");
  bool has_endpoint = endpoint != NULL && strcmp (endpoint, "1") == 0;
  printf ("demo: stuck on purpose, serving as pid %ld until Ctrl-C.\n"
          "Try, from another terminal:\n"
          "  asyncrt-dump %ld     the task dump, from outside (./tools/asyncrt-dump in the build tree)\n"
          "  kill -USR1 %ld       the demo prints its own dump here\n", pid, pid, pid);
  if (!has_endpoint)
    printf ("(asyncrt-dump needs the dump endpoint: run me as\n"
            "  ASYNCRT_DUMP_ENDPOINT=1 ./examples/demo --serve)\n");
  fflush (stdout);
  for (;;)
    {
      int sig = 0;
      if (sigwait (signals, &sig) != 0)
        continue;
      if (sig != SIGUSR1)
        break;
      print_dump (h);
    }
  printf ("demo: stopping\n");
  return 0;
}

static void
sleep_ms (unsigned ms)
{
  struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
  while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* ---- command line: one row per option -------------------------------------------- */

typedef struct
{
  bool json;
  bool serve;
  bool deadlock;
  bool join_cycle;
  bool blocking;
} Options;

static const struct
{
  const char *name;
  size_t field;                 /* offsetof the option's bool in Options */
  const char *help;
} option_table[] = {
  { "--json", offsetof (Options, json), "print the dump as JSON instead of text" },
  { "--serve", offsetof (Options, serve), "stay stuck until interrupted, for asyncrt-dump PID" },
  { "--deadlock", offsetof (Options, deadlock),
    "instead: two tasks take two locks in opposite order" },
  { "--join-cycle", offsetof (Options, join_cycle),
    "instead: a task joins a task that waits for it" },
  { "--blocking", offsetof (Options, blocking),
    "instead: a task blocks its worker in read()" },
};

static void
usage (FILE *to)
{
  fprintf (to, "usage: demo [OPTION]...\n"
               "Runs a small key-value server that gets stuck (or, with --deadlock,\n"
               "--join-cycle or --blocking, another stuck program), then prints its task\n"
               "dump.\n"
               "\n");
  for (size_t i = 0; i < sizeof option_table / sizeof option_table[0]; i++)
    fprintf (to, "  %-14s %s\n", option_table[i].name, option_table[i].help);
  fprintf (to, "  %-14s %s\n  %-14s %s\n", "-h, --help", "show this help and exit",
           "--version", "show the library version and exit");
  fprintf (to, "\nExit status: 0 the dump was printed, 1 it could not be taken, "
               "2 bad arguments.\n");
}

/* Returns -1 to run the demo, or the status to exit with at once. */
static int
parse_args (int argc, char **argv, Options *opts)
{
  for (int i = 1; i < argc; i++)              /* --help anywhere wins */
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
      {
        usage (stdout);
        return 0;
      }
  for (int i = 1; i < argc; i++)
    {
      size_t k = 0, n = sizeof option_table / sizeof option_table[0];
      if (strcmp (argv[i], "--version") == 0)
        {
          printf ("demo (libasyncrt %u.%u.%u)\n", asyncrt_get_major_version (),
                  asyncrt_get_minor_version (), asyncrt_get_micro_version ());
          return 0;
        }
      while (k < n && strcmp (argv[i], option_table[k].name) != 0)
        k++;
      if (k == n)
        {
          fprintf (stderr, argv[i][0] == '-' ? "demo: unknown option '%s'\n"
                                             : "demo: unexpected argument '%s'\n", argv[i]);
          usage (stderr);
          return 2;
        }
      *(bool *) ((char *) opts + option_table[k].field) = true;
    }
  if ((int) opts->deadlock + (int) opts->join_cycle + (int) opts->blocking > 1)
    {
      fprintf (stderr, "demo: --deadlock, --join-cycle and --blocking are different programs: "
                       "pick one\n");
      usage (stderr);
      return 2;
    }
  return -1;
}

/* The key-value server and its two bugs. */
static bool
start_kv (AsyncrtHandle *h)
{
  asyncrt_mutex_init (&store.lock);
  asyncrt_mutex_set_name (&store.lock, "store");
  if (asyncrt_mpsc_new (0, free_oneshot_sender, &disk_tx, &disk_rx) < 0
      || asyncrt_mpsc_new (0, NULL, &orphan_tx, &orphan_rx) < 0)
    {
      fprintf (stderr, "demo: cannot create channels\n");
      return false;
    }
  asyncrt_mpsc_receiver_set_name (disk_rx, "disk-jobs");
  asyncrt_mpsc_receiver_set_name (orphan_rx, "orphan");

  DiskWriter *dw = calloc (1, sizeof *dw);
  dw->rx = orphan_rx;                         /* BUG: should have been disk_rx */
  asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "disk-writer", disk_writer_poll,
                                                        dw, disk_writer_free));
  asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "snapshot", snapshot_poll,
                                                        calloc (1, sizeof (Snapshot)),
                                                        snapshot_free));
  asyncrt_join_handle_free (asyncrt_handle_spawn_named (h, "server", server_poll,
                                                        calloc (1, sizeof (Server)),
                                                        server_free));
  return true;
}

/* Waits until the scenario is stuck and says what it sees. */
static void
wait_until_stuck (const Options *opts, FILE *info)
{
  if (opts->deadlock)
    {
      sleep_ms (300);
      fprintf (info, "demo: two transfers started 300 ms ago; %d of them hold a lock and "
               "neither has finished\n", atomic_load (&transfers_holding));
    }
  else if (opts->join_cycle)
    {
      sleep_ms (300);
      fprintf (info, "demo: a supervisor and its worker started 300 ms ago; neither has "
               "finished\n");
    }
  else if (opts->blocking)
    {
      sleep_ms (300);
      fprintf (info, "demo: a reload and three lookups started 300 ms ago; none has "
               "finished\n");
    }
  else
    {
      sleep_ms (300);                         /* "snapshot" takes the lock at 200 ms */
      long before = atomic_load (&requests_done);
      sleep_ms (400);
      long after = atomic_load (&requests_done);
      fprintf (info, "demo: key-value server on 127.0.0.1:%d with %d clients\n",
               atomic_load (&server_port), N_CLIENTS);
      fprintf (info, "demo: %ld requests served in the first 300 ms, %ld in the 400 ms after: "
               "the server is stuck\n", before, after - before);
    }
}

int
main (int argc, char **argv)
{
  Options opts = { 0 };
  int status = parse_args (argc, argv, &opts);
  if (status >= 0)
    return status;
  bool json = opts.json && !opts.serve;
  bool serve = opts.serve;
  FILE *info = json ? stderr : stdout;

  /* SIGUSR1 is blocked in every thread (the runtime's threads inherit the mask) and
   * consumed only by sigwait() in the dump thread. */
  Dumper dumper = { .json = json };
  sigemptyset (&dumper.signals);
  sigaddset (&dumper.signals, SIGUSR1);
  if (serve)
    {
      sigaddset (&dumper.signals, SIGINT);
      sigaddset (&dumper.signals, SIGTERM);
    }
  pthread_sigmask (SIG_BLOCK, &dumper.signals, NULL);

  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  asyncrt_builder_set_worker_threads (b, 2);
  asyncrt_builder_set_name (b, opts.deadlock ? "bank" : opts.join_cycle ? "jobs"
                               : opts.blocking ? "config" : "kv-server");
  AsyncrtRuntime *rt = NULL;
  int r = asyncrt_builder_build (b, &rt);
  asyncrt_builder_free (b);
  if (r < 0)
    {
      fprintf (stderr, "demo: cannot build the runtime: %s\n", strerror (-r));
      return 1;
    }
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  dumper.handle = h;

  if (opts.deadlock)
    start_deadlock (h);
  else if (opts.join_cycle)
    start_join_cycle (h);
  else if (opts.blocking ? !start_blocking (h) : !start_kv (h))
    {
      asyncrt_runtime_free (rt);
      return 1;
    }

  if (serve)
    {
      dumper.status = serve_until_interrupted (h, &dumper.signals);
      goto out;
    }

  pthread_t thread;
  pthread_create (&thread, NULL, dumper_thread, &dumper);
  wait_until_stuck (&opts, info);
  fprintf (info, "demo: sending SIGUSR1 to myself (pid %ld), as `kill -USR1 %ld` would\n\n",
           (long) getpid (), (long) getpid ());
  fflush (info);
  kill (getpid (), SIGUSR1);
  pthread_join (thread, NULL);

out:
  if (config_pipe[1] >= 0)
    close (config_pipe[1]);                   /* lets "reload" finish its read */
  asyncrt_runtime_free (rt);                  /* cancels every task */
  if (config_pipe[0] >= 0)
    close (config_pipe[0]);
  asyncrt_join_handle_free (atomic_load (&supervisor_handle));
  asyncrt_mpsc_sender_free (disk_tx);
  asyncrt_mpsc_receiver_free (disk_rx);
  asyncrt_mpsc_sender_free (orphan_tx);
  asyncrt_mpsc_receiver_free (orphan_rx);
  asyncrt_mutex_clear (&store.lock);
  asyncrt_mutex_clear (&accounts);
  asyncrt_mutex_clear (&ledger);
  asyncrt_mutex_clear (&settings);
  return dumper.status < 0 ? 1 : 0;
}
