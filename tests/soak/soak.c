/* soak: a long run of the multi-thread runtime under mixed load, dumped continuously.
 *
 *   make soak                      (SOAK_MINUTES=1 by default)
 *   ./tests/soak/soak [MINUTES] [TASKS]
 *
 * Rounds until the time is up.  Each round spawns TASKS tasks on a 2-worker runtime:
 *   - "chatter" tasks alternate sleeps and yields and send messages on a bounded mpsc
 *     channel to one "sink" task;
 *   - echo pairs: a "server" side and a "client" side exchange messages over loopback
 *     TCP.
 * Meanwhile a plain thread takes a task dump every 5 ms.  At the end of each round
 * every count must be exact (messages sent == received, bytes echoed) and every dump
 * must have succeeded.  Memory: the heap in use (mallinfo2) is sampled after every
 * round; a leak raises its floor steadily, while noise (a dump in flight at the
 * sample) does not, so the lowest sample of the second half of the run must not
 * exceed the lowest of the first half (after warm-up) by more than 32 KiB.  glibc's
 * per-thread caches (tcache) hold freed chunks that mallinfo2 counts as in use and
 * fill slowly over a long run, so the program re-executes itself once with
 * GLIBC_TUNABLES=glibc.malloc.tcache_count=0.  SOAK_SELFTEST_LEAK=N leaks N bytes per
 * round on purpose, to check that the memory gate catches a leak.
 * Exits non-zero on any mismatch.
 */
#include <asyncrt/asyncrt.h>

#include <malloc.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ITERATIONS 20
#define ECHO_PAIRS 16
#define ECHO_MESSAGES 50
#define MSG_SIZE 512

static atomic_long sent, received, echoed_bytes;
static atomic_long dumps_ok, dumps_failed, dumped_tasks;
static atomic_bool stop_dumping;
static void *volatile leak_sink;                      /* SOAK_SELFTEST_LEAK */

/* ---- chatter: sleeps, yields and sends ------------------------------------------ */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMpscSender *tx;
  unsigned seed;
  int i;
  AsyncrtSleep sleep;
  AsyncrtYield yield;
  AsyncrtMpscSend send;
  bool sleeping, sending;
} Chatter;

static AsyncrtPoll
chatter_poll (void *p, AsyncrtContext *cx)
{
  Chatter *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; self->i < ITERATIONS; self->i++)
    {
      if (rand_r (&self->seed) % 2)
        {
          asyncrt_sleep_init (&self->sleep, rand_r (&self->seed) % 3);
          self->sleeping = true;
          ASYNCRT_AWAIT (&self->co, asyncrt_sleep_poll (&self->sleep, cx));
          asyncrt_sleep_clear (&self->sleep);
          self->sleeping = false;
        }
      else
        {
          asyncrt_yield_init (&self->yield);
          ASYNCRT_AWAIT (&self->co, asyncrt_yield_poll (&self->yield, cx));
        }
      asyncrt_mpsc_send_init (&self->send, self->tx, (void *) (uintptr_t) 1);
      self->sending = true;
      ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_send_poll (&self->send, cx));
      if (asyncrt_mpsc_send_result (&self->send) == 0)
        atomic_fetch_add (&sent, 1);
      asyncrt_mpsc_send_clear (&self->send);
      self->sending = false;
    }
  asyncrt_mpsc_sender_free (self->tx);
  self->tx = NULL;
  ASYNCRT_END (&self->co);
}

static void
chatter_free (void *p)
{
  Chatter *self = p;
  if (self->sleeping)
    asyncrt_sleep_clear (&self->sleep);
  if (self->sending)
    asyncrt_mpsc_send_clear (&self->send);
  asyncrt_mpsc_sender_free (self->tx);
  free (self);
}

/* ---- sink: receives until every sender is gone ----------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtMpscReceiver *rx;
  AsyncrtMpscRecv recv;
  void *msg;
} Sink;

static AsyncrtPoll
sink_poll (void *p, AsyncrtContext *cx)
{
  Sink *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (;;)
    {
      asyncrt_mpsc_recv_init (&self->recv, self->rx);
      ASYNCRT_AWAIT (&self->co, asyncrt_mpsc_recv_poll (&self->recv, cx));
      int r = asyncrt_mpsc_recv_result (&self->recv, &self->msg);
      asyncrt_mpsc_recv_clear (&self->recv);
      if (r < 0)
        break;                        /* closed: every sender was freed */
      atomic_fetch_add (&received, 1);
    }
  ASYNCRT_END (&self->co);
}

static void
sink_free (void *p)
{
  Sink *self = p;
  asyncrt_mpsc_recv_clear (&self->recv);
  asyncrt_mpsc_receiver_free (self->rx);
  free (self);
}

/* ---- echo pair ---------------------------------------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtFd listener, conn;
  bool listening, connected;
  int res, i;
  int64_t n;
  size_t done;
  char buf[MSG_SIZE];
  AsyncrtJoinHandle *client;
} EchoServer;

typedef struct
{
  AsyncrtCoroutine co;
  uint16_t port;
  AsyncrtFd conn;
  bool open;
  int res, i;
  int64_t n;
  size_t done;
  char out[MSG_SIZE], in[MSG_SIZE];
} EchoClient;

static AsyncrtPoll
echo_client_poll (void *p, AsyncrtContext *cx)
{
  EchoClient *self = p;
  ASYNCRT_BEGIN (&self->co);
  if (asyncrt_tcp_connect_start (&self->conn, "127.0.0.1", self->port) < 0)
    goto out;
  self->open = true;
  ASYNCRT_AWAIT (&self->co, asyncrt_socket_connect_poll (&self->conn, cx, &self->res));
  if (self->res < 0)
    goto out;
  for (self->i = 0; self->i < ECHO_MESSAGES; self->i++)
    {
      memset (self->out, 'a' + self->i % 26, sizeof self->out);
      self->done = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->conn, cx, self->out,
                                                           sizeof self->out, &self->done,
                                                           &self->n));
      if (self->n < 0)
        goto out;
      for (self->done = 0; self->done < sizeof self->in; self->done += (size_t) self->n)
        {
          ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->conn, cx,
                                                          self->in + self->done,
                                                          sizeof self->in - self->done,
                                                          &self->n));
          if (self->n <= 0)
            goto out;
        }
      if (memcmp (self->in, self->out, sizeof self->in) == 0)
        atomic_fetch_add (&echoed_bytes, (long) sizeof self->in);
    }
out:
  if (self->open)
    asyncrt_fd_close (&self->conn);
  self->open = false;
  ASYNCRT_END (&self->co);
}

static void
echo_client_free (void *p)
{
  EchoClient *self = p;
  if (self->open)
    asyncrt_fd_close (&self->conn);
  free (self);
}

static AsyncrtPoll
echo_server_poll (void *p, AsyncrtContext *cx)
{
  EchoServer *self = p;
  ASYNCRT_BEGIN (&self->co);
  if (asyncrt_tcp_listen (&self->listener, "127.0.0.1", 0, 4) < 0)
    goto out;
  self->listening = true;
  EchoClient *c = calloc (1, sizeof *c);
  c->port = (uint16_t) asyncrt_socket_get_local_port (&self->listener);
  self->client = asyncrt_spawn_named ("echo-client", echo_client_poll, c, echo_client_free);
  ASYNCRT_AWAIT (&self->co, asyncrt_socket_accept_poll (&self->listener, cx, &self->conn,
                                                        &self->res));
  asyncrt_fd_close (&self->listener);
  self->listening = false;
  if (self->res < 0)
    goto join;
  self->connected = true;
  for (;;)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_read_poll (&self->conn, cx, self->buf,
                                                      sizeof self->buf, &self->n));
      if (self->n <= 0)
        break;
      self->done = 0;
      ASYNCRT_AWAIT (&self->co, asyncrt_fd_write_all_poll (&self->conn, cx, self->buf,
                                                           (size_t) self->n, &self->done,
                                                           &self->n));
      if (self->n < 0)
        break;
    }
  asyncrt_fd_close (&self->conn);
  self->connected = false;
join:
  if (self->client != NULL)
    ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->client, cx));
  asyncrt_join_handle_free (self->client);
  self->client = NULL;
out:
  ASYNCRT_END (&self->co);
}

static void
echo_server_free (void *p)
{
  EchoServer *self = p;
  if (self->listening)
    asyncrt_fd_close (&self->listener);
  if (self->connected)
    asyncrt_fd_close (&self->conn);
  asyncrt_join_handle_free (self->client);
  free (self);
}

/* ---- one round: spawn everything, join everything ------------------------------------ */

typedef struct
{
  AsyncrtCoroutine co;
  unsigned tasks;
  AsyncrtJoinHandle **handles;
  unsigned n, i;
} Round;

static AsyncrtPoll
round_poll (void *p, AsyncrtContext *cx)
{
  Round *self = p;
  ASYNCRT_BEGIN (&self->co);
  {
    AsyncrtMpscSender *tx;
    AsyncrtMpscReceiver *rx;
    if (asyncrt_mpsc_new (64, NULL, &tx, &rx) < 0)
      abort ();
    Sink *sink = calloc (1, sizeof *sink);
    sink->rx = rx;
    self->handles = calloc (self->tasks + ECHO_PAIRS + 1, sizeof *self->handles);
    self->handles[self->n++] = asyncrt_spawn_named ("sink", sink_poll, sink, sink_free);
    for (unsigned i = 0; i < self->tasks; i++)
      {
        Chatter *c = calloc (1, sizeof *c);
        c->tx = asyncrt_mpsc_sender_clone (tx);
        c->seed = i;
        self->handles[self->n++] = asyncrt_spawn_named ("chatter", chatter_poll, c,
                                                        chatter_free);
      }
    asyncrt_mpsc_sender_free (tx);
    for (unsigned i = 0; i < ECHO_PAIRS; i++)
      self->handles[self->n++] = asyncrt_spawn_named ("echo-server", echo_server_poll,
                                                      calloc (1, sizeof (EchoServer)),
                                                      echo_server_free);
  }
  for (self->i = 0; self->i < self->n; self->i++)
    {
      ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->handles[self->i], cx));
      asyncrt_join_handle_free (self->handles[self->i]);
    }
  ASYNCRT_END (&self->co);
}

static void *
dumper (void *data)
{
  AsyncrtHandle *h = data;
  while (!atomic_load (&stop_dumping))
    {
      AsyncrtDump *d = NULL;
      if (asyncrt_handle_dump (h, 1000, &d) == 0)
        {
          atomic_fetch_add (&dumps_ok, 1);
          atomic_fetch_add (&dumped_tasks, (long) asyncrt_dump_get_n_tasks (d));
          asyncrt_dump_free (d);
        }
      else
        atomic_fetch_add (&dumps_failed, 1);
      struct timespec ts = { 0, 5 * 1000000L };
      nanosleep (&ts, NULL);
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  if (getenv ("ASYNCRT_SOAK_REEXEC") == NULL)
    {
      setenv ("ASYNCRT_SOAK_REEXEC", "1", 1);
      setenv ("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0", 1);
      execv ("/proc/self/exe", argv);
      perror ("soak: re-exec without tcache");  /* go on: the memory gate may be noisy */
    }
  const char *leak = getenv ("SOAK_SELFTEST_LEAK");
  const char *env = getenv ("SOAK_MINUTES");
  double minutes = argc > 1 ? atof (argv[1]) : env ? atof (env) : 1.0;
  unsigned tasks = argc > 2 ? (unsigned) atoi (argv[2]) : 2000u;

  AsyncrtBuilder *b = asyncrt_builder_new_multi_thread ();
  asyncrt_builder_set_worker_threads (b, 2);
  AsyncrtRuntime *rt = NULL;
  if (asyncrt_builder_build (b, &rt) < 0)
    return 1;
  asyncrt_builder_free (b);

  pthread_t thread;
  if (getenv ("SOAK_NO_DUMP") != NULL)
    atomic_store (&stop_dumping, true);
  pthread_create (&thread, NULL, dumper, asyncrt_runtime_get_handle (rt));

  uint64_t end = asyncrt_time_now_ms () + (uint64_t) (minutes * 60000.0);
  size_t cap = 1024, *heap = malloc (cap * sizeof *heap);
  int failures = 0, rounds = 0;
  do
    {
      long sent0 = atomic_load (&sent), recv0 = atomic_load (&received);
      long echo0 = atomic_load (&echoed_bytes);
      Round round = { .tasks = tasks };
      int r = asyncrt_runtime_block_on (rt, round_poll, &round);
      free (round.handles);
      long s = atomic_load (&sent) - sent0, rcv = atomic_load (&received) - recv0;
      long e = atomic_load (&echoed_bytes) - echo0;
      long want_msgs = (long) tasks * ITERATIONS;
      long want_echo = (long) ECHO_PAIRS * ECHO_MESSAGES * MSG_SIZE;
      if (r != 0 || s != want_msgs || rcv != want_msgs || e != want_echo)
        {
          fprintf (stderr, "soak: round %d: block_on %d, sent %ld, received %ld (want %ld), "
                   "echoed %ld (want %ld)\n", rounds, r, s, rcv, want_msgs, e, want_echo);
          failures++;
        }
      if (leak != NULL)
        leak_sink = malloc ((size_t) atoi (leak));   /* the previous block is lost */
      if ((size_t) rounds == cap)
        heap = realloc (heap, (cap *= 2) * sizeof *heap);
      heap[rounds++] = mallinfo2 ().uordblks;
      if (getenv ("SOAK_VERBOSE") && rounds % 50 == 0)
        printf ("soak: round %d: heap in use %zu bytes\n", rounds, heap[rounds - 1]);
    }
  while (asyncrt_time_now_ms () < end || rounds < 8);

  atomic_store (&stop_dumping, true);
  pthread_join (thread, NULL);
  asyncrt_runtime_free (rt);

  /* Rounds 0-1 warm up caches (symbols, allocator arenas). */
  size_t floor1 = SIZE_MAX, floor2 = SIZE_MAX;
  int half = 2 + (rounds - 2) / 2;
  for (int i = 2; i < rounds; i++)
    {
      size_t *f = i < half ? &floor1 : &floor2;
      if (heap[i] < *f)
        *f = heap[i];
    }
  free (heap);
  bool grew = floor2 > floor1 + 32 * 1024;
  printf ("soak: %d rounds x %u tasks + %d echo pairs, %ld messages, %ld bytes echoed\n",
          rounds, tasks, ECHO_PAIRS, atomic_load (&received), atomic_load (&echoed_bytes));
  printf ("soak: %ld dumps (%ld failed), %ld tasks dumped in all\n", atomic_load (&dumps_ok),
          atomic_load (&dumps_failed), atomic_load (&dumped_tasks));
  printf ("soak: heap in use, lowest sample: %zu bytes in the first half, %zu in the "
          "second%s\n", floor1, floor2, grew ? " -- GREW" : "");
  if (failures || grew || atomic_load (&dumps_failed) || atomic_load (&dumps_ok) == 0)
    {
      printf ("soak: FAILED\n");
      return 1;
    }
  printf ("soak: OK\n");
  return 0;
}
