"""Local snapshots (the store's tables read with pyarrow from their Delta logs) against Spark's
reads of the same tables: after many commits and checkpoints, after OPTIMIZE, after log clean-up,
and the tables they must leave to Spark."""

from __future__ import annotations

import glob
import os

import pyarrow as pa
import pytest
from chispa import assert_df_equality

import sparktrack
from sparktrack.store import tables
from sparktrack.store.maintenance import maintain
from sparktrack.store.snapshots import LocalSnapshots


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
