"""Registry benchmark: registering a model version and moving an alias onto it, per call,
sparktrack against MLflow on SQLite, side by side in one process run.

    python bench/bench_registry.py [--versions N] [--dir DIR]

Each system registers N versions (default 100) of one model from a model directory, and after
each points the alias ``Champion`` at the new version: sparktrack's ``RegistryClient.register_model``
and ``set_registered_model_alias``, MLflow's ``MlflowClient.create_model_version`` and
``set_registered_model_alias`` (its ``register_model`` of a ``runs:/`` URI needs a logged model; a
model version from a source path is the same registry write). Both stores exist before timing
starts, the first version of each is a warm-up, and each call is timed on its own; medians and
means are printed with their ratio. Afterwards both registries must hold versions 1 to N+1 with
Champion on the last; otherwise the bench exits with status 1.
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

from _report import finish


def timed(calls: int, register: Callable[[int], int], alias: Callable[[int], None]) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {"register": [], "alias": [], "both": []}
    for i in range(calls):
        started = time.perf_counter()
        version = register(i)
        registered = time.perf_counter()
        alias(version)
        done = time.perf_counter()
        seconds["register"].append(registered - started)
        seconds["alias"].append(done - registered)
        seconds["both"].append(done - started)
    return seconds


def bench_sparktrack(work: str, versions: int) -> tuple[dict[str, list[float]], tuple[list[int], int]]:
    from sparktrack.registry import RegistryClient

    os.environ["SPARKTRACK_SPOOL_DIR"] = os.path.join(work, "spool")
    registry = RegistryClient(os.path.join(work, "store"), policy={})
    source = os.path.join(work, "model")

    def register(i: int) -> int:
        return registry.register_model(source, "bench").version

    def alias(version: int) -> None:
        registry.set_registered_model_alias("bench", "Champion", version)

    timed(1, register, alias)  # warm-up: creates the model
    seconds = timed(versions, register, alias)
    found = sorted(v.version for v in registry.search_model_versions("name = 'bench'", max_results=100_000))
    return seconds, (found, registry.get_model_version_by_alias("bench", "Champion").version)


def bench_mlflow(work: str, versions: int) -> tuple[dict[str, list[float]], tuple[list[int], int]]:
    import logging

    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    client = MlflowClient(tracking_uri=f"sqlite:///{os.path.join(work, 'mlflow.db')}")
    client.create_registered_model("bench")
    source = os.path.join(work, "model")

    def register(i: int) -> int:
        return int(client.create_model_version("bench", source).version)

    def alias(version: int) -> None:
        client.set_registered_model_alias("bench", "Champion", str(version))

    timed(1, register, alias)
    seconds = timed(versions, register, alias)
    found = sorted(int(v.version) for v in client.search_model_versions("name = 'bench'", max_results=100_000))
    return seconds, (found, int(client.get_model_version_by_alias("bench", "Champion").version))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=100, help="timed versions per system (default 100)")
    parser.add_argument("--dir", help="working directory (default: a fresh temporary directory)")
    args = parser.parse_args(argv)
    import mlflow

    import sparktrack

    work = args.dir or tempfile.mkdtemp(prefix="sparktrack-bench-registry-")
    os.makedirs(os.path.join(work, "model"), exist_ok=True)
    results = {"sparktrack": bench_sparktrack(work, args.versions), "mlflow": bench_mlflow(work, args.versions)}
    failures = []
    for system, (_, (found, champion)) in results.items():
        if found != list(range(1, args.versions + 2)) or champion != args.versions + 1:
            failures.append(f"{system}: versions {found[:3]}...{found[-3:]} ({len(found)}), Champion on {champion}")

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; sparktrack {sparktrack.__version__}, MLflow {mlflow.__version__} on SQLite")
    print(f"{args.versions} versions of one model, each call timed; median (mean)\n")
    print(f"| {'Call':<44} | {'sparktrack':>17} | {'MLflow':>17} | {'ratio (median)':>14} |")
    print(f"| {'-' * 44} | {'-' * 17} | {'-' * 17} | {'-' * 14} |")
    for key, label in (("register", "register a version"), ("alias", "set the Champion alias"),
                       ("both", "register_model + set_registered_model_alias")):
        ours, theirs = results["sparktrack"][0][key], results["mlflow"][0][key]
        cells = [f"{statistics.median(v) * 1000:.1f} ms ({statistics.mean(v) * 1000:.1f})" for v in (ours, theirs)]
        print(f"| {label:<44} | {cells[0]:>17} | {cells[1]:>17} | "
              f"{statistics.median(theirs) / statistics.median(ours):>13.2f}x |")
    return finish(failures, "both registries hold every version, with Champion on the last")


if __name__ == "__main__":
    sys.exit(main())
