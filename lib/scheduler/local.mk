# lib/scheduler: (module not written yet)
