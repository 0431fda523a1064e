"""``sparktrack demo``: the churn scenario end to end.

Writes a synthetic churn table to Delta; runs the training job (``jobs/train.py``, here in
process) from ``conf/jobs/train_churn.toml`` twice, once with a model too small to pass the gate
(accuracy > 0.85) and once with one that passes and is registered as churn_gbt with the alias
Champion; trains a scikit-learn random forest, logged by autolog, as churn_rf; batch-scores the table with both
Champions into a Delta prediction table (and re-runs one batch to show it does not duplicate);
then follows a prediction row back to its training run and data version in one SQL statement.
Last, the feature-store flow of the reference scenario: a time-series feature table of customer
activity, a point-in-time training set from churn labels, a random forest logged with it
(``fe.log_model``), batch scoring that looks the features up by itself, and one SQL statement from
a prediction row to the feature table version that trained its model. Results are printed to
stdout, progress to stderr.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparktrack.errors import ConfigError, InvalidValueError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparktrack.client import SparkTrackClient
    from sparktrack.jobs.train import TrainResult

EXPERIMENT = "/Shared/churn"
FEATURES = ("tenure_months", "monthly_charges", "support_calls", "month_to_month")
LABEL = "churned"
#: The two training-job runs: (maxDepth, maxIter). The first is too small to pass the gate.
JOB_RUNS = ((1, 2), (4, 10))
TRAIN_FRACTION = 0.8
SEED = 42
MIN_ROWS = 100
TRAIN_CONFIG = Path("conf") / "jobs" / "train_churn.toml"


def run(client: SparkTrackClient, rows: int = 2000) -> dict[str, Any]:
    """Run the demo on the client's store and print what it did.

    Returns ``experiment_id``, ``run_ids`` (of the training job), ``store`` (the store root),
    ``best_run_id`` and ``predictions`` (the prediction table)."""
    check_rows(rows)
    return _run(client, rows)


def check_rows(rows: object) -> None:
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < MIN_ROWS:
        raise InvalidValueError("The demo's rows", rows, f"an integer of at least {MIN_ROWS}")


def train_config_path() -> Path:
    """conf/jobs/train_churn.toml, from the working directory or the source checkout."""
    return _repo_file(TRAIN_CONFIG)


def _repo_file(relative: Path) -> Path:
    """A config of the repository's conf/, from the working directory or the source checkout."""
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (base / relative).is_file():
            return base / relative
    raise ConfigError(
        f"The demo's config {relative} is not in the working directory or the source "
        "checkout; run the demo from a clone of the sparktrack repository (pip install -e .).")


def _run(client: SparkTrackClient, rows: int) -> dict[str, Any]:
    from sparktrack.jobs import train as train_job

    from sparktrack.engine.location import spark_uri

    spark, root, db = client.spark, client.store_root, client.database
    table_path = f"{spark_uri(root)}/demo_data/churn"  # users' tables, written and read by Spark
    predictions = f"{spark_uri(root)}/demo_data/churn_predictions"
    _section("Store", [
        f"Store root: {_display(root)}",
        f"Every record is a row in a Delta table under {_display(root)}/tables; spark.sql sees "
        f"them as {db}.runs, {db}.metrics, {db}.params, {db}.model_lineage, ...",
    ])

    started = time.monotonic()
    version = write_churn_table(spark, table_path, rows)
    _progress(f"Wrote {rows} synthetic customers to {_display(table_path)} (Delta version {version}) "
              f"in {time.monotonic() - started:.1f}s")

    config_path = train_config_path()
    results: list[TrainResult] = []
    for depth, iterations in JOB_RUNS:
        started = time.monotonic()
        cfg = train_job.load_config(str(config_path), [
            f'input="{table_path}"', f'experiment="{EXPERIMENT}"', f'run_name="gbt-depth-{depth}"',
            f"estimator.params.maxDepth={depth}", f"estimator.params.maxIter={iterations}",
        ])
        results.append(train_job.train(cfg, client=client))
        _progress(f"Training job gbt-depth-{depth}: accuracy {results[-1].metrics['accuracy']:.4f} "
                  f"in {time.monotonic() - started:.1f}s")
    _section(f"Training job ({_display(str(config_path))}): gate {results[0].gate}",
             [_train_line(r, depth) for r, (depth, _) in zip(results, JOB_RUNS)])

    experiment = client.get_experiment_by_name(EXPERIMENT)
    found = client.search_runs([experiment.experiment_id], filter_string="metrics.accuracy > 0",
                               order_by=["metrics.accuracy DESC"], max_results=20, output_format="pandas")
    shown = found[["run_id", "run_name", "params.estimator.maxDepth", "metrics.accuracy",
                   "metrics.areaUnderROC", "tags.sparktrack.gate.passed"]]
    _section(f"Runs of {EXPERIMENT}: search_runs(filter_string=\"metrics.accuracy > 0\", "
             "order_by=[\"metrics.accuracy DESC\"])",
             [shown.to_string(index=False, float_format=lambda v: f"{v:.4f}")])
    best = max(results, key=lambda r: r.metrics["accuracy"])
    history = client.get_metric_history(best.run_id, "val_loss")
    _section("Held-out loss of the best run by boosting iteration: get_metric_history(run_id, \"val_loss\")",
             [f"{best.run_id}: " + " ".join(f"{m.value:.3f}" for m in history)])

    data = spark.read.format("delta").load(table_path)
    champions = ["churn_gbt"] if any(r.registered_version for r in results) else []
    try:
        import sklearn  # noqa: F401 - the random forest needs the optional sklearn extra
    except ImportError:
        _progress("scikit-learn is not installed: pip install 'sparktrack[sklearn]' adds the random "
                  "forest to this demo")
    else:
        _sklearn_run(client, experiment.experiment_id, data)
        champions.append("churn_rf")
    _scoring_section(client, champions, table_path, predictions)
    _lineage_section(client, db, predictions)
    scored = f"{spark_uri(root)}/demo_data/churn_scored"
    if "churn_gbt" in champions:
        _monitoring_section(client, rows, scored)
    if "churn_rf" in champions:
        _feature_section(client, data, f"{spark_uri(root)}/demo_data")

    store_arg = shlex.quote(_display(root))
    submit = "spark-submit --properties-file conf/spark-defaults.conf"
    venv = f"source {shlex.quote(sys.prefix)}/bin/activate   # spark-submit, and python3 for its driver"
    _section("Try it yourself", [
        venv if sys.prefix != sys.base_prefix else "# with pyspark's spark-submit on PATH:",
        f"{submit} jobs/train.py --config conf/jobs/train_churn.toml --store {store_arg} \\\n"
        f"    --input {shlex.quote(_display(table_path))} --set estimator.params.maxDepth=6",
        f"{submit} jobs/batch_score.py --store {store_arg} --model models:/churn_gbt@Champion \\\n"
        f"    --input {shlex.quote(_display(table_path))} --output {shlex.quote(_display(predictions))} "
        "--id-cols customer_id",
        f"{submit} jobs/monitor.py --config {MONITOR_CONFIG} --store {store_arg} \\\n"
        f"    --table {shlex.quote(_display(scored))}   # exit status 4 when an alert rule triggers",
        f"sparktrack --store {store_arg} monitor report {shlex.quote(_display(scored))} --output churn_report.html",
        f"sparktrack --store {store_arg} runs --experiment {EXPERIMENT} --order-by \"metrics.accuracy DESC\"",
        f"sparktrack --store {store_arg} models describe churn_gbt --alias Champion",
    ])
    return {
        "experiment_id": experiment.experiment_id,
        "run_ids": [r.run_id for r in results],
        "store": root,
        "best_run_id": best.run_id,
        "predictions": predictions,
    }


def _train_line(result: TrainResult, depth: int) -> str:
    line = (f"gbt-depth-{depth}: accuracy {result.metrics['accuracy']:.4f}, AUC "
            f"{result.metrics['areaUnderROC']:.4f} -> ")
    if not result.gate_passed:
        return line + "gate not passed, not registered (job exit code 3)"
    alias = (f", alias {result.alias} moved here" if result.alias_moved
             else f", alias {result.alias} kept on a better version")
    return line + f"registered {result.registered_name} version {result.registered_version}{alias}"


def _scoring_section(client: SparkTrackClient, champions: list[str], table_path: str, predictions: str) -> None:
    """Batch-score the table with each Champion into one prediction table; re-run one batch."""
    from pyspark.sql import functions as F

    from sparktrack.scoring import batch_score

    spark = client.spark
    lines = []
    labels = spark.read.format("delta").load(table_path).select("customer_id", LABEL)
    for name in champions:
        started = time.monotonic()
        result = batch_score(f"models:/{name}@Champion", table_path, predictions, id_cols=["customer_id"],
                             client=client)
        scored = spark.read.format("delta").load(predictions).filter(F.col("batch_id") == result.batch_id)
        correct = scored.join(labels, "customer_id").filter(F.col("prediction") == F.col(LABEL)).count()
        how = "with transform" if result.flavor == "spark" else "through Arrow (a pandas UDF)"
        lines.append(f"models:/{name}@Champion (version {result.model_version}) scored {result.rows} rows "
                     f"{how} in {time.monotonic() - started:.1f}s: batch {result.batch_id}, "
                     f"accuracy {correct / max(result.rows, 1):.4f}")
    if champions:
        again = batch_score(f"models:/{champions[0]}@Champion", table_path, predictions, id_cols=["customer_id"],
                            client=client)
        total = spark.read.format("delta").load(predictions).count()
        lines.append(f"Re-ran batch {again.batch_id}: it replaced its own {again.rows} rows; the "
                     f"table still holds {total} rows")
    _section(f"Batch scoring into {_display(predictions)}", lines or ["No Champion to score."])


MONITOR_CONFIG = Path("conf") / "monitors" / "churn.toml"


def drift_query(drift_table: str) -> str:
    """The monitor's drift from the training data, worst first."""
    return (
        f"SELECT column_name, model_name, model_version,\n"
        f"       round(population_stability_index, 3) AS psi, round(ks_test.pvalue, 4) AS ks_pvalue,\n"
        f"       round(js_distance, 3) AS js_distance, round(wasserstein_distance, 2) AS wasserstein\n"
        f"FROM delta.`{drift_table}`\n"
        f"WHERE drift_type = 'BASELINE' AND slice_key IS NULL\n"
        f"ORDER BY population_stability_index DESC"
    )


def _monitoring_section(client: SparkTrackClient, rows: int, scored: str) -> None:
    """A month of new customers, dearer than those the model was trained on, scored and monitored
    with conf/monitors/churn.toml: no baseline is configured, so each row is compared with the
    training data of its model version, at the Delta version the training run recorded."""
    from pyspark.sql import functions as F

    from sparktrack.monitoring import MonitoringClient
    from sparktrack.monitoring.config import read_config
    from sparktrack.scoring import batch_score

    spark = client.spark
    started = time.monotonic()
    new_month = scored.rsplit("/", 1)[0] + "/churn_new_month"
    (churn_frame(spark, max(rows // 2, MIN_ROWS), seed=17)
     .withColumn("monthly_charges", F.round(F.col("monthly_charges") + 25, 2))
     .write.format("delta").mode("overwrite").save(new_month))
    batch_score("models:/churn_gbt@Champion", new_month, scored, mode="overwrite", client=client)
    table, _, arguments = read_config(str(_repo_file(MONITOR_CONFIG)), [f'table="{scored}"'])
    monitors = MonitoringClient(client)
    monitor, action = monitors.create_or_update_monitor(table, **arguments)
    result = monitors.refresh_monitor(table)
    query = drift_query(monitor.drift_table)
    drift = client.sql(query).toPandas().to_string(index=False)
    fired = sorted({a["rule"] for a in result.triggered}) or ["none"]
    _section(f"Monitoring {_display(scored)} against its training data ({MONITOR_CONFIG})", [
        f"Scored {max(rows // 2, MIN_ROWS)} new customers (monthly charges up 25) with churn_gbt@Champion; "
        f"monitor {action}, refreshed in {time.monotonic() - started:.1f}s "
        f"({sum(len(w) for w in result.recomputed.values())} window(s) computed).",
        f"Alert rules triggered: {', '.join(fired)} (jobs/monitor.py exits 4 when one does)",
        "", query, "", drift])


def lineage_query(database: str, predictions: str) -> str:
    """One statement from prediction rows to the model version, its run, params and training data."""
    return (
        f"SELECT p.customer_id, p.prediction, p.model_name, p.model_version, p.batch_id,\n"
        f"       l.run_id, l.params['estimator.maxDepth'] AS max_depth,\n"
        f"       round(l.metrics['accuracy'], 4) AS accuracy,\n"
        f"       i.source AS training_table, i.delta_version AS training_version\n"
        f"FROM delta.`{predictions}` p\n"
        f"JOIN {database}.model_lineage l ON l.name = p.model_name AND l.version = p.model_version\n"
        f"LATERAL VIEW explode(l.inputs) x AS i\n"
        f"WHERE p.customer_id < 3 AND i.context = 'training'\n"
        f"ORDER BY p.model_name, p.customer_id"
    )


def _lineage_section(client: SparkTrackClient, database: str, predictions: str) -> None:
    query = lineage_query(database, predictions)
    table = client.sql(query).toPandas().to_string(index=False)
    _section("From a prediction row back to its training data, in one SQL statement", [query, "", table])


#: The feature flow: weekly activity snapshots per customer, and labels at random times.
ACTIVITY_WEEKS = 8
ACTIVITY_FEATURES = ("monthly_charges", "support_calls_30d")


def _feature_section(client: SparkTrackClient, data: DataFrame, base: str) -> None:
    """The reference scenario's feature-store flow, on the churn customers."""
    from pyspark.sql import functions as F
    from sklearn.ensemble import RandomForestClassifier

    import datetime as dt

    from sparktrack.features import FeatureEngineeringClient, FeatureLookup
    from sparktrack.models import sklearn as sklearn_models
    from sparktrack.scoring import batch_score

    started = time.monotonic()
    fe = FeatureEngineeringClient(client=client)
    spark = client.spark
    features, labels_path, predictions = (f"{base}/customer_activity", f"{base}/churn_labels",
                                          f"{base}/churn_feature_predictions")
    start = dt.datetime(2026, 1, 5)
    weeks = spark.range(ACTIVITY_WEEKS).select(F.col("id").cast("int").alias("week"))
    activity = data.crossJoin(weeks).select(
        "customer_id", (F.lit(start) + F.make_interval(weeks=F.col("week"))).alias("ts"),
        F.round(F.col("monthly_charges") * (0.9 + 0.2 * F.rand(11)), 2).alias("monthly_charges"),
        F.greatest(F.lit(0), F.col("support_calls") + F.floor(F.randn(12) * 1.2)).cast("int").alias("support_calls_30d"))
    for stale in (fe.search_tables(filter_string=f"name = '{features}'")):
        fe.drop_table(name=stale.name)  # a demo run again on the same store starts over
    fe.create_table(name=features, primary_keys=["customer_id", "ts"], timeseries_column="ts", df=activity,
                    description="Weekly activity snapshots of each customer", tags={"team": "churn"})
    labels = data.select("customer_id", "tenure_months", "month_to_month", LABEL,
                         (F.lit(start) + F.make_interval(days=F.floor(F.rand(13) * ACTIVITY_WEEKS * 7).cast("int"),
                                                         hours=F.lit(12))).alias("event_time"))
    labels.write.format("delta").mode("overwrite").save(labels_path)
    labels = spark.read.format("delta").load(labels_path)
    training = fe.create_training_set(
        df=labels, label=LABEL, exclude_columns=["customer_id", "event_time"],
        feature_lookups=[FeatureLookup(table_name=features, lookup_key="customer_id", timestamp_lookup_key="event_time",
                                       lookback_window=dt.timedelta(days=30))])
    frame = training.load_df().toPandas()
    columns = [c for c in frame.columns if c != LABEL]
    experiment = client.get_experiment_by_name(EXPERIMENT)
    run_id = client.create_run(experiment.experiment_id, run_name="sklearn-rf-features").info.run_id
    forest = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=SEED).fit(frame[columns], frame[LABEL])
    client.log_metric(run_id, "training_accuracy", float(forest.score(frame[columns], frame[LABEL])))
    info = fe.log_model(model=forest, artifact_path="model", flavor=sklearn_models, training_set=training,
                        registered_model_name="churn_rf_features", run_id=run_id)
    client.set_terminated(run_id)
    fe.write_table(name=features, df=activity.where(F.col("ts") == F.lit(start)).select(
        "customer_id", (F.col("ts") + F.expr("INTERVAL 60 DAYS")).alias("ts"), *ACTIVITY_FEATURES))
    result = batch_score(f"models:/churn_rf_features/{info.registered_model_version}", labels_path, predictions,
                         mode="overwrite", client=client)
    lineage = (
        f"SELECT p.customer_id, p.event_time, p.support_calls_30d, p.prediction, p.model_version,\n"
        f"       f.feature_table, f.delta_version AS trained_on_version\n"
        f"FROM delta.`{predictions}` p\n"
        f"JOIN {client.database}.feature_lineage f\n"
        f"  ON f.model_name = p.model_name AND f.model_version = p.model_version\n"
        f"WHERE p.customer_id < 3 ORDER BY p.customer_id")
    shown = client.sql(lineage).toPandas().to_string(index=False)
    _section("Feature store: a point-in-time training set, a model that looks its features up", [
        f"Feature table {_display(features)}: {ACTIVITY_WEEKS} weekly rows per customer, keyed by "
        f"customer_id and ts; features {', '.join(ACTIVITY_FEATURES)}",
        f"Training set: each label row gets the latest snapshot at or before its event_time (within 30 "
        f"days); columns {columns}",
        f"fe.log_model(flavor=sparktrack.sklearn, training_set=...): registered churn_rf_features version "
        f"{info.registered_model_version}, trained on table version {training.feature_table_versions[features]}",
        f"A later write_table added snapshots after every label; batch_score looked the features up "
        f"point in time (table version {result.feature_table_versions[features]}) and scored {result.rows} rows "
        f"into {_display(predictions)}",
        f"Done in {time.monotonic() - started:.1f}s. From a prediction row to the feature table version that "
        "trained its model:", "", lineage, "", shown,
    ])


def _sklearn_run(client: SparkTrackClient, experiment_id: str, data: DataFrame) -> int:
    """Train the seeds' random forest on the same table in its own run, logged by autolog
    (params, training metrics, the model registered as churn_rf, and the held-out accuracy as a
    post-training metric), and alias it Champion; returns its version."""
    from sklearn import metrics
    from sklearn.ensemble import RandomForestClassifier

    import sparktrack
    from sparktrack.tracking import fluent

    frame = data.select(*FEATURES, LABEL).toPandas()
    train = frame.sample(frac=TRAIN_FRACTION, random_state=SEED)
    test = frame.drop(train.index)
    X_train, y_train, X_test, y_test = train[list(FEATURES)], train[LABEL], test[list(FEATURES)], test[LABEL]
    previous = fluent.get_tracking_uri()
    fluent.set_tracking_uri(client.store_root, client.spark)  # autolog logs through the fluent API
    try:
        sparktrack.sklearn.autolog(registered_model_name="churn_rf", log_input_examples=True)
        with sparktrack.start_run(experiment_id=experiment_id, run_name="sklearn-rf") as run:
            sparktrack.log_input(data, context="training", name="churn")
            forest = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=SEED).fit(X_train, y_train)
            accuracy = metrics.accuracy_score(y_test, forest.predict(X_test))  # logged as accuracy_score_X_test
            sparktrack.log_metric("accuracy", float(accuracy))
    finally:
        sparktrack.sklearn.autolog(disable=True)
        fluent.set_tracking_uri(previous, client.spark)
    version = max(int(v.version) for v in client.search_model_versions(f"run_id = '{run.info.run_id}'"))
    client.set_registered_model_alias("churn_rf", "Champion", version)
    return version


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
        + 1.5 * new_and_monthly.cast("int") + 0.4 * F.randn(seed + 4)
    )
    return customers.withColumn(LABEL, (score > 0).cast("double"))


def write_churn_table(spark: SparkSession, path: str, rows: int) -> int:
    """Write the synthetic table to Delta at ``path``; returns the version written."""
    from delta.tables import DeltaTable

    churn_frame(spark, rows).write.format("delta").mode("overwrite").save(path)
    return DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]


def _display(uri: str) -> str:
    """A local store as a plain path; any other store as its URI."""
    return uri[len("file:"):] if uri.startswith("file:/") else uri


def _section(title: str, lines: list[str]) -> None:
    print(f"\n== {title}\n", file=sys.stdout)
    print("\n".join(lines), file=sys.stdout, flush=True)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
