# lib/sync: (module not written yet)
