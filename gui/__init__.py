"""Qt workbench window over the engine (shows results; never computes them)."""
