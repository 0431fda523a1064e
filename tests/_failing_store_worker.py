"""A process whose store fails under it, for tests/test_store_failures.py.

Run as ``unshare -rm python _failing_store_worker.py FULL_ROOT READ_ONLY_ROOT POINTS PARAMS``:
``unshare -rm`` gives the process its own user and mount namespaces, so it can mount file systems
that only it sees (this machine runs as root, and chmod does not stop root; a read-only mount
does). The spool (SPARKTRACK_SPOOL_DIR) stays on the normal disk. Each step prints one JSON line
on stdout.

1. disk_full: FULL_ROOT is a 32 MB tmpfs. Fill it with a filler file until ENOSPC, log POINTS
   metric points, PARAMS params and a tag, flush (twice: the commit fails, the spool keeps the
   records), remove the filler, flush again and read every record back.
2. partial: on the same store, make one table's directory read-only (a bind mount), log and
   flush: the other tables take the batch and that one fails, as when a disk fills up part-way
   through a commit. Make it writable again, flush, and read the records back.
3. at_exit: log a few records to that store and leave them buffered, for the exit to commit.
4. read_only: READ_ONLY_ROOT is on the normal disk. Open it, commit a first batch, then remount
   it read-only for this process only, log a second batch, flush (it fails, the spool keeps it)
   and exit without recovering. The test reopens the store from its own process, which sees the
   disk writable, and checks that the spool is replayed.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import subprocess
import sys
import threading
import traceback

from sparktrack import Param, RunTag
from sparktrack.errors import StoreError
from sparktrack.tracking.client import TrackingClient


def say(step: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"step": step, **fields}) + "\n")
    sys.stdout.flush()


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def spooled(spool_dir: str) -> dict[str, int]:
    """Records per table in the spool segments under ``spool_dir``, as a replay reads them."""
    counts: dict[str, int] = {}
    for path in glob.glob(os.path.join(spool_dir, "*.spool")):
        with open(path, "rb") as handle:
            for line in handle:
                table, _ = json.loads(line)
                counts[table] = counts.get(table, 0) + 1
    return counts


def fill(directory: str) -> int:
    """Write a filler file until the file system is full; the bytes written."""
    written, chunk = 0, b"\0" * (1 << 20)
    with open(os.path.join(directory, "filler"), "wb", buffering=0) as handle:
        while chunk:
            try:
                written += handle.write(chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                chunk = chunk[: len(chunk) // 2]  # smaller and smaller writes, down to the last page
    return written


def log_records(client: TrackingClient, run_id: str, steps: range, params: range) -> None:
    for step in steps:
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    client.log_batch(run_id, params=[Param(key=f"p{i}", value=f"v{i}") for i in params],
                     tags=[RunTag(key="phase", value=f"from step {steps.start}")])


def flush(client: TrackingClient) -> dict[str, object]:
    """Flush; the error it raised, if any, and what the spool holds afterwards."""
    result: dict[str, object] = {"error_type": None, "error": None}
    try:
        client.flush()
    except StoreError as error:
        result = {"error_type": "StoreError", "error": str(error)}
    except Exception as error:  # noqa: BLE001 - reported: the test expects a StoreError
        result = {"error_type": f"{type(error).__module__}.{type(error).__name__}", "error": str(error),
                  "traceback": traceback.format_exc()[-4000:]}
    return {**result, "spooled": spooled(client.store.spool_dir)}


def settle(client: TrackingClient) -> None:
    """Wait until the writes a failed flush left running are over. flush() raises at the first
    table that failed while the other tables' writes go on, and one that is still running when
    the space comes back takes the batch, which the next flush then commits again (the bug that
    test_a_commit_that_failed_part_way_commits_each_record_once_on_the_next_flush shows). As many
    tasks as the store's commit pool has threads, queued behind those writes, can only all run
    once the writes are done."""
    pool = client.store.commits._pool
    barrier = threading.Barrier(pool._max_workers + 1)
    for _ in range(pool._max_workers):
        pool.submit(barrier.wait, 600)
    barrier.wait(600)


def committed(client: TrackingClient, run_id: str) -> dict[str, object]:
    """What the tables hold for the run, read from their files, and its metric history through
    the API."""
    return {**table_counts(client, run_id),
            "history_steps": [m.step for m in client.get_metric_history(run_id, "loss")]}


def table_counts(client: TrackingClient, run_id: str) -> dict[str, int]:
    """The run's rows in the metrics and params tables (every write, not the current state)."""
    from sparktrack.store import layout

    metrics = client.store.reads.matching(layout.METRICS, "run_id", run_id)
    params = client.store.reads.matching(layout.PARAMS, "run_id", run_id)
    return {"points": metrics.num_rows, "distinct_steps": len(set(metrics["step"].to_pylist())),
            "param_writes": params.num_rows, "distinct_params": len(set(params["key"].to_pylist()))}


def disk_full(root: str, points: int, params: int) -> tuple[TrackingClient, str]:
    os.makedirs(root, exist_ok=True)
    mount("-t", "tmpfs", "-o", "size=32m", "tmpfs", root)
    client = TrackingClient(root, database="disk_full")
    run_id = client.create_run("0", run_name="disk-full").info.run_id
    client.flush()
    say("disk_full.opened", run_id=run_id, spool_dir=client.store.spool_dir)
    filled, disk = fill(root), os.statvfs(root)
    say("disk_full.filled", bytes=filled, free_bytes=disk.f_bavail * disk.f_frsize)
    log_records(client, run_id, range(points), range(params))
    say("disk_full.flush", **flush(client))
    say("disk_full.flush_again", **flush(client))
    settle(client)
    os.unlink(os.path.join(root, "filler"))
    say("disk_full.recovered", **flush(client), **committed(client, run_id))
    return client, run_id


def partial(client: TrackingClient, run_id: str, root: str, points: int, params: int) -> None:
    table = os.path.join(root, "tables", "params")
    mount("--bind", table, table)
    mount("-o", "remount,bind,ro", table)
    log_records(client, run_id, range(points, 2 * points), range(params, 2 * params))
    say("partial.flush", **flush(client))
    settle(client)
    subprocess.run(["umount", table], check=True)
    say("partial.recovered", **flush(client), **committed(client, run_id))


def read_only(root: str, points: int, params: int) -> None:
    client = TrackingClient(root, database="read_only")
    run_id = client.create_run("0", run_name="read-only").info.run_id
    log_records(client, run_id, range(points), range(params))
    client.flush()
    say("read_only.opened", run_id=run_id, spool_dir=client.store.spool_dir, **committed(client, run_id))
    mount("--bind", root, root)
    mount("-o", "remount,bind,ro", root)
    log_records(client, run_id, range(points, 2 * points), range(params, 2 * params))
    say("read_only.flush", **flush(client))


if __name__ == "__main__":
    full_root, read_only_root, n_points, n_params = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    full, full_run = disk_full(full_root, n_points, n_params)
    partial(full, full_run, full_root, n_points, n_params)
    log_records(full, full_run, range(2 * n_points, 2 * n_points + 10), range(0))
    say("at_exit.logged", points=10)
    read_only(read_only_root, n_points, n_params)
    say("exiting")  # without recovering: atexit closes both stores
