"""The contract every tracking store and registry store implements (tracking.store.AbstractTrackingStore,
registry.store.AbstractRegistryStore), run against each implementation and root: the Delta stores
on local disk and on an S3 server. A new backend passes this suite before it plugs in."""

from __future__ import annotations

import datetime as dt
import math
import time

import pytest

from sparktrack.entities import DatasetInput, LifecycleStage, Metric, Param, RunTag, ViewType, now_ms
from sparktrack.errors import (
    AlreadyExistsError,
    ExperimentNotFoundError,
    NotFoundError,
    ParamOverwriteError,
    RunNotFoundError,
    RunStateError,
)
from sparktrack.registry.store import AbstractRegistryStore, DeltaRegistryStore, RegistryEvent
from sparktrack.tracking.store import AbstractTrackingStore, DeltaTrackingStore


@pytest.fixture(params=["delta-local", "delta-s3"])
def stores(request, tmp_path, monkeypatch) -> tuple[AbstractTrackingStore, AbstractRegistryStore]:
    from sparktrack.store.store import Store

    monkeypatch.setenv("SPARKTRACK_SPOOL_DIR", str(tmp_path / "spool"))
    root = str(tmp_path / "store") if request.param == "delta-local" else request.getfixturevalue("s3_store")
    store = Store(root)
    yield DeltaTrackingStore(store), DeltaRegistryStore(store)
    store.close()


@pytest.fixture
def tracking(stores) -> AbstractTrackingStore:
    return stores[0]


@pytest.fixture
def registry(stores) -> AbstractRegistryStore:
    return stores[1]


def _run(tracking: AbstractTrackingStore, experiment_id: str = "0", name: str = "r", start: int | None = None):
    return tracking.create_run(experiment_id, user_id="u", start_time=now_ms() if start is None else start,
                               tags=[RunTag(key="sparktrack.runName", value=name)], run_name=name,
                               parent_run_id=None, spark_app_id=None)


# -- experiments ------------------------------------------------------------------------------
def test_experiment_names_are_unique_and_experiments_read_back(tracking):
    experiment_id = tracking.create_experiment("/c/one", None, {"team": "a"})
    with pytest.raises(AlreadyExistsError):
        tracking.create_experiment("/c/one", None, {})
    found = tracking.get_experiment(experiment_id)
    assert (found.name, found.lifecycle_stage, dict(found.tags)) == ("/c/one", "active", {"team": "a"})
    assert found.artifact_location.endswith(f"/artifacts/{experiment_id}")
    assert tracking.get_experiment_by_name("/c/one") == found
    assert tracking.get_experiment_by_name("/c/none") is None
    with pytest.raises(ExperimentNotFoundError):
        tracking.get_experiment("nope")
    assert tracking.get_experiment("0").name == "Default"


def test_experiment_lifecycle_tags_and_search(tracking):
    first = tracking.create_experiment("/c/a", None, {})
    second = tracking.create_experiment("/c/b", "file:/elsewhere", {})
    tracking.set_experiment_tag(first, "owner", "x")
    tracking.set_experiment_lifecycle(second, LifecycleStage.DELETED)
    active = tracking.search_experiments(ViewType.ACTIVE_ONLY, "name LIKE '/c/%'", None, 100)
    assert [e.experiment_id for e in active] == [first]
    deleted = tracking.search_experiments(ViewType.DELETED_ONLY, None, None, 100)
    assert [(e.experiment_id, e.artifact_location) for e in deleted] == [(second, "file:/elsewhere")]
    assert [e.name for e in tracking.search_experiments(ViewType.ALL, "tags.owner = 'x'", None, 100)] == ["/c/a"]
    every = tracking.search_experiments(ViewType.ALL, None, ["name ASC"], 2)
    assert [e.name for e in every] == ["/c/a", "/c/b"]
    with pytest.raises(RunStateError):
        _run(tracking, second)


# -- runs -------------------------------------------------------------------------------------
def test_a_run_reads_back_with_its_params_metrics_tags_and_status(tracking):
    run = _run(tracking, name="first")
    run_id = run.info.run_id
    tracking.log_batch(run_id, metrics=[Metric(key="m", value=1.0, timestamp=10, step=0),
                                        Metric(key="m", value=2.0, timestamp=20, step=1),
                                        Metric(key="n", value=math.nan, timestamp=5, step=0)],
                       params=[Param(key="p", value="v")], tags=[RunTag(key="t", value="x")])
    tracking.log_metric(run_id, Metric(key="single", value=3.0, timestamp=30, step=2))
    tracking.log_param(run_id, Param(key="q", value="w"))
    tracking.set_tag(run_id, RunTag(key="t", value="y"))
    tracking.update_run(run_id, "FINISHED", 12345)
    got = tracking.get_run(run_id)
    assert (got.info.status, got.info.end_time, got.info.run_name) == ("FINISHED", 12345, "first")
    assert got.data.params == {"p": "v", "q": "w"}
    assert got.data.metrics["m"] == 2.0 and got.data.metrics["single"] == 3.0 and math.isnan(got.data.metrics["n"])
    assert got.data.tags["t"] == "y"
    assert [(m.step, m.value) for m in tracking.get_metric_history(run_id, "m")] == [(0, 1.0), (1, 2.0)]
    assert tracking.get_metric_history(run_id, "absent") == []
    with pytest.raises(RunNotFoundError):
        tracking.get_run("0" * 32)
    with pytest.raises(RunNotFoundError):
        tracking.get_metric_history("0" * 32, "m")


def test_params_are_immutable_tags_can_be_deleted_and_runs_deleted_and_restored(tracking):
    run_id = _run(tracking).info.run_id
    tracking.log_param(run_id, Param(key="p", value="1"))
    tracking.log_param(run_id, Param(key="p", value="1"))
    with pytest.raises(ParamOverwriteError):
        tracking.log_param(run_id, Param(key="p", value="2"))
    tracking.set_tag(run_id, RunTag(key="gone", value="x"))
    tracking.delete_tag(run_id, "gone")
    assert "gone" not in tracking.get_run(run_id).data.tags
    with pytest.raises(NotFoundError):
        tracking.delete_tag(run_id, "gone")
    tracking.set_run_lifecycle(run_id, LifecycleStage.DELETED)
    assert tracking.get_run(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(RunStateError):
        tracking.log_metric(run_id, Metric(key="m", value=1.0, timestamp=1))
    tracking.set_run_lifecycle(run_id, LifecycleStage.ACTIVE)
    tracking.log_metric(run_id, Metric(key="m", value=1.0, timestamp=1))
    assert tracking.get_run(run_id).data.metrics == {"m": 1.0}


def test_inputs_and_search_runs_with_filter_order_view_and_limit(tracking):
    experiment_id = tracking.create_experiment("/c/search", None, {})
    ids = []
    for i, acc in enumerate([0.8, 0.9, 0.7]):
        run_id = _run(tracking, experiment_id, name=f"r{i}", start=1_000 + i).info.run_id
        tracking.log_batch(run_id, metrics=[Metric(key="acc", value=acc, timestamp=1)],
                           params=[Param(key="i", value=str(i))])
        ids.append(run_id)
    tracking.set_run_lifecycle(ids[2], LifecycleStage.DELETED)
    tracking.log_inputs(ids[0], [DatasetInput(name="d", digest="x", source_type="delta", source="/t", delta_version=4)])
    assert [(d.name, d.delta_version) for d in tracking.run_inputs(ids[0])] == [("d", 4)]
    assert tracking.search_runs([experiment_id], None, ViewType.ACTIVE_ONLY, None, None) == [ids[1], ids[0]]
    assert tracking.search_runs([experiment_id], "metrics.acc > 0.75", ViewType.ALL, None,
                                ["metrics.acc ASC"]) == [ids[0], ids[1]]
    assert tracking.search_runs([experiment_id], None, ViewType.DELETED_ONLY, None, None) == [ids[2]]
    assert tracking.search_runs([experiment_id], "params.i IN ('0', '2')", ViewType.ALL, 1, ["params.i DESC"]) == [ids[2]]
    rows = tracking.run_rows([ids[1], "f" * 32, ids[0]])
    assert [r.info.run_id for r in rows.runs()] == [ids[1], ids[0]]


# -- registry ---------------------------------------------------------------------------------
def test_names_are_reserved_once_and_versions_are_consecutive(registry):
    assert registry.reserve_name("m", model_id="id1", user_id="u", renamed_from=None)
    assert not registry.reserve_name("m", model_id="id2", user_id="u", renamed_from=None)
    assert [registry.allocate_version("id1", source=f"/s{i}", run_id=None, user_id="u") for i in range(3)] == [1, 2, 3]
    assert registry.allocate_version("other", source="/s", run_id=None, user_id="u") == 1


def test_events_fold_into_state_now_and_as_of_a_time(registry):
    registry.reserve_name("m", model_id="id1", user_id="u", renamed_from=None)
    version = registry.allocate_version("id1", source="/s1", run_id="r1", user_id="u")
    registry.append_events([RegistryEvent(model_id="id1", name="m", action="create_model", user_id="u"),
                            RegistryEvent(model_id="id1", name="m", action="create_version", user_id="u",
                                          version=version),
                            RegistryEvent(model_id="id1", name="m", action="set_alias", user_id="u", key="Champion",
                                          value="1")])
    time.sleep(0.02)
    between = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.02)
    registry.append_events([RegistryEvent(model_id="id1", name="m", action="set_version_tag", user_id="u",
                                          version=1, key="k", value="v"),
                            RegistryEvent(model_id="id1", name="m", action="delete_alias", user_id="u",
                                          key="Champion")])
    now = registry.state()
    assert now.model_named("m")["aliases"] == {} and now.versions[("id1", 1)]["tags"] == {"k": "v"}
    then = registry.state(between)
    assert then.model_named("m")["aliases"] == {"Champion": 1} and then.versions[("id1", 1)]["tags"] == {}
    assert [e["action"] for e in registry.events("id1")] == ["create_model", "create_version", "set_alias",
                                                             "set_version_tag", "delete_alias"]
    assert registry.events("nobody") == []
    first = registry.event_log_time(1)
    assert first is not None and first <= between and registry.event_log_time(99) is None
