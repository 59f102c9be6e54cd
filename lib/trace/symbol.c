/* libasyncrt - symbol resolution with libdw, cached per instruction pointer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads and ownership
 * ---------------------
 * Everything here is global and protected by `symbol_lock`: the Dwfl session (libdw
 * is not thread-safe for one session), the IP -> info cache, the string table and the
 * statistics.  A resolution holds the lock while it runs libdw, so concurrent
 * resolutions are serialised; cache hits hold it only for the hash look-up.  It is a
 * pthread mutex rather than a GMutex so that ThreadSanitizer sees the ordering.
 *
 * Cache entries (AsyncrtTraceInfo) are immutable once inserted and are never freed:
 * frames of live traces point at them.  Their strings are interned in our own table
 * (written under the lock, so every thread that got the entry through the lock sees
 * them), which lets the tree compare them by pointer.
 *
 * Modules loaded after the session was opened (dlopen) are picked up on a miss: when
 * an address is in no known module and the loader's adds/subs counters
 * (dl_iterate_phdr) changed, the module list is re-read from /proc/self/maps.  When
 * modules were unloaded (checked by asyncrt__symbol_revalidate(), once per trace
 * resolved or merged), the IP -> info map is emptied (the entries stay alive for the
 * traces that use them) since an address may now belong to different code.
 *
 * Offline-safe: debug information is looked up in the module itself and then by
 * build-id under the standard debug directories (dwfl_build_id_find_debuginfo);
 * never through debuginfod, even if DEBUGINFOD_URLS is set.
 *
 * fork: `symbol_lock` is the one lock here, and it is process-wide, so pthread_atfork
 * handlers (registered when the library is loaded) take it before fork() and release
 * it in the parent and the child: the child inherits a consistent cache (same address
 * space, same modules) with the lock free.  The Dwfl session re-reads the module list
 * by the child's own pid on its next refresh.
 */
#include "trace/trace-private.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t symbol_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *strings;             /* interned strings (owned keys) */
static Dwfl *dwfl;                      /* NULL until first use */
static GHashTable *cache;               /* ip -> const AsyncrtTraceInfo* */
static GPtrArray *all_infos;            /* every info ever made (kept alive) */
static AsyncrtSymbolStats stats;
static unsigned long long seen_adds, seen_subs;

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
  .find_elf = dwfl_linux_proc_find_elf,
  .find_debuginfo = dwfl_build_id_find_debuginfo,
  .debuginfo_path = &debuginfo_path,
};

/* ---- fork ------------------------------------------------------------------------------ */

static void
fork_prepare (void)
{
  pthread_mutex_lock (&symbol_lock);
}

static void
fork_release (void)
{
  pthread_mutex_unlock (&symbol_lock);
}

__attribute__((constructor)) static void
register_fork_handlers (void)
{
  pthread_atfork (fork_prepare, fork_release, fork_release);
}

/* ---- interned strings -------------------------------------------------------------- */

static const char *
intern_locked (const char *s)
{
  if (s == NULL)
    return NULL;
  if (strings == NULL)
    strings = g_hash_table_new (g_str_hash, g_str_equal);
  char *found = g_hash_table_lookup (strings, s);
  if (found == NULL)
    {
      found = g_strdup (s);
      g_hash_table_add (strings, found);
    }
  return found;
}

static AsyncrtTraceInfo *
info_new_locked (uintptr_t symbol_address, const AsyncrtTraceSymbolSpec *symbols,
                 size_t n_symbols)
{
  g_assert (n_symbols >= 1);
  AsyncrtTraceInfo *info = g_malloc0 (sizeof (AsyncrtTraceInfo)
                                      + n_symbols * sizeof (AsyncrtBacktraceSymbol));
  info->symbol_address = symbol_address;
  info->n_symbols = n_symbols;
  for (size_t i = 0; i < n_symbols; i++)
    {
      AsyncrtBacktraceSymbol *s = &info->symbols[i];
      s->name = intern_locked (symbols[i].name != NULL ? symbols[i].name : "??");
      s->raw_name = s->name;
      s->filename = intern_locked (symbols[i].filename);
      s->lineno = symbols[i].lineno;
      s->colno = symbols[i].colno;
    }
  return info;
}

AsyncrtTraceInfo *
asyncrt__trace_info_new (uintptr_t symbol_address, const AsyncrtTraceSymbolSpec *symbols,
                         size_t n_symbols)
{
  pthread_mutex_lock (&symbol_lock);
  AsyncrtTraceInfo *info = info_new_locked (symbol_address, symbols, n_symbols);
  pthread_mutex_unlock (&symbol_lock);
  return info;
}

/* ---- demangling ------------------------------------------------------------------ */

typedef char *(*CxaDemangleFunc) (const char *, char *, size_t *, int *);

/* Called with symbol_lock held (so no GOnce, whose process-wide lock a forked child
 * could inherit taken). */
static CxaDemangleFunc
get_demangler (void)
{
  static bool looked;
  static CxaDemangleFunc fn;
  if (!looked)
    {
      /* Only if the process already has a C++ runtime: never link libstdc++. */
      void *p = dlsym (RTLD_DEFAULT, "__cxa_demangle");
      memcpy (&fn, &p, sizeof fn);
      looked = true;
    }
  return fn;
}

static const char *
demangle (const char *raw)
{
  if (raw == NULL || raw[0] != '_' || raw[1] != 'Z')
    return raw;
  CxaDemangleFunc fn = get_demangler ();
  if (fn == NULL)
    return raw;
  int status = -1;
  char *out = fn (raw, NULL, NULL, &status);
  if (out == NULL || status != 0)
    {
      free (out);
      return raw;
    }
  const char *interned = intern_locked (out);
  free (out);
  return interned;
}

/* ---- the Dwfl session -------------------------------------------------------------- */

static int
count_modules (struct dl_phdr_info *info, size_t size, void *data)
{
  unsigned long long *out = data;
  if (size >= offsetof (struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
    {
      out[0] = info->dlpi_adds;
      out[1] = info->dlpi_subs;
    }
  return 1;     /* the counters are the same in every entry */
}

static void
report_modules (void)
{
  unsigned long long counts[2] = { 0, 0 };
  dl_iterate_phdr (count_modules, counts);
  if (dwfl == NULL)
    dwfl = dwfl_begin (&callbacks);
  if (dwfl == NULL)
    return;
  dwfl_report_begin (dwfl);
  dwfl_linux_proc_report (dwfl, getpid ());
  dwfl_report_end (dwfl, NULL, NULL);
  if (counts[1] != seen_subs && cache != NULL)
    g_hash_table_remove_all (cache);
  seen_adds = counts[0];
  seen_subs = counts[1];
  stats.refreshes++;
}

/* Whether modules were loaded or unloaded since the last report. */
static bool
modules_changed (void)
{
  unsigned long long counts[2] = { 0, 0 };
  dl_iterate_phdr (count_modules, counts);
  return counts[0] != seen_adds || counts[1] != seen_subs;
}

/* ---- resolution -------------------------------------------------------------------- */

static const char *
die_raw_name (Dwarf_Die *die)
{
  Dwarf_Attribute attr;
  const char *s = NULL;
  if (dwarf_attr_integrate (die, DW_AT_linkage_name, &attr) != NULL
      || dwarf_attr_integrate (die, DW_AT_MIPS_linkage_name, &attr) != NULL)
    s = dwarf_formstring (&attr);
  if (s == NULL && dwarf_attr_integrate (die, DW_AT_name, &attr) != NULL)
    s = dwarf_formstring (&attr);
  return s;
}

static const char *
relative_path (const char *path, const char *comp_dir)
{
  if (path == NULL || comp_dir == NULL)
    return path;
  size_t n = strlen (comp_dir);
  if (n > 1 && strncmp (path, comp_dir, n) == 0 && path[n] == '/')
    return path + n + 1;
  return path;
}

/* Fills @syms (AsyncrtTraceSymbolSpec) from DWARF; returns false if there is none. */
static bool
resolve_dwarf (Dwfl_Module *mod, Dwarf_Addr addr, GArray *syms, GPtrArray *raw_names,
               uintptr_t *symbol_address)
{
  Dwarf_Addr bias = 0;
  Dwarf_Die *cudie = dwfl_module_addrdie (mod, addr, &bias);
  if (cudie == NULL)
    return false;

  Dwarf_Attribute attr;
  const char *comp_dir = NULL;
  if (dwarf_attr (cudie, DW_AT_comp_dir, &attr) != NULL)
    comp_dir = dwarf_formstring (&attr);

  /* Location of the innermost function: the line table. */
  AsyncrtTraceSymbolSpec loc = { NULL, NULL, 0, 0 };
  Dwfl_Line *line = dwfl_module_getsrc (mod, addr);
  if (line != NULL)
    {
      int lineno = 0, colno = 0;
      loc.filename = relative_path (dwfl_lineinfo (line, NULL, &lineno, &colno, NULL, NULL),
                                    comp_dir);
      loc.lineno = lineno > 0 ? (unsigned) lineno : 0;
      loc.colno = colno > 0 ? (unsigned) colno : 0;
    }

  Dwarf_Die *scopes = NULL;
  int n = dwarf_getscopes (cudie, addr - bias, &scopes);
  int inner = -1;
  for (int i = 0; i < n; i++)
    {
      int tag = dwarf_tag (&scopes[i]);
      if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine)
        {
          inner = i;
          break;
        }
    }
  if (inner < 0)
    {
      free (scopes);
      if (line == NULL)
        return false;
      /* A line but no function DIE: keep the location, the name comes from ELF. */
      loc.name = NULL;
      g_array_append_val (syms, loc);
      g_ptr_array_add (raw_names, NULL);
      return true;
    }

  /* dwarf_getscopes stops at the first inlined instance; the chain of the DIE itself
   * runs through every enclosing inlined instance up to the subprogram. */
  Dwarf_Die *chain = NULL;
  int m = dwarf_getscopes_die (&scopes[inner], &chain);
  Dwarf_Files *files = NULL;
  size_t nfiles = 0;
  bool have_files = dwarf_getsrcfiles (cudie, &files, &nfiles) == 0;

  for (int i = 0; i < m; i++)
    {
      int tag = dwarf_tag (&chain[i]);
      if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
        continue;
      const char *raw = die_raw_name (&chain[i]);
      AsyncrtTraceSymbolSpec s = loc;
      s.name = raw != NULL ? demangle (raw) : NULL;
      g_array_append_val (syms, s);
      g_ptr_array_add (raw_names, (gpointer) raw);

      if (tag == DW_TAG_subprogram)
        {
          Dwarf_Addr lowpc;
          if (dwarf_lowpc (&chain[i], &lowpc) == 0)
            *symbol_address = (uintptr_t) (lowpc + bias);
          break;
        }
      /* The next outer function is at this instance's call site. */
      Dwarf_Word v;
      loc.filename = NULL;
      loc.lineno = loc.colno = 0;
      if (have_files && dwarf_attr (&chain[i], DW_AT_call_file, &attr) != NULL
          && dwarf_formudata (&attr, &v) == 0 && v < nfiles)
        loc.filename = relative_path (dwarf_filesrc (files, v, NULL, NULL), comp_dir);
      if (dwarf_attr (&chain[i], DW_AT_call_line, &attr) != NULL
          && dwarf_formudata (&attr, &v) == 0)
        loc.lineno = (unsigned) v;
      if (dwarf_attr (&chain[i], DW_AT_call_column, &attr) != NULL
          && dwarf_formudata (&attr, &v) == 0)
        loc.colno = (unsigned) v;
    }
  free (chain);
  free (scopes);
  return syms->len > 0;
}

#ifdef __x86_64__
/* DWARF register numbers of x86-64. */
#define DW_REG_RBP 6
#define DW_REG_RSP 7
#define DW_REG_RA 16

/* The unwind rule of the frame suspended at return address @ip (its call just
 * before), from the module's CFI (.eh_frame, else .debug_frame), for capture.c's
 * walk. */
static void
learn_frame_rule (Dwfl_Module *mod, uintptr_t ip)
{
  Dwarf_Addr addr = ip - 1;
  AsyncrtFrameRule rule = { ASYNCRT_CFA_NONE, 0, ASYNCRT_RBP_LOST, 0, false };
  Dwarf_Addr bias = 0;
  Dwarf_CFI *cfi = dwfl_module_eh_cfi (mod, &bias);
  Dwarf_Frame *frame = NULL;
  if (cfi == NULL || dwarf_cfi_addrframe (cfi, addr - bias, &frame) != 0)
    {
      cfi = dwfl_module_dwarf_cfi (mod, &bias);
      if (cfi == NULL || dwarf_cfi_addrframe (cfi, addr - bias, &frame) != 0)
        frame = NULL;
    }
  bool signal = false;
  if (frame != NULL && dwarf_frame_info (frame, NULL, NULL, &signal) == DW_REG_RA && !signal)
    {
      Dwarf_Op *ops = NULL;
      size_t nops = 0;
      if (dwarf_frame_cfa (frame, &ops, &nops) == 0 && nops == 1
          && ops[0].atom == DW_OP_bregx
          && (ops[0].number == DW_REG_RSP || ops[0].number == DW_REG_RBP)
          && (int64_t) ops[0].number2 > 0 && (int64_t) ops[0].number2 <= INT32_MAX)
        {
          rule.base = ops[0].number == DW_REG_RSP ? ASYNCRT_CFA_RSP : ASYNCRT_CFA_RBP;
          rule.cfa_offset = (int32_t) ops[0].number2;
        }
      /* Register rules: an offset from the CFA is [DW_OP_call_frame_cfa,
       * DW_OP_plus_uconst N] (N two's complement); "same value" is no operation and
       * no array. */
      Dwarf_Op mem[3];
      if (dwarf_frame_register (frame, DW_REG_RA, mem, &ops, &nops) == 0 && nops == 2
          && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst
          && (int64_t) ops[1].number == -8)
        rule.ra_at_cfa_minus_8 = true;
      if (dwarf_frame_register (frame, DW_REG_RBP, mem, &ops, &nops) == 0)
        {
          if (nops == 0 && ops == NULL)
            rule.rbp = ASYNCRT_RBP_SAME;
          else if (nops == 2 && ops[0].atom == DW_OP_call_frame_cfa
                   && ops[1].atom == DW_OP_plus_uconst && (int64_t) ops[1].number < 0
                   && (int64_t) ops[1].number >= INT32_MIN)
            {
              rule.rbp = ASYNCRT_RBP_SAVED;
              rule.rbp_offset = (int32_t) (int64_t) ops[1].number;
            }
        }
    }
  free (frame);
  asyncrt__trace_walk_learn (ip, &rule);
}
#endif

static AsyncrtTraceInfo *
resolve_locked (uintptr_t ip)
{
  /* Every captured IP is a return address: look up the call instruction. */
  Dwarf_Addr addr = ip > 0 ? ip - 1 : 0;
  Dwfl_Module *mod = NULL;

  if (dwfl == NULL)
    report_modules ();
  if (dwfl != NULL)
    {
      mod = dwfl_addrmodule (dwfl, addr);
      if (mod == NULL && modules_changed ())
        {
          report_modules ();
          mod = dwfl_addrmodule (dwfl, addr);
        }
    }

  const char *elf_name = NULL;
  uintptr_t symbol_address = 0;
#ifdef __x86_64__
  if (mod != NULL && ip > 0)
    learn_frame_rule (mod, ip);
#endif
  if (mod != NULL)
    {
      GElf_Off off = 0;
      GElf_Sym sym;
      elf_name = dwfl_module_addrinfo (mod, addr, &off, &sym, NULL, NULL, NULL);
      if (elf_name != NULL)
        symbol_address = (uintptr_t) (addr - off);
    }

  GArray *syms = g_array_new (FALSE, TRUE, sizeof (AsyncrtTraceSymbolSpec));
  GPtrArray *raw_names = g_ptr_array_new ();
  uintptr_t dwarf_address = 0;
  if (mod == NULL || !resolve_dwarf (mod, addr, syms, raw_names, &dwarf_address))
    {
      AsyncrtTraceSymbolSpec s = { NULL, NULL, 0, 0 };
      g_array_append_val (syms, s);
      g_ptr_array_add (raw_names, NULL);
    }
  if (symbol_address == 0)
    symbol_address = dwarf_address;

  /* The frame's own function without a DWARF name takes the ELF symbol's. */
  AsyncrtTraceSymbolSpec *outer = &g_array_index (syms, AsyncrtTraceSymbolSpec, syms->len - 1);
  if (outer->name == NULL && elf_name != NULL)
    {
      outer->name = demangle (elf_name);
      raw_names->pdata[syms->len - 1] = (gpointer) elf_name;
    }

  char addr_name[2 + 2 * sizeof (uintptr_t) + 1];
  g_snprintf (addr_name, sizeof addr_name, "0x%" G_GINT64_MODIFIER "x", (guint64) ip);
  for (size_t i = 0; i < syms->len; i++)
    {
      AsyncrtTraceSymbolSpec *s = &g_array_index (syms, AsyncrtTraceSymbolSpec, i);
      if (s->name == NULL)
        s->name = addr_name;
    }

  AsyncrtTraceInfo *info = info_new_locked (symbol_address,
                                            (const AsyncrtTraceSymbolSpec *) (void *) syms->data,
                                            syms->len);
  for (size_t i = 0; i < syms->len; i++)
    {
      const char *raw = g_ptr_array_index (raw_names, i);
      if (raw != NULL)
        info->symbols[i].raw_name = intern_locked (raw);
    }
  g_array_free (syms, TRUE);
  g_ptr_array_free (raw_names, TRUE);
  return info;
}

const AsyncrtTraceInfo *
asyncrt__symbol_resolve (uintptr_t ip)
{
  pthread_mutex_lock (&symbol_lock);
  if (cache == NULL)
    {
      cache = g_hash_table_new (g_direct_hash, g_direct_equal);
      all_infos = g_ptr_array_new ();
    }
  const AsyncrtTraceInfo *info = g_hash_table_lookup (cache, GSIZE_TO_POINTER (ip));
  if (info != NULL)
    {
      stats.hits++;
#ifdef __x86_64__
      /* Its rule was forgotten since (capture.c): learn it again. */
      if (ip > 0 && dwfl != NULL && !asyncrt__trace_walk_knows (ip))
        {
          Dwfl_Module *mod = dwfl_addrmodule (dwfl, ip - 1);
          if (mod != NULL)
            learn_frame_rule (mod, ip);
        }
#endif
    }
  else
    {
      stats.misses++;
      AsyncrtTraceInfo *fresh = resolve_locked (ip);
      g_ptr_array_add (all_infos, fresh);
      g_hash_table_insert (cache, GSIZE_TO_POINTER (ip), fresh);
      info = fresh;
    }
  pthread_mutex_unlock (&symbol_lock);
  return info;
}

void
asyncrt__symbol_revalidate (void)
{
  unsigned long long counts[2] = { 0, 0 };
  dl_iterate_phdr (count_modules, counts);
  pthread_mutex_lock (&symbol_lock);
  /* Only unloads can make a cached answer wrong (new code at a reused address);
   * loads are picked up on the first miss. */
  if (dwfl != NULL && counts[1] != seen_subs)
    report_modules ();
  pthread_mutex_unlock (&symbol_lock);
}

void
asyncrt__symbol_get_stats (AsyncrtSymbolStats *out)
{
  pthread_mutex_lock (&symbol_lock);
  *out = stats;
  pthread_mutex_unlock (&symbol_lock);
}
