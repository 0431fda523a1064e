"""Metric-logging benchmark: sparktrack's ``log_metric`` hot path and its commit to Delta, side by
side with MLflow on a SQLite store when MLflow is installed (``pip install mlflow``).

    python bench/bench_logging.py [--points N] [--store DIR] [--mlflow | --no-mlflow]

What is measured (store start-up and MLflow's database creation are done first and never
counted; no JVM is involved on either side):

* per-call latency: every call timed on its own with ``time.perf_counter_ns`` (mean, p50, p99,
  max); the timer's own cost is printed so it can be discounted. Synchronous MLflow calls are
  capped at 2,000 and asynchronous ones at 5,000 (both drain at a few dozen per second);
* end-to-end: a second run with the loop timed in batches of 1,000 calls, from the first
  ``log_metric`` until ``sparktrack.flush()`` returns (every point committed to Delta), then the
  rows of that run are counted in the metrics table (read from its files, as delta-rs lists them).
  A count other than N exits with status 1.

Each system first logs a small warm-up run (not counted) so that first-write costs are paid once.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

BATCH = 1_000  # calls per timed batch, and MLflow's per-request metric limit for log_batch
MLFLOW_SYNC_CAP = 2_000  # synchronous MLflow calls are slow: time at most this many
MLFLOW_ASYNC_CAP = 5_000  # MLflow's async queue drains at about the synchronous rate
WARMUP = 1_000
KEY = "loss"

clock = time.perf_counter_ns


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Latency:
    """Per-call latencies of one measured loop, in nanoseconds."""

    key: str  # names the measurement in the ratios
    label: str
    method: str
    samples_ns: Sequence[float]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def mean_ns(self) -> float:
        return sum(self.samples_ns) / len(self.samples_ns)


@dataclass(frozen=True, kw_only=True)
class EndToEnd:
    """N points logged and durably committed; ``committed_rows`` is what the store holds after."""

    key: str
    label: str
    points: int
    seconds: float
    committed_rows: int
    notes: str = ""

    @property
    def rate(self) -> float:
        return self.points / self.seconds


@dataclass(kw_only=True)
class Report:
    latencies: list[Latency] = field(default_factory=list)
    end_to_end: list[EndToEnd] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def check_count(self, label: str, expected: int, found: int) -> None:
        if found != expected:
            self.failures.append(f"{label}: expected {expected:,} committed rows, found {found:,}")


def per_call(log: Callable[[int, float], object], n: int, values: Sequence[float]) -> list[int]:
    """Time each of n calls on its own."""
    samples = [0] * n
    for i in range(n):
        t0 = clock()
        log(i, values[i])
        samples[i] = clock() - t0
    return samples


def timer_overhead_ns() -> float:
    """Median cost ``per_call`` adds to each sample: the timer pair and the wrapper call."""
    samples = per_call(lambda i, value: None, 100_000, [0.0] * 100_000)
    return sorted(samples)[len(samples) // 2]


# -- sparktrack ---------------------------------------------------------------------------------
def bench_sparktrack(n: int, store: str | None, report: Report) -> None:
    import sparktrack
    from sparktrack import settings

    root = store or tempfile.mkdtemp(prefix="sparktrack-bench-")
    sparktrack.set_tracking_uri(root)
    t0 = clock()
    sparktrack.set_experiment("bench")  # bootstraps the store
    startup_s = (clock() - t0) / 1e9
    store = sparktrack.TrackingClient(root).store
    print(f"sparktrack      {sparktrack.__version__} on deltalake {importlib.metadata.version('deltalake')}; "
          f"store {store.root}")
    print(f"                flush every {settings.FLUSH_INTERVAL.get()} s or "
          f"{settings.FLUSH_SIZE.get():,} records (SPARKTRACK_FLUSH_INTERVAL / _SIZE)")
    print(f"                store bootstrap {startup_s:.2f} s (not counted)")
    print()

    def log(i: int, value: float) -> None:
        sparktrack.log_metric(KEY, value, step=i)

    values = [1.0 / (i + 1) for i in range(n)]

    with sparktrack.start_run(run_name="warmup"):  # first commit to the metrics table, not counted
        for i in range(min(n, WARMUP)):
            log(i, values[i])

    # 1. Per-call latency, every call timed.
    with sparktrack.start_run(run_name="latency") as run:
        samples = per_call(log, n, values)
    report.latencies.append(Latency(
        key="sparktrack", label="sparktrack log_metric", method=f"each of {n:,} calls timed",
        samples_ns=samples,
    ))
    report.check_count("sparktrack latency run", n, _count_delta(store, run.info.run_id))

    # 2. End to end: batches of 1,000 calls timed, then flush() until every point is in Delta.
    version_before = store.tables.version("metrics")
    batches: list[float] = []
    with sparktrack.start_run(run_name="throughput") as run:
        first = clock()
        for start in range(0, n, BATCH):
            stop = min(n, start + BATCH)
            b0 = clock()
            for i in range(start, stop):
                sparktrack.log_metric(KEY, values[i], step=i)
            batches.append((clock() - b0) / (stop - start))
        loop_end = clock()
        sparktrack.flush()
        flushed = clock()
    ended = clock()
    commits = store.tables.version("metrics") - version_before
    rows = _count_delta(store, run.info.run_id)
    report.latencies.append(Latency(
        key="sparktrack batches", label="sparktrack log_metric",
        method=f"{len(batches)} batches of {BATCH:,} calls timed; per-call time of each batch",
        samples_ns=batches,
    ))
    report.end_to_end.append(EndToEnd(
        key="sparktrack", label="sparktrack log_metric + flush()", points=n, seconds=(flushed - first) / 1e9,
        committed_rows=rows,
        notes=f"loop {(loop_end - first) / 1e9:.2f} s + flush() {(flushed - loop_end) / 1e9:.2f} s; "
        f"{commits} Delta commit{'s' if commits != 1 else ''} to metrics; end_run {(ended - flushed) / 1e9:.2f} s more",
    ))
    report.check_count("sparktrack throughput run", n, rows)


def _count_delta(store, run_id: str) -> int:
    """The run's rows in the metrics table, read from the files of its latest version."""
    from sparktrack.store import layout

    return store.reads.matching(layout.METRICS, "run_id", run_id).num_rows


# -- MLflow ---------------------------------------------------------------------------------------
def bench_mlflow(n: int, report: Report) -> None:
    import logging

    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    db = os.path.join(tempfile.mkdtemp(prefix="mlflow-bench-"), "mlflow.db")
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    # With a registry URI set, MlflowClient() stops asking the active SparkSession for
    # spark.mlflow.modelRegistryUri (two py4j round trips per fluent call): MLflow's best case.
    mlflow.set_registry_uri(f"sqlite:///{db}")
    t0 = clock()
    mlflow.set_experiment("bench")  # creates the database and runs its migrations
    print(f"mlflow          {mlflow.__version__}; store sqlite:///{db} (registry URI set too, so "
          "MLflow calls make no py4j round trips)")
    print(f"                database creation {(clock() - t0) / 1e9:.1f} s (not counted)")
    print()
    client = MlflowClient()
    values = [1.0 / (i + 1) for i in range(n)]

    def count(run_id: str) -> int:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM metrics WHERE run_uuid = ?", (run_id,)).fetchone()[0]

    def sync(i: int, value: float) -> None:
        mlflow.log_metric(KEY, value, step=i)

    def async_(i: int, value: float) -> None:
        mlflow.log_metric(KEY, value, step=i, synchronous=False)

    with mlflow.start_run(run_name="warmup") as run:  # not counted
        for i in range(min(n, 100)):
            sync(i, values[i])
            async_(i, values[i])
        mlflow.flush_async_logging()
        client.log_batch(run.info.run_id, metrics=_mlflow_metrics(Metric, values, 0, min(n, BATCH)))

    # Synchronous: durable when the call returns, so its rate is its end-to-end rate.
    m = min(n, MLFLOW_SYNC_CAP)
    with mlflow.start_run(run_name="sync") as run:
        samples = per_call(sync, m, values)
    rows = count(run.info.run_id)
    report.latencies.append(Latency(
        key="mlflow sync", label="mlflow log_metric (sync)",
        method=f"each of {m:,} calls timed" + (f" (capped at {MLFLOW_SYNC_CAP:,})" if m < n else ""),
        samples_ns=samples,
    ))
    report.end_to_end.append(EndToEnd(
        key="mlflow sync", label="mlflow log_metric (sync)", points=m, seconds=sum(samples) / 1e9,
        committed_rows=rows,
        notes="sum of the timed calls"
        + (f"; {m:,} points only (extrapolated {n:,}: {sum(samples) / 1e9 * n / m:.0f} s)" if m < n else ""),
    ))
    report.check_count("mlflow sync run", m, rows)

    # Asynchronous: the call queues; flush_async_logging() waits for the SQLite commits.
    a = min(n, MLFLOW_ASYNC_CAP)
    with mlflow.start_run(run_name="async") as run:
        first = clock()
        samples = per_call(async_, a, values)
        loop_end = clock()
        mlflow.flush_async_logging()
        flushed = clock()
    rows = count(run.info.run_id)
    seconds = (flushed - first) / 1e9
    report.latencies.append(Latency(
        key="mlflow async", label="mlflow log_metric (synchronous=False)",
        method=f"each of {a:,} calls timed" + (f" (capped at {MLFLOW_ASYNC_CAP:,})" if a < n else ""),
        samples_ns=samples,
    ))
    report.end_to_end.append(EndToEnd(
        key="mlflow async", label="mlflow log_metric(synchronous=False) + flush_async_logging()",
        points=a, seconds=seconds, committed_rows=rows,
        notes=f"loop {(loop_end - first) / 1e9:.2f} s (calls timed) + flush "
        f"{(flushed - loop_end) / 1e9:.2f} s"
        + (f"; {a:,} points only (extrapolated {n:,}: {seconds * n / a:.0f} s)" if a < n else ""),
    ))
    report.check_count("mlflow async run", a, rows)

    # log_batch in chunks of 1,000 (MLflow's per-request limit); building the entities is counted.
    with mlflow.start_run(run_name="log_batch") as run:
        first = clock()
        for start in range(0, n, BATCH):
            client.log_batch(run.info.run_id,
                             metrics=_mlflow_metrics(Metric, values, start, min(n, start + BATCH)))
        done = clock()
    rows = count(run.info.run_id)
    report.end_to_end.append(EndToEnd(
        key="mlflow log_batch", label=f"mlflow MlflowClient.log_batch x{BATCH:,}", points=n,
        seconds=(done - first) / 1e9,
        committed_rows=rows, notes=f"{-(-n // BATCH)} requests",
    ))
    report.check_count("mlflow log_batch run", n, rows)


def _mlflow_metrics(metric_cls, values: Sequence[float], start: int, stop: int) -> list:
    now = int(time.time() * 1000)
    return [metric_cls(KEY, values[i], now, i) for i in range(start, stop)]


# -- output ---------------------------------------------------------------------------------------
def print_machine() -> None:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            models = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print("== machine ==")
    print(f"nproc           {usable} (os.cpu_count {os.cpu_count()}); {cpu}")
    print(f"platform        {platform.platform()}; load average {_load()}")
    print(f"python          {platform.python_version()} ({sys.executable})")
    for dist in ("pyspark", "delta-spark", "pyarrow", "pandas"):
        try:
            print(f"{dist:<16}{importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            print(f"{dist:<16}not installed")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def print_report(report: Report, overhead_ns: float) -> None:
    print("== per-call latency (microseconds; a timed call includes the timer and a wrapper call, "
          f"~{overhead_ns / 1000:.2f} us) ==")
    header = f"{'what':<40} {'mean':>8} {'p50':>8} {'p99':>8} {'max':>9}  how measured"
    print(header)
    print("-" * len(header))
    for lat in report.latencies:
        print(f"{lat.label:<40} {lat.mean_ns / 1e3:>8.2f} {lat.percentile(0.50) / 1e3:>8.2f} "
              f"{lat.percentile(0.99) / 1e3:>8.2f} {max(lat.samples_ns) / 1e3:>9.1f}  {lat.method}")
    print()
    print("== end to end: first call until every point is committed ==")
    header = f"{'what':<62} {'points':>8} {'wall s':>8} {'metrics/s':>11} {'rows found':>10}  notes"
    print(header)
    print("-" * len(header))
    for e2e in report.end_to_end:
        print(f"{e2e.label:<62} {e2e.points:>8,} {e2e.seconds:>8.2f} {e2e.rate:>11,.0f} "
              f"{e2e.committed_rows:>10,}  {e2e.notes}")
    print()


def print_ratios(report: Report) -> None:
    latency = {lat.key: lat for lat in report.latencies}
    e2e = {e.key: e for e in report.end_to_end}
    ours_call, ours_e2e = latency["sparktrack"], e2e["sparktrack"]
    print("== sparktrack vs MLflow (per call: the every-call-timed rows) ==")
    for key, name in (("mlflow sync", "MLflow sync"), ("mlflow async", "MLflow async")):
        theirs = latency[key]
        print(f"log_metric per call, mean: {_times(theirs.mean_ns / ours_call.mean_ns)} than {name} "
              f"({ours_call.mean_ns / 1e3:.2f} vs {theirs.mean_ns / 1e3:.2f} us); "
              f"p99: {_times(theirs.percentile(0.99) / ours_call.percentile(0.99))}")
    for key, name in (("mlflow sync", "MLflow sync log_metric"),
                      ("mlflow async", "MLflow async log_metric + flush"),
                      ("mlflow log_batch", f"MLflow log_batch of {BATCH:,}")):
        theirs = e2e[key]
        print(f"committed metrics/s: {_times(ours_e2e.rate / theirs.rate)} than {name} "
              f"({ours_e2e.rate:,.0f} vs {theirs.rate:,.0f}/s)")
    print()


def _times(ratio: float) -> str:
    if ratio >= 1:
        return f"{ratio:,.1f}x faster" if ratio < 10 else f"{ratio:,.0f}x faster"
    return f"{1 / ratio:,.1f}x slower"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000, help="metric points per run (default 100000)")
    parser.add_argument("--store", help="sparktrack store root (default: a fresh temporary directory)")
    parser.add_argument("--mlflow", action=argparse.BooleanOptionalAction, default=None,
                        help="compare with MLflow on SQLite (default: when mlflow is importable)")
    args = parser.parse_args(argv)
    if args.points < 1:
        parser.error(f"--points must be at least 1, got {args.points}")

    with_mlflow = args.mlflow
    try:
        import mlflow  # noqa: F401
        have_mlflow = True
    except ImportError:
        have_mlflow = False
    if with_mlflow and not have_mlflow:
        parser.error("--mlflow was given but mlflow is not installed; install it with: pip install mlflow")
    if with_mlflow is None:
        with_mlflow = have_mlflow

    print_machine()
    print()
    print("== stores ==")
    report = Report()
    bench_sparktrack(args.points, args.store, report)
    if with_mlflow:
        bench_mlflow(args.points, report)
    elif have_mlflow:
        print("MLflow skipped (--no-mlflow).\n")
    else:
        print("MLflow skipped: mlflow is not installed. Install it to compare: pip install mlflow\n")

    print_report(report, timer_overhead_ns())
    print(f"load average at the end: {_load()} (other processes on {os.cpu_count()} CPUs skew every figure)")
    print()
    if with_mlflow:
        print_ratios(report)
    if report.failures:
        for failure in report.failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    print(f"OK: every run's committed row count matches the points it logged ({args.points:,}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
