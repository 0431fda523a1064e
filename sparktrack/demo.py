"""``sparktrack demo``: the churn scenario, as far as tracking goes.

Writes a synthetic churn table to Delta, trains a gradient-boosted-trees pipeline for three tree
depths (one run each: params, per-iteration losses, held-out accuracy and AUC, two artifacts and the
training table as a dataset input), then reads the runs back with ``search_runs`` and with SQL.
Results are printed to stdout, progress to stderr.
"""

from __future__ import annotations

import contextvars
import shlex
import sys
import time
from typing import TYPE_CHECKING, Any

import sparktrack
from sparktrack.errors import InvalidValueError
from sparktrack.tracking.datasets import dataset_input

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparktrack.tracking.store import DatasetInput

EXPERIMENT = "/Shared/demo/churn"
FEATURES = ("tenure_months", "monthly_charges", "support_calls", "month_to_month")
LABEL = "churned"
MAX_DEPTHS = (2, 4, 6)
MAX_ITER = 5
STEP_SIZE = 0.3
TRAIN_FRACTION = 0.8
SEED = 42
MIN_ROWS = 100


def run(store: str | None = None, rows: int = 2000) -> dict[str, Any]:
    """Run the demo on the store at ``store`` (default: ``SPARKTRACK_STORE``) and print what it did.

    Returns ``experiment_id``, ``run_ids``, ``store`` (the store root) and ``best_run_id`` (the most
    accurate of this call's runs). The caller's active experiment and store are left unchanged.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < MIN_ROWS:
        raise InvalidValueError("The demo's rows", rows, f"an integer of at least {MIN_ROWS}")
    # The demo sets the fluent API's store and experiment in a copy of the caller's context.
    return contextvars.copy_context().run(_run, store, rows)


def _run(store: str | None, rows: int) -> dict[str, Any]:
    from sparktrack.tracking import fluent

    sparktrack.set_tracking_uri(store)
    client = fluent.client()
    spark, root = client.spark, client.store_root
    table_path = f"{root}/demo_data/churn"
    _section("Store", [
        f"Store root: {_display(root)}",
        f"Every record is a row in a Delta table under {_display(root)}/tables; spark.sql sees "
        f"them as {client.database}.runs, {client.database}.metrics, {client.database}.params, ...",
    ])

    started = time.monotonic()
    version = write_churn_table(spark, table_path, rows)
    _progress(f"Wrote {rows} synthetic customers to {_display(table_path)} (Delta version {version}) "
              f"in {time.monotonic() - started:.1f}s")
    data = spark.read.format("delta").option("versionAsOf", version).load(table_path)
    dataset = dataset_input(data, context="training", name="churn")
    experiment = sparktrack.set_experiment(EXPERIMENT)

    train, test = data.randomSplit([TRAIN_FRACTION, 1 - TRAIN_FRACTION], seed=SEED)
    train, test = train.cache(), test.cache()
    try:
        results = [_train_run(train, test, depth, dataset) for depth in MAX_DEPTHS]
    finally:
        train.unpersist()
        test.unpersist()
    best_run_id, best_accuracy = max(results, key=lambda result: result[1])

    found = sparktrack.search_runs(filter_string="metrics.accuracy > 0",
                                   order_by=["metrics.accuracy DESC"], max_results=20)
    shown = found[["run_id", "run_name", "params.maxDepth", "metrics.accuracy", "metrics.auc", "status"]]
    _section(f"Runs of {EXPERIMENT}: search_runs(filter_string=\"metrics.accuracy > 0\", "
             "order_by=[\"metrics.accuracy DESC\"])",
             [shown.to_string(index=False, float_format=lambda v: f"{v:.4f}")])

    _registry_section(spark, client, best_run_id, data)

    history = sparktrack.get_metric_history(best_run_id, "val_loss")
    losses = " ".join(f"{m.value:.3f}" for m in history)
    _section("Metric history of the best run: get_metric_history(run_id, \"val_loss\")",
             [f"{best_run_id} (accuracy {best_accuracy:.4f}), by iteration: {losses}"])

    query = (
        f"SELECT CAST(params['maxDepth'] AS INT) AS max_depth, count(*) AS runs,\n"
        f"       round(max(metrics['accuracy']), 4) AS best_accuracy\n"
        f"FROM {client.database}.runs\n"
        f"WHERE experiment_id = '{experiment.experiment_id}' AND params['maxDepth'] IS NOT NULL\n"
        f"GROUP BY 1 ORDER BY 1"
    )
    table = spark.sql(query).toPandas().to_string(index=False)
    _section("Best accuracy per maxDepth, in SQL", [query, "", table])

    store_arg = shlex.quote(_display(root))
    _section("Try it yourself", [
        f"sparktrack --store {store_arg} runs --experiment {EXPERIMENT} --order-by \"metrics.auc DESC\"",
        f"sparktrack --store {store_arg} sql \"SELECT run_name, params['maxDepth'] AS max_depth, "
        f"round(metrics['auc'], 4) AS auc FROM {client.database}.runs "
        f"WHERE experiment_id = '{experiment.experiment_id}' ORDER BY auc DESC\"",
        f"sparktrack --store {store_arg} sql \"SELECT run_id, step, round(value, 4) AS val_loss "
        f"FROM {client.database}.metrics WHERE key = 'val_loss' ORDER BY run_id, step\"",
    ])
    return {
        "experiment_id": experiment.experiment_id,
        "run_ids": [run_id for run_id, _ in results],
        "store": root,
        "best_run_id": best_run_id,
    }


def _registry_section(spark: SparkSession, client: Any, best_run_id: str, data: DataFrame) -> None:
    """Register the best Spark pipeline and a scikit-learn random forest, alias both Champion,
    load them back by alias and score the table."""
    from sparktrack.registry import RegistryClient

    registry = RegistryClient(client.store_root, spark, client.database)
    lines = []
    started = time.monotonic()
    gbt = registry.register_model(f"runs:/{best_run_id}/model", "churn_gbt")
    registry.set_registered_model_alias("churn_gbt", "Champion", gbt.version)
    lines.append(f"churn_gbt version {gbt.version} <- runs:/{best_run_id}/model, alias Champion")
    scored = sparktrack.load_model("models:/churn_gbt@Champion").predict(data)
    accuracy = scored.filter(scored[LABEL] == scored["prediction"]).count() / scored.count()
    lines.append(f"  models:/churn_gbt@Champion scored {scored.count()} rows with transform: "
                 f"accuracy {accuracy:.4f}")
    try:
        import sklearn  # noqa: F401 - the random forest needs the optional sklearn extra
    except ImportError:
        lines.append("scikit-learn is not installed: pip install 'sparktrack[sklearn]' adds the "
                     "random forest to this demo")
    else:
        rf_version = _sklearn_run(data)
        registry.set_registered_model_alias("churn_rf", "Champion", rf_version)
        lines.append(f"churn_rf version {rf_version} (scikit-learn RandomForestClassifier), alias Champion")
        rf_scored = sparktrack.load_model("models:/churn_rf@Champion").predict(data.select(*FEATURES, LABEL))
        rf_accuracy = rf_scored.filter(rf_scored[LABEL] == rf_scored["prediction"]).count() / rf_scored.count()
        lines.append(f"  models:/churn_rf@Champion scored {rf_scored.count()} rows through Arrow "
                     f"(mapInPandas): accuracy {rf_accuracy:.4f}")
    _progress(f"Registered, aliased and scored the Champions in {time.monotonic() - started:.1f}s")
    lineage = spark.sql(
        f"SELECT l.name, l.version, l.aliases, l.git_commit, i.source, i.delta_version "
        f"FROM {client.database}.model_lineage l LATERAL VIEW explode(l.inputs) x AS i "
        f"WHERE array_contains(l.aliases, 'Champion') ORDER BY l.name"
    ).toPandas().to_string(index=False)
    _section("Model registry: register, alias Champion, load by alias, score", [*lines, "", lineage])


def _sklearn_run(data: DataFrame) -> int:
    """Train the seeds' random forest on the same table in its own run; returns its version."""
    from sklearn.ensemble import RandomForestClassifier

    frame = data.select(*FEATURES, LABEL).toPandas()
    train = frame.sample(frac=TRAIN_FRACTION, random_state=SEED)
    test = frame.drop(train.index)
    with sparktrack.start_run(run_name="sklearn-rf"):
        sparktrack.log_params({"model": "RandomForestClassifier", "n_estimators": 50, "max_depth": 6})
        sparktrack.log_input(data, context="training", name="churn")
        forest = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=SEED)
        forest.fit(train[list(FEATURES)], train[LABEL])
        sparktrack.log_metric("accuracy", float(forest.score(test[list(FEATURES)], test[LABEL])))
        info = sparktrack.sklearn.log_model(forest, "model", input_example=test[list(FEATURES)].head(5),
                                            registered_model_name="churn_rf")
    return info.registered_model_version


def churn_frame(spark: SparkSession, rows: int, seed: int = 7) -> DataFrame:
    """Synthetic customers: churn is likelier for short, month-to-month, expensive contracts."""
    from pyspark.sql import functions as F

    customers = spark.range(rows).select(
        F.col("id").alias("customer_id"),
        F.floor(F.rand(seed) * 72).cast("int").alias("tenure_months"),
        F.round(20 + F.rand(seed + 1) * 100, 2).alias("monthly_charges"),
        F.floor(F.rand(seed + 2) * 6).cast("int").alias("support_calls"),
        (F.rand(seed + 3) < 0.55).cast("int").alias("month_to_month"),
    )
    new_and_monthly = (F.col("tenure_months") < 12) & (F.col("month_to_month") == 1)
    score = (
        -1.2 - 0.05 * F.col("tenure_months") + 0.02 * F.col("monthly_charges")
        + 0.4 * F.col("support_calls") + 0.8 * F.col("month_to_month")
        + 1.5 * new_and_monthly.cast("int") + 0.8 * F.randn(seed + 4)
    )
    return customers.withColumn(LABEL, (score > 0).cast("double"))


def write_churn_table(spark: SparkSession, path: str, rows: int) -> int:
    """Write the synthetic table to Delta at ``path``; returns the version written."""
    from delta.tables import DeltaTable

    churn_frame(spark, rows).write.format("delta").mode("overwrite").save(path)
    return DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]


def _train_run(train: DataFrame, test: DataFrame, depth: int,
               dataset: DatasetInput) -> tuple[str, float]:
    """Train and evaluate one model in its own run; returns (run id, held-out accuracy)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import GBTClassifier
    from pyspark.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler

    started = time.monotonic()
    with sparktrack.start_run(run_name=f"gbt-depth-{depth}") as run:
        sparktrack.log_params({"model": "GBTClassifier", "maxDepth": depth, "maxIter": MAX_ITER,
                               "stepSize": STEP_SIZE, "seed": SEED, "trainFraction": TRAIN_FRACTION})
        sparktrack.set_tag("demo", "churn")
        sparktrack.log_input(dataset)
        pipeline = Pipeline(stages=[
            VectorAssembler(inputCols=list(FEATURES), outputCol="features"),
            GBTClassifier(labelCol=LABEL, maxDepth=depth, maxIter=MAX_ITER, stepSize=STEP_SIZE, seed=SEED),
        ])
        model = pipeline.fit(train)
        predictions = model.transform(test)
        trees = model.stages[-1]
        train_losses = trees.evaluateEachIteration(model.stages[0].transform(train))
        val_losses = trees.evaluateEachIteration(predictions)
        for step, (train_loss, val_loss) in enumerate(zip(train_losses, val_losses), start=1):
            sparktrack.log_metrics({"train_loss": train_loss, "val_loss": val_loss}, step=step)
        accuracy = MulticlassClassificationEvaluator(labelCol=LABEL, metricName="accuracy").evaluate(predictions)
        auc = BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderROC").evaluate(predictions)
        sparktrack.log_metrics({"accuracy": accuracy, "auc": auc})
        sparktrack.spark.log_model(model, "model", input_example=test.select(*FEATURES).limit(5))
        sparktrack.log_dict({"features": list(FEATURES), "label": LABEL}, "features.json")
        sparktrack.log_text(
            f"GBTClassifier with maxDepth={depth}, maxIter={MAX_ITER}, stepSize={STEP_SIZE}\n"
            f"trained on {dataset.source} (Delta version {dataset.delta_version})\n"
            f"held-out accuracy {accuracy:.4f}, AUC {auc:.4f}\n",
            "summary.txt",
        )
    _progress(f"Run {run.info.run_name} (maxDepth={depth}): accuracy {accuracy:.4f}, AUC {auc:.4f} "
              f"in {time.monotonic() - started:.1f}s")
    return run.info.run_id, accuracy


def _display(uri: str) -> str:
    """A local store as a plain path; any other store as its URI."""
    return uri[len("file:"):] if uri.startswith("file:/") else uri


def _section(title: str, lines: list[str]) -> None:
    print(f"\n== {title}\n", file=sys.stdout)
    print("\n".join(lines), file=sys.stdout, flush=True)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
