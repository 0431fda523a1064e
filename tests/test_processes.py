"""Real concurrent processes writing one local store, and a process killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from chispa import assert_df_equality
from pyspark.sql import Row

from sparktrack.testing import fresh_store

WORKER = os.path.join(os.path.dirname(__file__), "_worker.py")


def _env(tmp_path, **extra):
    env = dict(os.environ)
    env.update({
        "SPARKTRACK_SPOOL_DIR": str(tmp_path / "spool"),
        "SPARKTRACK_SPARK_MASTER": "local[1]",
        "PYTHONPATH": os.pathsep.join(filter(None, [os.path.dirname(os.path.dirname(WORKER)), env.get("PYTHONPATH")])),
    })
    env.update(extra)
    return env


@pytest.mark.slow
def test_four_processes_log_to_one_store_and_nothing_is_lost(spark, tmp_path):
    store = str(tmp_path / "store")
    workers, metrics, params, tags = 4, 3000, 20, 5
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, "log", store, "/Shared/concurrent", str(metrics), str(params),
             str(tags), str(w)],
            env=_env(tmp_path, SPARKTRACK_FLUSH_INTERVAL="0.5"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w in range(workers)
    ]
    run_ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        run_ids.append(out.strip().splitlines()[-1])

    with fresh_store(spark, root=store, spool_dir=str(tmp_path / "spool")) as client:
        experiments = spark.sql("SELECT experiment_id FROM sparktrack.experiments WHERE name = '/Shared/concurrent'")
        assert experiments.count() == 1  # concurrent get-or-create made one experiment
        exp_id = experiments.first()["experiment_id"]
        per_run = spark.sql(f"""
            SELECT run_id, count(*) AS points, count(DISTINCT step) AS steps
            FROM sparktrack.metrics WHERE run_id IN ({",".join(f"'{r}'" for r in run_ids)})
            GROUP BY run_id ORDER BY run_id
        """)
        expected = spark.createDataFrame(
            [Row(run_id=r, points=metrics, steps=metrics) for r in sorted(run_ids)]
        )
        assert_df_equality(per_run, expected, ignore_nullable=True)
        runs = client.search_runs([exp_id], output_format="list")
        assert sorted(r.info.run_id for r in runs) == sorted(run_ids)
        for run in runs:
            worker = run.info.run_name.split("-")[1]
            assert run.info.status == "FINISHED"
            assert run.data.params == {f"p{i}": f"{worker}-{i}" for i in range(params)}
            assert {k: v for k, v in run.data.tags.items() if k.startswith("t")} == {
                f"t{i}": worker for i in range(tags)
            }
        param_rows = spark.sql(f"SELECT count(*) AS n FROM sparktrack.params_log WHERE run_id IN ({','.join(repr(r) for r in run_ids)})")
        assert param_rows.first()["n"] == workers * params  # exactly once


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [300, 4000])
def test_sigkill_mid_run_loses_nothing_acknowledged(spark, tmp_path, kill_after):
    store = str(tmp_path / "store")
    proc = subprocess.Popen(
        [sys.executable, WORKER, "crash", store, "1000000"],
        env=_env(tmp_path, SPARKTRACK_FLUSH_INTERVAL="0.2", SPARKTRACK_FLUSH_SIZE="1000"),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    run_id, acked = None, -1
    deadline = time.time() + 300
    for line in proc.stdout:
        if line.startswith("run "):
            run_id = line.split()[1]
        elif line.startswith("ack "):
            acked = int(line.split()[1])
            if acked >= kill_after:
                break
        assert time.time() < deadline, "the worker never got going"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert run_id is not None and acked >= kill_after
    assert os.listdir(tmp_path / "spool"), "the killed process left its spool behind"

    # Opening the store replays the dead process's spool.
    with fresh_store(spark, root=store, spool_dir=str(tmp_path / "spool")):
        pass
    assert not [f for f in os.listdir(tmp_path / "spool" / os.listdir(tmp_path / "spool")[0])]
    steps = spark.sql(
        f"SELECT count(*) AS n, count(DISTINCT step) AS d, min(step) AS lo, max(step) AS hi "
        f"FROM delta.`{store}/tables/metrics` WHERE run_id = '{run_id}'"
    ).first()
    assert steps["n"] == steps["d"], "a replayed batch was committed twice"
    assert steps["lo"] == 0 and steps["hi"] >= acked and steps["n"] == steps["hi"] + 1
    assert spark.sql(f"SELECT count(*) AS n FROM delta.`{store}/tables/runs` WHERE run_id = '{run_id}'").first()["n"] == 1
