"""The tracking API end to end on real local Spark and real Delta tables."""

from __future__ import annotations

import json
import math
import os

import pytest
from chispa import assert_df_equality
from pyspark.sql import Row
from pyspark.sql import functions as F

import sparktrack
from sparktrack.errors import (
    AlreadyExistsError,
    ExperimentNotFoundError,
    FilterSyntaxError,
    InvalidNameError,
    NotFoundError,
    ParamOverwriteError,
    RunNotFoundError,
    RunStateError,
)
from sparktrack.entities import to_millis
from sparktrack.tracking import context


def test_set_experiment_gets_or_creates_by_path_like_name(client):
    first = sparktrack.set_experiment("/Shared/team/churn")
    again = sparktrack.set_experiment("/Shared/team/churn")
    assert first.experiment_id == again.experiment_id
    assert first.artifact_location.endswith(f"/artifacts/{first.experiment_id}")
    assert sparktrack.get_experiment_by_name("/Shared/team/churn").experiment_id == first.experiment_id
    assert sparktrack.get_experiment_by_name("/Shared/team/missing") is None
    with pytest.raises(AlreadyExistsError, match="'/Shared/team/churn' already exists"):
        sparktrack.create_experiment("/Shared/team/churn")
    with pytest.raises(ExperimentNotFoundError, match="No experiment with id 'nope'"):
        sparktrack.get_experiment("nope")


def test_default_experiment_exists_and_search_experiments_filters(client):
    assert sparktrack.get_experiment("0").name == "Default"
    sparktrack.create_experiment("/a/one", tags={"team": "ml"})
    doomed = sparktrack.create_experiment("/a/two")
    names = [e.name for e in sparktrack.search_experiments(filter_string="name LIKE '/a/%'")]
    assert sorted(names) == ["/a/one", "/a/two"]
    tagged = sparktrack.search_experiments(filter_string="tags.team = 'ml'")
    assert [e.name for e in tagged] == ["/a/one"] and tagged[0].tags == {"team": "ml"}
    sparktrack.delete_experiment(doomed)
    assert "/a/two" not in [e.name for e in sparktrack.search_experiments()]
    assert [e.name for e in sparktrack.search_experiments(view_type="DELETED_ONLY")] == ["/a/two"]
    with pytest.raises(RunStateError, match="is deleted"):
        sparktrack.start_run(experiment_id=doomed)
    sparktrack.restore_experiment(doomed)
    assert sparktrack.get_experiment(doomed).lifecycle_stage == "active"


def test_run_logs_params_metrics_tags_and_system_tags(client):
    sparktrack.set_experiment("/Shared/runs")
    with sparktrack.start_run(run_name="first", tags={"team": "ml"}) as run:
        sparktrack.log_params({"max_depth": 5, "lr": 0.1})
        sparktrack.log_param("max_depth", 5)  # the same value again is fine
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            sparktrack.log_metric("loss", loss, step=step)
        sparktrack.log_metrics({"nan": float("nan"), "pinf": math.inf, "ninf": -math.inf})
        sparktrack.set_tags({"stage": "dev", "gone": "x"})
        sparktrack.delete_tag("gone")
        assert sparktrack.active_run().info.run_id == run.info.run_id
    assert sparktrack.active_run() is None

    got = sparktrack.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.info.end_time >= got.info.start_time
    assert got.info.run_name == "first"
    assert got.info.spark_app_id == client.spark.sparkContext.applicationId
    assert got.data.params == {"max_depth": "5", "lr": "0.1"}
    assert got.data.metrics["loss"] == 0.25
    assert math.isnan(got.data.metrics["nan"])
    assert got.data.metrics["pinf"] == math.inf and got.data.metrics["ninf"] == -math.inf
    tags = got.data.tags
    assert tags["team"] == "ml" and tags["stage"] == "dev" and "gone" not in tags
    assert tags[context.RUN_NAME] == "first"
    assert tags[context.USER] and tags[context.SOURCE_NAME]
    history = sparktrack.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.5), (2, 0.25)]


def test_exception_marks_run_failed_and_nested_runs_record_parent(client):
    with pytest.raises(ZeroDivisionError):
        with sparktrack.start_run() as failing:
            1 / 0
    assert sparktrack.get_run(failing.info.run_id).info.status == "FAILED"

    with sparktrack.start_run() as parent:
        with pytest.raises(RunStateError, match="nested=True"):
            sparktrack.start_run()
        with sparktrack.start_run(nested=True) as child:
            sparktrack.log_metric("x", 1)
    child_run = sparktrack.get_run(child.info.run_id)
    assert child_run.info.parent_run_id == parent.info.run_id
    assert child_run.data.tags[context.PARENT_RUN_ID] == parent.info.run_id


def test_params_are_immutable(client):
    with sparktrack.start_run() as run:
        sparktrack.log_param("lr", 0.1)
        with pytest.raises(ParamOverwriteError, match=r"'lr' of run .* is already '0.1'; cannot change it to '0.2'"):
            sparktrack.log_param("lr", 0.2)
        with pytest.raises(ParamOverwriteError):
            sparktrack.log_params({"a": 1, "b": 2, "lr": 3})
    # Nothing of the rejected batch was written.
    assert sparktrack.get_run(run.info.run_id).data.params == {"lr": "0.1"}
    # Another client (as another process would) meets the stored value and refuses too.
    other = sparktrack.TrackingClient(client.store_root)
    other._store._runs.clear()
    with pytest.raises(ParamOverwriteError):
        other.log_param(run.info.run_id, "lr", "0.3")


def test_delete_and_restore_run_and_view_types(client):
    exp = sparktrack.set_experiment("/views")
    with sparktrack.start_run() as keep:
        sparktrack.log_metric("m", 1)
    with sparktrack.start_run() as drop:
        sparktrack.log_metric("m", 2)
    sparktrack.delete_run(drop.info.run_id)
    ids = lambda view: {r.info.run_id for r in client.search_runs([exp.experiment_id], run_view_type=view)}
    assert ids("ACTIVE_ONLY") == {keep.info.run_id}
    assert ids("DELETED_ONLY") == {drop.info.run_id}
    assert ids("ALL") == {keep.info.run_id, drop.info.run_id}
    with pytest.raises(RunStateError, match="restore_run"):
        client.log_metric(drop.info.run_id, "m", 3)
    sparktrack.restore_run(drop.info.run_id)
    assert ids("ACTIVE_ONLY") == {keep.info.run_id, drop.info.run_id}
    with pytest.raises(NotFoundError, match="has no tag 'absent'"):
        client.delete_tag(keep.info.run_id, "absent")
    with pytest.raises(RunNotFoundError, match="No run with id 'f00d'"):
        sparktrack.get_run("f00d")


def _three_runs():
    exp = sparktrack.set_experiment("/search")
    ids = {}
    for depth, acc, opt in [(2, 0.80, "adam"), (4, 0.90, "sgd"), (6, 0.85, "adam")]:
        with sparktrack.start_run(run_name=f"d{depth}") as run:
            sparktrack.log_params({"max_depth": depth, "optimizer": opt})
            sparktrack.log_metric("accuracy", acc)
            sparktrack.set_tag("team", "ml" if depth < 6 else "ops")
        ids[depth] = run.info.run_id
    return exp, ids


def test_search_runs_filter_order_and_formats(client):
    exp, ids = _three_runs()
    found = sparktrack.search_runs(
        filter_string="metrics.accuracy > 0.8 AND params.optimizer = 'adam'", output_format="list"
    )
    assert [r.info.run_id for r in found] == [ids[6]]
    ordered = sparktrack.search_runs(order_by=["metrics.accuracy DESC"], output_format="list")
    assert [r.info.run_id for r in ordered] == [ids[4], ids[6], ids[2]]
    top = sparktrack.search_runs(order_by=["metrics.accuracy ASC"], max_results=1, output_format="list")
    assert [r.info.run_id for r in top] == [ids[2]]

    pdf = sparktrack.search_runs(filter_string="tags.team = 'ml'", order_by=["params.max_depth"])
    assert list(pdf["run_id"]) == [ids[2], ids[4]]
    assert list(pdf["metrics.accuracy"]) == [0.80, 0.90]
    assert list(pdf["params.max_depth"]) == ["2", "4"]

    spark_df = sparktrack.search_runs(
        experiment_names=["/search"], filter_string="attributes.run_name IN ('d2', 'd6')",
        order_by=["attributes.run_name"], output_format="spark",
    ).select("run_name", F.col("metrics")["accuracy"].alias("accuracy"))
    expected = client.spark.createDataFrame([Row(run_name="d2", accuracy=0.80), Row(run_name="d6", accuracy=0.85)])
    assert_df_equality(spark_df, expected, ignore_nullable=True)

    with pytest.raises(FilterSyntaxError, match="position"):
        sparktrack.search_runs(filter_string="metrics.accuracy >")
    with pytest.raises(ExperimentNotFoundError):
        sparktrack.search_runs(experiment_names=["/nope"])


def test_best_accuracy_per_param_is_one_sql_statement(client):
    exp, _ = _three_runs()
    with sparktrack.start_run():
        sparktrack.log_params({"max_depth": 2})
        sparktrack.log_metric("accuracy", 0.95)
    sparktrack.flush()
    best = client.spark.sql(f"""
        SELECT params['max_depth'] AS max_depth, max(metrics['accuracy']) AS best_accuracy
        FROM sparktrack.runs WHERE experiment_id = '{exp.experiment_id}'
        GROUP BY 1 ORDER BY 1
    """)
    expected = client.spark.createDataFrame(
        [Row(max_depth="2", best_accuracy=0.95), Row(max_depth="4", best_accuracy=0.90),
         Row(max_depth="6", best_accuracy=0.85)]
    )
    assert_df_equality(best, expected, ignore_nullable=True)


def test_sql_tables_hold_full_history_and_match_get_run(client):
    with sparktrack.start_run() as run:
        for step in range(5):
            sparktrack.log_metric("loss", 1.0 / (step + 1), step=step)
        sparktrack.log_param("p", "v")
    history = client.spark.sql(
        f"SELECT step, value FROM sparktrack.metrics WHERE run_id = '{run.info.run_id}' ORDER BY step"
    )
    expected = client.spark.createDataFrame([Row(step=s, value=1.0 / (s + 1)) for s in range(5)])
    assert_df_equality(history, expected, ignore_nullable=True)
    from_view = client.search_runs(["0"], output_format="list")[0]
    assert from_view == sparktrack.get_run(run.info.run_id)


def test_artifacts_round_trip_through_hadoop_filesystem(client, tmp_path):
    local = tmp_path / "model.txt"
    local.write_text("weights")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "roc.txt").write_text("roc")
    (folder / "sub" / "pr.txt").write_text("pr")
    with sparktrack.start_run() as run:
        sparktrack.log_artifact(str(local))
        sparktrack.log_artifacts(str(folder), "plots")
        sparktrack.log_text("hello", "notes/readme.md")
        sparktrack.log_dict({"features": ["a", "b"]}, "features.json")
        uri = sparktrack.get_artifact_uri()
    run_id = run.info.run_id
    assert uri.endswith(f"/{run_id}/artifacts")
    top = [(a["path"], a["is_dir"]) for a in client.list_artifacts(run_id)]
    assert top == [("features.json", False), ("model.txt", False), ("notes", True), ("plots", True)]
    assert [a["path"] for a in client.list_artifacts(run_id, "plots/sub")] == ["plots/sub/pr.txt"]
    assert client.load_text(run_id, "notes/readme.md") == "hello"
    assert json.loads(client.load_text(run_id, "features.json")) == {"features": ["a", "b"]}
    downloaded = client.download_artifacts(run_id, "plots", str(tmp_path / "down"))
    assert open(os.path.join(downloaded, "sub", "pr.txt")).read() == "pr"
    with pytest.raises(InvalidNameError, match="without '..'"):
        client.log_artifact(run_id, str(local), "../escape")


def test_dataset_inputs_are_rows(client):
    from sparktrack.tracking.store import DatasetInput

    with sparktrack.start_run() as run:
        client.log_inputs(run.info.run_id, [DatasetInput(
            name="churn", digest="abc", source_type="delta", source="/data/churn",
            delta_version=3, context="training")])
    client.flush()
    rows = client.spark.sql(
        f"SELECT name, source, delta_version, context FROM sparktrack.inputs WHERE run_id = '{run.info.run_id}'"
    )
    expected = client.spark.createDataFrame(
        [Row(name="churn", source="/data/churn", delta_version=3, context="training")]
    )
    assert_df_equality(rows, expected, ignore_nullable=True)


def test_git_commit_and_branch_are_read_from_the_work_tree(tmp_path):
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "train.py").write_text("print('hi')\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    info = context.git_info(str(repo / "train.py"))
    assert info[context.GIT_COMMIT] == head.stdout.strip()
    assert info[context.GIT_BRANCH] == "main"
    assert context.git_info(str(tmp_path)) == {}


def test_log_input_records_the_delta_table_and_the_version_read(client, tmp_path):
    spark = client.spark
    path = str(tmp_path / "train")
    spark.range(10).write.format("delta").save(path)
    spark.range(10, 20).write.format("delta").mode("append").save(path)
    latest = spark.read.format("delta").load(path)
    first = spark.read.format("delta").option("versionAsOf", 0).load(path)
    with sparktrack.start_run() as run:
        sparktrack.log_input(latest, context="training")
        sparktrack.log_input(first, context="baseline", name="train_v0")
    client.flush()
    rows = spark.sql(
        f"SELECT name, source_type, delta_version, context FROM sparktrack.inputs "
        f"WHERE run_id = '{run.info.run_id}' ORDER BY delta_version"
    )
    expected = spark.createDataFrame([
        Row(name="train_v0", source_type="delta", delta_version=0, context="baseline"),
        Row(name="train", source_type="delta", delta_version=1, context="training"),
    ])
    assert_df_equality(rows, expected, ignore_nullable=True)
    sources = {r.source for r in spark.sql(
        f"SELECT source FROM sparktrack.inputs WHERE run_id = '{run.info.run_id}'").collect()}
    assert sources == {f"file:{path}"}


def _latest_from_history(spark, database):
    """latest_metrics as the full history defines it: the greatest (step, timestamp, value)."""
    return spark.sql(f"""
        SELECT run_id, key, p.value, p.step, p.timestamp FROM (
            SELECT run_id, key, max_by(struct(value, step, timestamp), struct(step, timestamp, value)) AS p
            FROM {database}.metrics GROUP BY run_id, key)""")


def test_latest_metrics_agree_with_the_full_history_across_commits(client):
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
    latest = client.spark.sql(f"SELECT run_id, key, value, step, timestamp FROM {client.database}.latest_metrics")
    assert_df_equality(latest, _latest_from_history(client.spark, client.database), ignore_row_order=True,
                       ignore_nullable=True, allow_nan_equality=True)
    metrics = sparktrack.get_run(run.info.run_id).data.metrics
    assert metrics["loss"] == 0.7 and math.isnan(metrics["tie"])


def test_a_schema_1_store_is_migrated_when_opened(client):
    import shutil

    from sparktrack.store import tables
    from sparktrack.store.delta_store import DeltaStore

    with sparktrack.start_run():
        for step in range(3):
            sparktrack.log_metric("loss", 1.0 / (step + 1), step=step)
        sparktrack.log_metric("acc", 0.8)
    delta = client._delta
    # What schema version 1 left behind: no metrics_latest table, and version 1 in store_meta.
    shutil.rmtree(os.path.join(delta.local_root, "tables", tables.METRICS_LATEST.name))
    delta.frame(tables.STORE_META, [(1, "0.1.0", 0)]).write.format("delta").mode("overwrite").save(
        delta.path(tables.STORE_META))
    reopened = DeltaStore(client.spark, client.store_root)
    try:
        latest = reopened.view("latest_metrics").select("run_id", "key", "value", "step", "timestamp")
        assert_df_equality(latest, _latest_from_history(client.spark, client.database),
                           ignore_row_order=True, ignore_nullable=True)
        assert latest.count() == 2
        versions = [r.schema_version for r in reopened.table(tables.STORE_META).collect()]
        assert sorted(versions) == [1, tables.SCHEMA_VERSION]
    finally:
        reopened.close()


def test_a_store_from_a_newer_sparktrack_is_refused(client):
    from sparktrack.errors import SchemaVersionError
    from sparktrack.store import tables
    from sparktrack.store.delta_store import DeltaStore

    delta = client._delta
    delta.append(tables.STORE_META, [(tables.SCHEMA_VERSION + 1, "9.9.9", 0)])
    with pytest.raises(SchemaVersionError, match=f"schema version {tables.SCHEMA_VERSION + 1}, but this"):
        DeltaStore(client.spark, client.store_root)


@pytest.mark.slow
def test_a_session_without_delta_gets_an_error_naming_the_settings(tmp_path):
    import subprocess
    import sys

    code = (
        "from pyspark.sql import SparkSession\n"
        "SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false').getOrCreate()\n"
        "import sparktrack\n"
        "from sparktrack.errors import SessionError\n"
        "try:\n"
        f"    sparktrack.TrackingClient({str(tmp_path / 'store')!r})\n"
        "except SessionError as exc:\n"
        "    print('SessionError:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "SessionError: The SparkSession has no Delta Lake support" in out.stdout, out.stderr[-2000:]
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in out.stdout
    assert not (tmp_path / "store").exists()  # nothing was written


def test_closing_a_store_releases_what_delta_cached_for_its_tables(spark):
    # Without this, each store opened in a long session (a notebook, this test suite) kept about
    # 20 MB of driver heap, and the suite ran out of memory.
    from sparktrack.testing import fresh_store

    delta_log = getattr(getattr(spark._jvm.org.apache.spark.sql.delta, "DeltaLog$"), "MODULE$")
    cached_rdds = lambda: len(spark.sparkContext._jsc.getPersistentRDDs())  # noqa: E731
    before = (delta_log.cacheSize(), cached_rdds())
    with fresh_store(spark):
        with sparktrack.start_run():
            sparktrack.log_metric("m", 1.0)
        sparktrack.search_runs(output_format="list")
        assert delta_log.cacheSize() > before[0]
    assert (delta_log.cacheSize(), cached_rdds()) == before


def test_search_results_fold_the_rows_as_the_runs_view_does(client):
    # search_runs folds raw rows in Arrow; the view folds them in Spark. They must agree on every
    # rule: latest status and lifecycle event, first param value, latest tag event (a delete
    # removes it), and a metric's greatest (step, timestamp, value) with NaN above numbers.
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
    view = {row.run_id: row for row in client.search_runs([exp.experiment_id], output_format="spark").collect()}
    for run in found:
        row = view[run.info.run_id]
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
    again = client.get_run(one.info.run_id)  # the one-run case of the same fold
    assert (again.info, again.data.params, again.data.tags) == (one.info, one.data.params, one.data.tags)
    pdf = client.search_runs([exp.experiment_id], order_by=["metrics.m DESC"], output_format="pandas")
    assert list(pdf["run_id"]) == [r.info.run_id for r in found]
    assert pdf["tags.t"].tolist()[1] == "new" and pdf["metrics.k"].isna().tolist() == [True, False, True]


def test_a_search_with_no_candidates_or_no_match_returns_nothing_in_every_format(client):
    exp = sparktrack.set_experiment("/empty")
    ids = [exp.experiment_id]
    assert client.search_runs(ids) == []
    assert client.search_runs(ids, "metrics.m > 0 and attributes.start_time > 0", order_by=["metrics.m"]) == []
    assert len(client.search_runs(ids, output_format="pandas")) == 0
    assert client.search_runs(ids, output_format="spark").count() == 0
    with sparktrack.start_run():
        sparktrack.log_metric("m", 1.0)
    assert client.search_runs(ids, run_view_type="DELETED_ONLY") == []
    assert client.search_runs(ids, "metrics.m > 5") == []
    assert len(client.search_runs(ids, "params.nobody = 'x'", output_format="pandas")) == 0


def test_experiment_reads_fold_the_events_as_the_experiments_view_does(client):
    """get_experiment folds the experiment's rows in the driver (tracking.experiments.fold);
    search_experiments reads the Spark view. After renames of tags, deletes and restores, they
    agree on every field."""
    import time

    ids = [client.create_experiment(f"/fold/{i}", tags={"team": "a", "n": str(i)}) for i in range(3)]
    for change in (lambda: client.set_experiment_tag(ids[0], "team", "b"),
                   lambda: client.delete_experiment(ids[1]),
                   lambda: client.delete_experiment(ids[2]),
                   lambda: client.restore_experiment(ids[2]),
                   lambda: client.set_experiment_tag(ids[2], "team", "c")):
        time.sleep(0.01)  # events a millisecond apart at least, so "the latest" is one event
        change()
    viewed = {e.experiment_id: e for e in client.search_experiments("ALL", filter_string="name LIKE '/fold/%'")}
    folded = [client.get_experiment(i) for i in ids]
    assert folded == [viewed[i] for i in ids]
    assert [(e.lifecycle_stage, e.tags["team"]) for e in folded] == [("active", "b"), ("deleted", "a"), ("active", "c")]
