"""The jitted kernels (the only modules that import numba) and their record dtypes."""
