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
    """``sparktrack serve`` in a child process; ``url`` once it answers /ping."""

    def __init__(self, tmp_path: Path, store: str, *args: str, env: dict[str, str] | None = None,
                 wait: bool = True, timeout: float = 120):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"server-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sparktrack.cli", "--store", store, "serve", *args,
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
                if httpx.get(self.url + "/ping", timeout=2).status_code == 200:
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
