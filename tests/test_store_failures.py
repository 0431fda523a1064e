"""A full disk and a read-only store: a clear error, and the spool keeps every record until the
store takes it, exactly once.

One worker process (tests/_failing_store_worker.py) runs every scenario against stores that it
mounts in its own mount namespace, and reports each step as a JSON line; the tests read those
lines, the spool it left behind, and the read-only store, reopened from this process.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from _failing_store_worker import spooled, table_counts
from _procs import REPO, worker_env
from sparktrack.testing import fresh_store

pytestmark = pytest.mark.slow

WORKER = str(REPO / "tests" / "_failing_store_worker.py")
POINTS, PARAMS = 200, 20
#: What one flush of log_records leaves spooled: the points, the params and one tag.
BATCH = {"metrics": POINTS, "params": PARAMS, "tags": 1}


@dataclass(frozen=True)
class WorkerRun:
    steps: dict[str, dict]  # each JSON line, by its "step"
    stderr: str
    read_only_root: Path
    spool: Path


def _namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="module")
def worker(tmp_path_factory) -> WorkerRun:
    if not _namespaces_work():
        pytest.skip("needs `unshare -rm` (user and mount namespaces) to mount a small or read-only store")
    tmp = tmp_path_factory.mktemp("failing-store")
    # Only explicit flushes commit.
    env = worker_env(tmp, SPARKTRACK_FLUSH_INTERVAL="3600")
    proc = subprocess.run(
        ["unshare", "-rm", sys.executable, WORKER, str(tmp / "full"), str(tmp / "read-only"), str(POINTS),
         str(PARAMS)],
        env=env, capture_output=True, text=True, timeout=900,
    )
    stderr = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith('{"ts"'))
    assert proc.returncode == 0, stderr[-5000:]
    steps = {}
    for line in proc.stdout.splitlines():
        if line.startswith('{"step"'):
            step = json.loads(line)
            steps[step["step"]] = step
    assert "exiting" in steps, (proc.stdout[-3000:], stderr[-5000:])
    return WorkerRun(steps=steps, stderr=stderr, read_only_root=tmp / "read-only",
                     spool=Path(env["SPARKTRACK_SPOOL_DIR"]))


def test_a_full_disk_gives_a_store_error_naming_the_cause_and_the_spool_keeps_the_records(worker):
    steps = worker.steps
    assert steps["disk_full.filled"]["free_bytes"] == 0
    spool_dir = steps["disk_full.opened"]["spool_dir"]
    for name in ("disk_full.flush", "disk_full.flush_again"):  # a second try while still full
        step = steps[name]
        assert step["error_type"] == "StoreError", step.get("traceback") or step["error"]
        assert step["error"].startswith("Could not commit ")
        assert "No space left on device" in step["error"]
        assert f"They stay spooled under {spool_dir} and are committed on the next try" in step["error"]
        assert step["spooled"] == BATCH
    recovered = steps["disk_full.recovered"]
    assert recovered["error"] is None and recovered["spooled"] == {}
    assert (recovered["points"], recovered["distinct_steps"]) == (POINTS, POINTS)  # each point once
    assert recovered["history_steps"] == list(range(POINTS))
    assert (recovered["param_writes"], recovered["distinct_params"]) == (PARAMS, PARAMS)


def test_the_full_disk_error_is_one_short_paragraph_about_the_whole_batch(worker):
    error = worker.steps["disk_full.flush"]["error"]
    assert "\tat " not in error and len(error) < 1000, f"{len(error)} characters"
    assert f"Could not commit {sum(BATCH.values())} records" in error


def test_a_commit_that_failed_part_way_commits_each_record_once_on_the_next_flush(worker):
    failed, recovered = worker.steps["partial.flush"], worker.steps["partial.recovered"]
    assert failed["error_type"] == "StoreError" and "Read-only file system" in failed["error"]
    assert failed["spooled"] == BATCH  # the whole batch stays spooled, though some tables took it
    assert recovered["error"] is None and recovered["spooled"] == {}
    assert (recovered["param_writes"], recovered["distinct_params"]) == (2 * PARAMS, 2 * PARAMS)
    assert recovered["history_steps"] == list(range(2 * POINTS))
    assert (recovered["points"], recovered["distinct_steps"]) == (2 * POINTS, 2 * POINTS)


def test_a_read_only_store_keeps_records_spooled_until_a_process_that_can_write_replays_them(worker):
    opened, failed = worker.steps["read_only.opened"], worker.steps["read_only.flush"]
    run_id, spool_dir = opened["run_id"], opened["spool_dir"]
    assert (opened["points"], opened["param_writes"]) == (POINTS, PARAMS)  # the first batch committed
    assert failed["error_type"] == "StoreError", failed.get("traceback") or failed["error"]
    assert failed["error"].startswith("Could not commit ")
    assert "Read-only file system" in failed["error"]
    assert f"They stay spooled under {spool_dir}" in failed["error"]
    assert failed["spooled"] == BATCH
    # The worker exited without committing them (its exit-time commit failed too): they are on disk.
    assert spooled(spool_dir) == BATCH
    assert f"{sum(BATCH.values())} records stay spooled in {spool_dir}" in worker.stderr

    with fresh_store(root=str(worker.read_only_root), spool_dir=str(worker.spool)) as client:
        history = client.get_metric_history(run_id, "loss")
        assert [m.step for m in history] == list(range(2 * POINTS))  # each point once
        counts = table_counts(client.tracking, run_id)
        assert (counts["param_writes"], counts["distinct_params"]) == (2 * PARAMS, 2 * PARAMS)
        assert client.get_run(run_id).data.tags["phase"] == f"from step {POINTS}"
        assert spooled(spool_dir) == {} and not glob.glob(os.path.join(spool_dir, "*.lock"))


def test_records_left_buffered_are_committed_when_the_process_exits(worker):
    spool_dir = worker.steps["disk_full.opened"]["spool_dir"]
    assert worker.steps["at_exit.logged"]["points"] == 10
    said = [line for line in worker.stderr.splitlines() if line.startswith("sparktrack:")]
    assert spooled(spool_dir) == {}, said
