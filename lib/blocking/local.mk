# lib/blocking: (module not written yet)
