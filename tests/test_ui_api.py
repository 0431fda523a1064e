"""The UI's JSON API over HTTP, against a real ``sparktrack ui`` process on loopback with no java
on its PATH (it reads the store with delta-rs)."""

from __future__ import annotations

import numpy as np
import pytest

import sparktrack
from _serving import Server
from sparktrack.entities import Metric

HISTORY = 30_000


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A store of 5 runs (acc 0.1 ... 0.5, one NaN metric), one with a long noisy loss history;
    and the UI serving it."""
    from sparktrack.testing import fresh_store

    tmp = tmp_path_factory.mktemp("ui")
    store = str(tmp / "store")
    rng = np.random.default_rng(0)
    loss = np.abs(rng.normal(1.0, 0.3, HISTORY)) / np.linspace(1, 10, HISTORY)
    loss[12_345] = 50.0  # a spike the downsampling must keep
    with fresh_store(root=store) as client:
        ids = []
        for i in range(5):
            with sparktrack.start_run(run_name=f"run-{i}") as run:
                sparktrack.log_params({"depth": i, "kind": "forest" if i % 2 else "linear"})
                sparktrack.log_metrics({"acc": (i + 1) / 10, "odd": float("nan") if i == 0 else 1.0})
                if i == 4:
                    for start in range(0, HISTORY, 10_000):
                        sparktrack.log_batch(metrics=[Metric(key="loss", value=float(v), timestamp=1_000 + step,
                                                             step=step)
                                                      for step, v in enumerate(loss[start:start + 10_000], start)])
            ids.append(run.info.run_id)
        client.flush()
    empty = tmp / "bin"
    empty.mkdir()
    with Server(tmp, store, command="ui", ready_path="/api/experiments", env={"PATH": str(empty), "JAVA_HOME": ""}) \
            as server:
        yield server, ids, loss


def _get(server, path, **params):
    import httpx

    return httpx.get(server.url + path, params=params, timeout=30)


def test_runs_search_filters_sorts_and_pages_with_mlflows_grammar_and_shapes(ui):
    server, ids, _ = ui
    first = _get(server, "/api/runs/search", filter="metrics.acc > 0.15", order_by="metrics.acc DESC", max_results=3)
    assert first.status_code == 200, first.text
    page = first.json()
    names = [r["info"]["run_name"] for r in page["runs"]]
    assert names == ["run-4", "run-3", "run-2"]
    run = page["runs"][0]
    assert {"key": "acc", "value": 0.5} in run["data"]["metrics"]
    assert {"key": "depth", "value": "4"} in run["data"]["params"]
    assert run["info"]["run_id"] == ids[4] and run["info"]["status"] == "FINISHED"
    second = _get(server, "/api/runs/search", filter="metrics.acc > 0.15", order_by="metrics.acc DESC", max_results=3,
                  page_token=page["next_page_token"]).json()
    assert [r["info"]["run_name"] for r in second["runs"]] == ["run-1"] and "next_page_token" not in second
    everything = _get(server, "/api/runs/search", experiment_ids="0").json()["runs"]
    assert len(everything) == 5
    nan = next(r for r in everything if r["info"]["run_name"] == "run-0")
    assert {"key": "odd", "value": "NaN"} in nan["data"]["metrics"]  # JSON has no NaN: MLflow's spelling


def test_a_metric_history_is_downsampled_keeping_each_buckets_min_max_and_last(ui):
    server, ids, loss = ui
    answer = _get(server, f"/api/runs/{ids[4]}/metrics/loss", max_points=600)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["points"] == HISTORY and len(found["value"]) <= 600
    assert found["step"] == sorted(found["step"]) and found["step"][-1] == HISTORY - 1
    assert max(found["value"]) == 50.0 and found["value"][found["step"].index(12_345)] == 50.0
    assert min(found["value"]) == pytest.approx(loss.min())
    for step, value in zip(found["step"], found["value"]):
        assert value == pytest.approx(loss[step])
    assert found["timestamp"][-1] == 1_000 + HISTORY - 1
    whole = _get(server, f"/api/runs/{ids[4]}/metrics/acc").json()
    assert (whole["points"], whole["value"], whole["step"]) == (1, [0.5], [0])


def test_a_run_page_has_its_params_metrics_tags_and_datasets(ui):
    server, ids, _ = ui
    run = _get(server, f"/api/runs/{ids[1]}").json()["run"]
    assert run["info"]["run_name"] == "run-1" and run["inputs"] == {"dataset_inputs": []}
    assert {"key": "kind", "value": "forest"} in run["data"]["params"]
    assert all(set(tag) == {"key", "value"} for tag in run["data"]["tags"])
    experiments = _get(server, "/api/experiments").json()["experiments"]
    assert [e["experiment_id"] for e in experiments] == ["0"]


@pytest.mark.parametrize("path, params, status, message", [
    ("/api/runs/search", {"filter": "metrics.acc >> 1"}, 400, "at position"),
    ("/api/runs/search", {"filter": "params.depth = 1 and"}, 400, "at position"),
    ("/api/runs/search", {"order_by": "metrics.acc SIDEWAYS"}, 400, "order_by"),
    ("/api/runs/search", {"page_token": "not-a-token"}, 400, "is not a token this server gave"),
    ("/api/runs/search", {"max_results": "0"}, 400, "max_results must be a whole number from 1 to 1000"),
    ("/api/runs/search", {"max_results": "many"}, 400, "got 'many'"),
    ("/api/runs/search", {"experiment_ids": "../1"}, 400, "../1"),
    ("/api/runs/0123456789abcdef0123456789abcdef", {}, 404, "0123456789abcdef0123456789abcdef"),
    ("/api/runs/../../etc", {}, 404, "No route"),
    ("/api/runs/RUN/metrics/loss", {"max_points": "2"}, 400, "max_points must be a whole number from 3"),
    ("/api/runs/0123456789abcdef0123456789abcdef/metrics/loss", {}, 404, "0123456789abcdef0123456789abcdef"),
    ("/api/nothing", {}, 404, "No route '/api/nothing'"),
])
def test_bad_requests_get_json_errors_with_the_right_status(ui, path, params, status, message):
    server, ids, _ = ui
    answer = _get(server, path.replace("RUN", ids[4]), **params)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert message in body["message"] and body["error_code"]
    if params.get("filter"):
        assert isinstance(body["position"], int) and "^" in body["message"]
