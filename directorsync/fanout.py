"""Jobs fanned out to Dask distributed: a LocalCluster here, or a scheduler's workers.

``directorsync run --executor dask`` (tenant notebooks) and ``directorsync drift --tenants all``
with ``drift.executor: dask`` (the fleet gate) both hand a list of jobs to :func:`on_dask` and get
one result per job back, in the jobs' order, as each finishes (``on_done``); a job whose worker
died gives ``on_error(job, exc)`` instead of a result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def on_dask(
    run: Callable[[Any], Any],
    jobs: list[Any],
    *,
    key: Callable[[Any], str],
    on_error: Callable[[Any, BaseException], Any],
    on_done: Callable[[Any], None] | None = None,
    scheduler: str | None = None,
    local: dict[str, Any] | None = None,
) -> list[Any]:
    """``[run(job) for job in jobs]`` on Dask; results in the jobs' order.

    Args:
        run: the function a worker calls with one job.
        jobs: the jobs (picklable).
        key: a job's Dask task key (unique per job and run).
        on_error: the result of a job whose task failed (its worker died).
        on_done: called with each result as soon as its job ends.
        scheduler: a Dask scheduler's address; None: a LocalCluster made (and closed) here.
        local: the LocalCluster's arguments (``n_workers``, ``threads_per_worker``,
            ``processes``).
    """
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(dashboard_address=None, **(local or {}))
        client = Client(cluster)
    results: dict[int, Any] = {}
    try:
        futures = {
            client.submit(run, job, key=key(job), pure=False): i for i, job in enumerate(jobs)
        }
        for future in dask_completed(list(futures)):
            i = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - the worker died: the job's own result
                result = on_error(jobs[i], exc)
            results[i] = result
            if on_done:
                on_done(result)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return [results[i] for i in range(len(jobs))]
