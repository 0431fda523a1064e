"""Batch-scoring benchmark: a Spark ML pipeline scoring a Delta table into a Delta prediction table,
sparktrack's ``batch_score`` (lineage columns, idempotent replaceWhere commit) against a bare
``model.transform(df).write`` with no tracking at all.

    python bench/bench_scoring.py [--rows N] [--repeats R] [--dir DIR]

Set-up, not counted: a synthetic churn table of N rows (default 1,000,000) written to Delta, a
gradient-boosted-trees pipeline trained on 20,000 of its rows, logged, registered and aliased
Champion, and one warm-up of each path. Then, R times (default 3) in alternating order:

* bare: ``model.transform(table).select(id, prediction).write.format("delta").save(...)``;
* sparktrack write: ``write_batch(prepare_batch(...))`` timed around ``write_batch`` only: the same
  transform plus the lineage columns, written with ``replaceWhere batch_id = ...`` so a re-run
  replaces its rows (every repeat after the first replaces N rows);
* sparktrack end to end: ``batch_score("models:/churn_gbt@Champion", ...)``, which also resolves the
  alias in the registry, loads the model and checks the input against its signature.

Medians are printed with rows/s and the ratio to bare. Each output is counted; a count other than
N exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Callable, Sequence


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to score (default 1000000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each path (default 3)")
    parser.add_argument("--dir", help="working directory (default: a fresh temporary directory)")
    args = parser.parse_args(argv)
    work = args.dir or tempfile.mkdtemp(prefix="sparktrack-bench-scoring-")
    os.environ.setdefault("SPARKTRACK_SPOOL_DIR", os.path.join(work, "spool"))

    import sparktrack
    from sparktrack.demo import FEATURES, LABEL, churn_frame
    from sparktrack.jobs import train as train_job
    from sparktrack.scoring import batch_score, prepare_batch, write_batch
    from sparktrack.session import spark_session

    spark = spark_session(app_name="bench-scoring")
    spark.sparkContext.setLogLevel("ERROR")
    table, sample = f"{work}/churn", f"{work}/churn_sample"
    out_bare, out_write, out_e2e = (f"{work}/{name}" for name in ("bare", "write", "e2e"))
    print(f"Writing {args.rows:,} rows to {table}...", file=sys.stderr, flush=True)
    churn_frame(spark, args.rows).write.format("delta").mode("overwrite").save(table)
    churn_frame(spark, 20_000).write.format("delta").mode("overwrite").save(sample)
    sparktrack.set_tracking_uri(f"{work}/store")
    config = train_job.load_config(None, [
        f'input="{sample}"', f'label="{LABEL}"', f"features={list(FEATURES)!r}".replace("'", '"'),
        'estimator.type="GBTClassifier"', "estimator.params.maxDepth=4", "estimator.params.maxIter=10",
        'register.name="churn_gbt"', 'register.alias="Champion"', 'register.promote="always"',
    ])
    trained = train_job.train(config)
    model = sparktrack.load_model(trained.model_uri).native
    data = spark.read.format("delta").load(table)

    def bare() -> None:
        (model.transform(data).select("customer_id", "prediction")
         .write.format("delta").mode("overwrite").save(out_bare))

    prepared = prepare_batch("models:/churn_gbt@Champion", table, out_write, id_cols=["customer_id"])

    def lineage_write() -> None:
        write_batch(prepared)

    def end_to_end() -> None:
        batch_score("models:/churn_gbt@Champion", table, out_e2e, id_cols=["customer_id"])

    paths = {"bare": bare, "write": lineage_write, "e2e": end_to_end}
    print("Warming up each path once...", file=sys.stderr, flush=True)
    for action in paths.values():
        action()
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for repeat in range(args.repeats):
        order = list(paths) if repeat % 2 == 0 else list(reversed(paths))
        for name in order:
            seconds[name].append(timed(paths[name]))
            print(f"  repeat {repeat + 1} {name}: {seconds[name][-1]:.2f}s", file=sys.stderr, flush=True)

    for path in (out_bare, out_write, out_e2e):
        found = spark.read.format("delta").load(path).count()
        if found != args.rows:
            print(f"error: {path} holds {found:,} rows, expected {args.rows:,}", file=sys.stderr)
            return 1

    cores = os.cpu_count()
    print(f"\nMachine: {platform.processor() or platform.machine()}, {cores} cores, Python "
          f"{platform.python_version()}, Spark {spark.version}, master {spark.sparkContext.master}")
    print(f"Batch scoring {args.rows:,} rows, GBT pipeline (4 features, 10 trees of depth 4), "
          f"median of {args.repeats}\n")
    base = statistics.median(seconds["bare"])
    rows = [
        ("bare transform + Delta write (no tracking)", "bare"),
        ("sparktrack write_batch (lineage columns, replaceWhere)", "write"),
        ("sparktrack batch_score end to end (registry, load, check)", "e2e"),
    ]
    print(f"| {'Path':<58} | {'seconds':>8} | {'rows/s':>11} | {'vs bare':>8} |")
    print(f"| {'-' * 58} | {'-' * 8} | {'-' * 11} | {'-' * 8} |")
    for label, key in rows:
        median = statistics.median(seconds[key])
        print(f"| {label:<58} | {median:>8.2f} | {args.rows / median:>11,.0f} | {median / base:>7.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
