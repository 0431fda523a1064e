"""The UI's JSON API over HTTP, against a real ``sparktrack ui`` process on loopback with no java
on its PATH (it reads the store with delta-rs)."""

from __future__ import annotations

import pytest

from _ui import HISTORY, PNG, TOKEN, build_store, serve


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    store, ids, loss = build_store(tmp)
    with serve(tmp, store) as server:
        yield server, ids, loss


def _get(server, route, **params):
    import httpx

    return httpx.get(server.url + route, params=params, timeout=30)


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
    everything = _get(server, "/api/runs/search", filter="attributes.run_name LIKE 'run-%'").json()["runs"]
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
    nan = _get(server, f"/api/runs/{ids[0]}/metrics/odd").json()
    assert (nan["points"], nan["value"]) == (1, [None])  # JSON has no NaN: a chart skips a null
    whole = _get(server, f"/api/runs/{ids[4]}/metrics/acc").json()
    assert (whole["points"], whole["value"], whole["step"]) == (1, [0.5], [0])


def test_many_runs_histories_come_in_one_request_each_downsampled_as_one_runs(ui):
    server, ids, loss = ui
    answer = _get(server, "/api/metrics/histories", run_ids=f"{ids[4]},{ids[0]},{ids[2]}", keys="loss,acc,odd",
                  max_points=600)
    assert answer.status_code == 200, answer.text
    found = {(h["run_id"], h["key"]): h for h in answer.json()["histories"]}
    # Only the (run, key) pairs with points: runs 0 and 2 have no loss, none has an "odd" but run 0.
    assert set(found) == {(ids[4], "loss"), (ids[4], "acc"), (ids[4], "odd"), (ids[0], "acc"), (ids[0], "odd"),
                          (ids[2], "acc"), (ids[2], "odd")}
    one = _get(server, f"/api/runs/{ids[4]}/metrics/loss", max_points=600).json()
    assert {k: found[ids[4], "loss"][k] for k in one} == one  # the same points as the run's own history
    assert found[ids[4], "loss"]["points"] == HISTORY and max(found[ids[4], "loss"]["value"]) == 50.0
    assert (found[ids[0], "odd"]["value"], found[ids[2], "acc"]["value"]) == ([None], [0.3])
    unknown = _get(server, "/api/metrics/histories", run_ids="0123456789abcdef0123456789abcdef", keys="loss")
    assert unknown.status_code == 200 and unknown.json() == {"histories": []}


def test_a_run_page_has_its_params_metrics_tags_and_datasets(ui):
    server, ids, _ = ui
    run = _get(server, f"/api/runs/{ids[1]}").json()["run"]
    assert run["info"]["run_name"] == "run-1" and run["inputs"] == {"dataset_inputs": []}
    last = _get(server, f"/api/runs/{ids[4]}").json()
    summaries = {m["key"]: m for m in last["metric_summaries"]}
    assert (summaries["loss"]["max"], summaries["loss"]["points"]) == (50.0, HISTORY)
    assert summaries["acc"] == {"key": "acc", "min": 0.5, "max": 0.5, "points": 1} and last["models"] == []
    forest = _get(server, "/api/registry/models/churn/versions/1/lineage").json()["lineage"]["run_id"]
    (model,) = _get(server, f"/api/runs/{forest}").json()["models"]
    assert model["artifact_path"] == "model" and model["descriptor"]["flavor"] == "sklearn"
    assert [c["name"] for c in model["descriptor"]["signature"]] == ["tenure", "charges", "calls"]
    assert {"key": "kind", "value": "forest"} in run["data"]["params"]
    assert all(set(tag) == {"key", "value"} for tag in run["data"]["tags"])
    experiments = _get(server, "/api/experiments").json()["experiments"]
    assert sorted(e["name"] for e in experiments) == ["Default", "ui"]


def test_the_artifact_browser_lists_and_previews_text_json_csv_and_images(ui):
    server, ids, _ = ui
    listing = _get(server, f"/api/runs/{ids[4]}/artifacts").json()
    assert [(f["path"], f["is_dir"]) for f in listing["files"]] == [
        ("config.json", False), ("data", True), ("notes", True), ("plots", True)]
    assert [f["path"] for f in _get(server, f"/api/runs/{ids[4]}/artifacts", path="notes").json()["files"]] == [
        "notes/readme.txt"]
    text = _get(server, f"/api/runs/{ids[4]}/artifact", path="notes/readme.txt")
    assert text.text == "hello\n" and text.headers["content-type"].startswith("text/plain; charset=utf-8")
    assert _get(server, f"/api/runs/{ids[4]}/artifact", path="config.json").json() == {"depth": 4}
    assert _get(server, f"/api/runs/{ids[4]}/artifact", path="data/sample.csv").headers["content-type"].startswith(
        "text/csv")
    image = _get(server, f"/api/runs/{ids[4]}/artifact", path="plots/roc.png")
    assert image.content == PNG and image.headers["content-type"] == "image/png"


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/etc/passwd", "notes/../../x", "..\\..\\x",
                                  "%2e%2e/%2e%2e/etc/passwd", "notes/%2e%2e/%2e%2e/%2e%2e/x"])
def test_artifact_paths_never_leave_the_runs_artifact_root(ui, path):
    import urllib.parse

    import httpx

    server, ids, _ = ui
    for url in (f"/api/runs/{ids[4]}/artifact?path={path}", f"/api/runs/{ids[4]}/artifacts?path={path}",
                f"/api/runs/{ids[4]}/artifact?path={urllib.parse.quote(path, safe='')}"):
        answer = httpx.get(server.url + url, timeout=30)
        assert answer.status_code in (400, 404), (url, answer.status_code, answer.text[:200])
        assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
        assert "root:" not in answer.text


def test_the_registry_reads_with_time_travel_and_its_actions_need_the_token(ui):
    import httpx

    server, _, _ = ui
    models = _get(server, "/api/registry/models").json()["registered_models"]
    assert [m["name"] for m in models] == ["churn"]
    assert sorted((a["alias"], a["version"]) for a in models[0]["aliases"]) == [("Challenger", "2"), ("Champion", "1")]
    model = _get(server, "/api/registry/models/churn").json()
    assert [v["version"] for v in model["model_versions"]] == ["2", "1"]
    lineage = _get(server, "/api/registry/models/churn/versions/1/lineage").json()["lineage"]
    assert lineage["run_id"] == model["model_versions"][1]["run_id"] and lineage["version"] == 1
    import datetime as dt

    before = len(_get(server, "/api/registry/audit", name="churn").json()["events"])
    earlier = dt.datetime.now(dt.timezone.utc).isoformat()
    url = server.url + "/api/registry/models/churn/aliases"
    refused = httpx.post(url, json={"alias": "Champion", "version": 2})
    assert refused.status_code == 401 and refused.json()["error_code"] == "UNAUTHENTICATED"
    wrong = httpx.post(url, json={"alias": "Champion", "version": 2}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    moved = httpx.post(url, json={"alias": "Champion", "version": 2}, headers=auth)
    assert moved.status_code == 200, moved.text
    assert moved.json()["model_version"]["version"] == "2"
    blocked = httpx.post(url, json={"alias": "Production", "version": 2}, headers=auth)
    assert blocked.status_code == 409 and "validation_status" in blocked.json()["message"]
    tagged = httpx.post(server.url + "/api/registry/models/churn/versions/2/tags",
                        json={"key": "validation_status", "value": "approved"}, headers=auth)
    assert tagged.status_code == 200 and {"key": "validation_status", "value": "approved"} in \
        tagged.json()["model_version"]["tags"]
    assert httpx.post(url, json={"alias": "Production", "version": 2}, headers=auth).status_code == 200
    events = _get(server, "/api/registry/audit", name="churn").json()["events"]
    assert [e["action"] for e in events[before:]] == ["set_alias", "set_version_tag", "set_alias"]
    then = _get(server, "/api/registry/models/churn", as_of=earlier).json()
    assert {a["alias"]: a["version"] for a in then["registered_model"]["aliases"]}["Champion"] == "1"
    now = _get(server, "/api/registry/models/churn").json()["registered_model"]
    assert {a["alias"]: a["version"] for a in now["aliases"]} == {"Champion": "2", "Challenger": "2",
                                                                  "Production": "2"}


@pytest.mark.parametrize("method, path, body, status, message", [
    ("POST", "/api/registry/models/churn/aliases", b"{not json", 400, "The body must be a JSON object"),
    ("POST", "/api/registry/models/churn/aliases", b"[1]", 400, "The body must be a JSON object"),
    ("POST", "/api/registry/models/churn/aliases", b'{"alias": "Champion"}', 400, "The body needs 'version'"),
    ("POST", "/api/registry/models/churn/aliases", b'{"alias": "latest", "version": 1}', 400, "reserved"),
    ("POST", "/api/registry/models/churn/aliases", b'{"alias": "A", "version": 99}', 404, "Version 99"),
    ("POST", "/api/registry/models/nope/aliases", b'{"alias": "A", "version": 1}', 404, "'nope'"),
    ("GET", "/api/registry/models/nope", None, 404, "'nope'"),
    ("GET", "/api/registry/models/churn?as_of=yesterday", None, 400, "ISO-8601"),
    ("GET", "/api/registry/models/churn/versions/x/lineage", None, 400, "a positive integer"),
    ("DELETE", "/api/registry/models/churn", None, 405, "DELETE is not allowed"),
])
def test_bad_registry_requests_get_json_errors(ui, method, path, body, status, message):
    import httpx

    server, _, _ = ui
    answer = httpx.request(method, server.url + path, content=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == status, answer.text
    assert message in answer.json()["message"]


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
    ("/api/metrics/histories", {"keys": "loss"}, 400, "run_ids must name 1 to 1000 comma-separated values; got 0"),
    ("/api/metrics/histories", {"run_ids": "RUN", "keys": ",".join(f"k{i}" for i in range(101))}, 400,
     "keys must name 1 to 100 comma-separated values; got 101"),
    ("/api/metrics/histories", {"run_ids": "../x", "keys": "loss"}, 400, "../x"),
    ("/api/metrics/histories", {"run_ids": "RUN", "keys": "loss", "max_points": "2"}, 400,
     "max_points must be a whole number from 3"),
    ("/api/nothing", {}, 404, "No route '/api/nothing'"),
])
def test_bad_requests_get_json_errors_with_the_right_status(ui, path, params, status, message):
    server, ids, _ = ui
    answer = _get(server, path.replace("RUN", ids[4]), **{k: v.replace("RUN", ids[4]) for k, v in params.items()})
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert message in body["message"] and body["error_code"]
    if params.get("filter"):
        assert isinstance(body["position"], int) and "^" in body["message"]
