"""A store for the UI's tests, and ``sparktrack ui`` serving it in a child process with no java
on its PATH, a token and a promotion policy on the Production alias."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np

from _serving import Server, register_forests

HISTORY = 30_000
TOKEN = "s3cret-token"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def build_store(tmp: Path) -> tuple[str, list[str], np.ndarray]:
    """Two registered forests (in experiment 0); in experiment "ui" 5 runs (acc 0.1 ... 0.5, one
    NaN metric), the last with a long noisy loss history (a spike at step 12,345) and artifacts,
    and two child runs under run-3. The store, the 5 runs' ids, and the loss."""
    import sparktrack
    from sparktrack.entities import Metric
    from sparktrack.testing import fresh_store

    store = str(tmp / "store")
    rng = np.random.default_rng(0)
    loss = np.abs(rng.normal(1.0, 0.3, HISTORY)) / np.linspace(1, 10, HISTORY)
    loss[12_345] = 50.0  # a spike the downsampling must keep
    image = tmp / "roc.png"
    image.write_bytes(PNG)
    with fresh_store(root=store) as client:
        register_forests(client)
        sparktrack.set_experiment("ui")
        ids = []
        for i in range(5):
            with sparktrack.start_run(run_name=f"run-{i}") as run:
                sparktrack.log_params({"depth": i, "kind": "forest" if i % 2 else "linear"})
                sparktrack.log_metrics({"acc": (i + 1) / 10, "odd": float("nan") if i == 0 else 1.0})
                if i == 3:
                    for child in range(2):
                        with sparktrack.start_run(run_name=f"child-{child}", nested=True):
                            sparktrack.log_metric("fold_acc", 0.3 + child / 10)
                if i == 4:
                    sparktrack.log_text("hello\n", "notes/readme.txt")
                    sparktrack.log_dict({"depth": 4}, "config.json")
                    sparktrack.log_text("a,b\n1,2\n", "data/sample.csv")
                    sparktrack.log_artifact(str(image), "plots")
                    for start in range(0, HISTORY, 10_000):
                        sparktrack.log_batch(metrics=[Metric(key="loss", value=float(v), timestamp=1_000 + step,
                                                             step=step)
                                                      for step, v in enumerate(loss[start:start + 10_000], start)])
            ids.append(run.info.run_id)
        client.flush()
    return store, ids, loss


@contextlib.contextmanager
def serve(tmp: Path, store: str) -> Iterator[Server]:
    empty = tmp / "bin"
    empty.mkdir(exist_ok=True)
    env = {"PATH": str(empty), "JAVA_HOME": "",
           "SPARKTRACK_PROMOTION_POLICY": '{"Production": {"validation_status": "approved"}}'}
    with Server(tmp, store, "--token", TOKEN, command="ui", ready_path="/api/experiments", env=env) as server:
        yield server
