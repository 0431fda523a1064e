"""Whole-process benchmarks of what users run most, sparktrack against MLflow on SQLite, in one
bench run:

* the reference scenario's scikit-learn script (``bench/scenario/iris_sparktrack.py`` against
  ``bench/scenario/iris_mlflow.py``: a run, two params, a metric, a random forest logged), from
  launching ``python`` to its exit;
* listing an experiment's runs from the command line: ``sparktrack runs`` against
  ``mlflow runs list``, on stores holding the same runs.

    python bench/bench_scenario.py [--repeats R] [--runs N] [--dir DIR]

Each command first runs once untimed (it creates the store or the database, and warms the disk
cache), then R times (default 5) alternating between the systems; medians are printed with their
ratio. Every run must exit 0; the stores must then hold one FINISHED run per script run with the
same params, and both listings the same run names: otherwise the bench exits with status 1.
MLflow is required (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from _report import finish

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "bench" / "scenario"


def run(command: Sequence[str], env: dict[str, str], cwd: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done.stdout


def alternate(commands: dict[str, tuple[list[str], dict[str, str]]], repeats: int, cwd: str) -> dict[str, list[float]]:
    """One untimed run of each command, then ``repeats`` timed runs of each, alternating."""
    for command, env in commands.values():
        run(command, env, cwd)
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for repeat in range(repeats):
        order = list(commands) if repeat % 2 == 0 else list(reversed(commands))
        for name in order:
            seconds[name].append(run(*commands[name], cwd)[0])
    return seconds


def populate(work: str, runs: int, env: dict[str, str], mlflow_env: dict[str, str]) -> None:
    """The same ``runs`` runs (5 params, 3 metrics) in each store, through each system's client."""
    code = f"""
import sys
system, runs = sys.argv[1], {runs}
if system == "sparktrack":
    import sparktrack as tracking
    from sparktrack import Metric, Param
    client = tracking.TrackingClient()
else:
    import mlflow as tracking
    from mlflow.entities import Metric, Param
    client = tracking.MlflowClient()
for i in range(runs):
    run = client.create_run("0", run_name=f"run-{{i}}")
    client.log_batch(run.info.run_id, metrics=[Metric(key=k, value=i / runs, timestamp=0, step=0) for k in ("acc", "f1", "auc")],
                     params=[Param(key=f"p{{k}}", value=str(k * i)) for k in range(5)])
    client.set_terminated(run.info.run_id)
"""
    subprocess.run([sys.executable, "-c", code, "sparktrack"], env=env, cwd=work, check=True, timeout=1200)
    subprocess.run([sys.executable, "-c", code, "mlflow"], env=mlflow_env, cwd=work, check=True, timeout=1200,
                   capture_output=True)


def check_scripts(work: str, env: dict[str, str], mlflow_db: str, expected: int) -> list[str]:
    failures = []
    code = ("import sparktrack; runs = sparktrack.search_runs(experiment_ids=['0'], output_format='list', "
            "filter_string=\"attributes.run_name = 'Iris RF Example' and attributes.status = 'FINISHED'\"); "
            "print(len(runs), sorted({r.data.params['n_estimators'] for r in runs}))")
    found = subprocess.run([sys.executable, "-c", code], env=env, cwd=work, capture_output=True, text=True).stdout.split()
    if found[:1] != [str(expected)]:
        failures.append(f"the sparktrack store holds {found} Iris runs, expected {expected}")
    import sqlite3

    with sqlite3.connect(mlflow_db) as con:
        (count,) = con.execute("SELECT count(*) FROM runs WHERE name = 'Iris RF Example' AND status = 'FINISHED'").fetchone()
    if count != expected:
        failures.append(f"the MLflow database holds {count} Iris runs, expected {expected}")
    return failures


def listed_names(output: str) -> list[str]:
    return sorted(word for line in output.splitlines() for word in line.split() if word.startswith("run-"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each command (default 5)")
    parser.add_argument("--runs", type=int, default=500, help="runs in each store for the listing (default 500)")
    parser.add_argument("--dir", help="working directory (default: a fresh temporary directory)")
    args = parser.parse_args(argv)
    import mlflow
    import sklearn

    import sparktrack

    work = args.dir or tempfile.mkdtemp(prefix="sparktrack-bench-scenario-")
    os.makedirs(work, exist_ok=True)
    base = {**os.environ, "SPARKTRACK_SPOOL_DIR": os.path.join(work, "spool")}
    base.pop("SPARKTRACK_STORE", None)
    env = {**base, "SPARKTRACK_STORE": os.path.join(work, "store")}
    mlflow_db = os.path.join(work, "mlflow.db")
    mlflow_env = {**base, "MLFLOW_TRACKING_URI": f"sqlite:///{mlflow_db}"}
    failures: list[str] = []

    print("The reference scenario's scikit-learn script...", file=sys.stderr, flush=True)
    scripts = alternate({
        "sparktrack": ([sys.executable, str(SCENARIO / "iris_sparktrack.py")], env),
        "mlflow": ([sys.executable, str(SCENARIO / "iris_mlflow.py")], mlflow_env),
    }, args.repeats, work)
    failures += check_scripts(work, env, mlflow_db, args.repeats + 1)

    print(f"Listing runs of stores with {args.runs} more runs...", file=sys.stderr, flush=True)
    populate(work, args.runs, env, mlflow_env)
    listing = {
        "sparktrack": ([sys.executable, "-m", "sparktrack.cli", "runs", "--experiment-id", "0",
                        "--max-results", "1000000"], env),
        "mlflow": ([sys.executable, "-m", "mlflow", "runs", "list", "--experiment-id", "0"], mlflow_env),
    }
    outputs = {name: run(*command, work)[1] for name, command in listing.items()}
    listed = {name: listed_names(output) for name, output in outputs.items()}
    total = sum(1 for line in outputs["sparktrack"].splitlines()[2:] if line.strip())
    if listed["sparktrack"] != listed["mlflow"] or len(listed["mlflow"]) != args.runs:
        failures.append(f"the listings differ: sparktrack {len(listed['sparktrack'])} runs, "
                        f"MLflow {len(listed['mlflow'])}")
    cli = alternate(listing, args.repeats, work)

    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; sparktrack {sparktrack.__version__}, MLflow {mlflow.__version__} on "
          f"SQLite, scikit-learn {sklearn.__version__}")
    print(f"Whole-process wall time, median of {args.repeats} (alternating), after an untimed first run\n")
    print(f"| {'Command':<62} | {'sparktrack':>10} | {'MLflow':>8} | {'ratio':>6} |")
    print(f"| {'-' * 62} | {'-' * 10} | {'-' * 8} | {'-' * 6} |")
    for label, seconds in (("reference scenario's sklearn script (run, 2 params, metric, model)", scripts),
                           (f"list an experiment's {total} runs (sparktrack runs / mlflow runs list)", cli)):
        ours, theirs = statistics.median(seconds["sparktrack"]), statistics.median(seconds["mlflow"])
        print(f"| {label:<62} | {ours:>9.2f}s | {theirs:>7.2f}s | {theirs / ours:>5.2f}x |")
    print("\nEvery timing (s):", {f"{name} {system}": [round(s, 2) for s in values[system]]
                                  for name, values in (("script", scripts), ("list", cli)) for system in values})
    return finish(failures, "both systems logged every scenario run and listed the same runs")


if __name__ == "__main__":
    sys.exit(main())
