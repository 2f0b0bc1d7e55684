"""Executors that run a job's tasks: in this process (tests, the reference) or on a Ray
cluster. A job cuts its work into plain task functions (`fn(*args)`, picklable, results
written to shared storage); an engine only runs them. Products stay engine-free."""

from __future__ import annotations

from cooc.engines.in_process import InProcessEngine
from cooc.engines.ray_engine import RayEngine
from cooc.errors import CoocError
from cooc.options import RunOptions

__all__ = ["InProcessEngine", "RayEngine", "make_engine"]


def make_engine(options: RunOptions):
    if options.engine == "ray":
        return RayEngine(options.address, max(1, options.num_proc), options.resolved_memory())
    if options.engine == "in-process":
        return InProcessEngine(options.resolved_num_proc())
    raise CoocError(f"unknown engine {options.engine!r}; choose local or ray")

