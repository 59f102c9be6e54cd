# lib/queue: (module not written yet)
