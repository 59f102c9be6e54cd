/* Task labels on both schedulers: inherited by spawned tasks, overridden and removed
 * by them, a parent's later change not affecting its children, shown in text and
 * JSON dumps and through the dump accessors, hostile values escaped in both forms,
 * the limits and errors, and labels changing while other threads take dumps. */
#include <asyncrt/asyncrt.h>
#include <glib.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "flavour-util.h"
#include "dump-json-util.h"

#ifdef HAVE_JSON_GLIB
#include <json-glib/json-glib.h>
#endif

/* ---- a task tree: parent -> child -> grandchild ----------------------------------------- */

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotify *never;
  AsyncrtNotified wait;
  AsyncrtJoinHandle *child;
  atomic_int *ready;
  int level;
} Node;

static void node_free (void *p);

static AsyncrtPoll
node_poll (void *p, AsyncrtContext *cx)
{
  Node *self = p;
  ASYNCRT_BEGIN (&self->co);
  if (self->level == 1)
    {
      /* The child: inherited both, overrides one, adds one, removes none. */
      g_assert_cmpstr (asyncrt_task_get_label ("request"), ==, "r-17");
      g_assert_cmpstr (asyncrt_task_get_label ("peer"), ==, "10.0.0.1:4242");
      g_assert_cmpint (asyncrt_task_set_label ("peer", "child-peer"), ==, 0);
      g_assert_cmpint (asyncrt_task_set_label ("role", "worker"), ==, 0);
      Node *g = g_new0 (Node, 1);
      g->never = self->never;
      g->ready = self->ready;
      g->level = 2;
      self->child = asyncrt_spawn_named ("grandchild", node_poll, g, node_free);
      /* Changed after the spawn: the grandchild keeps what it inherited. */
      g_assert_cmpint (asyncrt_task_set_label ("role", "changed-later"), ==, 0);
    }
  else if (self->level == 2)
    {
      g_assert_cmpstr (asyncrt_task_get_label ("request"), ==, "r-17");
      g_assert_cmpstr (asyncrt_task_get_label ("peer"), ==, "child-peer");
      g_assert_cmpstr (asyncrt_task_get_label ("role"), ==, "worker");
      g_assert_cmpint (asyncrt_task_set_label ("request", NULL), ==, 0);   /* removed */
      g_assert_null (asyncrt_task_get_label ("request"));
    }
  atomic_fetch_add (self->ready, 1);
  asyncrt_notified_init (&self->wait, self->never);
  ASYNCRT_AWAIT (&self->co, asyncrt_notified_poll (&self->wait, cx));
  ASYNCRT_END (&self->co);
}

static void
node_free (void *p)
{
  Node *self = p;
  asyncrt_notified_clear (&self->wait);
  asyncrt_join_handle_free (self->child);
  g_free (self);
}

static const char *
label_of (const AsyncrtDumpTask *t, const char *key)
{
  return asyncrt_dump_task_lookup_label (t, key);
}

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtNotify never;
  AsyncrtNotified wait;
  AsyncrtJoinHandle *child;
  atomic_int ready;
  AsyncrtDumpFuture df;
  AsyncrtSleep sleep;
  gint64 deadline;
} Root;

static void root_check_dump (AsyncrtDump *d, Root *self);

static AsyncrtPoll
root_task_poll (void *p, AsyncrtContext *cx)
{
  Root *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_null (asyncrt_task_get_label ("request"));
  g_assert_cmpint (asyncrt_task_set_label ("request", "r-0"), ==, 0);
  g_assert_cmpint (asyncrt_task_set_label ("request", "r-17"), ==, 0);   /* replaced */
  g_assert_cmpint (asyncrt_task_set_label ("peer", "10.0.0.1:4242"), ==, 0);
  {
    Node *c = g_new0 (Node, 1);
    c->never = &self->never;
    c->ready = &self->ready;
    c->level = 1;
    self->child = asyncrt_spawn_named ("child", node_poll, c, node_free);
  }
  g_assert_cmpint (asyncrt_task_set_label ("peer", "parent-later"), ==, 0);
  atomic_fetch_add (&self->ready, 1);
  AWAIT_UNTIL (&self->co, cx, &self->sleep, self->deadline, 10000,
               atomic_load (&self->ready) == 3);
  g_assert_cmpint (atomic_load (&self->ready), ==, 3);
  asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), test_timeout_ms (5000));
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  {
    AsyncrtDump *d = asyncrt_dump_future_take (&self->df);
    g_assert_nonnull (d);
    root_check_dump (d, self);
    asyncrt_dump_free (d);
    asyncrt_dump_future_clear (&self->df);
  }
  asyncrt_join_handle_abort (self->child);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->child, cx));
  asyncrt_join_handle_free (self->child);
  self->child = NULL;
  ASYNCRT_END (&self->co);
}

static void
root_check_dump (AsyncrtDump *d, Root *self)
{
  const AsyncrtDumpTask *root = NULL, *child = NULL, *grandchild = NULL;
  for (size_t i = 0; i < asyncrt_dump_get_n_tasks (d); i++)
    {
      const AsyncrtDumpTask *t = asyncrt_dump_get_task (d, i);
      const char *name = asyncrt_dump_task_get_name (t);
      if (name == NULL)
        continue;
      if (strcmp (name, "root") == 0)
        root = t;
      else if (strcmp (name, "child") == 0)
        child = t;
      else if (strcmp (name, "grandchild") == 0)
        grandchild = t;
    }
  g_assert_nonnull (root);
  g_assert_nonnull (child);
  g_assert_nonnull (grandchild);
  (void) self;

  /* The root: request, peer (its own later value), in first-set order. */
  g_assert_cmpuint (asyncrt_dump_task_get_n_labels (root), ==, 2);
  const char *k = NULL, *v = NULL;
  g_assert_cmpint (asyncrt_dump_task_get_label (root, 0, &k, &v), ==, 0);
  g_assert_cmpstr (k, ==, "request");
  g_assert_cmpstr (v, ==, "r-17");
  g_assert_cmpint (asyncrt_dump_task_get_label (root, 1, &k, &v), ==, 0);
  g_assert_cmpstr (k, ==, "peer");
  g_assert_cmpstr (v, ==, "parent-later");
  k = v = "untouched";
  g_assert_cmpint (asyncrt_dump_task_get_label (root, 2, &k, &v), ==, -EINVAL);
  g_assert_cmpstr (k, ==, "untouched");
  g_assert_cmpint (asyncrt_dump_task_get_label (NULL, 0, &k, &v), ==, -EINVAL);
  g_assert_cmpint (asyncrt_dump_task_get_label (root, 0, NULL, NULL), ==, 0);

  /* The child: inherited request, overridden peer, its own role (latest value). */
  g_assert_cmpuint (asyncrt_dump_task_get_n_labels (child), ==, 3);
  g_assert_cmpstr (label_of (child, "request"), ==, "r-17");
  g_assert_cmpstr (label_of (child, "peer"), ==, "child-peer");
  g_assert_cmpstr (label_of (child, "role"), ==, "changed-later");
  /* The grandchild: request removed, the rest as inherited at its spawn. */
  g_assert_cmpuint (asyncrt_dump_task_get_n_labels (grandchild), ==, 2);
  g_assert_null (label_of (grandchild, "request"));
  g_assert_cmpstr (label_of (grandchild, "peer"), ==, "child-peer");
  g_assert_cmpstr (label_of (grandchild, "role"), ==, "worker");
  g_assert_null (label_of (grandchild, NULL));
  g_assert_null (label_of (NULL, "peer"));
  g_assert_cmpuint (asyncrt_dump_task_get_n_labels (NULL), ==, 0);

  char *text = asyncrt_dump_to_string (d);
  g_assert_nonnull (strstr (text, "  labels: request=\"r-17\", peer=\"parent-later\"\n"));
  g_assert_nonnull (strstr (text, "  labels: request=\"r-17\", peer=\"child-peer\", role=\"changed-later\"\n"));
  g_assert_nonnull (strstr (text, "  labels: peer=\"child-peer\", role=\"worker\"\n"));
  free (text);
  char *json = test_dump_json (d, 0);
  g_assert_nonnull (strstr (json, "\"labels\":{\"request\":\"r-17\",\"peer\":\"parent-later\"}"));
  g_assert_nonnull (strstr (json, "\"labels\":{\"peer\":\"child-peer\",\"role\":\"worker\"}"));
  free (json);
}

static void
root_task_free (void *p)
{
  Root *self = p;
  asyncrt_join_handle_free (self->child);
  asyncrt_dump_future_clear (&self->df);
}

/* block_on's future: spawns a task and waits for it. */
typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtPollFunc poll;
  AsyncrtFreeFunc free_func;
  void *future;
  const char *name;
  AsyncrtJoinHandle *jh;
} Main;

static AsyncrtPoll
main_poll (void *p, AsyncrtContext *cx)
{
  Main *self = p;
  ASYNCRT_BEGIN (&self->co);
  /* block_on is not a task: no labels here. */
  g_assert_cmpint (asyncrt_task_set_label ("request", "x"), ==, -ESRCH);
  g_assert_null (asyncrt_task_get_label ("request"));
  self->jh = asyncrt_spawn_named (self->name, self->poll, self->future, self->free_func);
  g_assert_nonnull (self->jh);
  ASYNCRT_AWAIT (&self->co, asyncrt_join_handle_poll (self->jh, cx));
  g_assert_false (asyncrt_join_handle_is_cancelled (self->jh));
  asyncrt_join_handle_free (self->jh);
  ASYNCRT_END (&self->co);
}

static void
run_task (const char *name, AsyncrtPollFunc poll, void *future, AsyncrtFreeFunc free_func)
{
  Main m = { .poll = poll, .future = future, .free_func = free_func, .name = name };
  run_on_new_runtime (main_poll, &m);
}

static void
test_inheritance (void)
{
  Root r = { 0 };
  asyncrt_notify_init (&r.never);
  run_task ("root", root_task_poll, &r, root_task_free);
  asyncrt_notify_clear (&r.never);
}

/* ---- hostile values are escaped in both formats ------------------------------------------ */

/* A newline, an ANSI escape sequence, a quote, a backslash, a tab, DEL, a C1 control
 * (U+009B, CSI), a right-to-left override (U+202E), then invalid UTF-8. */
static const char hostile[] =
  "line1\nline2\x1b[31mred\"q\\b\tt\x7f" "\xc2\x9b" "\xe2\x80\xae" "ok\xff\xfe" "end";

typedef struct
{
  AsyncrtCoroutine co;
  AsyncrtDumpFuture df;
} Hostile;

static AsyncrtPoll
hostile_poll (void *p, AsyncrtContext *cx)
{
  Hostile *self = p;
  ASYNCRT_BEGIN (&self->co);
  g_assert_cmpint (asyncrt_task_set_label ("peer", hostile), ==, 0);
  g_assert_cmpstr (asyncrt_task_get_label ("peer"), ==, hostile);   /* stored as given */
  asyncrt_dump_future_init (&self->df, asyncrt_handle_current (), test_timeout_ms (5000));
  ASYNCRT_AWAIT (&self->co, asyncrt_dump_future_poll (&self->df, cx));
  {
    AsyncrtDump *d = asyncrt_dump_future_take (&self->df);
    g_assert_nonnull (d);
    const AsyncrtDumpTask *t = asyncrt_dump_find_task (d, asyncrt_task_id_current ());
    g_assert_nonnull (t);
    g_assert_cmpstr (asyncrt_dump_task_lookup_label (t, "peer"), ==, hostile);

    char *text = asyncrt_dump_to_string (d);
    const char *want_text =
      "  labels: peer=\"line1\\nline2\\x1b[31mred\\\"q\\\\b\\tt\\x7f\\u009b\\u202eok"
      "\xef\xbf\xbd\xef\xbf\xbd" "end\"\n";
    if (strstr (text, want_text) == NULL)
      g_error ("text dump lacks the escaped label:\n%s", text);
    /* Nothing raw got through: no ESC, DEL, C1 or bidi override anywhere. */
    g_assert_null (strchr (text, '\x1b'));
    g_assert_null (strchr (text, '\x7f'));
    g_assert_null (strstr (text, "\xc2\x9b"));
    g_assert_null (strstr (text, "\xe2\x80\xae"));
    g_assert_true (g_utf8_validate (text, -1, NULL));
    free (text);

    char *json = test_dump_json (d, 0);
    const char *want_json =
      "\"peer\":\"line1\\nline2\\u001b[31mred\\\"q\\\\b\\tt";
    if (strstr (json, want_json) == NULL)
      g_error ("JSON dump lacks the escaped label:\n%s", json);
    g_assert_null (strchr (json, '\x1b'));
    g_assert_null (strchr (json, '\n'));
    g_assert_true (g_utf8_validate (json, -1, NULL));
    g_assert_nonnull (strstr (json, "ok\xef\xbf\xbd\xef\xbf\xbd" "end\""));
#ifdef HAVE_JSON_GLIB
    {
      /* A JSON parser reads back the value (invalid UTF-8 replaced). */
      JsonParser *jp = json_parser_new ();
      GError *error = NULL;
      g_assert_true (json_parser_load_from_data (jp, json, -1, &error));
      g_assert_no_error (error);
      JsonArray *tasks = json_object_get_array_member (
          json_node_get_object (json_parser_get_root (jp)), "tasks");
      gboolean found = FALSE;
      for (guint i = 0; i < json_array_get_length (tasks); i++)
        {
          JsonObject *jt = json_array_get_object_element (tasks, i);
          if ((AsyncrtTaskId) json_object_get_int_member (jt, "id") != asyncrt_task_id_current ())
            continue;
          JsonObject *labels = json_object_get_object_member (jt, "labels");
          char *valid = g_utf8_make_valid (hostile, -1);
          g_assert_cmpstr (json_object_get_string_member (labels, "peer"), ==, valid);
          g_free (valid);
          found = TRUE;
        }
      g_assert_true (found);
      g_object_unref (jp);
    }
#endif
    free (json);
    asyncrt_dump_free (d);
    asyncrt_dump_future_clear (&self->df);
  }
  ASYNCRT_END (&self->co);
}

static void
test_hostile (void)
{
  Hostile h = { 0 };
  run_task ("hostile", hostile_poll, &h, NULL);
}

/* ---- limits and errors ----------------------------------------------------------------- */

static AsyncrtPoll
limits_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  g_assert_cmpint (asyncrt_task_set_label (NULL, "v"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_task_set_label ("", "v"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_task_set_label ("has space", "v"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_task_set_label ("quote\"", "v"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_task_set_label ("new\nline", "v"), ==, -EINVAL);
  g_assert_cmpint (asyncrt_task_set_label ("ok_key-1.2:x/y", "v"), ==, 0);

  char key[ASYNCRT_TASK_LABEL_KEY_MAX + 2];
  memset (key, 'k', sizeof key);
  key[ASYNCRT_TASK_LABEL_KEY_MAX + 1] = '\0';
  g_assert_cmpint (asyncrt_task_set_label (key, "v"), ==, -E2BIG);
  key[ASYNCRT_TASK_LABEL_KEY_MAX] = '\0';
  g_assert_cmpint (asyncrt_task_set_label (key, "v"), ==, 0);        /* exactly the max */
  g_assert_cmpint (asyncrt_task_set_label (key, NULL), ==, 0);

  char *value = g_malloc (ASYNCRT_TASK_LABEL_VALUE_MAX + 2);
  memset (value, 'v', ASYNCRT_TASK_LABEL_VALUE_MAX + 1);
  value[ASYNCRT_TASK_LABEL_VALUE_MAX + 1] = '\0';
  g_assert_cmpint (asyncrt_task_set_label ("big", value), ==, -E2BIG);
  g_assert_null (asyncrt_task_get_label ("big"));
  value[ASYNCRT_TASK_LABEL_VALUE_MAX] = '\0';
  g_assert_cmpint (asyncrt_task_set_label ("big", value), ==, 0);
  g_assert_cmpuint (strlen (asyncrt_task_get_label ("big")), ==, ASYNCRT_TASK_LABEL_VALUE_MAX);
  g_free (value);
  g_assert_cmpint (asyncrt_task_set_label ("empty", ""), ==, 0);
  g_assert_cmpstr (asyncrt_task_get_label ("empty"), ==, "");

  /* ok_key..., big, empty: fill up to the limit. */
  for (int i = 3; i < ASYNCRT_TASK_MAX_LABELS; i++)
    {
      char k[16];
      g_snprintf (k, sizeof k, "k%d", i);
      g_assert_cmpint (asyncrt_task_set_label (k, "v"), ==, 0);
    }
  g_assert_cmpint (asyncrt_task_set_label ("one-too-many", "v"), ==, -ENOSPC);
  g_assert_null (asyncrt_task_get_label ("one-too-many"));
  g_assert_cmpint (asyncrt_task_set_label ("big", "replaced"), ==, 0);   /* full: replace ok */
  g_assert_cmpint (asyncrt_task_set_label ("absent", NULL), ==, 0);      /* remove absent */
  g_assert_cmpint (asyncrt_task_set_label ("big", NULL), ==, 0);
  g_assert_cmpint (asyncrt_task_set_label ("one-more", "v"), ==, 0);     /* room again */
  g_assert_null (asyncrt_task_get_label (NULL));
  g_assert_null (asyncrt_task_get_label ("big"));
  return ASYNCRT_READY;
}

static void
test_limits (void)
{
  run_task ("limits", limits_poll, NULL, NULL);
  /* Outside every runtime. */
  g_assert_cmpint (asyncrt_task_set_label ("k", "v"), ==, -ESRCH);
  g_assert_cmpint (asyncrt_task_set_label (NULL, "v"), ==, -EINVAL);
  g_assert_null (asyncrt_task_get_label ("k"));
}

/* ---- labels changing while another thread dumps (TSan) ----------------------------------- */

static AsyncrtPoll
null_future_poll (void *p, AsyncrtContext *cx)
{
  (void) p;
  (void) cx;
  return ASYNCRT_READY;
}

typedef struct
{
  AsyncrtCoroutine co;
  atomic_bool *stop;
  int i;
} Churner;

static AsyncrtPoll
churner_poll (void *p, AsyncrtContext *cx)
{
  Churner *self = p;
  ASYNCRT_BEGIN (&self->co);
  for (self->i = 0; !atomic_load (self->stop); self->i++)
    {
      char v[32];
      g_snprintf (v, sizeof v, "value-%d", self->i);
      g_assert_cmpint (asyncrt_task_set_label ("iteration", v), ==, 0);
      g_assert_cmpint (asyncrt_task_set_label (self->i % 2 ? "odd" : "even", v), ==, 0);
      if (self->i % 3 == 0)
        g_assert_cmpint (asyncrt_task_set_label ("odd", NULL), ==, 0);
      if (self->i % 10 == 0)
        {
          AsyncrtJoinHandle *jh = asyncrt_spawn (null_future_poll, NULL, NULL);
          asyncrt_join_handle_free (jh);   /* a NULL future: ready at once, inherits */
        }
      YIELD (&self->co, cx);
    }
  ASYNCRT_END (&self->co);
}

typedef struct
{
  AsyncrtHandle *h;
  atomic_bool *stop;
  int dumps;
} Dumper;

static void *
dumper_thread (void *data)
{
  Dumper *d = data;
  for (d->dumps = 0; d->dumps < 20; d->dumps++)
    {
      AsyncrtDump *dump = NULL;
      g_assert_cmpint (asyncrt_handle_dump (d->h, test_timeout_ms (5000), &dump), ==, 0);
      char *s = asyncrt_dump_to_string (dump);
      char *j = test_dump_json (dump, 0);
      free (s);
      free (j);
      asyncrt_dump_free (dump);
    }
  atomic_store (d->stop, true);
  return NULL;
}

static void
test_concurrent_dumps (void)
{
  atomic_bool stop = false;
  AsyncrtRuntime *rt = new_runtime ();
  AsyncrtHandle *h = asyncrt_runtime_get_handle (rt);
  Churner c[4] = { { .stop = &stop }, { .stop = &stop }, { .stop = &stop }, { .stop = &stop } };
  AsyncrtJoinHandle *jh[4];
  for (int i = 0; i < 4; i++)
    jh[i] = asyncrt_handle_spawn (h, churner_poll, &c[i], NULL);
  Dumper d = { h, &stop, 0 };
  pthread_t th;
  pthread_create (&th, NULL, dumper_thread, &d);
  if (!multi_flavour)
    {
      /* The current-thread runtime runs tasks only inside block_on. */
      Main m = { .poll = null_future_poll, .name = "driver" };
      while (!atomic_load (&stop))
        {
          memset (&m.co, 0, sizeof m.co);
          g_assert_cmpint (asyncrt_runtime_block_on (rt, main_poll, &m), ==, 0);
        }
    }
  pthread_join (th, NULL);
  g_assert_cmpint (d.dumps, ==, 20);
  for (int i = 0; i < 4; i++)
    asyncrt_join_handle_free (jh[i]);
  asyncrt_runtime_free (rt);
}

int
main (int argc, char **argv)
{
  static const FlavourTest tests[] = {
    { "inherited-and-overridden", test_inheritance },
    { "hostile-values", test_hostile },
    { "limits-and-errors", test_limits },
    { "concurrent-dumps", test_concurrent_dumps },
  };
  g_test_init (&argc, &argv, NULL);
  flavour_add_tests ("labels", tests, G_N_ELEMENTS (tests));
  test_dump_json_add_check ();
  return g_test_run ();
}
