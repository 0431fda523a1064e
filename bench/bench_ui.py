"""UI benchmark: ``sparktrack ui`` against ``mlflow server`` over the same runs, in one process
run, through each server's HTTP API, and the charts page in headless Chromium.

    python bench/bench_ui.py [--runs N] [--requests R] [--history-points P] [--loads L] [--dir DIR]

The store is bench_search's (its builders, imported): ``--runs`` runs (default 100,000), each
with 10 params, a tag, 5 final metrics and a 100-step ``loss``; sparktrack's Delta tables
written by delta-rs, MLflow's SQLite database created by MLflow and bulk-filled (not timed). Both
servers run on 127.0.0.1, one process each (``mlflow server --workers 1``, backend the SQLite
file; ``sparktrack ui``, which starts no JVM). The issue's targets (issue 17):

1. First page of runs sorted by a metric under a filter: bench_search's (a) (``FILTER_A``,
   ``metrics.acc DESC``, 100 runs) as ``GET /api/runs/search`` and as MLflow's
   ``POST /ajax-api/2.0/mlflow/runs/search``. Both warmed, then ``--requests`` of each,
   alternating; p50 and p95. Target: our p95 under 300 ms and at least 10x under MLflow's.
2. One run's metric history of ``--history-points`` points (default 1,000,000; logged with
   ``log_batch`` in chunks of 100,000, not timed), downsampled to 2,000:
   ``GET /api/runs/{id}/metrics/loss?max_points=2000``, median of 5. Target: under 500 ms.
   MLflow's run gets the same points (bulk-inserted into SQLite as bench_search fills it, since
   logging 1M points through MLflow's API takes many minutes), timed through
   ``GET /ajax-api/2.0/mlflow/metrics/get-history`` (every point) and
   ``get-history-bulk-interval`` (MLflow's own sampling, to 2,000), median of 3.
3. The charts page for 100 runs (a separate experiment, each with 10 metrics of 100 steps) and
   their 10 keys in headless Chromium (Debian's chromium and chromedriver, through selenium):
   from navigation start until ``document.body.dataset.ready`` is "true" and the 10 charts hold
   their traces, median of ``--loads`` loads after one warm-up. Target: under 2 s.

Each answer is checked (the same 100 runs in the same order from both servers; the history's
point count and size); a missed target or a mismatch exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import finish  # noqa: E402
from bench_search import FILTER_A, final_metric, mlflow_insert, populate_mlflow, populate_sparktrack  # noqa: E402
from bench_serving import free_port, start, stop  # noqa: E402

ORDER = "metrics.acc DESC"
PAGE = 100
CHART_RUNS, CHART_KEYS, CHART_STEPS = 100, 10, 100
MAX_POINTS = 2000
TARGET_SEARCH_P95, TARGET_SEARCH_RATIO, TARGET_HISTORY, TARGET_CHARTS = 0.300, 10.0, 0.500, 2.0
VENV_BIN = Path(sys.executable).parent


def percentile(seconds: list[float], q: float) -> float:
    return float(np.percentile(seconds, q))


def once(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    answer = action()
    return time.perf_counter() - started, answer


# -- set-up, not timed --------------------------------------------------------------------------
def log_history(points: int) -> str:
    """One run in experiment "history" whose ``loss`` has ``points`` points (a noisy decay with
    a spike), logged with log_batch in chunks; its id."""
    import sparktrack
    from sparktrack.entities import Metric

    rng = np.random.default_rng(0)
    loss = np.abs(rng.normal(1.0, 0.3, points)) / np.linspace(1, 10, points)
    loss[points // 3] = 50.0
    sparktrack.set_experiment("history")
    with sparktrack.start_run(run_name="long-history") as run:
        for first in range(0, points, 100_000):
            sparktrack.log_batch(metrics=[Metric(key="loss", value=float(v), timestamp=1_767_225_600_000 + step, step=step)
                                          for step, v in enumerate(loss[first:first + 100_000], first)])
    return run.info.run_id


def log_chart_runs() -> tuple[list[str], list[str]]:
    """CHART_RUNS runs in experiment "charts", each with CHART_KEYS metrics of CHART_STEPS
    steps; their ids and the keys."""
    import sparktrack
    from sparktrack.entities import Metric

    keys = [f"metric_{k}" for k in range(CHART_KEYS)]
    sparktrack.set_experiment("charts")
    ids = []
    for i in range(CHART_RUNS):
        with sparktrack.start_run(run_name=f"chart-{i}") as run:
            sparktrack.log_batch(metrics=[Metric(key=key, value=(k + 1) / (step + 1) + i / 1000,
                                                 timestamp=1_767_225_600_000 + step * 1000, step=step)
                                          for k, key in enumerate(keys) for step in range(CHART_STEPS)])
        ids.append(run.info.run_id)
    return ids, keys


def mlflow_history(db: str, experiment_id: str, points: int) -> str:
    """A run in MLflow's database (created by MLflow) holding the same ``loss`` points as
    log_history's, bulk-inserted; its id."""
    import mlflow

    rng = np.random.default_rng(0)
    loss = np.abs(rng.normal(1.0, 0.3, points)) / np.linspace(1, 10, points)
    loss[points // 3] = 50.0
    run = mlflow.MlflowClient(f"sqlite:///{db}").create_run(experiment_id, run_name="long-history")
    uuid = run.info.run_id
    con = sqlite3.connect(db)
    for first in range(0, points, 100_000):
        mlflow_insert(con, "metrics", ({"key": "loss", "value": float(v), "timestamp": 1_767_225_600_000 + step,
                                        "run_uuid": uuid, "step": step, "is_nan": False}
                                       for step, v in enumerate(loss[first:first + 100_000], first)))
    mlflow_insert(con, "latest_metrics", [{"key": "loss", "value": float(loss[-1]), "run_uuid": uuid,
                                           "timestamp": 1_767_225_600_000 + points - 1, "step": points - 1,
                                           "is_nan": False}])
    con.commit()
    con.close()
    return uuid


# -- the measurements ---------------------------------------------------------------------------
def matching_a(runs: int) -> int:
    """How many of bench_search's runs FILTER_A matches (model gbt: i % 4 == 0; team a: i % 5 == 0)."""
    return sum(1 for i in range(0, runs, 20) if final_metric(i, 0) > 0.5)


def search(ours: httpx.Client, theirs: httpx.Client | None, experiments: dict[str, str], runs: int, requests: int,
           failures: list[str]) -> dict[str, list[float]]:
    def ours_page() -> list[str]:
        answer = ours.get("/api/runs/search", params={"experiment_ids": experiments["sparktrack"], "filter": FILTER_A,
                                                      "order_by": ORDER, "max_results": PAGE})
        answer.raise_for_status()
        return [r["info"]["run_id"] for r in answer.json()["runs"]]

    def theirs_page() -> list[str]:
        answer = theirs.post("/ajax-api/2.0/mlflow/runs/search", json={
            "experiment_ids": [experiments["mlflow"]], "filter": FILTER_A, "order_by": [ORDER], "max_results": PAGE})
        answer.raise_for_status()
        return [r["info"]["run_id"] for r in answer.json()["runs"]]

    systems = {"sparktrack": ours_page, **({"mlflow": theirs_page} if theirs else {})}
    answers = {name: page() for name, page in systems.items()}  # the warm-up, and the answers to check
    for page in systems.values():
        page()
    expected = min(PAGE, matching_a(runs))
    if len(answers["sparktrack"]) != expected:
        failures.append(f"search: sparktrack answered {len(answers['sparktrack'])} runs, not {expected}")
    if theirs and answers["sparktrack"] != answers["mlflow"]:
        failures.append(f"search: the pages differ: sparktrack {answers['sparktrack'][:3]}... vs MLflow "
                        f"{answers['mlflow'][:3]}...")
    seconds: dict[str, list[float]] = {name: [] for name in systems}
    for i in range(requests):
        for name, page in systems.items():
            seconds[name].append(once(page)[0])
        print(f"    {i + 1}/{requests}: " + ", ".join(f"{n} {s[-1] * 1000:.0f} ms" for n, s in seconds.items()),
              file=sys.stderr, flush=True)
    return seconds


def history(ours: httpx.Client, theirs: httpx.Client | None, ours_id: str, theirs_id: str | None, points: int,
            failures: list[str]) -> dict[str, float]:
    def ours_history() -> dict:
        answer = ours.get(f"/api/runs/{ours_id}/metrics/loss", params={"max_points": MAX_POINTS})
        answer.raise_for_status()
        return answer.json()

    found = ours_history()  # warm-up
    if found["points"] != points or not 0 < len(found["value"]) <= MAX_POINTS or max(found["value"]) != 50.0:
        failures.append(f"history: {found['points']} points, {len(found['value'])} drawn, max {max(found['value'])}; "
                        f"expected {points}, at most {MAX_POINTS}, the spike 50.0")
    medians = {"sparktrack": statistics.median(once(ours_history)[0] for _ in range(5))}
    if theirs is None:
        return medians

    def theirs_history() -> int:
        answer = theirs.get("/ajax-api/2.0/mlflow/metrics/get-history", params={"run_id": theirs_id,
                                                                                "metric_key": "loss"})
        answer.raise_for_status()
        return len(answer.json()["metrics"])

    def theirs_sampled() -> int:
        answer = theirs.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", params={
            "run_ids": theirs_id, "metric_key": "loss", "max_results": MAX_POINTS})
        answer.raise_for_status()
        return len(answer.json()["metrics"])

    for name, action in (("mlflow", theirs_history), ("mlflow_sampled", theirs_sampled)):
        print(f"    {name}...", file=sys.stderr, flush=True)
        seconds, got = once(action)  # warm-up
        if name == "mlflow" and got != points:
            failures.append(f"history: MLflow's get-history answered {got} points, not {points}")
        medians[name] = statistics.median(once(action)[0] for _ in range(3))
        medians[name + "_points"] = got
    return medians


def charts(url: str, loads: int, work: Path) -> tuple[list[float], list[float]]:
    """Seconds from navigation start until the charts page is drawn, and until its API answers
    were in, per load (after one warm-up)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        raise SystemExit("The charts timing needs Debian's chromium and chromedriver: run tests/install-chromium.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    drawn = f"""
        const plots = [...document.querySelectorAll('.js-plotly-plot')];
        const ok = document.body.dataset.ready === 'true' && plots.length === {CHART_KEYS}
                   && plots.every((p) => p.data && p.data.length === {CHART_RUNS});
        return [ok, performance.now(), document.body.dataset.ready || null];"""
    seconds, fetched = [], []
    try:
        for load in range(loads + 1):
            driver.get(url)  # returns at the load event; the page's fetches go on
            deadline = time.monotonic() + 120
            while True:
                ok, now, ready = driver.execute_script(drawn)
                if ok:
                    break
                if ready == "error" or time.monotonic() > deadline:
                    driver.save_screenshot(str(work / "charts_failed.png"))
                    raise SystemExit(f"The charts page did not draw (ready={ready}); see {work}/charts_failed.png")
                time.sleep(0.01)
            data = driver.execute_script("return Math.max(...performance.getEntriesByType('resource')"
                                         ".filter((e) => e.name.includes('/api/')).map((e) => e.responseEnd))")
            if load:
                seconds.append(now / 1000)
                fetched.append(data / 1000)
            print(f"    load {load}{' (warm-up)' if not load else ''}: {now / 1000:.2f}s (API answers in at "
                  f"{data / 1000:.2f}s)", file=sys.stderr, flush=True)
        driver.save_screenshot(str(work / "charts.png"))
    finally:
        driver.quit()
    return seconds, fetched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs in each store (default 100000)")
    parser.add_argument("--requests", type=int, default=20, help="timed searches of each server (default 20)")
    parser.add_argument("--history-points", type=int, default=1_000_000, help="points of the long history (default 1M)")
    parser.add_argument("--loads", type=int, default=5, help="timed loads of the charts page (default 5)")
    parser.add_argument("--dir", help="working directory (default: a fresh temporary directory)")
    parser.add_argument("--no-mlflow", action="store_true", help="sparktrack alone")
    args = parser.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="sparktrack-bench-ui-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARKTRACK_SPOOL_DIR", str(work / "spool"))
    store, db = str(work / "store"), str(work / "mlflow.db")
    with_mlflow = not args.no_mlflow

    print(f"Populating sparktrack: {args.runs:,} runs...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    experiments = {"sparktrack": populate_sparktrack(store, args.runs, 100)}
    print(f"  {time.perf_counter() - started:.0f}s; logging {args.history_points:,} points and "
          f"{CHART_RUNS} chart runs...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    history_id = log_history(args.history_points)
    chart_ids, chart_keys = log_chart_runs()
    from sparktrack.tracking import fluent

    fluent.client().flush()
    print(f"  {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    mlflow_history_id = None
    if with_mlflow:
        print("Populating MLflow (SQLite)...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        experiments["mlflow"] = populate_mlflow(db, args.runs, 100)
        mlflow_history_id = mlflow_history(db, experiments["mlflow"], args.history_points)
        print(f"  {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    servers = {}
    failures: list[str] = []
    try:
        port = free_port()
        servers["sparktrack"] = start([sys.executable, "-m", "sparktrack.cli", "--store", store, "ui", "--port", str(port)],
                                      env, work / "sparktrack-ui.log", port, ready="/api/experiments")
        ours = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
        theirs = None
        if with_mlflow:
            mlflow_port = free_port()
            servers["mlflow"] = start([str(VENV_BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{db}",
                                       "--default-artifact-root", str(work / "mlflow-artifacts"), "--host", "127.0.0.1",
                                       "--port", str(mlflow_port), "--workers", "1"],
                                      env, work / "mlflow-server.log", mlflow_port, ready="/health")
            theirs = httpx.Client(base_url=f"http://127.0.0.1:{mlflow_port}", timeout=600)
        print("  search...", file=sys.stderr, flush=True)
        searched = search(ours, theirs, experiments, args.runs, args.requests, failures)
        print("  history...", file=sys.stderr, flush=True)
        histories = history(ours, theirs, history_id, mlflow_history_id, args.history_points, failures)
        print("  charts...", file=sys.stderr, flush=True)
        drawn, fetched = charts(f"http://127.0.0.1:{port}/charts?run_ids={','.join(chart_ids)}&keys={','.join(chart_keys)}",
                       args.loads, work)
    finally:
        for process in servers.values():
            stop(process)

    mlflow_version = __import__("mlflow").__version__ if with_mlflow else None
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}" + (f", MLflow {mlflow_version} (mlflow server --workers 1, SQLite)"
                                            if with_mlflow else ""))
    print(f"{args.runs:,} runs (bench_search's store) in each; both servers on 127.0.0.1, one process each\n")
    ours_p50, ours_p95 = percentile(searched["sparktrack"], 50), percentile(searched["sparktrack"], 95)
    print(f"| {'Measure':<76} | {'sparktrack':>10} | {'MLflow':>10} | {'ratio':>7} | {'target':>18} |")
    print(f"| {'-' * 76} | {'-' * 10} | {'-' * 10} | {'-' * 7} | {'-' * 18} |")

    def row(label: str, ours_s: float, theirs_s: float | None, target: str) -> None:
        other = f"{theirs_s:.3f}s" if theirs_s is not None else "-"
        ratio = f"{theirs_s / ours_s:,.1f}x" if theirs_s is not None else "-"
        print(f"| {label:<76} | {ours_s:>9.3f}s | {other:>10} | {ratio:>7} | {target:>18} |")

    label = f"first page ({PAGE} runs) by a metric under a filter, {args.requests} requests"
    theirs_p50 = percentile(searched["mlflow"], 50) if with_mlflow else None
    theirs_p95 = percentile(searched["mlflow"], 95) if with_mlflow else None
    row(f"{label}: p50", ours_p50, theirs_p50, "")
    row(f"{label}: p95", ours_p95, theirs_p95, "< 0.300s, >= 10x")
    row(f"history of {args.history_points:,} points to {MAX_POINTS:,} (get-history: every point), median of 5",
        histories["sparktrack"], histories.get("mlflow"), "< 0.500s")
    if with_mlflow:
        row(f"  MLflow's own sampling (get-history-bulk-interval, {histories['mlflow_sampled_points']:,} points)",
            histories["sparktrack"], histories["mlflow_sampled"], "")
    charts_median = statistics.median(drawn)
    row(f"charts page, {CHART_RUNS} runs x {CHART_KEYS} cards, Chromium, median of {args.loads}", charts_median, None,
        "< 2s")
    print(f"  (charts loads: {', '.join(f'{s:.2f}s' for s in drawn)}, the API's answers in by "
          f"{statistics.median(fetched):.2f}s (median), the rest drawing; screenshot {work}/charts.png)")

    if ours_p95 >= TARGET_SEARCH_P95:
        failures.append(f"search p95 {ours_p95 * 1000:.0f} ms, over {TARGET_SEARCH_P95 * 1000:.0f} ms")
    if with_mlflow and theirs_p95 / ours_p95 < TARGET_SEARCH_RATIO:
        failures.append(f"search p95 only {theirs_p95 / ours_p95:.1f}x under MLflow's, not {TARGET_SEARCH_RATIO:.0f}x")
    if histories["sparktrack"] >= TARGET_HISTORY:
        failures.append(f"history {histories['sparktrack'] * 1000:.0f} ms, over {TARGET_HISTORY * 1000:.0f} ms")
    if charts_median >= TARGET_CHARTS:
        failures.append(f"charts page {charts_median:.2f}s, over {TARGET_CHARTS:.0f}s")
    return finish(failures, "search p95, history and charts within the issue's targets")


if __name__ == "__main__":
    sys.exit(main())
