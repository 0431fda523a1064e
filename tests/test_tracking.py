"""The tracking API end to end on real Delta tables, through delta-rs: no JVM. (What Spark sees of
the same tables is in test_sql.py.)"""

from __future__ import annotations

import json
import math
import os

import pytest

import sparktrack
from _runs import three_runs
from sparktrack.errors import (
    AlreadyExistsError,
    ExperimentNotFoundError,
    FilterSyntaxError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    ParamOverwriteError,
    RunNotFoundError,
    RunStateError,
)
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
    assert got.info.spark_app_id == _running_spark_app()
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


def _running_spark_app() -> str | None:
    """The Spark application of this process (the suite's session, if a test before started it)."""
    import sys

    if "pyspark.sql" not in sys.modules:
        return None
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    return active.sparkContext.applicationId if active is not None else None


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


def test_search_runs_filter_order_and_formats(client):
    exp, ids = three_runs()
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

    named = sparktrack.search_runs(experiment_names=["/search"], filter_string="attributes.run_name IN ('d2', 'd6')",
                                   order_by=["attributes.run_name"], output_format="list")
    assert [(r.info.run_name, r.data.metrics["accuracy"]) for r in named] == [("d2", 0.80), ("d6", 0.85)]

    with pytest.raises(FilterSyntaxError, match="position"):
        sparktrack.search_runs(filter_string="metrics.accuracy >")
    with pytest.raises(ExperimentNotFoundError):
        sparktrack.search_runs(experiment_names=["/nope"])


def test_log_figure_writes_matplotlib_images_and_plotly_pages_and_refuses_anything_else(client):
    import plotly.graph_objects as go
    from matplotlib.figure import Figure

    figure = Figure()
    figure.subplots().plot([0, 1, 2], [2, 0, 1])
    chart = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    with sparktrack.start_run() as run:
        sparktrack.log_figure(figure, "plots/line.png")
        sparktrack.log_figure(figure, "plots/line.svg")
        sparktrack.log_figure(chart, "chart.html")
        with pytest.raises(InvalidValueError, match="a .html file for a plotly figure"):
            sparktrack.log_figure(chart, "chart.png")
        with pytest.raises(InvalidValueError, match="an extension matplotlib writes"):
            sparktrack.log_figure(figure, "plots/line.nope")
        with pytest.raises(InvalidValueError, match="a matplotlib or plotly figure"):
            sparktrack.log_figure([1, 2], "list.png")
        with pytest.raises(InvalidNameError, match="without '..'"):
            sparktrack.log_figure(figure, "../escape.png")
    run_id = run.info.run_id
    assert [a["path"] for a in client.list_artifacts(run_id, "plots")] == ["plots/line.png", "plots/line.svg"]
    assert client.load_text(run_id, "plots/line.svg").lstrip().startswith("<?xml")
    page = client.load_text(run_id, "chart.html")
    assert "plotly" in page and "cdn.plot.ly" not in page.split("<body>")[0]


def test_artifacts_round_trip_through_pyarrow_fs(client, tmp_path):
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


def test_dataset_inputs_are_rows_and_a_delta_path_records_its_version(client, tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    path = str(tmp_path / "train")
    write_deltalake(path, pa.table({"x": [1, 2]}))
    write_deltalake(path, pa.table({"x": [3]}), mode="append")
    with sparktrack.start_run() as run:
        client.log_inputs(run.info.run_id, [sparktrack.DatasetInput(
            name="churn", digest="abc", source_type="delta", source="/data/churn",
            delta_version=3, context="training")])
        logged = sparktrack.log_input(path, context="validation")
    assert (logged.name, logged.source_type, logged.source, logged.delta_version) == ("train", "delta", f"file:{path}", 1)
    inputs = client.get_run_inputs(run.info.run_id)
    assert [(d.name, d.source, d.delta_version, d.context) for d in inputs] == [
        ("churn", "/data/churn", 3, "training"), ("train", f"file:{path}", 1, "validation")]
    assert json.loads(inputs[1].schema_json)["fields"][0]["name"] == "x"
    from sparktrack.errors import TableNotFoundError

    with pytest.raises(TableNotFoundError, match="No table '/no/such/table': there is no Delta table"):
        client.log_input(run.info.run_id, "/no/such/table")


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


def test_a_schema_1_store_is_upgraded_when_opened(client):
    import shutil

    import pyarrow.compute as pc
    from deltalake import write_deltalake

    from sparktrack.store import layout
    from sparktrack.store.store import Store

    with sparktrack.start_run() as run:
        for step in range(3):
            sparktrack.log_metric("loss", 1.0 / (step + 1), step=step)
        sparktrack.log_metric("acc", 0.8)
    store = client.store
    # What schema version 1 left behind: no metrics_latest table, and version 1 in store_meta.
    shutil.rmtree(os.path.join(store.location.local, "tables", layout.METRICS_LATEST.name))
    write_deltalake(store.location.delta_uri(store.table_uri(layout.STORE_META)),
                    layout.STORE_META.arrow([layout.STORE_META.row(schema_version=1, sparktrack_version="0.1.0",
                                                                  created_at=0)]), mode="overwrite")
    reopened = Store(client.store_root)
    try:
        latest = reopened.reads.rows(layout.METRICS_LATEST).sort_by("key")
        assert latest.select(["key", "value", "step"]).to_pylist() == [
            {"key": "acc", "value": 0.8, "step": 0}, {"key": "loss", "value": 1 / 3, "step": 2}]
        assert pc.all(pc.equal(latest["run_id"], run.info.run_id)).as_py()
        versions = reopened.reads.rows(layout.STORE_META)["schema_version"].to_pylist()
        assert sorted(versions) == [1, layout.SCHEMA_VERSION]
    finally:
        reopened.close()


def test_a_store_from_a_newer_sparktrack_is_refused(client):
    from sparktrack.errors import SchemaVersionError
    from sparktrack.store import layout
    from sparktrack.store.store import Store

    client.store.commits.append(layout.STORE_META, [layout.STORE_META.row(
        schema_version=layout.SCHEMA_VERSION + 1, sparktrack_version="9.9.9", created_at=0)])
    with pytest.raises(SchemaVersionError, match=f"schema version {layout.SCHEMA_VERSION + 1}, but this"):
        Store(client.store_root)


def test_a_search_with_no_candidates_or_no_match_returns_nothing_in_every_format(client):
    exp = sparktrack.set_experiment("/empty")
    ids = [exp.experiment_id]
    assert client.search_runs(ids) == []
    assert client.search_runs(ids, "metrics.m > 0 and attributes.start_time > 0", order_by=["metrics.m"]) == []
    assert len(client.search_runs(ids, output_format="pandas")) == 0
    with sparktrack.start_run():
        sparktrack.log_metric("m", 1.0)
    assert client.search_runs(ids, run_view_type="DELETED_ONLY") == []
    assert client.search_runs(ids, "metrics.m > 5") == []
    assert len(client.search_runs(ids, "params.nobody = 'x'", output_format="pandas")) == 0


def test_experiment_reads_and_searches_fold_the_events_alike(client):
    """get_experiment folds one experiment's rows; search_experiments folds all of them. After
    changes of tags, deletes and restores, they agree on every field."""
    import time

    ids = [client.create_experiment(f"/fold/{i}", tags={"team": "a", "n": str(i)}) for i in range(3)]
    for change in (lambda: client.set_experiment_tag(ids[0], "team", "b"),
                   lambda: client.delete_experiment(ids[1]),
                   lambda: client.delete_experiment(ids[2]),
                   lambda: client.restore_experiment(ids[2]),
                   lambda: client.set_experiment_tag(ids[2], "team", "c")):
        time.sleep(0.01)  # events a millisecond apart at least, so "the latest" is one event
        change()
    searched = {e.experiment_id: e for e in client.search_experiments("ALL", filter_string="name LIKE '/fold/%'")}
    folded = [client.get_experiment(i) for i in ids]
    assert folded == [searched[i] for i in ids]
    assert [(e.lifecycle_stage, e.tags["team"]) for e in folded] == [("active", "b"), ("deleted", "a"), ("active", "c")]
    ordered = client.search_experiments("ALL", filter_string="tags.team != 'a'", order_by=["tags.team DESC"])
    assert [e.experiment_id for e in ordered] == [ids[2], ids[0]]


def test_clients_created_without_a_store_follow_set_tracking_uri(client, tmp_path):
    from sparktrack.registry import RegistryClient

    other = str(tmp_path / "other")
    sparktrack.set_tracking_uri(other)
    try:
        with sparktrack.start_run() as run:
            sparktrack.log_metric("m", 1.0)
        assert sparktrack.TrackingClient().store_root == f"file:{other}"
        assert RegistryClient().store_root == f"file:{other}"
        assert sparktrack.SparkTrackClient().get_run(run.info.run_id).data.metrics == {"m": 1.0}
        version = RegistryClient().register_model(f"runs:/{run.info.run_id}/model", "followed")
        assert sparktrack.SparkTrackClient().get_model_version("followed", version.version).run_id == run.info.run_id
    finally:
        sparktrack.set_tracking_uri(client.store_root)


def test_the_combined_client_answers_every_tracking_and_registry_method():
    from sparktrack.client import REGISTRY_METHODS, TRACKING_METHODS, SparkTrackClient

    for name in [*TRACKING_METHODS, *REGISTRY_METHODS]:
        assert callable(getattr(SparkTrackClient, name)), name
    assert {"create_run", "log_metric", "search_runs", "register_model", "set_registered_model_alias",
            "get_model_version_by_alias", "audit_log"} <= set(dir(SparkTrackClient))
    assert SparkTrackClient.register_model.__doc__ == REGISTRY_METHODS["register_model"].__doc__


def test_a_batch_replayed_after_it_was_committed_is_not_committed_again(client):
    """A process killed between committing a spool segment and deleting it leaves the segment
    behind; the replay finds its transaction in the tables and skips them. Segment 0 too: its
    transaction version is 0."""
    from sparktrack.store import layout
    from sparktrack.store.commits import BUFFER_ID_PREFIX

    with sparktrack.start_run() as run:
        pass
    commits = client.store.commits
    batch = {"metrics": [layout.METRICS.row(run_id=run.info.run_id, key="m", value=1.0, step=step, timestamp=0)
                         for step in range(3)],
             "params": [layout.PARAMS.row(run_id=run.info.run_id, key="p", value="v", logged_at=0, seq=0)]}
    for number in (0, 1):
        txn = (f"{BUFFER_ID_PREFIX}dead-process", number)
        commits.commit_batch(batch, txn)
        versions = [client.store.tables.version(name) for name in ("metrics", "metrics_latest", "params")]
        commits.replay_batch(batch, txn)
        assert [client.store.tables.version(name) for name in ("metrics", "metrics_latest", "params")] == versions
    assert client.store.reads.rows(layout.METRICS).num_rows == 6
