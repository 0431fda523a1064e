"""Serving benchmark: ``sparktrack serve`` against ``mlflow models serve`` on the same fitted
scikit-learn forest, with the same requests, the same number of workers and the same closed-loop
load from ``wrk``, in one process run.

    python bench/bench_serving.py [--trees 50] [--workers 2] [--connections 8] [--duration 10]
                                  [--rounds 3] [--dir DIR] [--spark]

Needs ``wrk`` (Debian: ``apt-get install wrk``) and MLflow (``pip install -e .[bench]``).

Set-up, not counted: a random forest (``--trees``, depth 8) fitted on 5,000 synthetic rows of 8
features; logged to a sparktrack store (registered ``bench_forest``, aliased Champion) and saved
with ``mlflow.sklearn.save_model`` (cloudpickle, with a signature inferred from the training
frame). Three servers on 127.0.0.1, each with ``--workers`` processes: MLflow's, sparktrack's with
its inference log on (every request spooled and committed to the store's ``inference_log``), and
sparktrack's with it off. For each request body (1 row, and 100 rows, in ``dataframe_split``),
``wrk`` drives ``--connections`` connections for ``--duration`` seconds at each server, the three
in turn, ``--rounds`` times. Printed: requests/s and p50/p99 latency (medians over the rounds),
with the ratios the issue sets targets for: throughput at least 2x MLflow's, p99 at or under
MLflow's, logging on within 10% of logging off. Every server's answers are first checked to be
the same predictions; a non-2xx answer under load, or a difference, exits with status 1.

With ``--spark``, a Spark ML pipeline (VectorAssembler + LogisticRegression over the same 8
features) is logged and served by sparktrack too, and its latency for one connection and a
1-row request is printed (MLflow's server is not run for it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import finish  # noqa: E402

FEATURES = [f"f{i}" for i in range(8)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def training_data(rows: int = 5000):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    label = ((frame.f0 + frame.f1 * frame.f2 - frame.f3) > 0).astype(int)
    return frame, label


def body(frame, rows: int) -> str:
    sample = frame.head(rows)
    return json.dumps({"dataframe_split": {"columns": FEATURES, "data": sample.values.tolist()}})


def start(command: list[str], env: dict[str, str], log: Path, port: int, ready: str = "/ping") -> subprocess.Popen:
    """Start ``command`` in its own process group; return once ``ready`` answers 200 on ``port``."""
    process = subprocess.Popen(command, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{' '.join(command)} did not answer {ready} in 300 s; see {log}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, payload: str, connections: int, duration: int, work: Path) -> dict[str, float]:
    script = work / "post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(payload)}\n'
                      'wrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
                          url + "/invocations"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: float(v) * _UNIT[u] for p, v, u in _LATENCY.findall(out)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50": latency["50"], "p99": latency["99"],
            "non2xx": float(bad.group(1)) if bad else 0.0, "socket_errors": errors.group(0) if errors else ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir")
    parser.add_argument("--spark", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-serving-"))
    work.mkdir(parents=True, exist_ok=True)
    store = str(work / "store")
    os.environ["SPARKTRACK_SPOOL_DIR"] = str(work / "spool")

    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier

    from sparktrack.client import SparkTrackClient
    from sparktrack.models import sklearn as sklearn_models

    frame, label = training_data()
    forest = RandomForestClassifier(n_estimators=args.trees, max_depth=8, random_state=0).fit(frame, label)
    client = SparkTrackClient(store)
    run_id = client.create_run("0").info.run_id
    info = sklearn_models.log_model(forest, "model", client=client, run_id=run_id, input_example=frame.head(5),
                                    registered_model_name="bench_forest")
    client.set_terminated(run_id)
    client.set_registered_model_alias("bench_forest", "Champion", info.registered_model_version)
    client.store.close()
    mlflow_model = work / "mlflow_model"
    shutil.rmtree(mlflow_model, ignore_errors=True)
    mlflow.sklearn.save_model(forest, str(mlflow_model), serialization_format="cloudpickle",
                              signature=infer_signature(frame, forest.predict(frame)))

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    bin_dir = Path(sys.executable).parent
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    failures: list[str] = []
    try:
        port = free_port()
        servers["mlflow"] = (start([str(bin_dir / "mlflow"), "models", "serve", "-m", str(mlflow_model),
                                    "--env-manager", "local", "--workers", str(args.workers),
                                    "--host", "127.0.0.1", "-p", str(port)], env, work / "mlflow.log", port),
                             f"http://127.0.0.1:{port}")
        for name, logging_on in (("sparktrack", True), ("sparktrack, log off", False)):
            port = free_port()
            config = work / f"endpoint-{int(logging_on)}.toml"
            config.write_text(f'[endpoint]\nname = "bench"\nlog_inference = {str(logging_on).lower()}\n'
                              f'[[endpoint.routes]]\nname = "champion"\nmodel = "models:/bench_forest@Champion"\n')
            servers[name] = (start([str(bin_dir / "sparktrack"), "--store", store, "serve", "--config", str(config),
                                    "--workers", str(args.workers), "--port", str(port)],
                                   env, work / f"sparktrack-{int(logging_on)}.log", port),
                             f"http://127.0.0.1:{port}")

        payloads = {"1 row": body(frame, 1), "100 rows": body(frame, 100)}
        expected = {rows: forest.predict(frame.head(int(rows.split()[0]))).tolist() for rows in payloads}
        for rows, payload in payloads.items():
            for name, (_, url) in servers.items():
                answer = httpx.post(url + "/invocations", content=payload,
                                    headers={"content-type": "application/json"}, timeout=60).json()
                if answer.get("predictions") != expected[rows]:
                    failures.append(f"{name} answered {rows} with {str(answer)[:200]}, not the forest's predictions")

        print(f"Serving benchmark: {args.trees}-tree forest, {args.workers} workers each, "
              f"{args.connections} connections, {args.duration} s per run, {args.rounds} rounds "
              f"({os.cpu_count()} CPUs)")
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        for rows, payload in payloads.items():
            for round_number in range(args.rounds):
                order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
                for name in order:
                    figures = wrk(servers[name][1], payload, args.connections, args.duration, work)
                    results.setdefault((rows, name), []).append(figures)
                    if figures["non2xx"] or figures["socket_errors"]:
                        failures.append(f"{name}, {rows}: {figures['non2xx']:.0f} non-2xx answers "
                                        f"{figures['socket_errors']}")
            print(f"\n{rows} per request (dataframe_split):")
            print(f"  {'server':<22} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
            median = {}
            for name in servers:
                runs = results[rows, name]
                median[name] = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
                m = median[name]
                listing = ", ".join(f"{r['rps']:.0f}" for r in runs)
                print(f"  {name:<22} {m['rps']:>9.0f} {m['p50']:>9.2f} {m['p99']:>9.2f}   (runs: {listing} req/s)")
            ours, off, theirs = median["sparktrack"], median["sparktrack, log off"], median["mlflow"]
            throughput = ours["rps"] / theirs["rps"]
            print(f"  throughput, sparktrack / MLflow: {throughput:.2f}x (target >= 2x)")
            print(f"  p99, sparktrack / MLflow: {ours['p99'] / theirs['p99']:.2f}x (target <= 1x)")
            print(f"  throughput, inference log on / off: {ours['rps'] / off['rps']:.2f}x (target >= 0.90x)")
    finally:
        for process, _ in servers.values():
            stop(process)

    if args.spark:
        spark_latency(work, store, args, env, bin_dir)
    return finish(failures, "every server answered every request with the forest's predictions")


def spark_latency(work: Path, store: str, args: argparse.Namespace, env: dict[str, str], bin_dir: Path) -> None:
    """Log a Spark ML pipeline and measure sparktrack's latency serving it to one connection."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    from sparktrack.client import SparkTrackClient
    from sparktrack.models import spark as spark_models
    from sparktrack.session import spark_session

    frame, label = training_data(2000)
    spark = spark_session(master="local[2]")
    data = spark.createDataFrame(frame.assign(label=label.astype(float)))
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=FEATURES, outputCol="features"),
                                LogisticRegression(maxIter=10)]).fit(data)
    client = SparkTrackClient(store, spark)
    run_id = client.create_run("0").info.run_id
    info = spark_models.log_model(pipeline, "model", client=client, run_id=run_id,
                                  input_example=frame.head(5), registered_model_name="bench_pipeline")
    client.set_registered_model_alias("bench_pipeline", "Champion", info.registered_model_version)
    client.store.close()
    spark.stop()
    port = free_port()
    process = start([str(bin_dir / "sparktrack"), "--store", store, "serve", "models:/bench_pipeline@Champion",
                     "--port", str(port)], env, work / "sparktrack-spark.log", port)
    try:
        url = f"http://127.0.0.1:{port}"
        wrk(url, body(frame, 1), 1, 3, work)  # warm-up
        figures = wrk(url, body(frame, 1), 1, args.duration, work)
        print(f"\nSpark ML pipeline, 1 row, 1 connection: {figures['rps']:.1f} req/s, "
              f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms")
    finally:
        stop(process)


if __name__ == "__main__":
    sys.exit(main())
