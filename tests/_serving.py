"""Real serving processes for tests: ``sparktrack serve`` on a free loopback port, and models to
serve (logged and registered without Spark)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from _procs import worker_env

FEATURES = ["tenure", "charges", "calls"]
GOOD_ROW = {"tenure": 12, "charges": 70.5, "calls": 3}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def training_frame(rows: int = 200, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"tenure": rng.integers(0, 72, rows).astype("int64"),
                          "charges": rng.uniform(20, 120, rows), "calls": rng.integers(0, 10, rows)})
    label = ((frame.calls > 4) | (frame.charges > 100)).astype(int)
    return frame, label


def register_forests(client, name: str = "churn", versions: int = 2) -> list[int]:
    """Register ``versions`` forests (different sizes, so different predictions) under ``name``:
    Champion on version 1, Challenger on the last."""
    from sklearn.ensemble import RandomForestClassifier

    from sparktrack.models import sklearn as sklearn_models

    frame, label = training_frame()
    numbers = []
    for index in range(versions):
        run_id = client.create_run("0").info.run_id
        forest = RandomForestClassifier(n_estimators=5 + 10 * index, max_depth=2 + index,
                                        random_state=index).fit(frame, label)
        info = sklearn_models.log_model(forest, "model", client=client, run_id=run_id,
                                        input_example=frame.head(5), registered_model_name=name)
        client.set_terminated(run_id)
        numbers.append(info.registered_model_version)
    client.set_registered_model_alias(name, "Champion", numbers[0])
    client.set_registered_model_alias(name, "Challenger", numbers[-1])
    return numbers


def forest_store(tmp_path: Path, versions: int = 2) -> tuple[str, list[int]]:
    """A new store under ``tmp_path`` with ``versions`` forests registered (see register_forests)."""
    from sparktrack.testing import fresh_store

    store = str(tmp_path / "store")
    with fresh_store(root=store) as client:
        numbers = register_forests(client, versions=versions)
    return store, numbers


def python_model_store(tmp_path: Path, model, name: str) -> tuple[str, str]:
    """A new store under ``tmp_path`` with the pyfunc ``model`` logged (its input example: 5 rows
    of the training frame), registered as ``name`` and aliased Champion; the store and run id."""
    from sparktrack.models import pyfunc
    from sparktrack.testing import fresh_store

    store = str(tmp_path / "store")
    frame, _ = training_frame(rows=5)
    with fresh_store(root=store) as client:
        run_id = client.create_run("0").info.run_id
        pyfunc.log_model(model, "model", client=client, run_id=run_id, input_example=frame,
                         registered_model_name=name)
        client.set_registered_model_alias(name, "Champion", 1)
    return store, run_id


def run_concurrently(target, arguments) -> None:
    """``target(*args)`` for each of ``arguments`` in its own thread, all at once; returns when all end."""
    threads = [threading.Thread(target=target, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Server:
    """``sparktrack serve`` (or another ``command``) in a child process; ``url`` once it answers
    ``ready_path``."""

    def __init__(self, tmp_path: Path, store: str, *args: str, env: dict[str, str] | None = None,
                 wait: bool = True, timeout: float = 120, command: str = "serve", ready_path: str = "/ping"):
        self.port = free_port()
        self.ready_path = ready_path
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"server-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sparktrack.cli", "--store", store, command, *args,
             "--port", str(self.port)],
            env=worker_env(tmp_path, **(env or {})), stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not become ready in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout)
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(signal.SIGKILL if exc[0] is not None else signal.SIGTERM)


def feature_model_store(spark, tmp_path: Path) -> tuple[str, tuple[str, str], object]:
    """A new store under ``tmp_path`` with a regression tree logged (and registered as
    ``churn_features``) by ``FeatureEngineeringClient.log_model`` on two feature tables: a
    time-series ``activity`` (customers 1-7, three days each, spend and visits; deletion vectors
    on; customer 5's latest spend a stored null) and a ``profile`` (customers 1-5, age looked up
    as ``customer_age``, default 0). The labels (customers 1-8, key and time excluded) keep
    ``tenure``. Returns the store, the two table paths, and the tree."""
    import datetime as dt

    from sklearn.tree import DecisionTreeRegressor

    import sparktrack
    from sparktrack.features import FeatureEngineeringClient, FeatureLookup
    from sparktrack.testing import fresh_store

    spark.conf.set("spark.sql.session.timeZone", "UTC")
    store = str(tmp_path / "store")
    activity, profile = str(tmp_path / "activity"), str(tmp_path / "profile")
    day = dt.datetime(2026, 3, 1)
    rows = [(c, day + dt.timedelta(days=d), None if (c, d) == (5, 10) else float(c * 10 + d), float(c + d))
            for c in range(1, 8) for d in (0, 5, 10)]
    with fresh_store(spark, root=store) as client:
        fe = FeatureEngineeringClient(client=client)
        fe.create_table(name=activity, primary_keys=["customer_id", "ts"], timeseries_column="ts",
                        df=spark.createDataFrame(rows, "customer_id long, ts timestamp, spend double, visits double"))
        spark.sql(f"ALTER TABLE delta.`{activity}` SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
        fe.create_table(name=profile, primary_keys="customer_id",
                        df=spark.createDataFrame([(c, 20 + 3 * c) for c in range(1, 6)], "customer_id long, age long"))
        labels = spark.createDataFrame(
            [(c, day + dt.timedelta(days=d, hours=1), float((c * 7 + d) % 13), float(c * 3 + d % 4))
             for c in range(1, 9) for d in (1, 6, 11)],
            "customer_id long, event_time timestamp, tenure double, value double")
        training = fe.create_training_set(df=labels, label="value", exclude_columns=["customer_id", "event_time"],
                                          feature_lookups=[
            FeatureLookup(table_name=activity, lookup_key="customer_id", timestamp_lookup_key="event_time"),
            FeatureLookup(table_name=profile, lookup_key="customer_id", rename_outputs={"age": "customer_age"},
                          default_values={"age": 0}),
        ])
        train = training.load_df().toPandas()
        features = ["tenure", "spend", "visits", "customer_age"]
        target = train.value + train.spend.fillna(-5) / 3 + train.visits.fillna(0) + train.customer_age / 10
        tree = DecisionTreeRegressor(random_state=0).fit(train[features], target)
        with sparktrack.start_run():
            fe.log_model(model=tree, artifact_path="model", flavor=sparktrack.sklearn, training_set=training,
                         registered_model_name="churn_features")
    return store, (activity, profile), tree
