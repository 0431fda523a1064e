"""A store written by the previous release (commit b8b22fd, when Spark wrote the store's tables)
opens with delta-rs, gives the answers that release gave, takes new writes, and reads back, in
Python and in Spark. The store and the answers were written by tests/data/make_store_b8b22fd.py
run with that release."""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path

import pytest

from sparktrack.store import layout
from sparktrack.testing import fresh_store

DATA = Path(__file__).resolve().parent / "data"
ANSWERS = json.loads((DATA / "store-b8b22fd.json").read_text())


@pytest.fixture
def old_store(tmp_path) -> str:
    with tarfile.open(DATA / "store-b8b22fd.tgz") as archive:
        archive.extractall(tmp_path, filter="data")
    return str(tmp_path / "store")


def _run(run) -> dict:
    info = {k: getattr(run.info, k) for k in ("run_id", "experiment_id", "run_name", "user_id", "status",
                                              "start_time", "end_time", "lifecycle_stage", "parent_run_id")}
    return {"info": info, "metrics": {k: None if math.isnan(v) else v for k, v in run.data.metrics.items()},
            "params": dict(run.data.params),
            "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("sparktrack.")}}


def _answers(client) -> dict:
    """The questions make_store_b8b22fd.py asked, asked again."""
    eid = ANSWERS["experiment_id"]
    return {
        "experiment_id": client.get_experiment_by_name("/Shared/migration").experiment_id,
        "runs": {run_id: _run(client.get_run(run_id)) for run_id in ANSWERS["runs"]},
        "search_acc_desc": [r.info.run_id for r in client.search_runs([eid], "metrics.acc > 0",
                                                                      order_by=["metrics.acc DESC"])],
        "search_all": sorted(r.info.run_id for r in client.search_runs([eid], run_view_type="ALL")),
        "history": [[m.step, m.value] for m in client.get_metric_history(ANSWERS["search_acc_desc"][0], "loss")],
        "models": sorted(m.name for m in client.search_registered_models()),
        "champion": client.get_model_version_by_alias("churn", "Champion").version,
        "versions": {str(v.version): {"stage": v.current_stage, "tags": dict(v.tags), "aliases": list(v.aliases),
                                      "description": v.description, "run_id": v.run_id}
                     for v in client.search_model_versions("name = 'churn'")},
        "audit_actions": list(client.audit_log("churn")["action"]),
    }


def test_a_store_of_the_previous_release_answers_as_it_did_then_takes_writes_and_reads_back(old_store, tmp_path):
    with fresh_store(root=old_store, spool_dir=str(tmp_path / "spool")) as client:
        assert _answers(client) == ANSWERS
        versions = sorted(client.store.reads.rows(layout.STORE_META)["schema_version"].to_pylist())
        assert versions == [2, layout.SCHEMA_VERSION]  # the upgrade is recorded

        eid = ANSWERS["experiment_id"]
        run = client.create_run(eid, run_name="after-upgrade")
        client.log_param(run.info.run_id, "depth", "9")
        client.log_metric(run.info.run_id, "acc", 0.99)
        client.set_terminated(run.info.run_id)
        new = client.register_model(f"runs:/{run.info.run_id}/model", "churn")
        client.set_registered_model_alias("churn", "Champion", new.version)
        assert new.version == 3

    with fresh_store(root=old_store, spool_dir=str(tmp_path / "spool")) as client:  # opened again
        found = client.search_runs([eid], "metrics.acc > 0", order_by=["metrics.acc DESC"])
        assert [r.info.run_id for r in found] == [run.info.run_id, *ANSWERS["search_acc_desc"]]
        assert client.get_model_version_by_alias("churn", "Champion").version == 3
        assert client.get_model_version_by_alias("churn", "Challenger").version == 1
        old = ANSWERS["runs"][ANSWERS["search_acc_desc"][0]]
        assert _run(client.get_run(old["info"]["run_id"])) == old


def test_spark_reads_a_store_whose_files_both_engines_wrote(old_store, tmp_path, spark):
    import sparktrack

    with fresh_store(spark, root=old_store, spool_dir=str(tmp_path / "spool")) as client:
        run = client.create_run(ANSWERS["experiment_id"], run_name="after-upgrade")
        client.log_metric(run.info.run_id, "acc", 0.99)
        client.set_terminated(run.info.run_id)
        rows = sparktrack.sql("SELECT run_id, metrics['acc'] AS acc FROM sparktrack.runs "
                              f"WHERE experiment_id = '{ANSWERS['experiment_id']}' AND lifecycle_stage = 'active' "
                              "AND metrics['acc'] > 0 AND NOT isnan(metrics['acc']) ORDER BY acc DESC").collect()
        assert [r.run_id for r in rows] == [run.info.run_id, *ANSWERS["search_acc_desc"]]
        [champion] = sparktrack.sql("SELECT aliases['Champion'] FROM sparktrack.registered_models "
                                    "WHERE name = 'churn'").collect()
        assert champion[0] == ANSWERS["champion"]
