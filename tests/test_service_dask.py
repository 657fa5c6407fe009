"""``service.dask_scheduler``: the service's syncs run as tasks of a Dask cluster.

A real LocalCluster (one worker process) in the test, ``directorsync serve`` as a process pointed
at its scheduler, the simulator over loopback: an apply of core's repos is followed over the
WebSocket to its end; the ledger shows it ran in the worker's process, and the simulator got its
writes.
"""

from __future__ import annotations

import os

from conftest import cli_env, need_samples, new_simulator, writes
from service_process import ServiceProcess, events_of, service_env

from directorsync.ledger.database import open_ledger


def test_syncs_run_on_the_dask_cluster(tmp_path):
    from dask.distributed import Client, LocalCluster

    sim = new_simulator().start()
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    svc = None
    try:
        [worker_pid] = client.run(os.getpid).values()
        env = service_env(
            cli_env(sim, tmp_path),
            need_samples(),
            DSYNC_SERVICE__DASK_SCHEDULER=cluster.scheduler_address,
        )
        svc = ServiceProcess(env, tmp_path / "out")
        with svc.client() as api:
            res = api.post("/api/tenants/core/syncs", json={"options": {"resources": ["repos"]}})
            assert res.status_code == 202, res.text
            sync_id = res.json()["sync_id"]
            names = [e["event"] for e in events_of(svc, sync_id)]
            assert names[0] == "sync.started" and names[-1] == "sync.completed", names
            view = api.get(f"/api/syncs/{sync_id}").json()
            assert view["state"] == "completed" and view["counts"] == {"CREATED": 12}
        ledger = open_ledger(f"sqlite:///{tmp_path / 'reports' / 'ledger.sqlite'}")
        try:
            assert ledger.get_run(sync_id)["pid"] == worker_pid  # ran in the Dask worker
        finally:
            ledger.close()
        assert len(writes(sim)) == 12
    finally:
        if svc is not None:
            svc.stop()
        client.close()
        cluster.close()
        sim.stop()
