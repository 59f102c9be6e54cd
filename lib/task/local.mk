# lib/task: (module not written yet)
