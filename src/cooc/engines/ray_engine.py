"""The engine that runs tasks on a Ray cluster (`pip install 'cooc[ray]'`, imported lazily)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from cooc.errors import CoocError


class RayEngine:
    """Runs tasks on a Ray cluster: `address` None starts a local one (all cores)."""

    name = "ray"

    def __init__(self, address: str | None, threads_per_task: int, memory_per_task: int):
        try:
            import ray
        except ImportError:
            raise CoocError("engine 'ray' needs Ray: pip install 'cooc[ray]'") from None
        self.ray = ray
        self._started = False
        if not ray.is_initialized():
            import logging

            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
            self._started = True
        self.num_threads = threads_per_task
        self.memory = memory_per_task
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        most = max((n["Resources"].get("memory", 0) for n in nodes), default=0)
        if most < memory_per_task:
            self.close()
            raise CoocError(f"a memory budget of {memory_per_task >> 20} MB per task is more "
                            f"than any Ray node offers ({int(most) >> 20} MB); give a smaller one")
        most_cpus = max((n["Resources"].get("CPU", 0) for n in nodes), default=0)
        if most_cpus < threads_per_task:  # no node could ever run a task: refuse, never wait
            self.close()
            raise CoocError(f"{threads_per_task} threads per task is more than any Ray node "
                            f"has CPUs ({int(most_cpus)}); give num_proc <= {int(most_cpus)}")
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.parallelism = max(1, cpus // threads_per_task)

    def put(self, obj):
        return self.ray.put(obj)

    def run(self, fn: Callable, calls: list[tuple]) -> Iterator:
        remote = self.ray.remote(fn).options(num_cpus=self.num_threads, memory=self.memory,
                                             max_retries=2)
        refs = [remote.remote(*args) for args in calls]
        for ref in refs:  # in order; the cluster works on all of them meanwhile
            try:
                result = self.ray.get(ref)
            except self.ray.exceptions.RayTaskError as e:
                # a task's refusal (CoocError, ValueError) reads as it would in this
                # process: one line, not the remote traceback Ray wraps around it
                cause = getattr(e, "cause", None)
                if isinstance(cause, (CoocError, ValueError)):
                    raise cause from None
                raise
            yield result

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False

