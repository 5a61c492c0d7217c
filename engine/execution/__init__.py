"""Where work runs: the warm process pool, shared memory, executors, Dask, the job hosts."""
