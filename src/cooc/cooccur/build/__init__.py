"""Orchestration: batching, threads, memory budget, spills and merges, progress.

Nothing here loops over tokens or pairs in Python; the loops live in `cooc.kernels`.
"""
