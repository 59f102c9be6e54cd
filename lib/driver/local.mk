# lib/driver: (module not written yet)
