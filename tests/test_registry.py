"""The model registry on real Delta tables: versions, aliases, stages, policy, time travel, audit,
lineage. Without a JVM, but for the tests of what Spark sees (the views) and of Spark models."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from chispa import assert_df_equality
from pyspark.sql import Row

import sparktrack
from sparktrack.errors import (
    AlreadyExistsError,
    FilterSyntaxError,
    InvalidNameError,
    InvalidValueError,
    RegisteredModelNotFoundError,
    PromotionBlockedError,
)
from sparktrack.registry import RegistryClient


@pytest.fixture
def registry(client):
    return RegistryClient(client.store_root, policy={})


@pytest.fixture
def spark_registry(spark_client):
    return RegistryClient(spark_client.store_root, policy={})


def _trained_run(tmp_path=None, accuracy=0.9):
    with sparktrack.start_run() as run:
        sparktrack.log_params({"max_depth": 4})
        sparktrack.log_metric("accuracy", accuracy)
    return run.info.run_id


def test_versions_are_consecutive_and_resolve_by_number_alias_and_latest(registry):
    run_id = _trained_run()
    v1 = registry.register_model(f"runs:/{run_id}/model", "main.ml.churn", tags={"team": "ml"})
    v2 = registry.register_model(f"runs:/{run_id}/model", "main.ml.churn")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.run_id == run_id and v1.source.endswith(f"/{run_id}/artifacts/model")
    assert v1.tags == {"team": "ml"} and v1.current_stage == "None"
    with pytest.raises(AlreadyExistsError, match="'main.ml.churn' already exists"):
        registry.create_registered_model("main.ml.churn")

    registry.set_registered_model_alias("main.ml.churn", "Champion", 1)
    assert registry.get_model_version_by_alias("main.ml.churn", "Champion").version == 1
    registry.set_registered_model_alias("main.ml.churn", "Champion", "2")  # an alias moves
    assert registry.get_registered_model("main.ml.churn").aliases == {"Champion": 2}
    assert registry.get_model_version("main.ml.churn", 2).aliases == ("Champion",)
    assert registry.resolve_models_uri("models:/main.ml.churn@Champion") == v2.source
    assert registry.resolve_models_uri("models:/main.ml.churn/1") == v1.source
    assert registry.resolve_models_uri("models:/main.ml.churn/latest") == v2.source

    registry.delete_registered_model_alias("main.ml.churn", "Champion")
    with pytest.raises(RegisteredModelNotFoundError, match="Alias 'Champion' of registered model 'main.ml.churn' does not exist"):
        registry.resolve_models_uri("models:/main.ml.churn@Champion")
    with pytest.raises(RegisteredModelNotFoundError, match="Version 9 of registered model 'main.ml.churn'"):
        registry.get_model_version("main.ml.churn", 9)
    with pytest.raises(RegisteredModelNotFoundError, match="Registered model 'nope' does not exist"):
        registry.resolve_models_uri("models:/nope/1")


@pytest.mark.parametrize("uri", ["models:/", "models:/a/b/c", "models:/a@", "s3://bucket/x", "models:/a@b/1"])
def test_malformed_models_uris_are_refused(registry, uri):
    with pytest.raises(InvalidNameError, match="models:/<name>/<version>"):
        registry.resolve_models_uri(uri)


@pytest.mark.parametrize("name", ["a/b", "a.b.c.d", "", "x" * 257, "bad name", None])
def test_bad_model_names_are_refused(registry, name):
    with pytest.raises(InvalidNameError, match="Invalid registered model name"):
        registry.create_registered_model(name)


def test_bad_aliases_versions_and_stages_are_refused(registry):
    run_id = _trained_run()
    registry.register_model(f"runs:/{run_id}/model", "m")
    for alias in ["latest", "v3", "1abc", "has space"]:
        with pytest.raises(InvalidNameError, match="Invalid alias"):
            registry.set_registered_model_alias("m", alias, 1)
    for version in [0, -1, "one", 1.5, True]:
        with pytest.raises(InvalidValueError, match="Model version must be a positive integer"):
            registry.get_model_version("m", version)
    with pytest.raises(InvalidValueError, match="one of None, Staging, Production, Archived"):
        registry.transition_model_version_stage("m", 1, "Live")
    with pytest.raises(FilterSyntaxError, match="Invalid identifier 'colour'"):
        registry.search_model_versions("colour = 'red'")


def test_stages_tags_descriptions_rename_delete_and_search(registry):
    run_a, run_b = _trained_run(accuracy=0.8), _trained_run(accuracy=0.9)
    registry.register_model(f"runs:/{run_a}/model", "churn")
    registry.register_model(f"runs:/{run_b}/model", "churn")
    registry.transition_model_version_stage("churn", 1, "production")
    registry.transition_model_version_stage("churn", 2, "Production", archive_existing_versions=True)
    assert registry.get_model_version("churn", 1).current_stage == "Archived"
    assert [v.version for v in registry.get_latest_versions("churn", ["Production"])] == [2]
    registry.set_model_version_tag("churn", 2, "validation_status", "approved")
    registry.update_model_version("churn", 2, "the better one")
    registry.update_registered_model("churn", "churn prediction")
    registry.set_registered_model_tag("churn", "owner", "ml-team")

    found = registry.search_model_versions("name = 'churn' AND tags.validation_status = 'approved'")
    assert [(v.version, v.description) for v in found] == [(2, "the better one")]
    assert [v.version for v in registry.search_model_versions(f"run_id = '{run_a}'")] == [1]
    assert [v.version for v in registry.search_model_versions("name = 'churn' AND version_number > 1")] == [2]
    assert [m.name for m in registry.search_registered_models("tags.owner = 'ml-team'")] == ["churn"]

    renamed = registry.rename_registered_model("churn", "churn_v2")
    assert renamed.description == "churn prediction" and renamed.tags == {"owner": "ml-team"}
    assert registry.get_model_version("churn_v2", 2).current_stage == "Production"
    with pytest.raises(RegisteredModelNotFoundError):
        registry.get_registered_model("churn")
    registry.delete_model_version("churn_v2", 1)
    assert [v.version for v in registry.search_model_versions("name = 'churn_v2'")] == [2]
    registry.delete_registered_model("churn_v2")
    with pytest.raises(RegisteredModelNotFoundError, match="it is deleted"):
        registry.get_registered_model("churn_v2")
    assert registry.restore_registered_model("churn_v2").name == "churn_v2"


def test_registry_reads_fold_the_events_as_the_views_do(spark_registry, spark_client):
    # Point reads fold the registry's rows in Python (registry.state); the views fold them in
    # Spark. They must agree on every rule: renames, the latest description, tag, alias, stage
    # and deletion of each model and version, and the last update time.
    registry = spark_registry
    for source in ("/models/a1", "/models/a2", "/models/a3"):
        registry.register_model(source, "fold_a", tags={"team": "ml"})
    registry.register_model("/models/b1", "fold_b", description="b's first")
    registry.update_registered_model("fold_a", "described")
    registry.set_registered_model_tag("fold_a", "owner", "y")
    registry.set_registered_model_tag("fold_a", "gone", "z")
    registry.delete_registered_model_tag("fold_a", "gone")
    registry.set_registered_model_alias("fold_a", "Champion", 1)
    registry.set_registered_model_alias("fold_a", "Champion", 2)
    registry.set_registered_model_alias("fold_a", "Challenger", 2)
    registry.set_registered_model_alias("fold_a", "old", 3)
    registry.delete_registered_model_alias("fold_a", "old")
    registry.transition_model_version_stage("fold_a", 1, "Production")
    registry.set_model_version_tag("fold_a", 2, "k", "v")
    registry.delete_model_version_tag("fold_a", 2, "k")
    registry.update_model_version("fold_a", 3, "third")
    registry.delete_model_version("fold_a", 3)
    registry.rename_registered_model("fold_b", "fold_c")
    registry.delete_registered_model("fold_c")

    from sparktrack.views import view_sql

    spark = spark_client.spark
    now = registry._state()
    for view, rows, key in (("registered_models_current", list(now.models.values()), ["model_id"]),
                            ("model_versions_current", list(now.versions.values()), ["model_id", "version"])):
        expected = spark.sql(view_sql(spark_client.store, view))
        ours = spark.createDataFrame([tuple(row[f.name] for f in expected.schema.fields) for row in rows],
                                     schema=expected.schema)
        assert_df_equality(ours.orderBy(*key), expected.orderBy(*key), ignore_nullable=True)
    assert now.model_named("fold_a")["aliases"] == {"Champion": 2, "Challenger": 2}
    assert now.model_named("fold_b") is None and now.model_named("fold_c")["deleted"]


def test_promotion_policy_blocks_until_the_version_is_approved_and_changes_nothing(client):
    registry = RegistryClient(client.store_root, policy={"Champion": {"validation_status": "approved"},
                                                         "Production": {"validation_status": "approved"}})
    run_id = _trained_run()
    registry.register_model(f"runs:/{run_id}/model", "gated")
    audit_before = len(registry.audit_log("gated"))
    with pytest.raises(PromotionBlockedError, match=r"blocks alias 'Champion' for gated version 1: it needs the version tag\(s\) validation_status='approved'"):
        registry.set_registered_model_alias("gated", "Champion", 1)
    with pytest.raises(PromotionBlockedError, match="stage 'Production'"):
        registry.transition_model_version_stage("gated", 1, "Production")
    assert registry.get_registered_model("gated").aliases == {}
    assert registry.get_model_version("gated", 1).current_stage == "None"
    assert len(registry.audit_log("gated")) == audit_before

    registry.set_model_version_tag("gated", 1, "validation_status", "approved")
    registry.set_registered_model_alias("gated", "Champion", 1)
    assert registry.get_registered_model("gated").aliases == {"Champion": 1}


def test_time_travel_answers_which_version_was_champion_then(registry):
    run_id = _trained_run()
    registry.register_model(f"runs:/{run_id}/model", "tt")
    registry.register_model(f"runs:/{run_id}/model", "tt")
    registry.set_registered_model_alias("tt", "Champion", 1)
    time.sleep(0.05)
    between = dt.datetime.now(dt.timezone.utc)
    from deltalake import DeltaTable

    audit_version = DeltaTable(f"{registry.store_root.removeprefix('file:')}/tables/registry_events").version()
    time.sleep(0.05)
    registry.set_registered_model_alias("tt", "Champion", 2)
    assert registry.get_model_version_by_alias("tt", "Champion").version == 2
    assert registry.get_model_version_by_alias("tt", "Champion", as_of=between).version == 1
    assert registry.get_model_version_by_alias("tt", "Champion", as_of=between.isoformat()).version == 1
    assert registry.get_model_version_by_alias("tt", "Champion", as_of=audit_version).version == 1
    before_any = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(RegisteredModelNotFoundError):
        registry.get_registered_model("tt", as_of=before_any)
    with pytest.raises(InvalidValueError, match="as_of must be"):
        registry.get_registered_model("tt", as_of=[2026])
    with pytest.raises(InvalidValueError, match="a version of sparktrack.registry_audit that exists"):
        registry.get_registered_model("tt", as_of=10_000)
    assert [v.version for v in registry.search_model_versions("name = 'tt'")] == [2, 1]


def test_audit_log_and_lineage_from_model_version_to_training_data(registry, tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    data_path = str(tmp_path / "train")
    write_deltalake(data_path, pa.table({"x": [1, 2]}))
    write_deltalake(data_path, pa.table({"x": [3]}), mode="append")
    with sparktrack.start_run() as run:
        sparktrack.log_input(data_path, context="training")
        sparktrack.log_params({"max_depth": 6})
        sparktrack.log_metric("accuracy", 0.93)
    registry.register_model(f"runs:/{run.info.run_id}/model", "lineage")
    registry.set_registered_model_alias("lineage", "Champion", 1)
    lineage = registry.lineage("lineage", 1)
    assert (lineage["run_id"], lineage["params"], lineage["metrics"], lineage["aliases"]) == (
        run.info.run_id, {"max_depth": "6"}, {"accuracy": 0.93}, ["Champion"])
    assert lineage["inputs"] == [{"name": "train", "source_type": "delta", "source": f"file:{data_path}",
                                  "delta_version": 1, "context": "training"}]
    audit = registry.audit_log("lineage")
    assert list(audit["action"]) == ["create_model", "create_version", "set_alias"]
    assert tuple(audit.iloc[2][["action", "key", "before", "after"]]) == ("set_alias", "Champion", None, "1")
    assert audit["user_id"].all()


def test_sql_lineage_from_model_version_to_training_data(spark_registry, spark_client, tmp_path):
    registry = spark_registry
    spark = spark_client.spark
    data_path = str(tmp_path / "train")
    spark.range(5).write.format("delta").save(data_path)
    spark.range(5, 9).write.format("delta").mode("append").save(data_path)
    with sparktrack.start_run() as run:
        sparktrack.log_input(spark.read.format("delta").load(data_path), context="training")
        sparktrack.log_params({"max_depth": 6})
        sparktrack.log_metric("accuracy", 0.93)
    registry.register_model(f"runs:/{run.info.run_id}/model", "lineage")
    registry.set_registered_model_alias("lineage", "Champion", 1)

    lineage = sparktrack.sql("""
        SELECT l.name, l.version, l.params['max_depth'] AS max_depth, l.metrics['accuracy'] AS accuracy,
               i.source, i.delta_version
        FROM sparktrack.model_lineage l LATERAL VIEW explode(l.inputs) x AS i
        WHERE l.name = 'lineage' AND array_contains(l.aliases, 'Champion')
    """)
    expected = spark.createDataFrame([Row(name="lineage", version=1, max_depth="6", accuracy=0.93,
                                          source=f"file:{data_path}", delta_version=1)])
    assert_df_equality(lineage, expected, ignore_nullable=True)

    versions = sparktrack.sql("SELECT name, version, aliases, current_stage FROM sparktrack.model_versions")
    assert_df_equality(versions, spark.createDataFrame(
        [Row(name="lineage", version=1, aliases=["Champion"], current_stage="None")]), ignore_nullable=True)
    viewed = sparktrack.sql("SELECT * FROM sparktrack.model_lineage WHERE name = 'lineage'").first().asDict(recursive=True)
    ours = registry.lineage("lineage", 1)
    assert {k: viewed[k] for k in ours} == ours  # the Python lineage is the view's row
    audit = sparktrack.sql("SELECT action FROM sparktrack.registry_audit ORDER BY event_time, seq")
    assert [r.action for r in audit.collect()] == list(registry.audit_log("lineage")["action"])


def test_log_register_alias_load_by_alias_and_predict_for_each_flavor(spark_registry, spark_client):
    import numpy as np
    import pandas as pd
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from sklearn.ensemble import RandomForestClassifier

    registry = spark_registry
    spark = spark_client.spark
    rows = [(i, float(i), float(i % 3), 1.0 if i >= 5 else 0.0) for i in range(10)]
    train = spark.createDataFrame(rows, "id int, x1 double, x2 double, label double")
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["x1", "x2"], outputCol="features"),
                                LogisticRegression(maxIter=5)]).fit(train)
    features = pd.DataFrame({"x1": np.arange(10, dtype=float), "x2": np.arange(10, dtype=float) % 3})
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(features, np.arange(10) >= 5)
    with sparktrack.start_run():
        spark_info = sparktrack.spark.log_model(pipeline, "spark_model", input_example=train,
                                                registered_model_name="churn_spark")
        sklearn_info = sparktrack.sklearn.log_model(forest, "sk_model", input_example=features,
                                                    registered_model_name="churn_rf")
    assert spark_info.registered_model_version == 1 and sklearn_info.registered_model_version == 1
    registry.set_registered_model_alias("churn_spark", "Champion", 1)
    registry.set_registered_model_alias("churn_rf", "Champion", 1)

    scored = sparktrack.load_model("models:/churn_spark@Champion").predict(train).select("id", "prediction")
    assert_df_equality(scored, pipeline.transform(train).select("id", "prediction"), ignore_row_order=True)
    forest_model = sparktrack.load_model("models:/churn_rf@Champion")
    assert list(forest_model.predict(features)) == list(forest.predict(features))
    on_spark = forest_model.predict(spark.createDataFrame(features)).select("x1", "prediction")
    expected = spark.createDataFrame(
        features.assign(prediction=forest.predict(features))[["x1", "prediction"]])
    assert_df_equality(on_spark, expected, ignore_row_order=True, ignore_nullable=True)

    class Doubler:
        def predict(self, frame):
            return frame["x1"] * 2

    with sparktrack.start_run():
        sparktrack.pyfunc.log_model(Doubler(), "fn", input_example=features, registered_model_name="doubler")
    registry.set_registered_model_alias("doubler", "Champion", 1)
    doubled = sparktrack.load_model("models:/doubler@Champion").predict(spark.createDataFrame(features))
    assert_df_equality(doubled.select("x1", "prediction"),
                       spark.createDataFrame(features.assign(prediction=features["x1"] * 2)[["x1", "prediction"]]),
                       ignore_row_order=True, ignore_nullable=True)
