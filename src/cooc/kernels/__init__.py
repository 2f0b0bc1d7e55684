"""Compiled kernels: pure functions over numpy arrays, no Python objects inside.

Every kernel here has a slow reference in `tests/reference.py` and a property test comparing
the two. Kernels are `nogil` so the orchestration layer can run them on a thread pool.
"""
