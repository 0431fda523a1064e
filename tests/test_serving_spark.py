"""Serving's Spark side: a Spark ML pipeline served through a warm local session, the columns a
pipeline without a signature reads (in serving and in batch scoring), and the
``inference_records`` view over what a server logged."""

from __future__ import annotations

import json
import signal

import httpx
import pytest
from chispa import assert_df_equality

from _serving import GOOD_ROW, Server, forest_store
from sparktrack.jobs import BAD_INPUT
from sparktrack.jobs import batch_score as score_job
from sparktrack.models.errors import MissingColumnsError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline_store(spark, tmp_path_factory):
    """A store with a Spark pipeline (assembler, then logistic regression) registered as ``lr``
    without a signature, and a Delta table to score."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    from sparktrack.models import spark as spark_models
    from sparktrack.testing import fresh_store

    tmp = tmp_path_factory.mktemp("serving-spark")
    rows = [(float(i % 7), float(i % 5), float(i % 3 == 0)) for i in range(60)]
    data = spark.createDataFrame(rows, "a double, b double, label double")
    table = str(tmp / "table")
    data.write.format("delta").save(table)
    fitted = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"),
                              LogisticRegression(maxIter=5)]).fit(data)
    store = str(tmp / "store")
    with fresh_store(spark, root=store) as client:
        run_id = client.create_run("0").info.run_id
        spark_models.log_model(fitted, "model", client=client, run_id=run_id, registered_model_name="lr")
        client.set_registered_model_alias("lr", "Champion", 1)
        expected = [row.prediction for row in fitted.transform(data.limit(4)).collect()]
    return tmp, store, table, expected


def test_a_pipeline_without_a_signature_is_checked_by_its_stages_in_serving(pipeline_store, java_options):
    tmp, store, _, expected = pipeline_store
    env = {"PYSPARK_SUBMIT_ARGS": f'--driver-java-options "{java_options}" pyspark-shell'}
    with Server(tmp, store, "models:/lr@Champion", env=env, timeout=300) as server:
        rows = [{"a": float(i % 7), "b": float(i % 5)} for i in range(4)]
        answer = httpx.post(server.url + "/invocations", json={"dataframe_records": rows}, timeout=120)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": expected}
        missing = httpx.post(server.url + "/invocations", json={"dataframe_records": [{"a": 1.0}]}, timeout=60)
        assert missing.status_code == 400
        assert "missing ['b']" in missing.json()["message"]
        meta = httpx.get(server.url + "/metadata").json()["routes"][0]
        assert meta["flavor"] == "spark" and meta["signature"] is None and meta["input_columns"] == ["a", "b"]


def test_batch_scoring_a_pipeline_without_a_signature_names_the_missing_columns_and_exits_2(
        spark, pipeline_store, capsys):
    from sparktrack.scoring import batch_score

    tmp, store, table, _ = pipeline_store
    narrow = str(tmp / "narrow")
    spark.read.format("delta").load(table).drop("b").write.format("delta").save(narrow)
    output = str(tmp / "predictions")
    with pytest.raises(MissingColumnsError, match=r"missing \['b'\]"):
        batch_score("models:/lr@Champion", narrow, output, store=store, spark=spark)
    code = score_job.main(["--model", "models:/lr@Champion", "--input", narrow, "--output", output,
                           "--store", store])
    assert code == BAD_INPUT
    assert "missing ['b']; present ['a', 'label']" in capsys.readouterr().err
    assert not (tmp / "predictions").exists()


def test_the_inference_records_view_has_one_row_per_scored_record_in_every_format(spark, tmp_path):
    from sparktrack.client import SparkTrackClient

    store, _ = forest_store(tmp_path, versions=1)
    two = [GOOD_ROW, {**GOOD_ROW, "calls": 9}]
    bodies = [
        ("application/json", json.dumps({"dataframe_split": {"columns": list(GOOD_ROW),
                                                             "data": [list(r.values()) for r in two]}})),
        ("application/json", json.dumps({"dataframe_records": two, "client_request_id": "c-1"})),
        ("application/json", json.dumps({"instances": two})),
        ("application/json", json.dumps({"inputs": {k: [r[k] for r in two] for k in GOOD_ROW}})),
        ("text/csv", "tenure,charges,calls\n12,70.5,3\n12,70.5,9\n"),
        ("application/json", json.dumps({"dataframe_records": [{"tenure": 1}]})),  # a 400: not a record
    ]
    with Server(tmp_path, store, "models:/churn@Champion") as server:
        answers = [httpx.post(server.url + "/invocations", content=body, headers={"content-type": kind})
                   for kind, body in bodies]
        server.stop(signal.SIGTERM)
    assert [a.status_code for a in answers] == [200] * 5 + [400]
    predictions = [a.json()["predictions"] for a in answers[:5]]
    client = SparkTrackClient(store, spark)
    records = client.tracking.sql(
        "SELECT request_id, client_request_id, record_index, record['tenure'] AS tenure, "
        "record['calls'] AS calls, prediction FROM sparktrack.inference_records")
    ids = [a.headers["x-request-id"] for a in answers[:5]]
    expected = spark.createDataFrame(
        [(request_id, "c-1" if n == 1 else None, index, "12", str(two[index]["calls"]), str(predictions[n][index]))
         for n, request_id in enumerate(ids) for index in range(2)],
        "request_id string, client_request_id string, record_index int, tenure string, calls string, "
        "prediction string")
    assert_df_equality(records, expected, ignore_row_order=True, ignore_nullable=True)
    logged = client.tracking.sql("SELECT count(*) AS n FROM sparktrack.inference_log").collect()[0].n
    assert logged == 6
