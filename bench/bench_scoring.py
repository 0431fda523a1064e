"""Batch-scoring benchmark: scoring a Delta table into a Delta prediction table with sparktrack's
``batch_score`` (lineage columns, idempotent replaceWhere commit), against a bare
``model.transform(df).write`` with no tracking at all and against MLflow's documented batch paths
for the same models, in one process run.

    python bench/bench_scoring.py [--rows N] [--repeats R] [--dir DIR] [--mlflow | --no-mlflow]

Set-up, not counted: a synthetic churn table of N rows (default 1,000,000) written to Delta; on a
20,000-row table from the same generator, a gradient-boosted-trees Spark ML pipeline trained by the
training job and the demo's scikit-learn random forest (50 trees of depth 6), each logged to sparktrack,
registered (churn_gbt, churn_rf) and aliased Champion; when MLflow is installed (and not
``--no-mlflow``), the same two fitted models logged with ``mlflow.spark.log_model`` and
``mlflow.sklearn.log_model`` (MLflow's default skops format, the forest's tree type trusted) to an
MLflow store on SQLite under the work directory (artifacts there too), registered and aliased
Champion in MLflow's registry. Then the Spark ML paths, and after them the scikit-learn paths:
each group is warmed up once, path by path, then timed R times (default 3), the paths in
alternating order. The scikit-learn paths thus run back to back on warm Python workers: each
has imported what it needs (mlflow, sklearn) before it is timed, so what is compared is the
steady-state scoring, not a fresh worker's imports.

Spark ML pipeline:

* bare: ``model.transform(table).select(id, prediction).write.format("delta").save(...)``;
* sparktrack write: ``write_batch(prepare_batch(...))`` timed around ``write_batch`` only: the same
  transform plus the lineage columns, written with ``replaceWhere batch_id = ...`` so a re-run
  replaces its rows (every repeat after the first replaces N rows);
* sparktrack end to end: ``batch_score("models:/churn_gbt@Champion", ...)``, which also resolves the
  alias in the registry, loads the model and checks the input against its signature;
* MLflow: ``mlflow.spark.load_model("models:/churn_gbt@Champion")`` + ``transform`` +
  ``select(id, prediction)`` + Delta write (overwrite), as MLflow documents batch inference.

scikit-learn random forest (a Python model, scored on the executors through Arrow):

* sparktrack end to end: ``batch_score("models:/churn_rf@Champion", ...)`` (a pandas UDF over the features);
* sparktrack write: ``write_batch`` of a batch prepared once, as above;
* MLflow: ``mlflow.pyfunc.spark_udf(spark, "models:/churn_rf@Champion", env_manager="local")``,
  applied with ``withColumn`` over the feature columns, then ``select(id, prediction)`` + Delta
  write; creating the UDF (which downloads the model) is counted, as loading is for sparktrack.

Medians are printed with rows/s and ratios (to bare, and to MLflow), and the issue's targets are
checked: sparktrack's Spark ML ``write_batch`` within 1.2x of bare, and sparktrack's scikit-learn
scoring at least 1.5x MLflow's ``spark_udf`` throughput. Every output table is counted, and the
predictions of sparktrack, bare and MLflow for the same model are compared row by row (joined on
the id); a count other than N or any differing prediction exits with status 1. Without MLflow
installed the sparktrack rows still run, and the output says MLflow was skipped; without
scikit-learn the random-forest rows are skipped.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from _report import finish

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ID = "customer_id"
SAMPLE_ROWS = 20_000  # rows both models are trained on
WRITE_TARGET = 1.2  # the issue: the Spark ML pipeline within 1.2x of bare transform + write
UDF_TARGET = 1.5  # the issue: the sklearn model at least 1.5x the throughput of spark_udf

#: (key, label) of each timed path, in table order.
SPARK_ML_PATHS = (
    ("bare", "bare transform + Delta write (no tracking)"),
    ("write", "sparktrack write_batch (lineage columns, replaceWhere)"),
    ("e2e", "sparktrack batch_score end to end (registry, load, check)"),
    ("mlflow_spark", "MLflow spark.load_model + transform + Delta write"),
)
SKLEARN_PATHS = (
    ("rf_e2e", "sparktrack batch_score end to end (pandas UDF)"),
    ("rf_write", "sparktrack write_batch (model loaded, batch prepared)"),
    ("mlflow_udf", "MLflow pyfunc.spark_udf(env_manager=local) + Delta write"),
)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to score (default 1000000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each path (default 3)")
    parser.add_argument("--dir", help="working directory (default: a fresh temporary directory)")
    parser.add_argument("--mlflow", action=argparse.BooleanOptionalAction, default=None,
                        help="compare with MLflow (SQLite store) (default: when mlflow is importable)")
    args = parser.parse_args(argv)
    if args.rows < 100 or args.repeats < 1:
        parser.error(f"--rows must be at least 100 and --repeats at least 1, got {args.rows} and {args.repeats}")
    have_mlflow, have_sklearn = _importable("mlflow"), _importable("sklearn")
    if args.mlflow and not have_mlflow:
        parser.error("--mlflow was given but mlflow is not installed; install it with: pip install -e '.[bench]'")
    with_mlflow = have_mlflow if args.mlflow is None else args.mlflow
    work = os.path.abspath(args.dir or tempfile.mkdtemp(prefix="sparktrack-bench-scoring-"))
    os.environ.setdefault("SPARKTRACK_SPOOL_DIR", os.path.join(work, "spool"))
    outputs = {key: f"{work}/out_{key}" for key, _ in SPARK_ML_PATHS + SKLEARN_PATHS}
    for path in outputs.values():  # a reused --dir starts with empty prediction tables
        shutil.rmtree(path, ignore_errors=True)

    import sparktrack
    from sparktrack.demo import FEATURES, LABEL, _sklearn_run, churn_frame
    from sparktrack.jobs import train as train_job
    from sparktrack.scoring import batch_score, prepare_batch, write_batch
    from sparktrack.session import spark_session

    spark = spark_session(app_name="bench-scoring")
    spark.sparkContext.setLogLevel("ERROR")
    table, sample = f"{work}/churn", f"{work}/churn_sample"
    progress(f"Writing {args.rows:,} rows to {table}...")
    churn_frame(spark, args.rows).write.format("delta").mode("overwrite").save(table)
    churn_frame(spark, SAMPLE_ROWS).write.format("delta").mode("overwrite").save(sample)
    sparktrack.set_tracking_uri(f"{work}/store", spark)
    config = train_job.load_config(None, [
        f'input="{sample}"', f'label="{LABEL}"', f"features={list(FEATURES)!r}".replace("'", '"'),
        'estimator.type="GBTClassifier"', "estimator.params.maxDepth=4", "estimator.params.maxIter=10",
        'register.name="churn_gbt"', 'register.alias="Champion"', 'register.promote="always"',
    ])
    trained = train_job.train(config)
    pipeline = sparktrack.load_model(trained.model_uri).native
    data = spark.read.format("delta").load(table)
    forest = None
    if have_sklearn:
        progress("Training the scikit-learn random forest (churn_rf)...")
        _sklearn_run(sparktrack.SparkTrackClient(), "0", spark.read.format("delta").load(sample))
        forest = sparktrack.sklearn.load_model("models:/churn_rf@Champion").native

    def bare() -> None:
        (pipeline.transform(data).select(ID, "prediction")
         .write.format("delta").mode("overwrite").save(outputs["bare"]))

    prepared = prepare_batch("models:/churn_gbt@Champion", table, outputs["write"], id_cols=[ID])
    paths: dict[str, Callable[[], object]] = {
        "bare": bare,
        "write": lambda: write_batch(prepared),
        "e2e": lambda: batch_score("models:/churn_gbt@Champion", table, outputs["e2e"], id_cols=[ID]),
    }
    if forest is not None:
        prepared_rf = prepare_batch("models:/churn_rf@Champion", table, outputs["rf_write"], id_cols=[ID])
        paths["rf_e2e"] = lambda: batch_score("models:/churn_rf@Champion", table, outputs["rf_e2e"], id_cols=[ID])
        paths["rf_write"] = lambda: write_batch(prepared_rf)
    mlflow_version = None
    if with_mlflow:
        progress("Logging the same models to MLflow (SQLite store)...")
        example = spark.read.format("delta").load(sample).select(*FEATURES).limit(5).toPandas()
        mlflow_version = _log_to_mlflow(work, pipeline, forest, example)
        paths.update(_mlflow_paths(spark, data, work, outputs, FEATURES, with_forest=forest is not None))

    # One section after the other, each warmed up just before its repeats: the Python paths then
    # run back to back on warm Python workers (Spark stops workers idle for a minute, and a fresh
    # worker pays its imports again, mlflow's or sklearn's, in the first task it runs).
    seconds: dict[str, list[float]] = {}
    for section in (SPARK_ML_PATHS, SKLEARN_PATHS):
        seconds.update(_run_section({key: paths[key] for key, _ in section if key in paths}, args.repeats))

    failures = _check_outputs(spark, args.rows, {key: outputs[key] for key in paths})
    medians = {key: statistics.median(values) for key, values in seconds.items()}
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, Spark {spark.version}, master {spark.sparkContext.master}, "
          + (f"MLflow {mlflow_version} (SQLite store)" if mlflow_version else "MLflow not compared"))
    _print_spark_ml(args.rows, args.repeats, medians)
    if forest is not None:
        _print_sklearn(args.rows, args.repeats, medians)
    else:
        print("\nscikit-learn random forest skipped: scikit-learn is not installed "
              "(pip install -e '.[bench]').")
    if not with_mlflow:
        reason = "--no-mlflow" if have_mlflow else "mlflow is not installed; pip install -e '.[bench]' to compare"
        print(f"\nMLflow skipped ({reason}): sparktrack's rows ran alone.")
    print()
    return finish(failures, f"every output holds {args.rows:,} rows, and the predictions of the same "
                            "model agree on every row across the paths that scored it.")


def _run_section(paths: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Warm every path up once, then time each ``repeats`` times, in alternating order."""
    progress(f"Warming up {', '.join(paths)}...")
    for action in paths.values():
        action()
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for repeat in range(repeats):
        for name in (list(paths) if repeat % 2 == 0 else list(reversed(paths))):
            seconds[name].append(timed(paths[name]))
            progress(f"  repeat {repeat + 1} {name}: {seconds[name][-1]:.2f}s")
    return seconds


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _log_to_mlflow(work: str, pipeline: object, forest: object | None, example: object) -> str:
    """Log the fitted pipeline (and forest) to an MLflow store on SQLite under ``work``, register
    them as churn_gbt (churn_rf) and alias each version Champion; returns MLflow's version."""
    import mlflow
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")  # integer-column hints
    uri = f"sqlite:///{work}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = "bench-scoring"
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=Path(work, "mlartifacts").as_uri())
    mlflow.set_experiment(experiment)
    client = MlflowClient()
    with mlflow.start_run(run_name="gbt"):
        # mlflow.spark.log_model still takes the artifact path positionally (no name=).
        info = mlflow.spark.log_model(pipeline, "model", registered_model_name="churn_gbt",
                                      dfs_tmpdir=f"{work}/mlflow-dfs")
    client.set_registered_model_alias("churn_gbt", "Champion", info.registered_model_version)
    if forest is not None:
        with mlflow.start_run(run_name="sklearn-rf"):
            # MLflow 3's default format is skops, which refuses the forest's tree type unless
            # it is trusted by name (MLflow's error says to do so).
            info = mlflow.sklearn.log_model(forest, name="model", input_example=example,
                                            registered_model_name="churn_rf",
                                            skops_trusted_types=["sklearn.tree._tree.Tree"])
        client.set_registered_model_alias("churn_rf", "Champion", info.registered_model_version)
    return mlflow.__version__


def _mlflow_paths(spark: SparkSession, data: object, work: str, outputs: dict[str, str],
                  features: Sequence[str], *, with_forest: bool) -> dict[str, Callable[[], object]]:
    """MLflow's documented batch-inference paths, each writing (id, prediction) to Delta."""
    import mlflow

    def spark_ml() -> None:
        model = mlflow.spark.load_model("models:/churn_gbt@Champion", dfs_tmpdir=f"{work}/mlflow-dfs")
        (model.transform(data).select(ID, "prediction")
         .write.format("delta").mode("overwrite").save(outputs["mlflow_spark"]))

    def udf() -> None:
        predict = mlflow.pyfunc.spark_udf(spark, "models:/churn_rf@Champion", env_manager="local")
        (data.withColumn("prediction", predict(*features)).select(ID, "prediction")
         .write.format("delta").mode("overwrite").save(outputs["mlflow_udf"]))

    return {"mlflow_spark": spark_ml, **({"mlflow_udf": udf} if with_forest else {})}


def _check_outputs(spark: SparkSession, rows: int, outputs: dict[str, str]) -> list[str]:
    """Every output holds ``rows`` rows; the same model's predictions agree on every id."""
    from pyspark.sql import functions as F

    failures = []
    for key, path in outputs.items():
        found = spark.read.format("delta").load(path).count()
        if found != rows:
            failures.append(f"{key}: {path} holds {found:,} rows, expected {rows:,}")
    pairs = [("e2e", "bare"), ("e2e", "mlflow_spark"), ("rf_e2e", "rf_write"), ("rf_e2e", "mlflow_udf")]
    for ours, theirs in pairs:
        if ours not in outputs or theirs not in outputs:
            continue
        left = spark.read.format("delta").load(outputs[ours]).select(ID, F.col("prediction").alias("a"))
        right = spark.read.format("delta").load(outputs[theirs]).select(ID, F.col("prediction").alias("b"))
        equal = left.join(right, ID).filter(F.col("a") == F.col("b")).count()
        progress(f"Predictions equal, {ours} vs {theirs}: {equal:,} of {rows:,}")
        if equal != rows:
            failures.append(f"{ours} and {theirs} agree on {equal:,} of {rows:,} predictions")
    return failures


def _table(rows: int, medians: dict[str, float], paths: Sequence[tuple[str, str]], base: str,
           ratio_header: str, ratio: Callable[[float, float], float]) -> None:
    print(f"| {'Path':<58} | {'seconds':>8} | {'rows/s':>11} | {ratio_header:>12} |")
    print(f"| {'-' * 58} | {'-' * 8} | {'-' * 11} | {'-' * 12} |")
    for key, label in paths:
        if key in medians:
            median = medians[key]
            print(f"| {label:<58} | {median:>8.2f} | {rows / median:>11,.0f} | "
                  f"{ratio(median, medians[base]):>11.2f}x |")


def _print_spark_ml(rows: int, repeats: int, medians: dict[str, float]) -> None:
    print(f"\nBatch scoring {rows:,} rows, Spark ML pipeline (GBT: 4 features, 10 trees of depth 4), "
          f"median of {repeats}; vs bare = seconds / bare's seconds\n")
    _table(rows, medians, SPARK_ML_PATHS, "bare", "vs bare", lambda mine, base: mine / base)
    write = medians["write"] / medians["bare"]
    print(f"\nsparktrack write_batch / bare: {write:.2f}x "
          f"(target <= {WRITE_TARGET}x: {'met' if write <= WRITE_TARGET else 'NOT met'})")
    if "mlflow_spark" in medians:
        for key, label in (("e2e", "batch_score end to end"), ("write", "write_batch")):
            print(f"sparktrack {label} / MLflow load_model + transform + write: "
                  f"{medians[key] / medians['mlflow_spark']:.2f}x the time")


def _print_sklearn(rows: int, repeats: int, medians: dict[str, float]) -> None:
    base = "mlflow_udf" if "mlflow_udf" in medians else "rf_e2e"
    what = "MLflow spark_udf's" if base == "mlflow_udf" else "sparktrack batch_score's"
    print(f"\nBatch scoring {rows:,} rows, scikit-learn random forest (50 trees of depth 6), median of "
          f"{repeats}; throughput = rows/s / {what} rows/s\n")
    _table(rows, medians, SKLEARN_PATHS, base, "throughput", lambda mine, other: other / mine)
    if base == "mlflow_udf":
        ratio = medians["mlflow_udf"] / medians["rf_e2e"]
        print(f"\nsparktrack batch_score throughput / MLflow spark_udf throughput: {ratio:.2f}x "
              f"(target >= {UDF_TARGET}x: {'met' if ratio >= UDF_TARGET else 'NOT met'})")


if __name__ == "__main__":
    sys.exit(main())
