"""Run independent tasks in-process, on a Dask cluster, or on a local Dask cluster.

One mechanism for every sweep (``mpsim sweep``, ``mpsim grid``): ``fn`` must be a top-level
function (it travels to the workers by pickling) and tasks plain data.  Results come back in
task order whatever the order of completion, so a sweep's table does not depend on where it ran.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from mpsim.errors import MpsimError


def map_tasks(fn: Callable[[Any], Any], tasks: Sequence[Any], *, scheduler: str | None = None,
              workers: int | None = None, progress: Callable[[int], None] | None = None) -> list[Any]:
    if scheduler is None and workers is None:
        out = []
        for i, t in enumerate(tasks):
            out.append(fn(t))
            if progress is not None:
                progress(i + 1)
        return out
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise MpsimError("a Dask cluster needs dask.distributed: pip install 'mpsim[dask]'") from None
    if workers is not None and workers < 1:
        raise MpsimError(f"--workers must be at least 1, got {workers}")
    cluster = None
    try:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise MpsimError(f"cannot reach the Dask scheduler at {scheduler}: {first}") from None
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        with client:
            futures = client.map(fn, list(tasks), pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            for done, f in enumerate(as_completed(futures)):
                if f.status == "error":
                    exc = f.exception()
                    if isinstance(exc, MpsimError):
                        raise exc
                    raise MpsimError(f"task {index[f.key]} failed on the cluster: {type(exc).__name__}: {exc}")
                if progress is not None:
                    progress(done + 1)
            return client.gather(futures)
    finally:
        if cluster is not None:
            cluster.close()
