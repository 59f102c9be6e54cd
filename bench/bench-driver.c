/* Driver benchmarks: timer wheel insert/remove/fire, sleep round-trips, and a
 * loopback TCP ping-pong driven by hand on the driver (no runtime).
 * Prints `name value unit` lines; never fails on a number. */
#include "driver/driver-impl-private.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

static double
now_s (void)
{
  return (double) asyncrt__clock_now_ns () / 1e9;
}

static void
bench_wheel (int N, const char *suffix)
{
  AsyncrtWheel *w = g_new (AsyncrtWheel, 1);
  AsyncrtSleep *es = g_new0 (AsyncrtSleep, N);
  GRand *r = g_rand_new_with_seed (42);
  for (int i = 0; i < N; i++)
    es[i].deadline = 1000 + (uint64_t) g_rand_int_range (r, 0, 600000);   /* 10 min */
  asyncrt__wheel_init (w, 1000);

  double t0 = now_s ();
  for (int i = 0; i < N; i++)
    asyncrt__wheel_insert (w, &es[i]);
  double t1 = now_s ();
  for (int i = 0; i < N; i++)
    asyncrt__wheel_remove (w, &es[i]);
  double t2 = now_s ();
  printf ("wheel_insert_%s %.1f ns/op\n", suffix, (t1 - t0) * 1e9 / N);
  printf ("wheel_remove_%s %.1f ns/op\n", suffix, (t2 - t1) * 1e9 / N);

  for (int i = 0; i < N; i++)
    asyncrt__wheel_insert (w, &es[i]);
  double t3 = now_s ();
  size_t fired = 0;
  for (uint64_t now = 1000; fired < (size_t) N; now += 1 + (uint64_t) g_rand_int_range (r, 0, 50))
    while (asyncrt__wheel_poll (w, now) != NULL)
      fired++;
  double t4 = now_s ();
  printf ("wheel_fire_%s %.1f ns/timer\n", suffix, (t4 - t3) * 1e9 / N);
  g_rand_free (r);
  g_free (es);
  g_free (w);
}

static void *nop_clone (void *d) { return d; }
static void nop (void *d) { (void) d; }
static const AsyncrtWakerVTable nop_vt = { nop_clone, nop, nop, nop };

static int woken;
static void flag_wake (void *d) { (void) d; woken++; }
static const AsyncrtWakerVTable flag_vt = { nop_clone, flag_wake, flag_wake, nop };

static void
bench_sleep (void)
{
  AsyncrtDriver *d;
  if (asyncrt__driver_new (&d) < 0)
    return;
  AsyncrtDriver *prev = asyncrt__driver_enter (d);
  AsyncrtWaker wk;
  asyncrt_waker_init (&wk, &nop_vt, NULL);
  AsyncrtContext *cx = asyncrt_context_new (&wk);
  AsyncrtSleep s;

  enum { N = 1000000 };
  double t0 = now_s ();
  for (int i = 0; i < N; i++)
    {
      asyncrt_sleep_init (&s, 0);
      if (asyncrt_sleep_poll (&s, cx) != ASYNCRT_READY)
        abort ();
    }
  double t1 = now_s ();
  printf ("sleep0_init_poll %.1f ns/op\n", (t1 - t0) * 1e9 / N);

  /* A pending sleep: registration (first poll) + removal (clear). */
  for (int i = 0; i < N; i++)
    {
      asyncrt_sleep_init (&s, 60000);
      asyncrt_sleep_poll (&s, cx);
      asyncrt_sleep_clear (&s);
    }
  double t2 = now_s ();
  printf ("sleep_register_clear %.1f ns/op\n", (t2 - t1) * 1e9 / N);

  /* sleep(1): register, park until fired, poll ready. */
  AsyncrtWaker fw;
  asyncrt_waker_init (&fw, &flag_vt, NULL);
  AsyncrtContext *fcx = asyncrt_context_new (&fw);
  enum { M = 200 };
  double t3 = now_s ();
  for (int i = 0; i < M; i++)
    {
      asyncrt_sleep_init (&s, 1);
      int before = woken;
      while (asyncrt_sleep_poll (&s, fcx) == ASYNCRT_PENDING)
        while (woken == before)
          asyncrt__driver_park (d, -1);
    }
  double t4 = now_s ();
  printf ("sleep1_roundtrip %.1f us\n", (t4 - t3) * 1e6 / M);

  /* park(0) with nothing to do: the idle cost of a scheduler tick. */
  double t5 = now_s ();
  for (int i = 0; i < 100000; i++)
    asyncrt__driver_park (d, 0);
  double t6 = now_s ();
  printf ("park0 %.1f ns/op\n", (t6 - t5) * 1e9 / 100000);

  /* unpark + park round-trip on one thread. */
  double t7 = now_s ();
  for (int i = 0; i < 100000; i++)
    {
      asyncrt__driver_unpark (d);
      asyncrt__driver_park (d, -1);
    }
  double t8 = now_s ();
  printf ("unpark_park %.1f ns/op\n", (t8 - t7) * 1e9 / 100000);

  asyncrt_context_free (fcx);
  asyncrt_context_free (cx);
  asyncrt__driver_exit (prev);
  asyncrt__driver_free (d);
}

static void
bench_ping_pong (void)
{
  AsyncrtDriver *d;
  if (asyncrt__driver_new (&d) < 0)
    return;
  AsyncrtDriver *prev = asyncrt__driver_enter (d);
  AsyncrtWaker fw;
  asyncrt_waker_init (&fw, &flag_vt, NULL);
  AsyncrtContext *cx = asyncrt_context_new (&fw);
  AsyncrtFd l, c, s;
  int rc = 0;
  if (asyncrt_tcp_listen (&l, "127.0.0.1", 0, 1) < 0)
    return;
  int port = asyncrt_socket_get_local_port (&l);
  asyncrt_tcp_connect_start (&c, "127.0.0.1", (uint16_t) port);
  while (asyncrt_socket_accept_poll (&l, cx, &s, &rc) == ASYNCRT_PENDING)
    asyncrt__driver_park (d, 100);
  while (asyncrt_socket_connect_poll (&c, cx, &rc) == ASYNCRT_PENDING)
    asyncrt__driver_park (d, 100);
  asyncrt_tcp_set_nodelay (&c, true);
  asyncrt_tcp_set_nodelay (&s, true);

  enum { N = 20000, MSG = 64 };
  char buf[MSG], out[MSG];
  memset (out, 'p', sizeof out);
  double t0 = now_s ();
  for (int i = 0; i < N; i++)
    {
      int64_t n;
      size_t done = 0;
      while (asyncrt_fd_write_all_poll (&c, cx, out, MSG, &done, &n) == ASYNCRT_PENDING)
        asyncrt__driver_park (d, -1);
      size_t got = 0;
      while (got < MSG)
        {
          while (asyncrt_fd_read_poll (&s, cx, buf + got, MSG - got, &n) == ASYNCRT_PENDING)
            asyncrt__driver_park (d, -1);
          got += (size_t) n;
        }
      done = 0;
      while (asyncrt_fd_write_all_poll (&s, cx, buf, MSG, &done, &n) == ASYNCRT_PENDING)
        asyncrt__driver_park (d, -1);
      got = 0;
      while (got < MSG)
        {
          while (asyncrt_fd_read_poll (&c, cx, buf + got, MSG - got, &n) == ASYNCRT_PENDING)
            asyncrt__driver_park (d, -1);
          got += (size_t) n;
        }
    }
  double t1 = now_s ();
  printf ("tcp_ping_pong_64B %.2f us/roundtrip\n", (t1 - t0) * 1e6 / N);
  printf ("tcp_ping_pong_64B_rate %.0f roundtrips/s\n", N / (t1 - t0));
  asyncrt_fd_close (&s);
  asyncrt_fd_close (&c);
  asyncrt_fd_close (&l);
  asyncrt_context_free (cx);
  asyncrt__driver_exit (prev);
  asyncrt__driver_free (d);
}

int
main (void)
{
  bench_wheel (10000, "10k");
  bench_wheel (200000, "200k");
  bench_sleep ();
  bench_ping_pong ();
  return 0;
}
