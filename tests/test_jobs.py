"""The jobs in process on the test session's Spark: training config and gate, batch scoring with
lineage and idempotent re-runs, schema checks before any write, and the lineage SQL.

Real spark-submit runs of each job are in test_jobs_submit.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chispa import assert_df_equality

import sparktrack
from sparktrack.demo import lineage_query, write_churn_table
from sparktrack.errors import ConfigError, InvalidValueError, NotFoundError, TableNotFoundError
from sparktrack.jobs import BAD_INPUT, GATE_NOT_PASSED, OK
from sparktrack.jobs import batch_score as score_job
from sparktrack.jobs import train as train_job
from sparktrack.models.errors import MissingColumnsError, SchemaMismatchError
from sparktrack.scoring import LINEAGE_COLUMNS, batch_score, prepare_batch, write_batch
from sparktrack.testing import fresh_store

REPO = Path(__file__).resolve().parent.parent
TRAIN_CONFIG = str(REPO / "conf" / "jobs" / "train_churn.toml")
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "month_to_month"]
#: Small and quick, and still well over the 0.85 accuracy gate on the demo's table.
QUICK = ["estimator.params.maxDepth=4", "estimator.params.maxIter=8"]


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    """One store and churn table for the module, with churn_gbt version 1 trained, registered
    and aliased Champion by the training job."""
    tmp = tmp_path_factory.mktemp("jobs")
    churn = str(tmp / "churn")
    write_churn_table(spark, churn, 2000)
    with fresh_store(spark, root=str(tmp / "store")) as client:
        yield client, churn, train(churn)


@pytest.fixture
def client(trained):
    return trained[0]


@pytest.fixture
def churn(trained):
    return trained[1]


@pytest.fixture
def champion(trained):
    return trained[2]


def train(churn: str, *overrides: str) -> train_job.TrainResult:
    return train_job.train(train_job.load_config(TRAIN_CONFIG, [f'input="{churn}"', *QUICK, *overrides]))


def count(client, view: str) -> int:
    return client.sql(f"SELECT * FROM {client.database}.{view}").count()


def read(spark, path: str):
    return spark.read.format("delta").load(path)


def plan(frame) -> str:
    return frame._jdf.queryExecution().executedPlan().toString()


# -- training ------------------------------------------------------------------------------------
def test_train_logs_everything_registers_past_the_gate_and_moves_the_alias_only_if_better(
        client, churn, champion):
    from sparktrack.registry import RegistryClient

    first = champion
    assert first.gate_passed and first.exit_code == OK
    assert (first.registered_name, first.registered_version, first.alias_moved) == ("churn_gbt", 1, True)
    run = client.get_run(first.run_id)
    assert run.data.params["estimator"] == "GBTClassifier"
    assert run.data.params["estimator.maxDepth"] == "4" and run.data.params["input_version"] == "0"
    assert run.data.tags["sparktrack.gate.passed"] == "true"
    assert run.data.tags["sparktrack.gate"] == "accuracy > 0.85"
    assert set(first.metrics) == {"accuracy", "f1", "weightedPrecision", "weightedRecall",
                                  "areaUnderROC", "areaUnderPR"}
    assert run.data.metrics["accuracy"] == pytest.approx(first.metrics["accuracy"])
    assert run.data.metrics["train_rows"] + run.data.metrics["test_rows"] == 2000
    assert len(client.get_metric_history(first.run_id, "val_loss")) == 8
    [dataset] = client.sql(
        f"SELECT source, delta_version FROM {client.database}.inputs WHERE run_id = '{first.run_id}'"
    ).collect()
    assert dataset["source"].endswith("/churn") and dataset["delta_version"] == 0

    registry = RegistryClient(client.store_root)
    version = registry.get_model_version_by_alias("churn_gbt", "Champion")
    assert version.version == 1 and version.run_id == first.run_id
    assert version.tags["validation_status"] == "approved" and version.tags["gate"] == "accuracy > 0.85"

    # A worse model passes a lower gate and is registered, but the Champion stays on the better one.
    worse = train(churn, "estimator.params.maxDepth=2", "estimator.params.maxIter=3", "gate.greater_than=0.5")
    assert worse.metrics["accuracy"] < first.metrics["accuracy"]
    assert (worse.registered_version, worse.alias, worse.alias_moved) == (2, "Champion", False)
    assert registry.get_model_version_by_alias("churn_gbt", "Champion").version == 1


def test_gate_not_passed_logs_the_run_and_registers_nothing(client, churn, capsys):
    versions = count(client, "model_versions")
    code = train_job.main(["--config", TRAIN_CONFIG, "--input", churn, "--set", "gate.greater_than=0.99",
                           *[arg for item in QUICK for arg in ("--set", item)]])
    assert code == GATE_NOT_PASSED
    out = capsys.readouterr().out
    assert '"status": "gate not passed"' in out and '"registered_version": null' in out
    run_id = json.loads(out.strip().splitlines()[-1])["run_id"]
    run = client.get_run(run_id)
    assert run.data.tags["sparktrack.gate.passed"] == "false" and "accuracy" in run.data.metrics
    assert count(client, "model_versions") == versions


@pytest.mark.parametrize("overrides, error, message", [
    (["estimator.type=\"GBTClassifer\""], ConfigError, "no class 'GBTClassifer' in pyspark.ml.classification"),
    (["estimator.params.maxDepht=4"], ConfigError, "GBTClassifier has no param 'maxDepht'"),
    (["estimator.params.maxDepth=\"deep\""], ConfigError, "maxDepth = 'deep' is invalid"),
    (["estimator.params.labelCol=\"y\""], ConfigError, "sets 'labelCol'; the job sets it"),
    (["estimator.type=\"pyspark.ml.feature.VectorAssembler\""], ConfigError, "is not a Spark ML Estimator"),
    (["gate.less_than=0.5"], ConfigError, "exactly one of greater_than or less_than"),
    (["gate.metric=\"rmse\""], ConfigError, "metric 'rmse' is not computed for a GBTClassifier"),
    (["test_fraction=1.5"], ConfigError, "test_fraction must be between 0 and 1, got 1.5"),
    (["seed=\"x\""], ConfigError, "seed must be of type int, got 'x'"),
    (["learning_rate=0.1"], ConfigError, "Unknown key(s) ['learning_rate']"),
    (["register.promote=\"sometimes\""], ConfigError, "promote must be one of ['if_better', 'always']"),
    (["features=[\"tenure_months\", \"plan\"]"], InvalidValueError, "missing ['plan']"),
    (["estimator.type=\"GBTRegressor\""], ConfigError, "metric 'accuracy' is not computed for a GBTRegressor"),
    (["categorical=[\"plan\"]"], InvalidValueError, "missing ['plan']"),
    (["features=[\"tenure_months\"]", "label=\"plan_name\""], InvalidValueError, "missing ['plan_name']"),
    (["input=\"/nonexistent/churn\""], TableNotFoundError, "No table '/nonexistent/churn': there is no Delta table"),
    (["input=\"no_such_db.churn\""], TableNotFoundError, "the catalog has no table of that name"),
    (["input=\"bad name!\""], InvalidValueError, "a catalog name of up to three dot-separated identifiers"),
])
def test_bad_train_configs_fail_before_any_run(client, churn, overrides, error, message):
    runs = count(client, "runs_log")
    with pytest.raises(error) as raised:
        train_job.train(train_job.load_config(TRAIN_CONFIG, [f'input="{churn}"', *overrides]))
    assert message in str(raised.value)
    assert count(client, "runs_log") == runs


def test_unknown_config_file_keys_and_files_are_errors(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[train]\ninput = "./x"\n[score]\nmodel = "m"\n')
    with pytest.raises(ConfigError, match=r"must hold exactly one table, \[train\]; it holds \['score', 'train'\]"):
        train_job.load_config(str(bad))
    assert train_job.main(["--config", str(tmp_path / "missing.toml")]) == BAD_INPUT
    assert "missing.toml does not exist" in capsys.readouterr().err
    assert train_job.main(["--config", TRAIN_CONFIG, "--set", "nokey"]) == BAD_INPUT
    assert "--set 'nokey' is not key=value" in capsys.readouterr().err
    assert train_job.main([]) == BAD_INPUT  # argparse: --config is required


# -- batch scoring -------------------------------------------------------------------------------
def test_batch_score_writes_predictions_with_lineage_columns_by_transform(spark, champion, churn, tmp_path):
    output = str(tmp_path / "predictions")
    batch = prepare_batch("models:/churn_gbt@Champion", churn, output, id_cols=["customer_id"])
    assert not any(python in plan(batch.frame) for python in ("MapInPandas", "ArrowEvalPython", "PythonUDF"))
    result = write_batch(batch)
    assert (result.model_name, result.model_version, result.model_run_id) == ("churn_gbt", 1, champion.run_id)
    assert result.rows == 2000 and result.input_version == 0 and result.flavor == "spark"
    assert result.batch_id.startswith("churn_gbt-v1-")

    table = read(spark, output)
    assert table.columns == ["customer_id", "prediction", *LINEAGE_COLUMNS]
    expected = (
        sparktrack.load_model(champion.model_uri).native.transform(read(spark, churn))
        .selectExpr("customer_id", "prediction", "'churn_gbt' AS model_name", "1 AS model_version",
                    f"'{champion.run_id}' AS model_run_id", f"'{result.batch_id}' AS batch_id")
    )
    assert_df_equality(table.drop("scored_at"), expected, ignore_row_order=True, ignore_nullable=True)
    assert table.select("scored_at").distinct().count() == 1


def test_re_running_a_batch_replaces_its_rows_and_other_batches_stay(spark, champion, churn, tmp_path):
    output = str(tmp_path / "predictions")
    first = batch_score("models:/churn_gbt/1", churn, output, id_cols=["customer_id"])
    again = batch_score("models:/churn_gbt@Champion", churn, output, id_cols=["customer_id"])
    assert again.batch_id == first.batch_id  # same model version, same input version
    assert read(spark, output).count() == 2000
    named = batch_score("models:/churn_gbt@Champion", churn, output, id_cols=["customer_id"], batch_id="2026-11-23")
    named = batch_score("models:/churn_gbt@Champion", churn, output, id_cols=["customer_id"], batch_id="2026-11-23")
    counts = {row["batch_id"]: row["count"] for row in read(spark, output).groupBy("batch_id").count().collect()}
    assert counts == {first.batch_id: 2000, "2026-11-23": 2000}
    history = spark.sql(f"DESCRIBE HISTORY delta.`{output}`").select("userMetadata").collect()
    written = [json.loads(row[0]) for row in history]
    assert sum(1 for meta in written if meta["batch_id"] == named.batch_id) == 2
    assert {(m["input"], m["input_version"]) for m in written} == {(churn, 0)}  # what each commit scored

    overwritten = batch_score("models:/churn_gbt@Champion", churn, output, mode="overwrite", batch_id="only")
    table = read(spark, output)
    assert table.select("batch_id").distinct().collect()[0][0] == "only" and table.count() == 2000
    assert table.columns[:6] == ["customer_id", *FEATURES, "churned"][:6]  # no id_cols: all input columns
    assert overwritten.rows == 2000


def test_python_models_score_through_arrow(spark, client, churn, tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    frame = read(spark, churn).toPandas()
    model = LogisticRegression(max_iter=200).fit(frame[FEATURES], frame["churned"])
    with sparktrack.start_run():
        info = sparktrack.sklearn.log_model(model, "model", input_example=frame[FEATURES].head(5),
                                            registered_model_name="churn_lr")
    output = str(tmp_path / "predictions")
    batch = prepare_batch("models:/churn_lr/latest", churn, output, id_cols=["customer_id"])
    assert "ArrowEvalPython" in plan(batch.frame)  # a pandas UDF over the features: ids stay in the JVM
    result = write_batch(batch)
    assert (result.flavor, result.model_version, result.rows) == ("sklearn", info.registered_model_version, 2000)
    got = read(spark, output).toPandas().sort_values("customer_id")
    assert list(got["prediction"]) == list(model.predict(frame.sort_values("customer_id")[FEATURES]))


def test_bad_scoring_inputs_fail_before_any_write(spark, champion, churn, tmp_path, capsys):
    from pyspark.sql import functions as F

    output = str(tmp_path / "predictions")
    wrong_type = str(tmp_path / "wrong_type")
    read(spark, churn).withColumn("tenure_months", F.col("tenure_months").cast("string")) \
        .write.format("delta").save(wrong_type)
    missing = str(tmp_path / "missing")
    read(spark, churn).drop("support_calls").write.format("delta").save(missing)
    model = "models:/churn_gbt@Champion"
    cases = [
        (dict(input=wrong_type), SchemaMismatchError,
         "tenure_months is string but the signature has int. Present columns: {'customer_id': 'bigint', "
         "'tenure_months': 'string'"),
        (dict(input=missing), MissingColumnsError,
         "missing ['support_calls']; present ['customer_id', 'tenure_months', 'monthly_charges', "
         "'month_to_month', 'churned']"),
        (dict(input=str(tmp_path / "nope")), TableNotFoundError, "there is no Delta table at that path"),
        (dict(id_cols=["customer"]), InvalidValueError, "missing ['customer'], present ['customer_id'"),
        (dict(id_cols=["customer_id", "churned"], mode="upsert"), InvalidValueError,
         "mode must be one of ['append', 'overwrite']; got 'upsert'"),
        (dict(batch_id="x'; DROP TABLE runs; --"), InvalidValueError, "batch_id must be 1-200 letters"),
        (dict(model="models:/churn_gbt@Nobody"), NotFoundError, "Alias 'Nobody' of registered model 'churn_gbt'"),
        (dict(model="models:/churn_gbt/9"), NotFoundError, "Version 9 of registered model 'churn_gbt'"),
        (dict(model="models:/no_such_model/1"), NotFoundError, "Registered model 'no_such_model'"),
        (dict(model="nosuch://nowhere/model"), sparktrack.models.errors.ModelURIError,
         "has a scheme (nosuch:) that no filesystem serves"),
        (dict(model="s3://nowhere/model"), sparktrack.models.errors.ModelNotFoundError,
         "s3://nowhere/model cannot be read"),
    ]
    for changes, error, message in cases:
        kwargs = dict(model_uri=model, input=churn, output=output, id_cols=["customer_id"]) | {
            ("model_uri" if k == "model" else k): v for k, v in changes.items()}
        with pytest.raises(error) as raised:
            batch_score(**kwargs)
        assert message in str(raised.value), (changes, str(raised.value))
        assert not (tmp_path / "predictions").exists(), changes

    # Through the job: exit code 2, the message on stderr, and an existing table is unchanged.
    batch_score(model, churn, output, id_cols=["customer_id"])
    before = spark.sql(f"DESCRIBE HISTORY delta.`{output}`").count()
    code = score_job.main(["--model", model, "--input", wrong_type, "--output", output, "--id-cols", "customer_id"])
    assert code == BAD_INPUT
    assert "tenure_months is string but the signature has int" in capsys.readouterr().err
    assert spark.sql(f"DESCRIBE HISTORY delta.`{output}`").count() == before

    # Appending a batch whose columns differ from the table's is refused too.
    with pytest.raises(InvalidValueError, match="Score into a new output table, or replace the table"):
        batch_score(model, churn, output, id_cols=["customer_id", "churned"])
    assert spark.sql(f"DESCRIBE HISTORY delta.`{output}`").count() == before


def test_one_sql_statement_joins_a_prediction_to_its_version_run_params_and_training_data(
        spark, client, champion, churn, tmp_path):
    output = str(tmp_path / "predictions")
    batch_score("models:/churn_gbt@Champion", churn, output, id_cols=["customer_id"])
    rows = client.sql(lineage_query(client.database, output)).collect()
    assert [row["customer_id"] for row in rows] == [0, 1, 2]
    row = rows[0]
    assert (row["model_name"], row["model_version"], row["run_id"]) == ("churn_gbt", 1, champion.run_id)
    assert row["max_depth"] == "4" and row["accuracy"] == pytest.approx(champion.metrics["accuracy"], abs=1e-4)
    assert row["training_table"].endswith("/churn") and row["training_version"] == 0


def test_scoring_a_catalog_table_into_a_catalog_table(spark, champion, churn):
    spark.sql("CREATE DATABASE IF NOT EXISTS scoring_test")
    spark.sql(f"CREATE TABLE scoring_test.customers USING delta LOCATION '{churn}'")
    try:
        result = batch_score("models:/churn_gbt@Champion", "scoring_test.customers",
                             "scoring_test.predictions", id_cols=["customer_id"])
        assert result.rows == 2000 and result.input_version == 0
        again = batch_score("models:/churn_gbt@Champion", "scoring_test.customers",
                            "scoring_test.predictions", id_cols=["customer_id"])
        assert again.batch_id == result.batch_id
        assert spark.table("scoring_test.predictions").count() == 2000
    finally:
        spark.sql("DROP DATABASE scoring_test CASCADE")
