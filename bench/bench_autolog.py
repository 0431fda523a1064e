"""Autologging overhead: the seconds autolog adds to a fit, sparktrack's against MLflow's, in one
process run, with the param and metric keys each system logged side by side.

    python bench/bench_autolog.py [--repeats 5] [--rows 5000]

For each fit (a LogisticRegression, a RandomForestClassifier and a 12-candidate GridSearchCV of a
LogisticRegression, on the same synthetic classification data), each round times the fit three
ways in rotating order: with no autolog, with sparktrack's (``sparktrack.sklearn.autolog()``,
store in a temp dir) and with MLflow's (``mlflow.sklearn.autolog()``, SQLite store in a temp
dir). Both log models, signatures, datasets and training metrics (their defaults). The overhead of
a system is its fit time less the plain fit's; the ratio is sparktrack's overhead over MLflow's
(median of ``--repeats`` rounds; the first round, which pays imports and store start-up, is left
out). Target: at most 1/3. Buffered records are committed (``sparktrack.flush()``) inside the
timed section, so sparktrack's figure includes its writes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import finish  # noqa: E402


def fits(rows: int):
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    X, y = make_classification(n_samples=rows, n_features=10, n_informative=6, random_state=0)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
    return X, y, {
        "LogisticRegression": lambda: LogisticRegression(max_iter=500),
        "RandomForestClassifier": lambda: RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0),
        "GridSearchCV (12 candidates)": lambda: GridSearchCV(
            LogisticRegression(max_iter=500), {"C": [0.01, 0.03, 0.1, 0.3, 1.0, 10.0], "fit_intercept": [True, False]},
            cv=3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()

    import mlflow

    import sparktrack
    from sparktrack.testing import fresh_store

    X, y, makers = fits(args.rows)
    work = Path(tempfile.mkdtemp(prefix="bench-autolog-"))
    mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
    mlflow.create_experiment("bench-autolog", artifact_location=(work / "mlflow-artifacts").as_uri())
    mlflow.set_experiment("bench-autolog")
    print(f"scale: {args.rows} rows x 10 features; {args.repeats} timed rounds (+1 warm-up); "
          f"mlflow {mlflow.__version__}, sparktrack {sparktrack.__version__}")
    failures: list[str] = []
    keys: dict[str, dict[str, set[str]]] = {}
    with fresh_store(root=str(work / "store")) as client:
        times: dict[str, dict[str, list[float]]] = {name: {"plain": [], "sparktrack": [], "mlflow": []}
                                                    for name in makers}
        for round_number in range(args.repeats + 1):
            for name, make in makers.items():
                order = ["plain", "sparktrack", "mlflow"]
                order = order[round_number % 3:] + order[:round_number % 3]
                for system in order:
                    if system == "sparktrack":
                        sparktrack.sklearn.autolog()
                    elif system == "mlflow":
                        mlflow.sklearn.autolog(silent=True)
                    started = time.perf_counter()
                    make().fit(X, y)
                    if system == "sparktrack":
                        sparktrack.flush()
                    elapsed = time.perf_counter() - started
                    sparktrack.sklearn.autolog(disable=True)
                    mlflow.sklearn.autolog(disable=True)
                    if round_number:
                        times[name][system].append(elapsed)
        for name in makers:  # one more fit each, to read the keys both logged
            sparktrack.sklearn.autolog()
            make = makers[name]
            make().fit(X, y)
            sparktrack.sklearn.autolog(disable=True)
            ours = client.search_runs(["0"], filter_string=f"tags.estimator_name = '{name.split()[0]}'",
                                      order_by=["start_time DESC"], max_results=1, output_format="list")[0]
            mlflow.sklearn.autolog(silent=True)
            with mlflow.start_run() as run:
                make().fit(X, y)
            mlflow.sklearn.autolog(disable=True)
            theirs = mlflow.get_run(run.info.run_id)
            keys[name] = {"sparktrack params": set(ours.data.params), "mlflow params": set(theirs.data.params),
                          "sparktrack metrics": set(ours.data.metrics), "mlflow metrics": set(theirs.data.metrics)}

    print(f"\n{'fit':<30} {'plain':>8} {'sparktrack +':>13} {'mlflow +':>9} {'ratio':>7}  (medians, seconds)")
    for name, measured in times.items():
        plain = statistics.median(measured["plain"])
        ours = statistics.median(measured["sparktrack"]) - plain
        theirs = statistics.median(measured["mlflow"]) - plain
        ratio = ours / theirs if theirs > 0 else float("inf")
        print(f"{name:<30} {plain:8.3f} {ours:13.3f} {theirs:9.3f} {ratio:7.2f}")
        if ratio > 1 / 3:
            failures.append(f"{name}: sparktrack's overhead is {ratio:.2f} of MLflow's (target at most 0.33)")
    print("\nKeys each system logged (for the last fit of each kind):")
    for name, found in keys.items():
        for kind in ("params", "metrics"):
            ours, theirs = found[f"sparktrack {kind}"], found[f"mlflow {kind}"]
            print(f"  {name} {kind}: {len(ours & theirs)} shared; only sparktrack: {sorted(ours - theirs)}; "
                  f"only mlflow: {sorted(theirs - ours)}")
    print("\nThe Spark ML pipeline fit is measured once Spark ML autologging lands (sparktrack.spark.autolog).")
    return finish(failures, "sparktrack's autolog overhead is at most 1/3 of MLflow's on every fit")


if __name__ == "__main__":
    sys.exit(main())
