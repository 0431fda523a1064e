"""Spark ML autologging on real estimators and the session's local Spark, with MLflow's documented
names: ``Stage.param`` / ``Class_n.param``, ``{metricName}[-n]_{dataset}``, ``avg_``/``std_``,
``best_Stage.param``."""

from __future__ import annotations

import json

import pytest

import sparktrack
from sparktrack.autologging import safety


@pytest.fixture(autouse=True)
def autolog_off_after():
    yield
    sparktrack.autolog(disable=True)  # every flavor: one test turns scikit-learn's on too


@pytest.fixture(scope="module")
def rows():
    # Two overlapping classes, so that a model's AUC is neither 0 nor 1 and regParam matters.
    return [(float(i % 7), float((i * 3) % 5), float(i % 7 + (i * 3) % 5 > 5)) for i in range(40)]


@pytest.fixture
def frame(spark, rows):
    return spark.createDataFrame(rows, "x1 double, x2 double, label double")


def _pipeline(max_iter=5, reg_param=0.1):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    return Pipeline(stages=[VectorAssembler(inputCols=["x1", "x2"], outputCol="features"),
                            LogisticRegression(maxIter=max_iter, regParam=reg_param)])


def _runs(client):
    return client.search_runs(["0"], output_format="list")


def test_a_pipeline_fit_is_one_finished_run_with_flattened_params_model_and_delta_input(spark_client, frame,
                                                                                         tmp_path):
    spark = spark_client.spark
    path = str(tmp_path / "train")
    frame.write.format("delta").save(path)
    frame.limit(5).write.format("delta").mode("append").save(path)  # version 1: the fit reads version 0
    train = spark.read.format("delta").option("versionAsOf", 0).load(path)
    sparktrack.spark.autolog(extra_tags={"team": "growth"})
    model = _pipeline().fit(train)

    (run,) = _runs(spark_client)
    assert run.info.status == "FINISHED" and sparktrack.active_run() is None
    tags, params = run.data.tags, run.data.params
    assert tags["sparktrack.autologging"] == "spark" and tags["team"] == "growth"
    assert tags["estimator_name"] == "Pipeline" and tags["estimator_class"] == "pyspark.ml.pipeline.Pipeline"
    assert params["stages"] == "['VectorAssembler', 'LogisticRegression']"
    assert params["VectorAssembler.inputCols"] == "['x1', 'x2']"
    assert params["VectorAssembler.outputCol"] == "features"
    assert params["LogisticRegression.regParam"] == "0.1" and params["LogisticRegression.maxIter"] == "5"
    assert params["LogisticRegression.featuresCol"] == "features"
    assert all(k == "stages" or k.split(".")[0] in ("VectorAssembler", "LogisticRegression") for k in params)
    info = json.loads(spark_client.load_text(run.info.run_id, "estimator_info.json"))
    assert info == {"hierarchy": {"name": "Pipeline",
                                  "stages": [{"name": "VectorAssembler"}, {"name": "LogisticRegression"}]}}

    loaded = sparktrack.spark.load_model(f"runs:/{run.info.run_id}/model")
    expected = [r.prediction for r in model.transform(train).select("prediction").collect()]
    assert [r.prediction for r in loaded.predict(train).select("prediction").collect()] == expected
    assert loaded.descriptor.signature == [{"name": "x1", "type": "double"}, {"name": "x2", "type": "double"}]

    (dataset,) = spark_client.get_run_inputs(run.info.run_id)
    assert dataset.context == "train" and dataset.source_type == "delta"
    assert dataset.source.rstrip("/").endswith(path.rstrip("/")) and dataset.delta_version == 0


def test_a_class_that_repeats_in_a_pipeline_is_named_class_n(spark_client, frame):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    sparktrack.spark.autolog(log_models=False, log_datasets=False)
    Pipeline(stages=[VectorAssembler(inputCols=["x1"], outputCol="v1"),
                     VectorAssembler(inputCols=["v1", "x2"], outputCol="features"),
                     LogisticRegression(maxIter=3)]).fit(frame)
    (run,) = _runs(spark_client)
    params = run.data.params
    assert params["stages"] == "['VectorAssembler_1', 'VectorAssembler_2', 'LogisticRegression']"
    assert params["VectorAssembler_1.inputCols"] == "['x1']"
    assert params["VectorAssembler_2.inputCols"] == "['v1', 'x2']"
    assert params["LogisticRegression.maxIter"] == "3"
    info = json.loads(spark_client.load_text(run.info.run_id, "estimator_info.json"))
    assert [s["name"] for s in info["hierarchy"]["stages"]] == ["VectorAssembler_1", "VectorAssembler_2",
                                                                 "LogisticRegression"]


def test_evaluate_on_an_autologged_models_predictions_logs_metric_and_dataset_names(spark_client, frame):
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    sparktrack.spark.autolog(log_models=False, log_datasets=False)
    train_df, test_df = frame.limit(30), frame.filter("x1 > 1")
    model = _pipeline().fit(train_df)
    predictions = model.transform(test_df)
    evaluator = BinaryClassificationEvaluator()
    auc = evaluator.evaluate(predictions)
    again = evaluator.evaluate(predictions)  # a repeat of the same metric: "-2"
    pr = evaluator.evaluate(predictions, {evaluator.metricName: "areaUnderPR"})
    test_df = frame.filter("x1 > 2")  # another DataFrame under the same name: "test_df-2"
    evaluator.evaluate(model.transform(test_df))

    (run,) = _runs(spark_client)
    assert set(run.data.metrics) == {"areaUnderROC_test_df", "areaUnderROC-2_test_df", "areaUnderPR_test_df",
                                     "areaUnderROC-3_test_df-2"}
    assert run.data.metrics["areaUnderROC_test_df"] == pytest.approx(auc) == pytest.approx(again)
    assert run.data.metrics["areaUnderPR_test_df"] == pytest.approx(pr)

    sparktrack.spark.autolog(log_models=False, log_datasets=False, log_post_training_metrics=False)
    evaluator.evaluate(_pipeline().fit(train_df).transform(test_df))
    sparktrack.spark.autolog(log_models=False, log_datasets=False)
    with sparktrack.start_run() as mine:
        users_model = _pipeline().fit(train_df)
    evaluator.evaluate(users_model.transform(test_df))  # the user ended that run: nothing goes there
    runs = {r.info.run_id: r for r in _runs(spark_client)}
    assert len(runs) == 3 and runs[mine.info.run_id].data.metrics == {}
    assert all(r.data.metrics == {} for i, r in runs.items() if i != run.info.run_id)


def test_cross_validator_has_a_child_run_per_param_map_and_the_best_params_and_model(spark_client, frame):
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    data = VectorAssembler(inputCols=["x1", "x2"], outputCol="features").transform(frame)
    lr = LogisticRegression(maxIter=3)
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 5.0]).build()
    sparktrack.spark.autolog(log_datasets=False)
    search = CrossValidator(estimator=lr, estimatorParamMaps=grid, evaluator=BinaryClassificationEvaluator(),
                            numFolds=2, seed=1)
    cv_model = search.fit(data)

    runs = _runs(spark_client)
    (parent,) = [r for r in runs if r.info.parent_run_id is None]
    children = [r for r in runs if r.info.parent_run_id == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2  # the folds' inner fits are not runs
    params = parent.data.params
    assert parent.data.tags["estimator_name"] == "CrossValidator"
    assert params["estimator"] == "LogisticRegression" and params["numFolds"] == "2"
    assert params["evaluator"] == "BinaryClassificationEvaluator"
    assert params["BinaryClassificationEvaluator.metricName"] == "areaUnderROC"
    assert "estimatorParamMaps" not in params and not any(k.startswith("LogisticRegression.") for k in params)
    best = max(range(2), key=lambda i: cv_model.avgMetrics[i])
    assert params["best_LogisticRegression.regParam"] == str([0.01, 5.0][best])
    by_reg = {c.data.params["regParam"]: c for c in children}
    assert set(by_reg) == {"0.01", "5.0"}
    for i, reg in enumerate(["0.01", "5.0"]):
        child = by_reg[reg]
        assert set(child.data.metrics) == {"avg_areaUnderROC", "std_areaUnderROC"}
        assert child.data.metrics["avg_areaUnderROC"] == pytest.approx(cv_model.avgMetrics[i])
        assert child.data.metrics["std_areaUnderROC"] == pytest.approx(cv_model.stdMetrics[i])
        assert child.data.params["maxIter"] == "3" and child.info.status == "FINISHED"
        assert child.data.tags["estimator_name"] == "LogisticRegression"
    info = json.loads(spark_client.load_text(parent.info.run_id, "estimator_info.json"))
    assert info["hierarchy"] == {"name": "CrossValidator", "evaluator": {"name": "BinaryClassificationEvaluator"},
                                 "tuned_estimator": {"name": "LogisticRegression"}}
    assert len(info["CrossValidator"]["tuning_parameter_map_list"]) == 2
    best_model = sparktrack.spark.load_model(f"runs:/{parent.info.run_id}/best_model")
    assert best_model.native.stages[0].coefficients == cv_model.bestModel.coefficients


def test_a_second_fit_in_one_active_run_goes_to_a_child_run(spark_client, frame):
    sparktrack.spark.autolog(log_models=False, log_datasets=False)
    with sparktrack.start_run() as parent:
        _pipeline(reg_param=0.1).fit(frame)
        _pipeline(reg_param=0.2).fit(frame)  # MLflow: "changing param values" fails
        assert spark_client.get_run(parent.info.run_id).info.status == "RUNNING"
    runs = {r.info.run_id: r for r in _runs(spark_client)}
    assert runs[parent.info.run_id].data.params["LogisticRegression.regParam"] == "0.1"
    (child,) = [r for i, r in runs.items() if i != parent.info.run_id]
    assert child.info.parent_run_id == parent.info.run_id and child.info.status == "FINISHED"
    assert child.data.params["LogisticRegression.regParam"] == "0.2"


def test_disable_puts_fit_back_and_sparktrack_autolog_covers_spark(spark_client, frame):
    from pyspark.ml.base import Estimator, Transformer
    from pyspark.ml.evaluation import Evaluator

    originals = (Estimator.__dict__["fit"], Transformer.__dict__["transform"], Evaluator.__dict__["evaluate"])
    assert "spark" in sparktrack.autolog(log_models=False, log_datasets=False)
    assert getattr(Estimator.fit, safety.ORIGINAL) is originals[0]
    sparktrack.spark.autolog(log_models=False, log_datasets=False, exclusive=True)  # again: patched once
    assert getattr(Estimator.fit, safety.ORIGINAL) is originals[0]
    with sparktrack.start_run() as mine:
        _pipeline().fit(frame)  # exclusive: nothing in the user's run
    assert spark_client.get_run(mine.info.run_id).data.params == {}
    sparktrack.autolog(disable=True)
    assert (Estimator.__dict__["fit"], Transformer.__dict__["transform"],
            Evaluator.__dict__["evaluate"]) == originals and not safety.patched("spark")
    _pipeline().fit(frame)
    assert len(_runs(spark_client)) == 1


def test_train_validation_split_has_a_child_run_per_param_map_with_its_metric_and_the_best_on_the_parent(
        spark_client, frame):
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit

    data = VectorAssembler(inputCols=["x1", "x2"], outputCol="features").transform(frame)
    lr = LogisticRegression(maxIter=3)
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 5.0]).build()
    sparktrack.spark.autolog(log_datasets=False)
    tvs_model = TrainValidationSplit(estimator=lr, estimatorParamMaps=grid, evaluator=BinaryClassificationEvaluator(),
                                     trainRatio=0.75, seed=1).fit(data)

    runs = _runs(spark_client)
    (parent,) = [r for r in runs if r.info.parent_run_id is None]
    children = [r for r in runs if r.info.parent_run_id == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2
    params = parent.data.params
    assert parent.data.tags["estimator_name"] == "TrainValidationSplit"
    assert params["estimator"] == "LogisticRegression" and params["trainRatio"] == "0.75"
    assert params["evaluator"] == "BinaryClassificationEvaluator"
    assert params["BinaryClassificationEvaluator.metricName"] == "areaUnderROC"
    best = max(range(2), key=lambda i: tvs_model.validationMetrics[i])
    assert params["best_LogisticRegression.regParam"] == str([0.01, 5.0][best])
    assert json.loads(spark_client.load_text(parent.info.run_id, "best_parameters.json")) == {
        "LogisticRegression.regParam": str([0.01, 5.0][best])}
    assert parent.data.metrics == {}  # MLflow logs the search's metrics on the child runs only
    by_reg = {c.data.params["regParam"]: c for c in children}
    for i, reg in enumerate(["0.01", "5.0"]):
        # TrainValidationSplit has one validation metric per map: MLflow logs it under the
        # metric's own name (no avg_/std_, which are CrossValidator's).
        assert by_reg[reg].data.metrics == {"areaUnderROC": pytest.approx(tvs_model.validationMetrics[i])}
        assert by_reg[reg].info.status == "FINISHED"
    best_model = sparktrack.spark.load_model(f"runs:/{parent.info.run_id}/best_model")
    assert best_model.native.stages[0].coefficients == tvs_model.bestModel.coefficients
    assert sparktrack.spark.load_model(f"runs:/{parent.info.run_id}/model") is not None


def test_log_input_examples_keeps_five_rows_of_the_input_columns_with_the_model(spark_client, frame):
    sparktrack.spark.autolog(log_datasets=False, log_input_examples=True)
    _pipeline().fit(frame.withColumn("unused", frame.x1 * 2))  # not read by any stage: not in the example

    (run,) = _runs(spark_client)
    loaded = sparktrack.spark.load_model(f"runs:/{run.info.run_id}/model")
    # The fixture's first rows: x1 = i % 7, x2 = (i * 3) % 5.
    assert loaded.descriptor.input_example == [{"x1": 0.0, "x2": 0.0}, {"x1": 1.0, "x2": 3.0}, {"x1": 2.0, "x2": 1.0},
                                               {"x1": 3.0, "x2": 4.0}, {"x1": 4.0, "x2": 2.0}]
    assert loaded.descriptor.signature == [{"name": "x1", "type": "double"}, {"name": "x2", "type": "double"}]


def test_a_metric_on_a_slice_of_a_prediction_goes_to_the_run_of_the_model_that_made_it(spark_client, frame):
    from pyspark.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator

    sparktrack.spark.autolog(log_models=False, log_datasets=False)
    test_df = frame.filter("x2 < 4")
    model_a, model_b = _pipeline(reg_param=0.01).fit(frame), _pipeline(max_iter=1, reg_param=2.0).fit(frame)
    runs = {r.data.params["LogisticRegression.regParam"]: r.info.run_id for r in _runs(spark_client)}
    predictions_a, predictions_b = model_a.transform(test_df), model_b.transform(test_df)
    evaluator = BinaryClassificationEvaluator()
    auc_a = evaluator.evaluate(predictions_a.filter("x1 > 1"))
    auc_b = evaluator.evaluate(predictions_b.limit(20).select("rawPrediction", "label"))
    accuracy_b = MulticlassClassificationEvaluator(metricName="accuracy").evaluate(
        predictions_b.join(predictions_a.select("x1", "x2"), ["x1", "x2"]).orderBy("x1"))  # b's prediction column
    # No variable holds the transform's result: the slice is still traced to model b (a repeat: "-2").
    auc_b_again = evaluator.evaluate(model_b.transform(test_df).filter("label = 1 or x1 < 3"))
    # A recomputed prediction column is no longer the model's: nothing is logged.
    evaluator.evaluate(predictions_a.withColumn("rawPrediction", predictions_a.rawPrediction))

    metrics_a = spark_client.get_run(runs["0.01"]).data.metrics
    metrics_b = spark_client.get_run(runs["2.0"]).data.metrics
    assert metrics_a == {"areaUnderROC_test_df": pytest.approx(auc_a)}
    assert metrics_b == {"areaUnderROC_test_df": pytest.approx(auc_b), "accuracy_test_df": pytest.approx(accuracy_b),
                         "areaUnderROC-2_test_df": pytest.approx(auc_b_again)}


def test_an_sklearn_fit_then_a_spark_fit_in_one_run_puts_the_second_in_a_child_run(spark_client, frame):
    from sklearn.linear_model import LogisticRegression

    assert {"sklearn", "spark"} <= set(sparktrack.autolog(log_models=False, log_datasets=False))
    local = frame.toPandas()
    X, y = local[["x1", "x2"]], local["label"]
    with sparktrack.start_run() as parent:
        LogisticRegression(C=0.5).fit(X, y)
        _pipeline(reg_param=0.3).fit(frame)  # another flavor, the same run: a child run, not a clash
        LogisticRegression(C=2.0).fit(X, y)
    runs = {r.info.run_id: r for r in _runs(spark_client)}
    assert len(runs) == 3
    mine = runs.pop(parent.info.run_id)
    assert mine.data.params["C"] == "0.5" and mine.data.tags["estimator_name"] == "LogisticRegression"
    assert not any(k.startswith("LogisticRegression.") for k in mine.data.params)
    by_flavor = {r.data.tags["sparktrack.autologging"]: r for r in runs.values()}
    assert set(by_flavor) == {"spark", "sklearn"}
    assert all(r.info.parent_run_id == parent.info.run_id and r.info.status == "FINISHED" for r in runs.values())
    assert by_flavor["spark"].data.params["LogisticRegression.regParam"] == "0.3"
    assert by_flavor["sklearn"].data.params["C"] == "2.0"


def test_post_training_metrics_off_logs_no_evaluate_metric_and_training_metrics_is_accepted(spark_client, frame):
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    # training_metrics: scikit-learn's flag, accepted for symmetry; a Spark ML fit computes none.
    sparktrack.spark.autolog(log_models=False, log_datasets=False, log_post_training_metrics=False,
                             training_metrics=False)
    test_df = frame
    predictions = _pipeline().fit(frame).transform(test_df)
    evaluator = BinaryClassificationEvaluator()
    evaluator.evaluate(predictions)
    evaluator.evaluate(predictions.limit(10))

    (run,) = _runs(spark_client)
    assert run.data.metrics == {} and "LogisticRegression.regParam" in run.data.params
