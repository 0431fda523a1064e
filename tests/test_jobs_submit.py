"""Each job as a real spark-submit process, on a local master and on a Spark standalone cluster
(a master and a worker started from pyspark's own spark-class)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chispa import assert_df_equality

import pyspark
import sparktrack
from sparktrack.demo import write_churn_table
from sparktrack.jobs import BAD_INPUT, OK
from sparktrack.scoring import LINEAGE_COLUMNS
from sparktrack.testing import fresh_store

from _procs import REPO, SHORT_LIVED_JVM

pytestmark = pytest.mark.slow

SPARK_HOME = Path(pyspark.__file__).resolve().parent
#: A small model: these tests are about the processes, not the model (test_jobs.py checks the gate).
QUICK = ["--set", "estimator.params.maxDepth=3", "--set", "estimator.params.maxIter=3",
         "--set", "gate.greater_than=0.7"]


def spark_submit(job: str, *args: str, tmp_path: Path, java_options: str, master: str = "local[2]",
                 extra_conf: tuple[str, ...] = ()) -> tuple[int, dict, str]:
    """Run jobs/<job>.py with spark-submit and conf/spark-defaults.conf; returns (exit code, the
    job's JSON result line, its whole output). spark-submit's PythonRunner merges the Python
    driver's stderr into its stdout, so the output is stdout and stderr together."""
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "SPARKTRACK_SPOOL_DIR": str(tmp_path / "spool"), "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SPARKTRACK_STORE", None)
    command = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", master,
               "--properties-file", str(REPO / "conf" / "spark-defaults.conf"),
               "--driver-java-options", java_options, "--conf", "spark.sql.shuffle.partitions=2"]
    for setting in extra_conf:
        command += ["--conf", setting]
    command += [str(REPO / "jobs" / f"{job}.py"), *args]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"status": ')]
    return done.returncode, (json.loads(lines[-1]) if lines else {}), done.stdout + done.stderr


@pytest.fixture
def churn(spark, tmp_path):
    path = str(tmp_path / "churn")
    write_churn_table(spark, path, 2000)
    return path


def test_train_then_batch_score_with_spark_submit_and_bad_input_exits_2(spark, tmp_path, churn, java_options):
    from pyspark.sql import functions as F

    store, predictions = str(tmp_path / "store"), str(tmp_path / "predictions")
    code, result, err = spark_submit(
        "train", "--config", str(REPO / "conf" / "jobs" / "train_churn.toml"), "--store", store,
        "--input", churn, *QUICK, tmp_path=tmp_path, java_options=java_options)
    assert code == OK, err[-3000:]
    assert result["status"] == "ok" and result["gate_passed"] is True
    assert (result["registered_name"], result["registered_version"], result["alias_moved"]) == ("churn_gbt", 1, True)
    assert result["input_version"] == 0 and result["metrics"]["accuracy"] > 0.7

    score = ["--config", str(REPO / "conf" / "jobs" / "batch_score_churn.toml"), "--store", store,
             "--output", predictions]
    code, scored, err = spark_submit("batch_score", *score, "--input", churn, tmp_path=tmp_path,
                                     java_options=java_options)
    assert code == OK, err[-3000:]
    assert (scored["rows"], scored["model_name"], scored["model_version"]) == (2000, "churn_gbt", 1)
    assert scored["model_run_id"] == result["run_id"] and scored["flavor"] == "spark"
    table = spark.read.format("delta").load(predictions)
    assert table.columns == ["customer_id", "prediction", *LINEAGE_COLUMNS]
    counts = table.groupBy("batch_id", "model_name", "model_version", "model_run_id").count().collect()
    assert [tuple(row) for row in counts] == [(scored["batch_id"], "churn_gbt", 1, result["run_id"], 2000)]

    # A schema that does not match the signature: exit code 2 from spark-submit, nothing written.
    wrong = str(tmp_path / "wrong")
    spark.read.format("delta").load(churn).withColumn("support_calls", F.col("support_calls").cast("string")) \
        .write.format("delta").save(wrong)
    code, _, err = spark_submit("batch_score", *score, "--input", wrong, tmp_path=tmp_path,
                                java_options=java_options)
    assert code == BAD_INPUT
    assert "error: The input's schema does not match the signature of the model models:/churn_gbt@Champion: " \
           "support_calls is string but the signature has int." in err
    assert spark.sql(f"DESCRIBE HISTORY delta.`{predictions}`").count() == 1
    with fresh_store(spark, root=store):
        run = sparktrack.get_run(result["run_id"])
        assert run.data.params["input_version"] == "0" and run.data.tags["sparktrack.gate.passed"] == "true"


def test_maintenance_compacts_to_fewer_files_with_identical_query_results(spark, tmp_path):
    store = str(tmp_path / "store")
    queries = {
        "metrics": "SELECT run_id, key, value, step FROM {db}.metrics",
        "runs": "SELECT run_id, status, array_sort(map_entries(params)) AS params, "
                "array_sort(map_entries(metrics)) AS metrics FROM {db}.runs",
    }
    with fresh_store(spark, root=store) as client:
        for run_number in range(3):
            with sparktrack.start_run(run_name=f"r{run_number}"):
                for flush in range(4):  # one small file per flush
                    sparktrack.log_metrics({"loss": 1.0 / (flush + 1), "acc": flush / 4}, step=flush)
                    sparktrack.log_param(f"p{flush}", flush)
                    sparktrack.flush()
        before = {name: spark.createDataFrame(sparktrack.sql(q.format(db=client.database)).collect(),
                                              sparktrack.sql(q.format(db=client.database)).schema)
                  for name, q in queries.items()}

        # The job runs on delta-rs: a plain Python process (spark-submit runs it the same way).
        env = {**os.environ, "SPARKTRACK_SPOOL_DIR": str(tmp_path / "spool")}
        done = subprocess.run([sys.executable, str(REPO / "jobs" / "maintenance.py"), "--store", store, "--zorder",
                               "--purge", "--tables", "metrics,params,run_events,runs"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        code, err = done.returncode, done.stdout + done.stderr
        assert code == OK, err[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        reports = {r["table"]: r for r in result["tables"]}
        assert set(reports) == {"metrics", "params", "run_events", "runs"}
        for name, files in (("metrics", 12), ("params", 12), ("run_events", 6)):
            assert reports[name]["files_before"] >= files and reports[name]["files_after"] == 1, reports[name]
            assert reports[name]["stored_files_after"] == 1 < reports[name]["stored_files_before"]
        assert "files before" in err and "run_events" in err  # the table of counts

        for name, query in queries.items():
            after = sparktrack.sql(query.format(db=client.database))
            assert_df_equality(before[name], after, ignore_row_order=True, ignore_nullable=True)


# -- a standalone cluster ------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(path: Path, text: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise AssertionError(f"{process.args[1]} exited: {path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} in {path} after {timeout}s: {path.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def standalone_master(tmp_path):
    """A Spark standalone master and one worker (2 cores, 2 GB) on 127.0.0.1."""
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable, "SPARK_NO_DAEMONIZE": "1"}
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    master_log, worker_log = tmp_path / "master.log", tmp_path / "worker.log"
    processes = []
    try:
        with open(master_log, "w") as log:
            processes.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                 "--port", str(port), "--webui-port", str(_free_port())],
                stdout=log, stderr=subprocess.STDOUT, env=env))
        _wait_for(master_log, "I have been elected leader", processes[0])
        with open(worker_log, "w") as log:
            processes.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                 "--cores", "2", "--memory", "2g", "--webui-port", str(_free_port()),
                 "--work-dir", str(tmp_path / "work"), url],
                stdout=log, stderr=subprocess.STDOUT, env=env))
        _wait_for(worker_log, "Successfully registered with master", processes[1])
        yield url
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_both_jobs_run_on_a_standalone_cluster(spark, tmp_path, churn, standalone_master, java_options):
    store, predictions = str(tmp_path / "store"), str(tmp_path / "predictions")
    on_cluster = dict(tmp_path=tmp_path, java_options=java_options, master=standalone_master,
                      extra_conf=("spark.executor.memory=1g", "spark.cores.max=2",
                                  f"spark.executor.extraJavaOptions={SHORT_LIVED_JVM}"))
    code, trained, err = spark_submit(
        "train", "--config", str(REPO / "conf" / "jobs" / "train_churn.toml"), "--store", store,
        "--input", churn, *QUICK, **on_cluster)
    assert code == OK, err[-3000:]
    assert trained["registered_version"] == 1
    code, scored, err = spark_submit(
        "batch_score", "--model", "models:/churn_gbt@Champion", "--store", store, "--input", churn,
        "--output", predictions, "--id-cols", "customer_id", **on_cluster)
    assert code == OK, err[-3000:]
    assert scored["rows"] == 2000 and scored["model_run_id"] == trained["run_id"]

    # The run was tracked from a cluster application (standalone app ids start with "app-").
    [app] = spark.read.format("delta").load(f"{store}/tables/runs").select("spark_app_id").collect()
    assert app[0].startswith("app-"), app
    assert spark.read.format("delta").load(predictions).count() == 2000


def test_the_monitor_job_refreshes_and_exits_4_when_an_alert_rule_triggers(spark, tmp_path, java_options):
    """jobs/monitor.py by spark-submit: the first run creates the monitor from the config and
    refreshes it; a shifted feature triggers the PSI rule, the job exits 4 and the triggered
    alerts reach the loopback webhook."""
    import numpy as np
    import pandas as pd

    from _alert_sink import AlertSink

    from sparktrack.jobs import ALERT_TRIGGERED

    rng = np.random.default_rng(5)
    table, baseline, store = str(tmp_path / "preds"), str(tmp_path / "train"), str(tmp_path / "store")
    n = 2000
    spark.createDataFrame(pd.DataFrame({
        "ts": pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86_399, n), unit="s"),
        "x": rng.normal(1.0, 1.0, n), "z": rng.normal(0.0, 1.0, n), "prediction": rng.integers(0, 2, n),
    })).write.format("delta").save(table)
    spark.createDataFrame(pd.DataFrame({"x": rng.normal(0.0, 1.0, n), "z": rng.normal(0.0, 1.0, n)})) \
        .write.format("delta").save(baseline)
    with AlertSink() as sink:
        config = tmp_path / "monitor.toml"
        config.write_text(f'[monitor]\ntable = "{table}"\ntimestamp_col = "ts"\nbaseline = "{baseline}"\n'
                          f'columns = ["x", "z"]\nalerts = ["population_stability_index > 0.2"]\n'
                          f'alert_url = "{sink.url}"\n')
        code, result, err = spark_submit("monitor", "--config", str(config), "--store", store,
                                         tmp_path=tmp_path, java_options=java_options)
        assert code == ALERT_TRIGGERED, err[-3000:]
        assert result["status"] == "alert triggered" and result["monitor"] == "created"
        assert result["recomputed_windows"] == {"1 day": 1} and result["triggered"] == 1
        assert result["triggered_rules"] == ["population_stability_index > 0.2"]
        assert len(sink.received) == 1
        (alert,) = sink.received[0]["body"]["alerts"]
    assert (alert["column_name"], alert["state"], alert["window_start"]) == ("x", "TRIGGERED", "2026-03-01T00:00:00+00:00")
    alerts = spark.read.format("delta").load(table + "_alerts").toPandas().set_index("column_name")
    assert alerts.loc["x", "state"] == "TRIGGERED" and alerts.loc["z", "state"] == "OK"
    assert alerts.loc["x", "value"] == alert["value"] > 0.2
