"""What Spark sees of the store: the views in the ``sparktrack`` database over the tables delta-rs
writes, agreeing with the folds the Python API does, and ``output_format="spark"``."""

from __future__ import annotations

import math

import pytest
from chispa import assert_df_equality
from pyspark.sql import Row
from pyspark.sql import functions as F

import sparktrack
from _runs import three_runs
from sparktrack.entities import to_millis


def test_best_accuracy_per_param_is_one_sql_statement(spark_client):
    exp, _ = three_runs()
    with sparktrack.start_run():
        sparktrack.log_params({"max_depth": 2})
        sparktrack.log_metric("accuracy", 0.95)
    best = sparktrack.sql(f"""
        SELECT params['max_depth'] AS max_depth, max(metrics['accuracy']) AS best_accuracy
        FROM sparktrack.runs WHERE experiment_id = '{exp.experiment_id}'
        GROUP BY 1 ORDER BY 1
    """)
    expected = spark_client.spark.createDataFrame(
        [Row(max_depth="2", best_accuracy=0.95), Row(max_depth="4", best_accuracy=0.90),
         Row(max_depth="6", best_accuracy=0.85)]
    )
    assert_df_equality(best, expected, ignore_nullable=True)


def test_register_views_in_any_session_and_the_spark_output_format(spark_client, spark):
    exp, ids = three_runs()
    assert sparktrack.register_views(spark) == "sparktrack"
    assert spark.sql(f"SELECT count(*) FROM sparktrack.runs WHERE experiment_id = '{exp.experiment_id}'").first()[0] == 3
    frame = sparktrack.search_runs(
        experiment_names=["/search"], filter_string="attributes.run_name IN ('d2', 'd6')",
        order_by=["attributes.run_name"], output_format="spark",
    ).select("run_name", F.col("metrics")["accuracy"].alias("accuracy"))
    expected = spark.createDataFrame([Row(run_name="d2", accuracy=0.80), Row(run_name="d6", accuracy=0.85)])
    assert_df_equality(frame, expected, ignore_nullable=True)
    top = sparktrack.search_runs(order_by=["metrics.accuracy DESC"], max_results=2, output_format="spark")
    assert [r.run_id for r in top.collect()] == [ids[4], ids[6]]
    assert spark_client.search_runs([exp.experiment_id], "metrics.accuracy > 5", output_format="spark").count() == 0


def test_sql_tables_hold_full_history_and_match_get_run(spark_client):
    with sparktrack.start_run() as run:
        for step in range(5):
            sparktrack.log_metric("loss", 1.0 / (step + 1), step=step)
        sparktrack.log_param("p", "v")
    history = sparktrack.sql(
        f"SELECT step, value FROM sparktrack.metrics WHERE run_id = '{run.info.run_id}' ORDER BY step")
    expected = spark_client.spark.createDataFrame([Row(step=s, value=1.0 / (s + 1)) for s in range(5)])
    assert_df_equality(history, expected, ignore_nullable=True)


def test_a_delta_scan_logged_as_input_records_the_version_read_and_the_app_id(spark_client, tmp_path):
    spark = spark_client.spark
    path = str(tmp_path / "train")
    spark.range(10).write.format("delta").save(path)
    spark.range(10, 20).write.format("delta").mode("append").save(path)
    latest = spark.read.format("delta").load(path)
    first = spark.read.format("delta").option("versionAsOf", 0).load(path)
    with sparktrack.start_run() as run:
        sparktrack.log_input(latest, context="training")
        sparktrack.log_input(first, context="baseline", name="train_v0")
        sparktrack.log_input(path, context="by-path")  # read by delta-rs: the same table and version
    rows = sparktrack.sql(
        f"SELECT name, source_type, delta_version, context FROM sparktrack.inputs "
        f"WHERE run_id = '{run.info.run_id}' ORDER BY delta_version, context"
    )
    expected = spark.createDataFrame([
        Row(name="train_v0", source_type="delta", delta_version=0, context="baseline"),
        Row(name="train", source_type="delta", delta_version=1, context="by-path"),
        Row(name="train", source_type="delta", delta_version=1, context="training"),
    ])
    assert_df_equality(rows, expected, ignore_nullable=True)
    sources = {r.source for r in sparktrack.sql(
        f"SELECT source FROM sparktrack.inputs WHERE run_id = '{run.info.run_id}'").collect()}
    assert sources == {f"file:{path}"}
    assert sparktrack.get_run(run.info.run_id).info.spark_app_id == spark.sparkContext.applicationId
    with sparktrack.start_run() as other:
        sparktrack.log_metric("m", 1.0)
    for text, expected in (("datasets.context = 'baseline'", [run.info.run_id]), ("datasets.name LIKE 'train%'",
                           [run.info.run_id]), ("datasets.name IN ('nothing')", [])):
        listed = [r.info.run_id for r in sparktrack.search_runs(filter_string=text, output_format="list")]
        compiled = [r.run_id for r in sparktrack.search_runs(filter_string=text, output_format="spark").collect()]
        assert listed == compiled == expected, text
    assert other.info.run_id not in listed


def _latest_from_history(spark, database):
    """latest_metrics as the full history defines it: the greatest (step, timestamp, value)."""
    return spark.sql(f"""
        SELECT run_id, key, p.value, p.step, p.timestamp FROM (
            SELECT run_id, key, max_by(struct(value, step, timestamp), struct(step, timestamp, value)) AS p
            FROM {database}.metrics GROUP BY run_id, key)""")


def test_latest_metrics_agree_with_the_full_history_across_commits(spark_client):
    client = spark_client
    with sparktrack.start_run() as run:
        client.log_metric(run.info.run_id, "loss", 0.5, step=3, timestamp=1_000)
        client.log_metric(run.info.run_id, "loss", 0.9, step=1, timestamp=9_000)  # an older step, later
        client.flush()
        client.log_metric(run.info.run_id, "loss", 0.7, step=3, timestamp=2_000)  # same step, later
        client.log_metric(run.info.run_id, "tie", 1.0, step=0, timestamp=5)
        client.log_metric(run.info.run_id, "tie", math.nan, step=0, timestamp=5)  # NaN sorts highest
        client.log_metric(run.info.run_id, "tie", 2.0, step=0, timestamp=5)
        client.flush()
        client.log_metric(run.info.run_id, "loss", 0.6, step=2, timestamp=99_000)  # an older step
    latest = sparktrack.sql(f"SELECT run_id, key, value, step, timestamp FROM {client.database}.latest_metrics")
    assert_df_equality(latest, _latest_from_history(client.spark, client.database), ignore_row_order=True,
                       ignore_nullable=True, allow_nan_equality=True)
    metrics = sparktrack.get_run(run.info.run_id).data.metrics
    assert metrics["loss"] == 0.7 and math.isnan(metrics["tie"])


def test_search_results_fold_the_rows_as_the_runs_view_does(spark_client):
    # search_runs folds raw rows in Arrow; the view folds them in Spark. They must agree on every
    # rule: latest status and lifecycle event, first param value, latest tag event (a delete
    # removes it), and a metric's greatest (step, timestamp, value) with NaN above numbers.
    client = spark_client
    exp = sparktrack.set_experiment("/fold")
    with sparktrack.start_run() as first:
        sparktrack.log_param("p", "kept")
        sparktrack.set_tag("t", "old")
        sparktrack.set_tag("t", "new")
        sparktrack.set_tag("gone", "x")
        sparktrack.delete_tag("gone")
        sparktrack.log_metric("m", 1.0, step=0)
        sparktrack.log_metric("m", float("nan"), step=1)
        sparktrack.log_metric("k", 2.0, step=5)
        sparktrack.log_metric("k", 3.0, step=4)
        sparktrack.log_metric("same", 1.0, step=7, timestamp=1000)
        sparktrack.log_metric("same", 0.5, step=7, timestamp=1000)
    second = client.create_run(exp.experiment_id, run_name="second")
    client.log_metric(second.info.run_id, "m", 0.5)
    client.set_terminated(second.info.run_id, "FAILED")
    third = client.create_run(exp.experiment_id)
    client.delete_run(third.info.run_id)
    client.restore_run(third.info.run_id)

    found = client.search_runs([exp.experiment_id], order_by=["metrics.m DESC"], output_format="list")
    # Numbers, then NaN, then missing.
    assert [r.info.run_id for r in found] == [second.info.run_id, first.info.run_id, third.info.run_id]
    frame = client.search_runs([exp.experiment_id], order_by=["metrics.m DESC"], output_format="spark")
    rows = frame.collect()
    assert [row.run_id for row in rows] == [r.info.run_id for r in found]  # the same order in Spark
    for run, row in zip(found, rows):
        for name in ("experiment_id", "run_name", "user_id", "status", "lifecycle_stage", "artifact_uri"):
            assert getattr(run.info, name) == row[name], name
        assert (run.info.start_time, run.info.end_time) == (to_millis(row.start_time), to_millis(row.end_time))
        assert run.data.params == row.params and run.data.tags == row.tags
        assert run.data.metrics.keys() == row.metrics.keys()
        for key, value in run.data.metrics.items():
            assert value == row.metrics[key] or (math.isnan(value) and math.isnan(row.metrics[key]))
    one = found[1]
    assert one.data.params == {"p": "kept"} and one.data.tags.get("t") == "new" and "gone" not in one.data.tags
    assert math.isnan(one.data.metrics["m"]) and one.data.metrics["k"] == 2.0 and one.data.metrics["same"] == 1.0
    assert (found[0].info.status, one.info.status, found[2].info.status) == ("FAILED", "FINISHED", "RUNNING")


def test_experiment_folds_agree_with_the_experiments_view(spark_client):
    import time

    client = spark_client
    ids = [client.create_experiment(f"/fold/{i}", tags={"team": "a", "n": str(i)}) for i in range(3)]
    for change in (lambda: client.set_experiment_tag(ids[0], "team", "b"),
                   lambda: client.delete_experiment(ids[1]),
                   lambda: client.restore_experiment(ids[1]),
                   lambda: client.delete_experiment(ids[1])):
        time.sleep(0.01)
        change()
    viewed = {r.experiment_id: r for r in sparktrack.sql(
        "SELECT * FROM sparktrack.experiments WHERE name LIKE '/fold/%'").collect()}
    for experiment in client.search_experiments("ALL", filter_string="name LIKE '/fold/%'"):
        row = viewed[experiment.experiment_id]
        assert (experiment.name, experiment.lifecycle_stage, dict(experiment.tags)) == (
            row.name, row.lifecycle_stage, dict(row.tags))
        assert (experiment.creation_time, experiment.last_update_time) == (
            to_millis(row.creation_time), to_millis(row.last_update_time))


@pytest.mark.slow
def test_a_session_without_delta_gets_an_error_naming_the_settings(tmp_path):
    import subprocess
    import sys

    code = (
        "from pyspark.sql import SparkSession\n"
        "SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false').getOrCreate()\n"
        "import sparktrack\n"
        "from sparktrack.errors import SessionError\n"
        f"sparktrack.set_tracking_uri({str(tmp_path / 'store')!r})\n"
        "try:\n"
        "    sparktrack.sql('SELECT * FROM sparktrack.runs')\n"
        "except SessionError as exc:\n"
        "    print('SessionError:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "SessionError: The SparkSession has no Delta Lake support" in out.stdout, out.stderr[-2000:]
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in out.stdout


def test_closing_a_store_releases_what_delta_cached_for_its_tables(spark):
    # Without this, each store whose views a long session (a notebook, this test suite) used kept
    # about 20 MB of driver heap, and the suite ran out of memory.
    from sparktrack.testing import fresh_store

    delta_log = getattr(getattr(spark._jvm.org.apache.spark.sql.delta, "DeltaLog$"), "MODULE$")
    before = delta_log.cacheSize()
    with fresh_store(spark):
        with sparktrack.start_run():
            sparktrack.log_metric("m", 1.0)
        sparktrack.sql("SELECT count(*) FROM sparktrack.runs").collect()
        assert delta_log.cacheSize() > before
    assert delta_log.cacheSize() == before
