"""Search benchmark at scale: sparktrack and MLflow (SQLite store) holding the same runs, queried
side by side through each system's public API (and SQL for sparktrack).

    python bench/bench_search.py [--runs N] [--steps S] [--repeats R] [--dir DIR] [--no-mlflow]

The workload (default 100,000 runs): every run has 10 params (``model`` is one of gbt, rf, lr,
svm; ``p1``..``p9`` are numbers), 1 tag (``team``, one of five), 5 final metrics (acc, f1, auc,
precision, recall) and an S-step ``loss`` history (default 100), so 100,000 runs hold 10.5M metric
points. Both stores are populated in bulk, bypassing the logging APIs (not timed): sparktrack's
Delta tables are written by delta-rs, as the store writes them (the metric history clustered by
run, as logging and the maintenance job's Z-ORDER leave it; ``metrics_latest`` holding each run's
last point per key, as a logging commit adds it), MLflow's SQLite tables by executemany after
MLflow created and migrated the database (its ``latest_metrics`` table filled as MLflow's logging
fills it).

The queries, each timed R times (default 3) after one untimed warm-up, median printed:

* (a) top 100 runs by ``metrics.acc`` under ``metrics.acc > 0.5 and params.model = 'gbt' and
  tags.team = 'a'``, as pandas (``search_runs`` in both); then again with one more run (that
  (a) does not match) logged and committed before each repeat, untimed: what a search costs
  when the store changed since the last one;
* (b) all runs with ``tags.team = 'a'`` as pandas (a fifth of the runs);
* (c) one run's ``loss`` history (``get_metric_history`` in both);
* (d) the best ``acc`` per value of ``params.model``: one SQL statement over sparktrack's views
  (``D_SQL``); in MLflow, every run through ``search_runs`` and a pandas groupby.

Each answer is checked against the other system's (same runs, same values); a mismatch exits
with status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Callable, Iterable, Sequence

FINAL_METRICS = ("acc", "f1", "auc", "precision", "recall")
MODELS = ("gbt", "rf", "lr", "svm")
TEAMS = ("a", "b", "c", "d", "e")
FILTER_A = "metrics.acc > 0.5 and params.model = 'gbt' and tags.team = 'a'"
FILTER_B = "tags.team = 'a'"
START_MS = 1_767_225_600_000  # 2026-01-01, the first run's start


def run_id(i: int) -> str:
    return hashlib.md5(f"run-{i}".encode()).hexdigest()


def final_metric(i: int, k: int) -> float:
    """A value in [0, 1) for run i and final metric k; the Spark expression in
    populate_sparktrack computes the same."""
    return ((i * 7919 + k * 104_729) % 100_003) / 100_003


def timed(action: Callable[[], object], repeats: int, before: Callable[[], None] | None = None) -> tuple[float, object]:
    """The median seconds of ``action`` over ``repeats`` runs after a warm-up, and its answer;
    ``before`` runs untimed ahead of each."""
    before = before or (lambda: None)
    before()
    result = action()  # warm-up, and the answer to check
    seconds = []
    for _ in range(repeats):
        before()
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


# -- sparktrack ---------------------------------------------------------------------------------
def populate_sparktrack(root: str, runs: int, steps: int) -> str:
    """Write the runs straight into the store's Delta tables with delta-rs; returns the
    experiment id."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import write_deltalake

    import sparktrack
    from sparktrack.store import layout
    from sparktrack.tracking import fluent

    sparktrack.set_tracking_uri(root)
    experiment_id = sparktrack.create_experiment("bench")
    store = fluent.client().store
    ids = pa.array([run_id(i) for i in range(runs)])
    index = np.arange(runs)
    start_us = (START_MS + index * 1000) * 1000

    def column(values, kind: str) -> pa.Array:
        if kind == layout.TIME:
            return pa.array(values, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        return pa.array(values, layout.arrow_type(kind))

    def save(table: layout.Table, per_run: int, **values) -> None:
        """``per_run`` rows per run, in run order; each value an array of that many rows per run."""
        which = np.repeat(index, per_run)
        values = {"run_id": ids.take(pa.array(which)), **values}
        arrays = [values[name] if isinstance(values[name], pa.Array) else column(values[name], kind)
                  for name, kind, _ in table.columns]
        write_deltalake(store.location.delta_uri(store.table_uri(table)),
                        pa.Table.from_arrays(arrays, schema=table.schema), mode="append")

    save(layout.RUNS, 1, experiment_id=[experiment_id] * runs, run_name=[f"run-{i}" for i in range(runs)],
         user_id=["bench"] * runs, start_time=start_us,
         artifact_uri=pc.binary_join_element_wise(f"{store.artifact_root}/{experiment_id}/", ids, "/artifacts", ""),
         parent_run_id=[None] * runs, spark_app_id=[None] * runs)
    save(layout.RUN_EVENTS, 2, status=np.tile(["RUNNING", "FINISHED"], runs),
         end_time=np.where(np.tile([0, 1], runs) == 1, np.repeat(start_us, 2) + 1_000_000, 0).tolist(),
         lifecycle_stage=np.tile(["active", None], runs), event_time=np.repeat(start_us, 2) + np.tile([0, 1_000_000], runs),
         seq=np.tile([1, 2], runs))
    save(layout.PARAMS, 10, key=np.tile(["model", *(f"p{k}" for k in range(1, 10))], runs),
         value=[MODELS[i % 4] if k == 0 else str(k * 10) for i in range(runs) for k in range(10)],
         logged_at=np.repeat(start_us, 10), seq=np.tile(np.arange(10), runs))
    save(layout.TAGS, 1, key=["team"] * runs, value=[TEAMS[i % 5] for i in range(runs)], deleted=[False] * runs,
         logged_at=start_us, seq=np.zeros(runs, dtype=np.int64))
    # Each run's points together, sorted by (run_id, key, step), as logging leaves them (a run's
    # points share its flushes) and as `jobs/maintenance.py --zorder` keeps them.
    keys = sorted([*FINAL_METRICS, "loss"])
    per_run = len(FINAL_METRICS) + steps
    key_of = np.array([key for key in keys for _ in range(steps if key == "loss" else 1)], dtype=object)
    step_of = np.array([s for key in keys for s in (range(steps) if key == "loss" else [0])])
    values = np.empty(runs * per_run)
    for position, (key, step) in enumerate(zip(key_of, step_of)):
        values[position::per_run] = (1.0 / (step + 1) if key == "loss" else
                                     ((index * 7919 + FINAL_METRICS.index(key) * 104_729) % 100_003) / 100_003)
    order = np.argsort(ids.to_numpy(zero_copy_only=False), kind="stable")
    index = order  # write the runs in run_id order: each file then holds a narrow range of runs
    start_us = (START_MS + order * 1000) * 1000
    ordered = values.reshape(runs, per_run)[order].ravel()
    save(layout.METRICS, per_run, key=np.tile(key_of, runs), value=ordered, step=np.tile(step_of, runs),
         timestamp=np.repeat(start_us, per_run))
    last = [i for i, (key, step) in enumerate(zip(key_of, step_of)) if key != "loss" or step == steps - 1]
    save(layout.METRICS_LATEST, len(last), key=np.tile(key_of[last], runs),
         value=values.reshape(runs, per_run)[order][:, last].ravel(), step=np.tile(step_of[last], runs),
         timestamp=np.repeat(start_us, len(last)))
    return experiment_id


# -- MLflow -------------------------------------------------------------------------------------
def mlflow_insert(con: sqlite3.Connection, table: str, rows: Iterable[dict]) -> None:
    """Insert ``rows`` (dicts by column name; a missing column is NULL) into one of the tables
    of MLflow's SQLite database, as MLflow created it."""
    names = [row[1] for row in con.execute(f"PRAGMA table_info({table})")]
    con.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                    ([row.get(n) for n in names] for row in rows))


def populate_mlflow(db: str, runs: int, steps: int) -> str:
    """Create the database with MLflow (migrations included), then bulk-insert the runs."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{db}")
    experiment_id = mlflow.create_experiment("bench")
    con = sqlite3.connect(db)

    def insert(table: str, rows) -> None:
        mlflow_insert(con, table, rows)

    chunk = 5_000
    for start in range(0, runs, chunk):
        ids = range(start, min(runs, start + chunk))
        insert("runs", ({
            "run_uuid": run_id(i), "name": f"run-{i}", "source_type": "LOCAL", "source_name": "",
            "entry_point_name": "", "user_id": "bench", "status": "FINISHED",
            "start_time": START_MS + i * 1000, "end_time": START_MS + i * 1000 + 1000,
            "deleted_time": None, "source_version": "", "lifecycle_stage": "active",
            "artifact_uri": f"/tmp/mlflow-artifacts/{run_id(i)}", "experiment_id": int(experiment_id),
        } for i in ids))
        insert("params", ({"key": "model" if k == 0 else f"p{k}", "value": MODELS[i % 4] if k == 0 else str(k * 10),
                           "run_uuid": run_id(i)} for i in ids for k in range(10)))
        insert("tags", ({"key": "team", "value": TEAMS[i % 5], "run_uuid": run_id(i)} for i in ids))
        for table in ("metrics", "latest_metrics"):
            insert(table, ({"key": key, "value": final_metric(i, k), "timestamp": START_MS + i * 1000,
                            "run_uuid": run_id(i), "step": 0, "is_nan": False}
                           for i in ids for k, key in enumerate(FINAL_METRICS)))
        insert("metrics", ({"key": "loss", "value": 1.0 / (s + 1), "timestamp": START_MS + i * 1000,
                            "run_uuid": run_id(i), "step": s, "is_nan": False}
                           for i in ids for s in range(steps)))
        insert("latest_metrics", ({"key": "loss", "value": 1.0 / steps, "timestamp": START_MS + i * 1000,
                                   "run_uuid": run_id(i), "step": steps - 1, "is_nan": False} for i in ids))
        con.commit()
    con.close()
    return experiment_id


# -- the queries --------------------------------------------------------------------------------
def search_queries(search_runs: Callable, experiment_id: str) -> dict[str, Callable[[], object]]:
    """(a) and (b), asked the same way of either system's ``search_runs`` (both return pandas);
    "a+" is (a) again, timed after each repeat commits one more run (``log_new_run``)."""

    def a():
        frame = search_runs([experiment_id], FILTER_A, order_by=["metrics.acc DESC"], max_results=100)
        return list(frame["run_id"])

    def b():
        frame = search_runs([experiment_id], FILTER_B, max_results=1_000_000)
        return sorted(frame["run_id"])

    return {"a": a, "a+": a, "b": b}


def log_new_run(tracking, experiment_id: str) -> None:
    """One more run, committed, that (a) does not match: what any search after a commit sees.
    ``tracking`` is the ``sparktrack`` or ``mlflow`` module, whose fluent calls are the same."""
    with tracking.start_run(experiment_id=experiment_id):
        tracking.log_param("model", "gbt")
        tracking.log_metric("acc", 0.99)
        tracking.set_tag("team", "z")


#: (d) in sparktrack: the long views joined on run_id, so that only the ``model`` params and the
#: ``acc`` metrics are read (``params['model']`` of the runs view would build every run's maps).
D_SQL = """
    SELECT p.value AS model, max(m.value) AS best
    FROM sparktrack.runs r
    JOIN sparktrack.params p ON p.run_id = r.run_id AND p.key = 'model'
    JOIN sparktrack.latest_metrics m ON m.run_id = r.run_id AND m.key = 'acc'
    WHERE r.experiment_id = '{experiment_id}' AND r.lifecycle_stage = 'active'
    GROUP BY p.value
"""


def queries_sparktrack(experiment_id: str, probe: str) -> dict[str, Callable[[], object]]:
    import sparktrack

    def c():
        return [(m.step, m.value) for m in sparktrack.get_metric_history(probe, "loss")]

    def d():
        rows = sparktrack.sql(D_SQL.format(experiment_id=experiment_id)).collect()  # a hex id of ours
        return sorted((r.model, round(r.best, 9)) for r in rows)

    return {**search_queries(sparktrack.search_runs, experiment_id), "c": c, "d": d}


def queries_mlflow(experiment_id: str, probe: str) -> dict[str, Callable[[], object]]:
    import mlflow

    client = mlflow.MlflowClient()

    def c():
        return [(m.step, m.value) for m in sorted(client.get_metric_history(probe, "loss"), key=lambda m: m.step)]

    def d():
        frame = mlflow.search_runs([experiment_id], max_results=1_000_000)
        best = frame.groupby("params.model")["metrics.acc"].max()
        return sorted((model, round(value, 9)) for model, value in best.items())

    return {**search_queries(mlflow.search_runs, experiment_id), "c": c, "d": d}


LABELS = {
    "a": "(a) top 100 by metric, filter on metric + param + tag",
    "a+": "(a) again, each repeat after a new run is committed",
    "b": "(b) all runs with a tag, as pandas",
    "c": "(c) one run's metric history",
    "d": "(d) best metric per param value",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs in each store (default 100000)")
    parser.add_argument("--steps", type=int, default=100, help="steps of each run's loss history (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each query (default 3)")
    parser.add_argument("--dir", help="working directory (default: a fresh temporary directory)")
    parser.add_argument("--no-mlflow", action="store_true", help="run sparktrack alone")
    args = parser.parse_args(argv)
    work = args.dir or tempfile.mkdtemp(prefix="sparktrack-bench-search-")
    os.environ.setdefault("SPARKTRACK_SPOOL_DIR", os.path.join(work, "spool"))
    with_mlflow = not args.no_mlflow and importlib.util.find_spec("mlflow") is not None

    points = args.runs * (len(FINAL_METRICS) + args.steps)
    probe = run_id(args.runs // 2)
    print(f"Populating sparktrack: {args.runs:,} runs, {points:,} metric points...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    experiment_id = populate_sparktrack(f"{work}/store", args.runs, args.steps)
    print(f"  {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    import sparktrack
    from sparktrack.session import spark_session

    spark = spark_session(app_name="bench-search")  # for (d), SQL over the views
    spark.sparkContext.setLogLevel("ERROR")
    sparktrack.set_tracking_uri(f"{work}/store", spark)
    systems = {"sparktrack": queries_sparktrack(experiment_id, probe)}
    trackers, experiments = {"sparktrack": sparktrack}, {"sparktrack": experiment_id}
    if with_mlflow:
        print("Populating MLflow (SQLite)...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        mlflow_experiment = populate_mlflow(f"{work}/mlflow.db", args.runs, args.steps)
        print(f"  {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
        systems["mlflow"] = queries_mlflow(mlflow_experiment, probe)
        trackers["mlflow"], experiments["mlflow"] = __import__("mlflow"), mlflow_experiment
    else:
        print("MLflow is not installed (pip install -e '.[bench]') or --no-mlflow: sparktrack alone.",
              file=sys.stderr)

    seconds: dict[tuple[str, str], float] = {}
    answers: dict[tuple[str, str], object] = {}
    for key in LABELS:
        for system, queries in systems.items():
            print(f"  {key} {system}...", file=sys.stderr, flush=True)
            before = (lambda: log_new_run(trackers[system], experiments[system])) if key == "a+" else None
            seconds[system, key], answers[system, key] = timed(queries[key], args.repeats, before)
            print(f"    {seconds[system, key]:.3f}s", file=sys.stderr, flush=True)

    failures = []
    if with_mlflow:
        for key in LABELS:
            if answers["sparktrack", key] != answers["mlflow", key]:
                failures.append(f"{key}: the answers differ: sparktrack {str(answers['sparktrack', key])[:200]} "
                                f"vs MLflow {str(answers['mlflow', key])[:200]}")

    import pyspark

    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, Spark {pyspark.__version__}, master {spark.sparkContext.master}"
          + (f", MLflow {__import__('mlflow').__version__} on SQLite" if with_mlflow else ""))
    print(f"{args.runs:,} runs, {points:,} metric points; median of {args.repeats} after a warm-up\n")
    print(f"| {'Query':<54} | {'sparktrack':>10} | {'MLflow':>10} | {'ratio':>8} |")
    print(f"| {'-' * 54} | {'-' * 10} | {'-' * 10} | {'-' * 8} |")
    for key, label in LABELS.items():
        ours = seconds["sparktrack", key]
        theirs = seconds.get(("mlflow", key))
        ratio = "-" if theirs is None else f"{theirs / ours:,.1f}x" if theirs >= ours / 10 else f"{theirs / ours:.3f}x"
        other = f"{theirs:.3f}s" if theirs is not None else "-"
        print(f"| {label:<54} | {ours:>9.3f}s | {other:>10} | {ratio:>8} |")
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
