"""Logging, loading and scoring models (Spark ML, scikit-learn, generic Python) on real Delta, with
real Spark where the model or the data is Spark's."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyspark
import pytest
from chispa import assert_df_equality

import sparktrack
from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack import load_model
from sparktrack import pyfunc as pyfunc_models
from sparktrack import sklearn as sklearn_models
from sparktrack import spark as spark_models
from sparktrack.models import ModelDescriptor, ModelInfo
from sparktrack.models.uris import resolve_model_uri as resolve_with
from sparktrack.models.errors import (
    DescriptorError,
    FlavorMismatchError,
    MissingColumnsError,
    ModelExistsError,
    ModelNotFoundError,
    ModelURIError,
    OutputColumnExistsError,
    UnsupportedModelError,
)
from sparktrack.models.pyfunc import PythonModel
from sparktrack.models.spark import SparkModel


@pytest.fixture
def train(spark):
    rows = [(i, float(i), float(i % 3), 1.0 if i >= 5 else 0.0) for i in range(10)]
    return spark.createDataFrame(rows, "id int, x1 double, x2 double, label double")


def resolve_model_uri(uri):
    from sparktrack.tracking import fluent

    return resolve_with(uri, fluent.client())


def _doubler():
    # Defined in a function, so cloudpickle pickles the class by value: Spark's Python workers
    # cannot import this test module.
    class Doubler:
        def predict(self, df):
            return df["a"] * 2

    return Doubler()


# -- Spark ML -------------------------------------------------------------------------------------
def test_spark_pipeline_round_trip_scores_with_transform(spark_client, spark, train):
    client = spark_client
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    model = Pipeline(stages=[
        VectorAssembler(inputCols=["x1", "x2"], outputCol="features"),
        LogisticRegression(maxIter=5),
    ]).fit(train)
    with sparktrack.start_run() as run:
        info = spark_models.log_model(model, "model", input_example=train.select("id", "x1", "x2"))
    run_id = run.info.run_id

    assert isinstance(info, ModelInfo)
    assert info.model_uri == f"runs:/{run_id}/model" and info.run_id == run_id
    assert info.flavor == "spark" and info.registered_model_version is None
    assert info.artifact_uri == client.get_artifact_uri(run_id, "model")
    assert [a["path"] for a in client.list_artifacts(run_id, "model")] == [
        "model/sparkml", "model/sparktrack_model.json"]

    text = client.load_text(run_id, "model/sparktrack_model.json")
    written = json.loads(text)
    assert written["flavor"] == "spark" and written["run_id"] == run_id
    assert written["artifact_path"] == "model" and written["data_path"] == "sparkml"
    assert [c["name"] for c in written["signature"]] == ["id", "x1", "x2"]
    assert written["signature"][1] == {"name": "x1", "type": "double"}
    assert written["output_column"] == "prediction" and written["output_type"] == "double"
    assert written["library_versions"]["pyspark"] == pyspark.__version__
    assert len(written["input_example"]) == 5 and written["input_example"][0] == {
        "id": 0, "x1": 0.0, "x2": 0.0}
    assert ModelDescriptor.from_json(text) == info.descriptor

    loaded = load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, SparkModel) and isinstance(loaded.native, PipelineModel)
    assert loaded.descriptor == info.descriptor
    assert_df_equality(
        loaded.predict(train).select("id", "prediction"),
        model.transform(train).select("id", "prediction"),
        ignore_row_order=True,
    )

    # The model directory loads by its URI and by a plain local path too.
    assert resolve_model_uri(info.model_uri) == info.artifact_uri
    local_dir = info.artifact_uri.removeprefix("file:")
    assert isinstance(spark_models.load_model(local_dir), SparkModel)
    assert resolve_model_uri(local_dir) == info.artifact_uri

    with pytest.raises(MissingColumnsError, match=r"missing \['x2'\]; present \['id', 'x1', 'label'\]"):
        loaded.predict(train.drop("x2"))
    with pytest.raises(OutputColumnExistsError, match="'prediction'"):
        loaded.predict(model.transform(train).select("id", "x1", "x2", "prediction"))
    with pytest.raises(FlavorMismatchError, match="flavor 'spark'"):
        sklearn_models.load_model(info.model_uri)


# -- scikit-learn ---------------------------------------------------------------------------------
def _forest():
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    features, labels = make_classification(n_samples=40, n_features=4, n_informative=2,
                                           n_redundant=0, random_state=0)
    frame = pd.DataFrame(features, columns=["f0", "f1", "f2", "f3"])
    return frame, RandomForestClassifier(n_estimators=10, random_state=0).fit(frame, labels)


def test_sklearn_round_trip_on_pandas(client):
    frame, estimator = _forest()
    expected = estimator.predict(frame)

    with sparktrack.start_run() as run:
        info = sklearn_models.log_model(estimator, "rf", input_example=frame)
    descriptor = info.descriptor
    assert descriptor.flavor == "sklearn" and descriptor.run_id == run.info.run_id
    assert descriptor.signature == [{"name": f"f{i}", "type": "double"} for i in range(4)]
    assert descriptor.output_type == "bigint"  # make_classification's labels are int64
    assert {"python", "pyspark", "sklearn", "cloudpickle"} <= set(descriptor.library_versions)
    assert [a["path"] for a in client.list_artifacts(run.info.run_id, "rf")] == [
        "rf/python_model.pkl", "rf/sparktrack_model.json"]

    loaded = load_model(info.model_uri)
    assert isinstance(loaded, PythonModel)
    assert type(loaded.native).__name__ == "RandomForestClassifier"
    np.testing.assert_array_equal(loaded.predict(frame), expected)
    np.testing.assert_array_equal(sklearn_models.load_model(info.model_uri).predict(frame), expected)


def test_sklearn_model_scores_a_spark_frame_through_arrow(spark_client, spark):
    frame, estimator = _forest()
    expected = estimator.predict(frame)
    with sparktrack.start_run():
        info = sklearn_models.log_model(estimator, "rf", input_example=frame)
    loaded = load_model(info.model_uri)
    table = spark.createDataFrame(frame.assign(id=np.arange(len(frame))))
    expected_df = spark.createDataFrame([(i, int(p)) for i, p in enumerate(expected)],
                                        "id long, prediction long")
    scored = loaded.predict(table)
    assert scored.columns == ["f0", "f1", "f2", "f3", "id", "prediction"]
    assert_df_equality(scored.select("id", "prediction"), expected_df,
                       ignore_row_order=True, ignore_nullable=True)


# -- generic Python -------------------------------------------------------------------------------
def test_pyfunc_round_trip_on_pandas_and_spark(spark_client, spark):
    with sparktrack.start_run():
        info = pyfunc_models.log_model(_doubler(), "doubler",
                                       input_example=pd.DataFrame({"a": [1.0, 2.0, 3.0]}))
        plus_one = pyfunc_models.log_model(lambda df: df["a"] + 1, "plus_one",
                                           signature=[{"name": "a", "type": "double"}],
                                           output_column="plus")
    assert info.descriptor.flavor == "python_function"
    assert info.descriptor.signature == [{"name": "a", "type": "double"}]
    assert info.descriptor.output_type == "double"

    loaded = load_model(info.model_uri)
    assert isinstance(loaded, PythonModel)
    pd.testing.assert_series_equal(loaded.predict(pd.DataFrame({"a": [1.5, 4.0], "b": ["x", "y"]})),
                                   pd.Series([3.0, 8.0], name="a"))

    table = spark.createDataFrame([(1, 1.5), (2, 4.0), (3, -1.0)], "id long, a double")
    assert_df_equality(
        loaded.predict(table),
        spark.createDataFrame([(1, 1.5, 3.0), (2, 4.0, 8.0), (3, -1.0, -2.0)],
                              "id long, a double, prediction double"),
        ignore_row_order=True, ignore_nullable=True,
    )
    function_model = pyfunc_models.load_model(plus_one.artifact_uri)
    assert_df_equality(
        function_model.predict(table).select("id", "plus"),
        spark.createDataFrame([(1, 2.5), (2, 5.0), (3, 0.0)], "id long, plus double"),
        ignore_row_order=True, ignore_nullable=True,
    )


def test_log_model_starts_a_run_when_none_is_active_and_uses_run_id_when_given(client):
    info = pyfunc_models.log_model(_doubler(), "model")
    active = sparktrack.active_run()
    assert active is not None and info.run_id == active.info.run_id
    sparktrack.end_run()
    again = pyfunc_models.log_model(_doubler(), "second", run_id=info.run_id)
    assert again.run_id == info.run_id and sparktrack.active_run() is None
    assert again.descriptor.signature is None and again.descriptor.input_example is None


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("make_model, function, type_name", [
    (lambda: {"weights": [1, 2]}, spark_models.log_model, "builtins.dict"),
    (lambda: _doubler(), spark_models.log_model, "Doubler"),
    (lambda: __import__("pyspark.ml.classification", fromlist=["x"]).LogisticRegression(),
     spark_models.log_model, "pyspark.ml.classification.LogisticRegression"),
    (lambda: _doubler(), sklearn_models.log_model, "Doubler"),
    (lambda: 42, pyfunc_models.log_model, "builtins.int"),
])
def test_log_model_rejects_objects_the_flavor_cannot_save(spark_client, make_model, function, type_name):
    with pytest.raises(UnsupportedModelError, match=type_name) as caught:
        function(make_model(), "model")
    assert isinstance(caught.value, InvalidInputError)
    assert sparktrack.active_run() is None  # rejected before any run was started


def test_log_model_checks_the_example_against_the_signature(client):
    with pytest.raises(MissingColumnsError, match=r"missing \['a'\]; present \['b'\]"):
        pyfunc_models.log_model(_doubler(), "model", input_example=pd.DataFrame({"b": [1.0]}),
                                signature=[{"name": "a", "type": "double"}])
    with pytest.raises(InvalidInputError, match="input_example must be a pandas DataFrame"):
        pyfunc_models.log_model(_doubler(), "model", input_example=[[1.0]])
    assert sparktrack.active_run() is None


def test_predict_names_missing_and_present_columns(spark_client, spark):
    with sparktrack.start_run():
        info = pyfunc_models.log_model(_doubler(), "model", signature=[{"name": "a", "type": "double"}])
    model = load_model(info.model_uri)
    message = r"missing \['a'\]; present \['b', 'c'\]"
    with pytest.raises(MissingColumnsError, match=message):
        model.predict(pd.DataFrame({"b": [1.0], "c": [2.0]}))
    with pytest.raises(MissingColumnsError, match=message):
        model.predict(spark.createDataFrame([(1.0, 2.0)], "b double, c double"))
    with pytest.raises(InvalidInputError, match="a Spark DataFrame or a pandas DataFrame"):
        model.predict([[1.0]])


@pytest.mark.parametrize("uri, reason", [
    ("foo://x/model", "has a scheme (foo:) that no filesystem serves"),
    ("runs:/", "has no run id"),
    ("runs:/abc", "has no artifact path after the run id 'abc'"),
    ("runs:/abc/", "has no artifact path"),
    ("runs:abc/model", "does not start with 'runs:/'"),
    ("models:/", "has no model name"),
    ("models:/churn", "needs a version number"),
    ("models:/churn/v1", "needs a version number"),
    ("models:/churn@", "models:/<name>@<alias>"),
    ("", "is not a non-empty string"),
    ("a:b:c", "has a scheme (a:) that no filesystem serves"),
])
def test_bad_model_uris_name_the_uri_and_the_accepted_forms(client, uri, reason):
    with pytest.raises(ModelURIError) as caught:
        resolve_model_uri(uri)
    message = str(caught.value)
    assert isinstance(caught.value, InvalidInputError)
    assert repr(uri) in message and reason in message
    assert "runs:/<run_id>/<artifact_path>" in message and "models:/<name>@<alias>" in message


def test_runs_uri_of_an_unknown_run_or_of_a_path_without_a_model(client, tmp_path):
    uri = "runs:/0123456789abcdef0123456789abcdef/model"
    with pytest.raises(ModelNotFoundError, match="no run with id '0123456789abcdef") as caught:
        load_model(uri)
    assert isinstance(caught.value, NotFoundError) and repr(uri) in str(caught.value)

    with sparktrack.start_run() as run:
        sparktrack.log_text("hello", "notes/readme.txt")
    for path in ("model", "notes"):
        uri = f"runs:/{run.info.run_id}/{path}"
        with pytest.raises(ModelNotFoundError, match="has no sparktrack_model.json") as caught:
            load_model(uri)
        assert repr(uri) in str(caught.value)
    with pytest.raises(ModelNotFoundError, match="has no sparktrack_model.json"):
        resolve_model_uri(str(tmp_path))


def test_a_logged_model_is_never_overwritten(client):
    with sparktrack.start_run():
        info = pyfunc_models.log_model(_doubler(), "model")
        with pytest.raises(ModelExistsError, match=f"'{info.model_uri}' already exists"):
            pyfunc_models.log_model(_doubler(), "model/")


# -- descriptor -----------------------------------------------------------------------------------
def test_descriptor_json_round_trip_and_errors():
    descriptor = ModelDescriptor(
        flavor="python_function", model_uuid="u1", run_id="r1", artifact_path="model",
        created_at=1_700_000_000_000, data_path="python_model.pkl",
        library_versions={"python": "3.11.7"}, signature=[{"name": "a", "type": "double"}],
        input_example=[{"a": 1.0}],
    )
    text = descriptor.to_json()
    assert ModelDescriptor.from_json(text) == descriptor
    assert json.loads(text)["output_column"] == "prediction"
    newer = dict(json.loads(text), written_by_a_newer_version=True)
    assert ModelDescriptor.from_json(json.dumps(newer)) == descriptor
    with pytest.raises(DescriptorError, match=r"missing keys \['data_path'\]"):
        ModelDescriptor.from_json(json.dumps({k: v for k, v in json.loads(text).items()
                                              if k != "data_path"}))
    with pytest.raises(DescriptorError, match="flavor 'onnx' is not one of"):
        ModelDescriptor.from_json(text.replace("python_function", "onnx"))
    with pytest.raises(DescriptorError, match="not valid JSON"):
        ModelDescriptor.from_json("{")


def test_importing_models_imports_no_flavor_library():
    code = ("import sys, sparktrack, sparktrack.models; "
            "print(sorted(m for m in ('sklearn', 'pyspark.ml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_model_logged_through_a_client_needs_its_run(client):
    from sparktrack.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="run_id must be the id of a run of the given client's store"):
        pyfunc_models.log_model(_doubler(), "model", client=client)
    run = client.create_run("0")
    info = pyfunc_models.log_model(_doubler(), "model", client=client, run_id=run.info.run_id)
    client.set_terminated(run.info.run_id)
    assert load_model(info.model_uri).predict(pd.DataFrame({"a": [2.0]})).tolist() == [4.0]
    assert sparktrack.active_run() is None


@pytest.mark.parametrize("output_type, canonical", [
    ("double", "double"), ("BIGINT", "bigint"), ("long", "bigint"), ("array< double >", "array<double>"),
    ("map<string,int>", "map<string,int>"), ("decimal(10, 2)", "decimal(10,2)"), ("struct<a:int,b:string>",
                                                                                  "struct<a:int,b:string>"),
])
def test_output_types_are_named_as_spark_names_them_without_a_jvm(output_type, canonical):
    from sparktrack.models.types import canonical as name

    assert name(output_type) == canonical


@pytest.mark.parametrize("output_type", ["", "dbl", "array<double", "map<int>", "double double", 3])
def test_output_types_spark_would_refuse_are_refused(output_type):
    from sparktrack.errors import InvalidValueError
    from sparktrack.models.types import canonical

    with pytest.raises(InvalidValueError, match="output_type must be a Spark SQL type string"):
        canonical(output_type)
