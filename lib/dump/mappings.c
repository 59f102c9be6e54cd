/* libasyncrt - the loaded objects of the process and their build ids, for pprof
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One walk of dl_iterate_phdr() (it takes the loader's lock: never from a signal
 * handler, never while workers are stopped; pprof.c calls it while formatting) records
 * every executable PT_LOAD segment of every loaded object: its address range, its
 * offset in the file, the file's name and the object's GNU build id, read from its
 * PT_NOTE segments in memory (they lie in a loaded, readable segment).  No state is
 * kept: the caller owns the array.
 */
#include "dump/dump-private.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

static char *
build_id_of (const struct dl_phdr_info *info)
{
  for (ElfW (Half) i = 0; i < info->dlpi_phnum; i++)
    {
      const ElfW (Phdr) *ph = &info->dlpi_phdr[i];
      if (ph->p_type != PT_NOTE)
        continue;
      size_t align = ph->p_align >= 8 ? 8 : 4;
      const unsigned char *p = (const unsigned char *) (info->dlpi_addr + ph->p_vaddr);
      const unsigned char *end = p + ph->p_memsz;
      while ((size_t) (end - p) >= sizeof (ElfW (Nhdr)))
        {
          const ElfW (Nhdr) *n = (const ElfW (Nhdr) *) (const void *) p;
          size_t name_off = sizeof *n;
          size_t desc_off = name_off + ((n->n_namesz + align - 1) & ~(align - 1));
          size_t next = desc_off + ((n->n_descsz + align - 1) & ~(align - 1));
          if (n->n_namesz > (size_t) (end - p) || n->n_descsz > (size_t) (end - p)
              || next > (size_t) (end - p))
            break;
          if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4
              && memcmp (p + name_off, "GNU", 4) == 0 && n->n_descsz > 0)
            {
              GString *hex = g_string_sized_new (2 * n->n_descsz);
              for (size_t k = 0; k < n->n_descsz; k++)
                g_string_append_printf (hex, "%02x", p[desc_off + k]);
              return g_string_free (hex, FALSE);
            }
          p += next;
        }
    }
  return NULL;
}

static int
add_object (struct dl_phdr_info *info, size_t size, void *data)
{
  (void) size;
  GArray *maps = data;
  char *file = NULL;
  if (info->dlpi_name != NULL && info->dlpi_name[0] != '\0')
    file = g_strdup (info->dlpi_name);
  else if (maps->len == 0)
    {
      /* The first object with no name is the program itself. */
      char buf[4096];
      ssize_t n = readlink ("/proc/self/exe", buf, sizeof buf - 1);
      if (n > 0)
        file = g_strndup (buf, (gsize) n);
    }
  char *build_id = NULL;
  bool first = true;
  for (ElfW (Half) i = 0; i < info->dlpi_phnum; i++)
    {
      const ElfW (Phdr) *ph = &info->dlpi_phdr[i];
      if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || ph->p_memsz == 0)
        continue;
      if (first)
        build_id = build_id_of (info);
      AsyncrtMapping m = {
        .start = info->dlpi_addr + ph->p_vaddr,
        .limit = info->dlpi_addr + ph->p_vaddr + ph->p_memsz,
        .offset = ph->p_offset,
        .file = first ? file : g_strdup (file),
        .build_id = first ? build_id : g_strdup (build_id),
      };
      first = false;
      g_array_append_val (maps, m);
    }
  if (first)
    g_free (file);                  /* no executable segment */
  return 0;
}

static void
mapping_clear (gpointer p)
{
  AsyncrtMapping *m = p;
  g_free (m->file);
  g_free (m->build_id);
}

GArray *
asyncrt__mappings_read (void)
{
  GArray *maps = g_array_new (FALSE, TRUE, sizeof (AsyncrtMapping));
  g_array_set_clear_func (maps, mapping_clear);
  dl_iterate_phdr (add_object, maps);
  return maps;
}

int
asyncrt__mappings_find (const GArray *maps, uintptr_t addr)
{
  for (guint i = 0; i < maps->len; i++)
    {
      const AsyncrtMapping *m = &g_array_index (maps, AsyncrtMapping, i);
      if (addr >= m->start && addr < m->limit)
        return (int) i;
    }
  return -1;
}
