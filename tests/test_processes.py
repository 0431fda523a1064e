"""Real concurrent processes writing one store, on local disk and on an S3 server, and processes
killed mid-logging and mid-commit. The workers are plain Python: tracking and the registry need
no JVM."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow.compute as pc
import pytest

from _procs import WORKER, worker_env
from sparktrack.store import layout
from sparktrack.testing import fresh_store

pytestmark = pytest.mark.slow


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path):
    """The store's root: on local disk, or in a bucket of the S3 server."""
    if request.param == "local":
        return str(tmp_path / "store")
    return request.getfixturevalue("s3_store")


def test_eight_processes_log_and_race_the_registry_and_every_record_is_there_once(root, tmp_path):
    store = root
    workers, metrics, params, tags = 8, 10_000, 50, 50
    env = worker_env(tmp_path, SPARKTRACK_FLUSH_INTERVAL="1")
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, "log_and_register", store, "/Shared/concurrent", str(metrics),
             str(params), str(tags), str(w)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w in range(workers)
    ]
    run_ids, versions = {}, {}
    for w, proc in enumerate(procs):
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        run_id, version = out.strip().splitlines()[-1].split()
        run_ids[w], versions[w] = run_id, int(version)

    with fresh_store(root=store, spool_dir=str(tmp_path / "spool")) as client:
        reads = client.store.reads
        [experiment] = [e for e in client.search_experiments() if e.name == "/Shared/concurrent"]  # one, raced
        points = reads.rows(layout.METRICS)
        for run_id in run_ids.values():  # every point once: no record committed twice
            steps = points.filter(pc.equal(points["run_id"], run_id))["step"].to_pylist()
            assert len(steps) == metrics and sorted(steps) == list(range(metrics)), run_id
        for table in (layout.PARAMS, layout.TAGS):
            rows = reads.rows(table)
            written = Counter(zip(rows["run_id"].to_pylist(), rows["key"].to_pylist()))
            ours = {k: n for k, n in written.items() if k[0] in run_ids.values() and k[1][1:].isdigit()}
            assert len(ours) == workers * params and set(ours.values()) == {1}, table.name
        runs = client.search_runs([experiment.experiment_id], output_format="list")
        assert sorted(r.info.run_id for r in runs) == sorted(run_ids.values())
        for run in runs:
            worker = run.info.run_name.split("-")[1]
            assert run.info.status == "FINISHED"
            assert run.data.params == {f"p{i}": f"{worker}-{i}" for i in range(params)}
            assert {k: v for k, v in run.data.tags.items() if k.startswith("t")} == {f"t{i}": worker for i in range(tags)}

        # The registry race: versions unique and consecutive, each alias on an existing version,
        # and the audit log holds every change, in an order that explains the final Champion.
        assert sorted(versions.values()) == list(range(1, workers + 1))
        model_versions = client.search_model_versions("name = 'raced'")
        assert sorted((v.version, v.source) for v in model_versions) == sorted(
            (versions[w], f"/models/m{w}") for w in range(workers))
        aliases = client.get_registered_model("raced").aliases
        assert {k: v for k, v in aliases.items() if k != "Champion"} == {f"w{w}": versions[w] for w in range(workers)}
        audit = client.audit_log()
        assert list(audit["action"]).count("create_model") == 1
        assert sorted(audit[audit["action"] == "create_version"]["version"]) == list(range(1, workers + 1))
        champion_moves = [int(after) for action, key, after in zip(audit["action"], audit["key"], audit["after"])
                          if action == "set_alias" and key == "Champion"]
        assert sorted(champion_moves) == list(range(1, workers + 1))
        assert aliases["Champion"] == champion_moves[-1]


@dataclass
class Kill:
    run_id: str
    acked: int  # the last step whose log_metric returned before the kill
    mid_commit: bool  # a commit had begun and not ended when the process died


def _kill_one(proc: subprocess.Popen, mid_commit: bool, rng: random.Random) -> Kill:
    """Read the worker's lines and SIGKILL it: just after its n-th commit begins (mid-commit), or
    some acks after its n-th commit ended (mid-logging). Then read the lines it wrote before dying
    to see which it was."""
    run_id, acked, open_commit, ended, acks_since_end = None, -1, None, 0, 0
    nth, acks_to_wait, deadline = rng.randint(1, 3), rng.randint(1, 200), time.monotonic() + 300
    for line in proc.stdout:
        kind, value, *rest = line.split()
        if kind == "run":
            run_id = value
        elif kind == "ack":
            acked, acks_since_end = int(value), acks_since_end + 1
        elif rest == ["begin"]:
            open_commit = int(value)
        elif rest == ["end"]:
            open_commit, ended, acks_since_end = None, ended + 1, 0
        if mid_commit and open_commit is not None and open_commit >= nth:
            time.sleep(rng.uniform(0, 0.005))  # a commit takes some 10-30 ms: kill inside it
            break
        if not mid_commit and ended >= nth and acks_since_end >= acks_to_wait:
            break
        assert time.monotonic() < deadline, "the worker never reached its kill point"
    else:
        raise AssertionError(f"the worker exited (or stopped printing) before its kill point: {proc.poll()}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    for line in proc.stdout:  # lines written before the kill landed
        kind, value, *rest = line.split()
        if kind == "ack":
            acked = int(value)
        elif rest:
            open_commit = int(value) if rest == ["begin"] else None
    assert run_id is not None
    return Kill(run_id=run_id, acked=acked, mid_commit=open_commit is not None)


def test_sigkill_at_20_points_mid_logging_and_mid_commit_loses_nothing_acknowledged(spark, tmp_path):
    """Twenty workers on one store, four at a time: each is killed and another starts in its place.
    Each worker opens the store (replaying the spools of the killed workers before it, beside the
    live ones), logs, and is killed; the last open replays the rest. Every acknowledged step must
    be committed exactly once and every table readable."""
    store = str(tmp_path / "store")
    # Commits come only from the one-second timer, which starts when the last commit ends: a size
    # trigger reached during a slow commit would start the next at once, leaving no gap to kill in
    # mid-logging.
    env = worker_env(tmp_path, SPARKTRACK_FLUSH_INTERVAL="1", SPARKTRACK_FLUSH_SIZE="10000000")

    failed = threading.Event()  # one slot failing stops the others

    def slot(number: int) -> list[Kill]:
        rng, kills = random.Random(20 + number), []
        for turn in range(5):
            if failed.is_set():
                break
            with subprocess.Popen([sys.executable, WORKER, "crash", store, "1000000"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
                watchdog = threading.Timer(300, proc.kill)  # a silent worker fails the test, not hangs it
                watchdog.start()
                try:
                    kills.append(_kill_one(proc, mid_commit=(number + turn) % 2 == 0, rng=rng))
                except BaseException:
                    failed.set()
                    raise
                finally:
                    watchdog.cancel()
                    proc.kill()
        return kills

    with ThreadPoolExecutor(4) as slots:  # no generations: a slow worker holds up only its slot
        kills = [kill for killed in slots.map(slot, range(4)) for kill in killed]
    assert len(kills) == 20
    assert sum(k.mid_commit for k in kills) >= 5 and sum(not k.mid_commit for k in kills) >= 5, kills
    assert os.listdir(tmp_path / "spool"), "the killed processes left their spools behind"

    with fresh_store(spark, root=store, spool_dir=str(tmp_path / "spool")) as client:
        steps = {r.run_id: r for r in client.sql(f"""
            SELECT run_id, count(*) AS n, count(DISTINCT step) AS d, min(step) AS lo, max(step) AS hi
            FROM {client.database}.metrics GROUP BY run_id""").collect()}
        runs = client.sql(f"SELECT run_id, count(*) AS n FROM {client.database}.runs_log GROUP BY run_id").collect()
        for table in layout.ALL_TABLES:  # every table reads back whole, in both engines: no torn commit
            assert spark.read.format("delta").load(f"{store}/tables/{table.name}").count() == \
                client.store.reads.rows(table).num_rows, table.name
    for kill in kills:
        found = steps[kill.run_id]
        assert found.n == found.d, f"a replayed batch was committed twice: {kill}, {found}"
        assert found.lo == 0 and found.hi >= kill.acked and found.n == found.hi + 1, (kill, found)
    assert sorted((r.run_id, r.n) for r in runs) == sorted((k.run_id, 1) for k in kills)
    [spool] = os.listdir(tmp_path / "spool")
    assert os.listdir(tmp_path / "spool" / spool) == [], "a spool was left unreplayed"


_APPENDER = """
import sys
import pyarrow as pa
import pyarrow.fs as pafs
from sparktrack.engine.delta import DeltaTables

root, worker = sys.argv[1], int(sys.argv[2])
tables = DeltaTables(root, {}, pafs.LocalFileSystem())
for i in range(60):
    tables.append("t", pa.table({"worker": [worker], "i": [i]}))
"""


def test_four_processes_appending_to_one_table_compact_it_and_keep_each_row_once(tmp_path):
    """Small tables are rewritten as one file by whoever commits to them past 32 files; with four
    processes appending one row per commit, rewrites race each other and the appends. Each row
    must be there exactly once (delta-rs's own OPTIMIZE, raced this way, doubles rows)."""
    import pyarrow as pa
    import pyarrow.fs as pafs
    from deltalake import DeltaTable

    from sparktrack.engine.delta import AUTO_COMPACT_FILES, DeltaTables

    root = f"file:{tmp_path}"
    tables = DeltaTables(root, {}, pafs.LocalFileSystem())
    tables.create("t", pa.schema([("worker", pa.int64()), ("i", pa.int64())]))
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, root, str(w)], env=worker_env(tmp_path))
             for w in range(4)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]

    table = DeltaTable(f"{root}/t")
    rows = sorted(zip(*table.to_pyarrow_table().to_pydict().values()))
    assert rows == sorted((w, i) for w in range(4) for i in range(60))
    rewrites = [h for h in table.history() if h.get("userMetadata") == "sparktrack: compaction"]
    assert rewrites, "240 one-row commits should have rewritten the table at least once"
    assert len(table.file_uris()) <= AUTO_COMPACT_FILES + 4
