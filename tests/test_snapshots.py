"""Local snapshots (the store's tables read with pyarrow from their Delta logs) against Spark's
reads of the same tables: after many commits and checkpoints, after OPTIMIZE, after log clean-up,
the tables they must leave to Spark, and one run's rows read by the files' statistics."""

from __future__ import annotations

import glob
import os

import pyarrow as pa
import pytest
from chispa import assert_df_equality

import sparktrack
from sparktrack.store import tables
from sparktrack.store.maintenance import maintain
from sparktrack.store.snapshots import LocalSnapshots, _may_hold


def _assert_same_rows(spark, snapshot: pa.Table, path: str) -> None:
    table_schema = spark.read.format("delta").load(path).schema
    ours = spark.createDataFrame(snapshot.to_pylist(), schema=table_schema) if snapshot.num_rows else \
        spark.createDataFrame([], table_schema)
    assert_df_equality(ours, spark.read.format("delta").load(path), ignore_row_order=True,
                       ignore_nullable=True)


def _log_runs(count: int) -> None:
    """One run per iteration; end_run commits it, one commit to each table it wrote."""
    sparktrack.set_experiment("/snapshots")
    for i in range(count):
        with sparktrack.start_run(run_name=f"r{i}"):
            sparktrack.log_params({"i": i, "model": "gbt" if i % 2 else "rf"})
            sparktrack.log_metric("acc", i / count)
            sparktrack.set_tag("team", "a")


def test_snapshots_read_what_spark_reads_across_commits_checkpoints_optimize_and_log_cleanup(spark, client):
    delta = client._delta
    root = f"{delta.local_root}/tables"
    params = f"{root}/params"
    spark.sql(f"ALTER TABLE delta.`{params}` SET TBLPROPERTIES ('delta.checkpointInterval' = '3')")
    _log_runs(5)
    assert os.path.exists(f"{params}/_delta_log/00000000000000000003.checkpoint.parquet")
    snapshots = LocalSnapshots(root, 1 << 30)
    for table in (tables.RUNS, tables.RUN_EVENTS, tables.PARAMS, tables.TAGS, tables.METRICS_LATEST):
        _assert_same_rows(spark, snapshots.read(table), f"{root}/{table.name}")

    # Later commits are replayed on top of what was read; OPTIMIZE removes and adds files.
    _log_runs(2)
    maintain(delta, table_names=["params", "tags"], vacuum=False)
    for table in (tables.PARAMS, tables.TAGS, tables.RUN_EVENTS):
        _assert_same_rows(spark, snapshots.read(table), f"{root}/{table.name}")
    assert len(snapshots._cached["params"].files) == 1  # one file after OPTIMIZE

    # Delta's log clean-up deletes commits a checkpoint covers: a new reader starts there.
    for commit in sorted(glob.glob(f"{params}/_delta_log/*.json"))[:3]:
        os.remove(commit)
    _assert_same_rows(spark, LocalSnapshots(root, 1 << 30).read(tables.PARAMS), params)


def test_tables_outside_what_the_reader_understands_are_read_with_spark(spark, client):
    delta = client._delta
    root = f"{delta.local_root}/tables"
    _log_runs(2)
    assert LocalSnapshots(root, 1).read(tables.PARAMS) is None  # over the size limit

    spark.sql(f"ALTER TABLE delta.`{root}/params` SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    assert LocalSnapshots(root, 1 << 30).read(tables.PARAMS) is None  # a reader feature
    (params,) = delta.read_rows((tables.PARAMS, {"key": ["model"]}))  # through Spark instead
    assert sorted(params["value"].to_pylist()) == ["gbt", "rf"]
    found = sparktrack.search_runs(experiment_names=["/snapshots"], filter_string="params.model = 'gbt'")
    assert found["params.model"].tolist() == ["gbt"]


@pytest.mark.parametrize("damage", ["no log", "no commit"])
def test_a_table_without_a_readable_log_is_left_to_spark(tmp_path, damage):
    os.makedirs(tmp_path / "params" / ("_delta_log" if damage == "no commit" else "data"))
    assert LocalSnapshots(str(tmp_path), 1 << 30).read(tables.PARAMS) is None


def test_a_metric_history_reads_only_the_files_whose_statistics_admit_the_run(spark, client, monkeypatch):
    """Each run's history is flushed in its own commits, so each metrics file holds one run; the
    history of one run reads what Spark reads, from its files only, through checkpoints too."""
    root = f"{client._delta.local_root}/tables"
    metrics = f"{root}/metrics"
    spark.sql(f"ALTER TABLE delta.`{metrics}` SET TBLPROPERTIES ('delta.checkpointInterval' = '2')")
    run_ids = []
    for r in range(3):
        with sparktrack.start_run() as run:
            for step in range(4):
                sparktrack.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 4}, step=step)
                sparktrack.flush()
        run_ids.append(run.info.run_id)
    assert glob.glob(f"{metrics}/_delta_log/*.checkpoint.parquet")
    snapshots = LocalSnapshots(root, 1 << 30)
    for run_id in run_ids:
        found = snapshots.read_matching(tables.METRICS, "run_id", run_id, key="loss")
        expected = spark.read.format("delta").load(metrics).where(f"run_id = '{run_id}' AND key = 'loss'")
        ours = spark.createDataFrame(found.to_pylist(), schema=expected.schema)
        assert_df_equality(ours, expected, ignore_row_order=True, ignore_nullable=True)
        history = client.get_metric_history(run_id, "loss")
        assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(4)]
        with monkeypatch.context() as spark_only:  # as on object storage: the same from Spark
            spark_only.setattr(client._delta, "snapshots", None)
            assert client.get_metric_history(run_id, "loss") == history
    listed = snapshots._cached["metrics files"].files
    admitted = [path for path, (_, stats) in listed.items() if _may_hold(stats, "run_id", run_ids[0])]
    assert len(listed) >= 12 and len(admitted) == 4, (len(listed), len(admitted))
    assert snapshots.read_matching(tables.METRICS, "run_id", "0" * 32, key="loss").num_rows == 0
    assert LocalSnapshots(root, 1).read_matching(tables.METRICS, "run_id", run_ids[0]) is None  # over the limit
