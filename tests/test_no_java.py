"""Tracking, the registry, Python models and the CLI need no JVM: they run in processes that have no
``java`` on PATH and no JAVA_HOME, and never import pyspark. Only Spark's own work needs Java, and
asking for it without Java is a clear error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from _procs import REPO, worker_env

#: Every call the issue lists as JVM-free, in one process.
SCRIPT = r'''
import json, math, os, shutil, sys, time
assert shutil.which("java") is None and "JAVA_HOME" not in os.environ

import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake
from sklearn.linear_model import LogisticRegression

import sparktrack
from sparktrack import Metric, Param, RunTag
from sparktrack.cli import main as cli
from sparktrack.registry import RegistryClient

root, work = sys.argv[1], sys.argv[2]
sparktrack.set_tracking_uri(root)

# Experiments, runs, params, metrics, tags, artifacts, a dataset by path.
experiment = sparktrack.set_experiment("/Shared/no-java")
sparktrack.create_experiment("/Shared/other", tags={"team": "a"})
table = os.path.join(work, "train")
write_deltalake(table, pa.table({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 0, 1, 1]}))
with open(os.path.join(work, "notes.txt"), "w") as handle:
    handle.write("notes")
with sparktrack.start_run(run_name="first", tags={"team": "ml"}) as run:
    sparktrack.log_params({"depth": 3, "lr": 0.1})
    for step in range(5):
        sparktrack.log_metric("loss", 1 / (step + 1), step=step)
    sparktrack.log_metrics({"acc": 0.9, "nan": float("nan")})
    sparktrack.log_batch(metrics=[Metric(key="b", value=1.0, timestamp=0)], params=[Param(key="p", value="v")],
                         tags=[RunTag(key="t", value="v")])
    sparktrack.set_tag("stage", "dev")
    sparktrack.log_artifact(os.path.join(work, "notes.txt"))
    sparktrack.log_dict({"a": 1}, "config.json")
    dataset = sparktrack.log_input(table, context="training")
    with sparktrack.start_run(nested=True) as child:
        sparktrack.log_metric("acc", 0.5)
run_id = run.info.run_id
assert dataset.delta_version == 0 and dataset.source_type == "delta"
client = sparktrack.SparkTrackClient()
assert [a["path"] for a in client.list_artifacts(run_id)] == ["config.json", "notes.txt"]
assert client.load_text(run_id, "notes.txt") == "notes"
assert [m.value for m in sparktrack.get_metric_history(run_id, "loss")] == [1 / (s + 1) for s in range(5)]
found = sparktrack.search_runs(filter_string="metrics.acc > 0.6 AND params.depth = '3'", output_format="list")
assert [r.info.run_id for r in found] == [run_id]
frame = sparktrack.search_runs(order_by=["metrics.acc DESC"])
assert list(frame["run_id"]) == [run_id, child.info.run_id] and frame["metrics.acc"].tolist() == [0.9, 0.5]
assert [e.name for e in sparktrack.search_experiments(filter_string="tags.team = 'a'")] == ["/Shared/other"]
sparktrack.delete_run(child.info.run_id)
sparktrack.restore_run(child.info.run_id)

# Models: scikit-learn and pyfunc, logged, registered, loaded and scored on pandas.
features = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
forest = LogisticRegression().fit(features, [0, 0, 1, 1])
class Doubler:
    def predict(self, frame):
        return frame["x"] * 2
with sparktrack.start_run() as model_run:
    info = sparktrack.sklearn.log_model(forest, "model", input_example=features, registered_model_name="churn")
    sparktrack.pyfunc.log_model(Doubler(), "doubler", input_example=features, registered_model_name="doubler")
assert list(sparktrack.load_model(info.model_uri).predict(features)) == list(forest.predict(features))
assert sparktrack.pyfunc.load_model("models:/doubler/1").predict(features).tolist() == [2.0, 4.0, 6.0, 8.0]

# The registry: versions, aliases, stages, tags, time travel, audit, lineage.
registry = RegistryClient()
second = registry.register_model(f"runs:/{model_run.info.run_id}/model", "churn", tags={"gate": "passed"})
registry.set_registered_model_alias("churn", "Champion", 1)
time.sleep(0.02)
between = time.time()
time.sleep(0.02)
registry.set_registered_model_alias("churn", "Champion", second.version)
registry.transition_model_version_stage("churn", 2, "Production")
registry.set_model_version_tag("churn", 2, "validation_status", "approved")
assert registry.get_model_version_by_alias("churn", "Champion").version == 2
import datetime as dt
then = dt.datetime.fromtimestamp(between, tz=dt.timezone.utc)
assert registry.get_model_version_by_alias("churn", "Champion", as_of=then).version == 1
assert [v.version for v in registry.search_model_versions("name = 'churn' AND tags.gate = 'passed'")] == [2]
assert "set_alias" in list(registry.audit_log("churn")["action"])
assert registry.lineage("churn", 1)["run_id"] == model_run.info.run_id
assert sparktrack.load_model("models:/churn@Champion").predict(features).tolist() == forest.predict(features).tolist()

# Every CLI command but sql (and the demo, which trains Spark ML models).
for argv in (["experiments"], ["runs", "--order-by", "metrics.acc DESC"], ["runs", "--format", "json"],
             ["models", "list"], ["models", "versions", "churn"],
             ["models", "describe", "churn", "--alias", "Champion"],
             ["models", "describe", "churn", "--version", "1", "--as-of", then.isoformat()],
             ["models", "set-alias", "churn", "Challenger", "1"],
             ["models", "tag", "churn", "1", "reviewed", "yes"], ["monitor", "show"]):
    assert cli(["--store", root, *argv]) == 0, argv

assert "pyspark" not in sys.modules, "something imported pyspark"
print("no-java ok")
'''


@pytest.fixture
def no_java(tmp_path) -> dict[str, str]:
    """An environment with no java on PATH and no JAVA_HOME (PATH holds only git)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    if git:
        os.symlink(git, bin_dir / "git")
    env = worker_env(tmp_path, PATH=str(bin_dir))
    env.pop("JAVA_HOME", None)
    return env


def test_tracking_the_registry_python_models_and_the_cli_run_without_java(no_java, tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "store"), str(tmp_path)], env=no_java,
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip().endswith("no-java ok"), done.stdout[-2000:]


def test_the_reference_scenarios_sklearn_script_runs_without_java(no_java, tmp_path):
    env = {**no_java, "SPARKTRACK_STORE": str(tmp_path / "store")}
    done = subprocess.run([sys.executable, str(REPO / "bench" / "scenario" / "iris_sparktrack.py")], env=env,
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Run completed. Artifacts logged to: file:" in done.stdout
    check = ("import sparktrack; runs = sparktrack.search_runs(experiment_ids=['0'], output_format='list'); "
             "[run] = [r for r in runs if r.info.run_name == 'Iris RF Example']; "
             "print(run.info.status, run.data.params['n_estimators'], round(run.data.metrics['accuracy'], 2))")
    done = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["FINISHED", "100", "1.0"], done.stderr[-3000:]


def test_asking_for_spark_without_java_is_a_clear_error(no_java, tmp_path):
    done = subprocess.run([sys.executable, "-m", "sparktrack.cli", "--store", str(tmp_path / "store"), "sql",
                           "SELECT 1"], env=no_java, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert "error: Spark needs Java 17, and there is no java on PATH and no JAVA_HOME" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_process_forked_after_the_store_opened_gets_a_store_error_not_a_crash(tmp_path):
    code = r'''
import multiprocessing, sys
import sparktrack
from sparktrack.errors import StoreError
sparktrack.set_tracking_uri(sys.argv[1])
with sparktrack.start_run() as run:
    sparktrack.log_metric("m", 1.0)

def child(queue):
    results = []
    for call in (lambda: sparktrack.log_metric("m", 2.0), lambda: sparktrack.get_run(run.info.run_id),
                 lambda: sparktrack.TrackingClient(sys.argv[1] + "-other")):
        try:
            call()
            results.append("no error")
        except StoreError as error:
            results.append(str(error))
    queue.put(results)

queue = multiprocessing.get_context("fork").Queue()
process = multiprocessing.get_context("fork").Process(target=child, args=(queue,))
process.start()
results = queue.get(timeout=60)
process.join(60)
print(process.exitcode)
for line in results:
    print(line)
sparktrack.log_metric("after", 1.0, step=1)  # the parent's store still works
sparktrack.end_run()
print(sparktrack.get_run(run.info.run_id).data.metrics)
'''
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "store")], env=worker_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    exit_code, *errors, parent = done.stdout.strip().splitlines()
    assert exit_code == "0"
    assert len(errors) == 3 and all("does not survive fork" in line and "'spawn'" in line for line in errors), errors
    assert parent == "{'m': 1.0}"
