"""Wrote tests/data/store-b8b22fd.tgz: a small store written by sparktrack at commit b8b22fd (Spark as the store's engine), and the
answers that release gives about it, for tests/test_migration.py."""
import json, sys
import sparktrack
from sparktrack import Metric, Param, RunTag
from sparktrack.tracking.client import TrackingClient
from sparktrack.tracking.store import DatasetInput
from sparktrack.registry import RegistryClient

root, out = sys.argv[1], sys.argv[2]
spark = sparktrack.spark_session(master="local[1]")
c = TrackingClient(root, spark)
eid = c.create_experiment("/Shared/migration", tags={"team": "a"})
runs = []
for i in range(3):
    r = c.create_run(eid, run_name=f"run-{i}", start_time=1_700_000_000_000 + i * 1000, tags={"kind": "gbt" if i % 2 else "rf"})
    rid = r.info.run_id
    runs.append(rid)
    c.log_batch(rid, metrics=[Metric(key="loss", value=1.0 / (s + 1) + i, timestamp=1_700_000_000_000 + s, step=s) for s in range(5)],
                params=[Param(key="depth", value=str(i + 2)), Param(key="model", value="gbt" if i % 2 else "rf")],
                tags=[RunTag(key="note", value=f"n{i}")])
    c.log_metric(rid, "acc", 0.5 + i / 10, timestamp=1_700_000_001_000)
    c.log_inputs(rid, [DatasetInput(name="churn", digest=f"d{i}", source_type="delta", source="/data/churn", delta_version=i, context="training")])
    if i == 1:
        c.delete_tag(rid, "note")
    c.set_terminated(rid, "FINISHED" if i else "FAILED", end_time=1_700_000_002_000 + i)
child = c.create_run(eid, run_name="child", parent_run_id=runs[0], start_time=1_700_000_003_000)
c.log_metric(child.info.run_id, "acc", float("nan"), timestamp=1_700_000_003_001)
c.set_terminated(child.info.run_id, end_time=1_700_000_003_500)
c.delete_run(runs[2])
reg = RegistryClient(root, spark, policy={})
reg.create_registered_model("churn", tags={"owner": "ml"}, description="churn model")
v1 = reg.register_model(f"runs:/{runs[0]}/model", "churn", tags={"gate": "passed"})
v2 = reg.register_model(f"runs:/{runs[1]}/model", "churn")
reg.set_registered_model_alias("churn", "Champion", 2)
reg.set_registered_model_alias("churn", "Challenger", 1)
reg.transition_model_version_stage("churn", 1, "Production")
reg.update_model_version("churn", 2, "the better one")
reg.create_registered_model("gone")
reg.delete_registered_model("gone")
c.flush()

def run_dict(r):
    return {"info": {k: getattr(r.info, k) for k in ("run_id", "experiment_id", "run_name", "user_id", "status", "start_time", "end_time", "lifecycle_stage", "parent_run_id")},
            "metrics": {k: (None if v != v else v) for k, v in r.data.metrics.items()}, "params": dict(r.data.params),
            "tags": {k: v for k, v in r.data.tags.items() if not k.startswith("sparktrack.")}}

answers = {
    "experiment_id": eid,
    "runs": {rid: run_dict(c.get_run(rid)) for rid in runs + [child.info.run_id]},
    "search_acc_desc": [r.info.run_id for r in c.search_runs([eid], "metrics.acc > 0", order_by=["metrics.acc DESC"])],
    "search_all": sorted(r.info.run_id for r in c.search_runs([eid], run_view_type="ALL")),
    "history": [[m.step, m.value] for m in c.get_metric_history(runs[1], "loss")],
    "models": sorted(m.name for m in reg.search_registered_models()),
    "champion": reg.get_model_version_by_alias("churn", "Champion").version,
    "versions": {str(v.version): {"stage": v.current_stage, "tags": dict(v.tags), "aliases": list(v.aliases),
                                  "description": v.description, "run_id": v.run_id}
                 for v in reg.search_model_versions("name = 'churn'")},
    "audit_actions": [r.action for r in reg.audit_log("churn").collect()],
}
with open(out, "w") as f:
    json.dump(answers, f, indent=1, sort_keys=True)
print("ok")
