# lib/dump: (module not written yet)
