"""A store on object storage, for real: moto's S3 server on loopback. Tracking, artifacts, the
registry, models and maintenance through delta-rs and pyarrow.fs (no JVM), and Spark reading the
same store through s3a with hadoop-aws from Maven Central. (The 8-process writers and registry
race on this server are in test_processes.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import sparktrack
from _procs import worker_env
from sparktrack.testing import fresh_store

#: hadoop-aws for the Hadoop that pyspark 4.2 bundles (3.5.0); Ivy fetches the AWS SDK with it.
HADOOP_AWS = "org.apache.hadoop:hadoop-aws:3.5.0"


def test_tracking_artifacts_registry_models_and_maintenance_on_s3(s3_store, tmp_path):
    from sklearn.linear_model import LogisticRegression

    from sparktrack.store.maintenance import maintain

    with fresh_store(root=s3_store, spool_dir=str(tmp_path / "spool")) as client:
        assert client.store_root == s3_store
        assert client.store.location.storage_options["conditional_put"] == "etag"  # safe with several writers
        sparktrack.set_experiment("/Shared/s3")
        features = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
        with sparktrack.start_run() as run:
            sparktrack.log_params({"depth": 3})
            for step in range(3):
                sparktrack.log_metric("loss", 1 / (step + 1), step=step)
                sparktrack.flush()  # one commit (and file) per step, for the compaction below
            sparktrack.log_text("hello", "notes/readme.md")
            info = sparktrack.sklearn.log_model(LogisticRegression().fit(features, [0, 0, 1, 1]), "model",
                                                input_example=features, registered_model_name="s3_model")
        assert run.info.artifact_uri.startswith(f"{s3_store}/artifacts/")
        assert client.load_text(run.info.run_id, "notes/readme.md") == "hello"
        assert [a["path"] for a in client.list_artifacts(run.info.run_id)] == ["model", "notes"]
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1, 2]
        assert [r.info.run_id for r in sparktrack.search_runs(filter_string="params.depth = '3'",
                                                              output_format="list")] == [run.info.run_id]
        client.set_registered_model_alias("s3_model", "Champion", info.registered_model_version)
        loaded = sparktrack.load_model("models:/s3_model@Champion")
        assert loaded.predict(features).tolist() == [0, 0, 1, 1]

        [report] = maintain(client.store, table_names=["metrics"], zorder=True, purge=True)
        assert report.files_before >= 3 and report.files_after == 1 and report.stored_files_after == 1
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1, 2]


SPARK_READ = r'''
import json, sys
import sparktrack
from sparktrack import settings
from sparktrack.jobs.train import train, load_config

store, conf = sys.argv[1], json.loads(sys.argv[2])
packages = f"{settings.DELTA_PACKAGE.get()},{sys.argv[3]}"
spark = sparktrack.spark_session(master="local[1]", conf={"spark.jars.packages": packages, **conf})
spark.sparkContext.setLogLevel("ERROR")
sparktrack.set_tracking_uri(store, spark)
rows = sparktrack.sql("SELECT run_name, params['depth'] AS depth, metrics['acc'] AS acc FROM sparktrack.runs "
                      "ORDER BY run_name").collect()
[version] = sparktrack.sql("SELECT version FROM sparktrack.model_versions WHERE name = 'from_python'").collect()
# Spark ML writes its model to the same bucket with Spark's own writer, and reads it back.
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
frame = spark.createDataFrame([(float(i), 1.0 if i > 2 else 0.0) for i in range(6)], "x double, label double")
model = Pipeline(stages=[VectorAssembler(inputCols=["x"], outputCol="features"), LogisticRegression(maxIter=3)]).fit(frame)
with sparktrack.start_run(run_name="spark-ml"):
    info = sparktrack.spark.log_model(model, "model", input_example=frame.select("x"))
scored = sparktrack.load_model(info.model_uri).predict(frame).select("prediction").collect()
print(json.dumps({"runs": [list(r) for r in rows], "version": version[0], "model_uri": info.artifact_uri,
                  "scored": len(scored)}))
'''


@pytest.mark.slow
def test_spark_reads_the_store_on_s3_through_s3a_and_writes_spark_ml_models_there(s3_server, s3_store, tmp_path):
    with fresh_store(root=s3_store, spool_dir=str(tmp_path / "spool")) as client:
        for name, depth, acc in (("a", 2, 0.8), ("b", 4, 0.9)):
            run = client.create_run("0", run_name=name)
            client.log_param(run.info.run_id, "depth", depth)
            client.log_metric(run.info.run_id, "acc", acc)
            client.set_terminated(run.info.run_id)
        client.register_model(f"runs:/{run.info.run_id}/model", "from_python")
    spark_root = "s3a" + s3_store[len("s3"):]  # Spark's connector is s3a; the store is the same
    done = subprocess.run([sys.executable, "-c", SPARK_READ, spark_root, json.dumps(s3_server.spark_conf()), HADOOP_AWS],
                          env=worker_env(tmp_path, **s3_server.env), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-5000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["runs"] == [["a", "2", 0.8], ["b", "4", 0.9]]
    assert result["version"] == 1 and result["scored"] == 6
    assert result["model_uri"].startswith(f"{s3_store}/artifacts/0/")  # as the experiment records it


def test_the_ui_serves_a_store_on_s3_with_no_jvm(s3_server, s3_store, tmp_path):
    """``sparktrack ui --store s3://...``: runs, a history and an artifact, read through delta-rs
    and pyarrow.fs with the storage options from the environment."""
    import httpx

    from _serving import Server

    with fresh_store(root=s3_store, spool_dir=str(tmp_path / "spool")):
        with sparktrack.start_run(run_name="on-s3") as run:
            for step in range(5):
                sparktrack.log_metric("loss", 1 / (step + 1), step=step)
            sparktrack.log_text("hello from s3", "notes/readme.txt")
        sparktrack.flush()
    with Server(tmp_path, s3_store, command="ui", ready_path="/api/experiments", env=s3_server.env) as server:
        (found,) = httpx.get(server.url + "/api/runs/search", params={"filter": "attributes.run_name = 'on-s3'"}).json()["runs"]
        assert found["info"]["run_id"] == run.info.run_id
        history = httpx.get(f"{server.url}/api/runs/{run.info.run_id}/metrics/loss").json()
        assert history["step"] == [0, 1, 2, 3, 4] and history["value"][-1] == 0.2
        text = httpx.get(f"{server.url}/api/runs/{run.info.run_id}/artifact", params={"path": "notes/readme.txt"})
        assert text.text == "hello from s3"


def test_a_monitor_lists_the_files_an_append_added_to_a_table_on_s3(s3_server, s3_store):
    """With the store's storage options delta-rs finds the files, spelled as Spark's s3a reads
    them; an overwrite is no append."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from sparktrack.monitoring import reuse

    uri, options = s3_store.rsplit("/", 1)[0] + "/preds", {**s3_server.storage_options, "conditional_put": "etag"}
    write_deltalake(uri, pa.table({"x": [1, 2]}), storage_options=options)
    write_deltalake(uri, pa.table({"x": [3]}), mode="append", storage_options=options)
    new = (set(DeltaTable(uri, storage_options=options).file_uris())
           - set(DeltaTable(uri, version=0, storage_options=options).file_uris()))
    found = reuse.appended_files("s3a" + uri[len("s3"):], 0, 1, options)
    assert len(new) == 1 and found == ["s3a" + u[len("s3"):] for u in new]
    write_deltalake(uri, pa.table({"x": [4]}), mode="overwrite", storage_options=options)
    assert reuse.appended_files("s3a" + uri[len("s3"):], 1, 2, options) is None
