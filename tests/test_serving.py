"""Serving over REST: real `sparktrack serve` processes on loopback, a real HTTP client, and the
inference table they write."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter

import httpx
import pandas as pd
import pytest

from _serving import FEATURES, Server, forest_store, python_model_store, run_concurrently, training_frame
from sparktrack.client import SparkTrackClient
from sparktrack.errors import ConfigError

pytestmark = pytest.mark.slow
LIMIT = 65536


def write_config(path, name="churn", routes=(("champion", "models:/churn@Champion", 90),
                                             ("challenger", "models:/churn@Challenger", 10)), **keys):
    lines = ["[endpoint]", f'name = "{name}"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    for route, model, traffic in routes:
        lines += ["[[endpoint.routes]]", f'name = "{route}"', f'model = "{model}"', f"traffic = {traffic}"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def inference_rows(store: str) -> pd.DataFrame:
    from deltalake import DeltaTable

    return DeltaTable(f"{store}/tables/inference_log").to_pandas()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A store with two registered forests and an endpoint serving Champion 90 / Challenger 10."""
    tmp = tmp_path_factory.mktemp("serving")
    store, versions = forest_store(tmp)
    config = write_config(tmp / "churn.toml", max_request_bytes=LIMIT)
    with Server(tmp, store, "--config", config) as server:
        yield server, store, versions


def post(url, body, content_type="application/json", **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(url + "/invocations", content=data, headers={"content-type": content_type, **headers},
                      timeout=30)


def test_every_request_format_and_csv_give_the_predictions_of_predict_in_process(served, tmp_path):
    server, store, _ = served
    from sparktrack import models

    frame, _ = training_frame(rows=7, seed=3)
    client = SparkTrackClient(store)
    expected = models.load_model("models:/churn@Champion", client=client).predict(frame).tolist()
    records = frame.to_dict(orient="records")
    columns = frame.to_dict(orient="list")
    bodies = {
        "dataframe_split": {"dataframe_split": frame.to_dict(orient="split") | {"index": list(range(7))}},
        "dataframe_records": {"dataframe_records": records},
        "instances as records": {"instances": records},
        "instances as columns": {"instances": columns},
        "inputs as records": {"inputs": records},
        "inputs as columns": {"inputs": columns},
        "inputs as lists in signature order": {"inputs": [list(r.values()) for r in records]},
        "records with extra and reordered columns": {
            "dataframe_records": [{"zz": "ignored", **dict(reversed(list(r.items())))} for r in records]},
        "with params and a client request id": {"dataframe_records": records, "params": {"k": 1},
                                                 "client_request_id": "abc-1"},
    }
    for name, body in bodies.items():
        answer = post(server.url, body, **{"x-sparktrack-route": "champion"})
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json() == {"predictions": expected}, name
        assert answer.headers["x-sparktrack-route"] == "champion"
        assert answer.headers["x-sparktrack-model-version"] == "1"
    answer = post(server.url, frame.to_csv(index=False), "text/csv; charset=utf-8",
                  **{"x-sparktrack-route": "champion"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": expected}


def _records(**overrides):
    row = {"tenure": 12, "charges": 70.5, "calls": 3}
    row.update(overrides)
    return json.dumps({"dataframe_records": [{k: v for k, v in row.items() if v is not Ellipsis}]})


GOOD = _records()
#: (case, content type, body, extra headers, status, error_code, words the message holds)
BAD_REQUESTS = [
    ("truncated JSON", "application/json", '{"dataframe_records": [', {}, 400, "BAD_REQUEST", "not valid JSON"),
    ("top-level list", "application/json", '[{"tenure": 1}]', {}, 400, "BAD_REQUEST", "Received a JSON list"),
    ("top-level string", "application/json", '"rows"', {}, 400, "BAD_REQUEST", "JSON string"),
    ("top-level number", "application/json", "5", {}, 400, "BAD_REQUEST", "JSON number"),
    ("no keys", "application/json", "{}", {}, 400, "BAD_REQUEST", "Received the keys []"),
    ("two keys", "application/json", '{"dataframe_records": [], "instances": []}', {}, 400, "BAD_REQUEST",
     "exactly one of"),
    ("unknown key", "application/json", '{"dataframe_records": [{"tenure": 1}], "rows": 1}', {}, 400,
     "BAD_REQUEST", "'rows'"),
    ("params not an object", "application/json", '{"inputs": [{"tenure": 1}], "params": [1]}', {}, 400,
     "BAD_REQUEST", "'params' must be a JSON object"),
    ("client request id not a string", "application/json",
     '{"inputs": [{"tenure": 1}], "client_request_id": 7}', {}, 400, "BAD_REQUEST", "client_request_id"),
    ("split without columns", "application/json", '{"dataframe_split": {"data": [[1, 2, 3]]}}', {}, 400,
     "BAD_REQUEST", "'columns' list"),
    ("split data not a list", "application/json",
     '{"dataframe_split": {"columns": ["tenure"], "data": 5}}', {}, 400, "BAD_REQUEST", "'data' list"),
    ("split row of the wrong length", "application/json",
     '{"dataframe_split": {"columns": ["tenure", "charges", "calls"], "data": [[1, 2]]}}', {}, 400,
     "BAD_REQUEST", "Row 0"),
    ("split with a repeated column", "application/json",
     '{"dataframe_split": {"columns": ["tenure", "tenure"], "data": [[1, 2]]}}', {}, 400, "BAD_REQUEST",
     "distinct"),
    ("records not a list", "application/json", '{"dataframe_records": {"tenure": 1}}', {}, 400,
     "BAD_REQUEST", "list of objects"),
    ("records as lists", "application/json", '{"dataframe_records": [[1, 2, 3]]}', {}, 400, "BAD_REQUEST",
     "list of objects"),
    ("records mixing objects and numbers", "application/json", '{"dataframe_records": [{"tenure": 1}, 5]}',
     {}, 400, "BAD_REQUEST", "list of objects"),
    ("instances a scalar", "application/json", '{"instances": 5}', {}, 400, "BAD_REQUEST", "list of rows"),
    ("inputs columns of different lengths", "application/json",
     '{"inputs": {"tenure": [1, 2], "charges": [1.0], "calls": [1, 2]}}', {}, 400, "BAD_REQUEST",
     "same length"),
    ("inputs lists of the wrong width", "application/json", '{"inputs": [[1, 2]]}', {}, 400, "BAD_REQUEST",
     "reads 3 columns"),
    ("no rows", "application/json", '{"dataframe_records": []}', {}, 400, "BAD_REQUEST", "no rows"),
    ("a missing column", "application/json", _records(calls=...), {}, 400, "INVALID_PARAMETER_VALUE",
     "missing ['calls']"),
    ("text in a double column", "application/json", _records(charges="high"), {}, 400,
     "INVALID_PARAMETER_VALUE", "Column 'charges'"),
    ("a fraction in a bigint column", "application/json", _records(tenure=1.5), {}, 400,
     "INVALID_PARAMETER_VALUE", "Column 'tenure'"),
    ("a boolean in a double column", "application/json", _records(charges=True), {}, 400,
     "INVALID_PARAMETER_VALUE", "expected double"),
    ("a null in a bigint column", "application/json", _records(tenure=None), {}, 400,
     "INVALID_PARAMETER_VALUE", "Column 'tenure'"),
    ("an integer past bigint", "application/json", _records(tenure=2**70), {}, 400,
     "INVALID_PARAMETER_VALUE", "expected bigint"),
    ("Infinity in a double column", "application/json", _records(charges=float("inf")), {}, 400,
     "INVALID_PARAMETER_VALUE", "received an infinite value"),
    ("a number past a double's range", "application/json", GOOD.replace("70.5", "1e999"), {}, 400,
     "INVALID_PARAMETER_VALUE", "Column 'charges'"),
    ("invalid UTF-8", "application/json", b'{"dataframe_records": [{"tenure": "\xff"}]}', {}, 400,
     "BAD_REQUEST", "UTF-8"),
    ("CSV with a header only", "text/csv", "tenure,charges,calls\n", {}, 400, "BAD_REQUEST", "no rows"),
    ("CSV with an unclosed quote", "text/csv", 'tenure,charges,calls\n"1,2,3\n', {}, 400, "BAD_REQUEST",
     "CSV"),
    ("CSV with text in a number column", "text/csv", "tenure,charges,calls\n1,high,3\n", {}, 400,
     "INVALID_PARAMETER_VALUE", "Column 'charges'"),
    ("text/plain", "text/plain", GOOD, {}, 415, "BAD_REQUEST", "text/plain"),
    ("no content type", "", GOOD, {}, 415, "BAD_REQUEST", "Content-Type"),
    ("latin-1 charset", "application/json; charset=latin-1", GOOD, {}, 415, "BAD_REQUEST", "latin-1"),
    ("an unknown content type parameter", "application/json; format=pandas-split", GOOD, {}, 415,
     "BAD_REQUEST", "format=pandas-split"),
    ("a body over the limit", "application/json", '{"inputs": "' + "x" * LIMIT + '"}', {}, 413,
     "REQUEST_LIMIT_EXCEEDED", f"at most {LIMIT}"),
    ("an unknown route", "application/json", GOOD, {"x-sparktrack-route": "canary"}, 400,
     "INVALID_PARAMETER_VALUE", "'challenger', 'champion'"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_a_bad_request_gets_its_status_and_a_json_error_and_the_server_stays_up(served, case):
    server, _, _ = served
    _, content_type, body, headers, status, code, words = case
    answer = post(server.url, body, content_type, **headers)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert set(error) == {"error_code", "message"}
    assert error["error_code"] == code
    assert words in error["message"], error["message"]
    assert post(server.url, GOOD).status_code == 200


def test_nan_is_a_missing_value_the_model_scores(served):
    server, _, _ = served
    answer = post(server.url, GOOD.replace("70.5", "NaN"))
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(served):
    server, _, _ = served

    def chunks():
        yield b'{"inputs": "'
        for _ in range(LIMIT // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    answer = httpx.post(server.url + "/invocations", content=chunks(),
                        headers={"content-type": "application/json"}, timeout=30)
    assert answer.status_code == 413 and answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_wrong_paths_and_methods_get_json_errors(served):
    server, _, _ = served
    missing = httpx.post(server.url + "/predict", content=GOOD, timeout=10)
    assert missing.status_code == 404 and missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    wrong = httpx.get(server.url + "/invocations", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error_code"] == "METHOD_NOT_ALLOWED"


def test_ping_health_version_metadata_and_metrics(served):
    server, _, versions = served
    assert httpx.get(server.url + "/ping").json() == {"status": "ok"}
    assert httpx.get(server.url + "/health").status_code == 200
    from sparktrack import __version__

    assert httpx.get(server.url + "/version").json() == __version__
    meta = httpx.get(server.url + "/metadata").json()
    assert meta["endpoint"] == "churn"
    by_route = {route["route"]: route for route in meta["routes"]}
    assert by_route["champion"]["model_version"] == versions[0]
    assert by_route["challenger"]["model_version"] == versions[1]
    assert by_route["champion"]["alias"] == "Champion" and by_route["champion"]["model_name"] == "churn"
    assert [c["name"] for c in by_route["champion"]["signature"]] == FEATURES
    assert by_route["champion"]["traffic"] == 90
    post(server.url, GOOD, **{"x-sparktrack-route": "champion"})
    text = httpx.get(server.url + "/metrics").text
    assert 'sparktrack_serving_requests_total{endpoint="churn",route="champion",status="200"}' in text
    assert 'sparktrack_serving_request_seconds_bucket{endpoint="churn"' in text
    assert (f'sparktrack_serving_route_version{{endpoint="churn",model="models:/churn@Challenger",'
            f'route="challenger"}} {float(versions[1])}') in text


def test_traffic_splits_90_10_within_tolerance_over_2000_requests_and_a_header_pins_a_route(served):
    server, _, versions = served
    seen: Counter[str] = Counter()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(2000):
            answer = http.post("/invocations", content=GOOD, headers={"content-type": "application/json"})
            assert answer.status_code == 200
            seen[answer.headers["x-sparktrack-route"]] += 1
        # 200 expected; the binomial standard deviation is 13.4, so this is 5 of them either way
        assert 133 <= seen["challenger"] <= 267, seen
        assert seen["champion"] + seen["challenger"] == 2000
        for _ in range(20):
            pinned = http.post("/invocations", content=GOOD,
                               headers={"content-type": "application/json", "x-sparktrack-route": "challenger"})
            assert pinned.headers["x-sparktrack-model-version"] == str(versions[1])


def test_a_server_with_no_java_logs_every_request_and_commits_them_when_stopped(tmp_path):
    store, _ = forest_store(tmp_path, versions=1)
    no_java = tmp_path / "bin"  # a PATH with no java on it, and no JAVA_HOME
    no_java.mkdir()
    server = Server(tmp_path, store, "models:/churn@Champion", env={"PATH": str(no_java), "JAVA_HOME": ""})
    ids = {}
    ids[post(server.url, GOOD).headers["x-request-id"]] = 200
    ids[post(server.url, _records(calls=...)).headers["x-request-id"]] = 400
    ids[post(server.url, {"dataframe_records": json.loads(GOOD)["dataframe_records"],
                          "client_request_id": "order-17"}).headers["x-request-id"]] = 200
    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it drained on
    rows = inference_rows(store).set_index("request_id")
    assert {k: int(v) for k, v in rows["status_code"].items()} == ids
    row = rows.loc[[k for k, v in ids.items() if v == 200][1]]
    assert row.client_request_id == "order-17" and row.endpoint == "churn" and row.route == "default"
    assert row.model_name == "churn" and row.model_version == 1 and row.sampling_fraction == 1.0
    assert json.loads(row.response)["predictions"] in ([0], [1])
    assert str(row.date) == str(row.timestamp.date()) and row.execution_time_ms >= 0


def test_alias_move_under_load_switches_versions_with_no_failed_request(tmp_path):
    store, versions = forest_store(tmp_path)
    config = write_config(tmp_path / "moving.toml", routes=(("champion", "models:/churn@Champion", 100),),
                          poll_interval=0.2)
    statuses: Counter[int] = Counter()
    served_versions: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                answer = http.post("/invocations", content=GOOD, headers={"content-type": "application/json"})
                statuses[answer.status_code] += 1
                served_versions.append(answer.headers.get("x-sparktrack-model-version"))

    with Server(tmp_path, store, "--config", config) as server:
        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        SparkTrackClient(store).set_registered_model_alias("churn", "Champion", versions[1])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not served_versions or served_versions[-1] != str(versions[1])):
            time.sleep(0.1)
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join()
    assert set(statuses) == {200}, statuses
    first_new = served_versions.index(str(versions[1]))
    assert served_versions[0] == str(versions[0])
    # once switched, the old version answers only requests that were already in flight
    assert served_versions[first_new + 8:].count(str(versions[0])) == 0


def test_sigkill_under_load_loses_no_answered_request(tmp_path):
    store, _ = forest_store(tmp_path, versions=1)
    answered: list[str] = []
    server = Server(tmp_path, store, "models:/churn@Champion", env={"SPARKTRACK_FLUSH_INTERVAL": "30"})

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while True:
                try:
                    answer = http.post("/invocations", content=GOOD, headers={"content-type": "application/json"})
                except httpx.TransportError:
                    return
                assert answer.status_code == 200
                answered.append(answer.headers["x-request-id"])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    server.stop(signal.SIGKILL)
    for thread in threads:
        thread.join()
    assert len(answered) > 50
    restarted = Server(tmp_path, store, "models:/churn@Champion")  # its store replays the spool
    restarted.stop()
    logged = set(inference_rows(store)["request_id"])
    assert set(answered) <= logged, f"{len(set(answered) - logged)} answered requests are not in the table"


def test_two_workers_share_the_port_and_metrics_count_both(tmp_path):
    store, _ = forest_store(tmp_path, versions=1)
    with Server(tmp_path, store, "models:/churn@Champion", "--workers", "2") as server:
        with httpx.Client(base_url=server.url) as http:
            for _ in range(60):
                answer = http.post("/invocations", content=GOOD, headers={"content-type": "application/json"},
                                   timeout=30)
                assert answer.status_code == 200
        pids = {line.split()[-1] for line in server.log().splitlines() if "Started server process" in line}
        assert len(pids) == 2, server.log()
        for _ in range(3):  # whichever worker answers /metrics counts both workers' requests
            text = httpx.get(server.url + "/metrics").text
            assert 'sparktrack_serving_requests_total{endpoint="churn",route="default",status="200"} 60.0' in text
    assert len(inference_rows(store)) == 60


def test_sampling_keeps_about_the_configured_share_and_says_so(tmp_path):
    store, _ = forest_store(tmp_path, versions=1)
    config = write_config(tmp_path / "sampled.toml", routes=(("champion", "models:/churn@Champion", 100),),
                          sampling_fraction=0.25)
    with Server(tmp_path, store, "--config", config) as server, httpx.Client(base_url=server.url) as http:
        for _ in range(400):
            assert http.post("/invocations", content=GOOD, headers={"content-type": "application/json"}).status_code == 200
    rows = inference_rows(store)
    assert 60 <= len(rows) <= 140, len(rows)  # 100 expected; the standard deviation is 8.7
    assert set(rows["sampling_fraction"]) == {0.25}


def _slow_or_broken_model():
    """A pyfunc model that raises on negative calls, sleeps on calls above 100, and multiplies by
    the request's ``factor`` param."""
    class SlowOrBroken:
        def predict(self, frame, params=None):
            import time as clock

            if (frame["calls"] < 0).any():
                raise ValueError("calls must not be negative")
            if (frame["calls"] > 100).any():
                clock.sleep(3)
            return frame["calls"] * (params or {}).get("factor", 2.0)

    return SlowOrBroken()


def test_concurrent_requests_scored_as_one_batch_each_get_their_own_answer(served):
    server, store, _ = served
    from sparktrack import models

    model = models.load_model("models:/churn@Challenger", client=SparkTrackClient(store))
    frames = [training_frame(rows=size, seed=size)[0] for size in range(1, 9)]
    expected = [model.predict(frame).tolist() for frame in frames]
    wrong: list[str] = []

    def send(index: int) -> None:
        body = {"dataframe_split": frames[index].to_dict(orient="split")}
        for _ in range(25):
            answer = post(server.url, body, **{"x-sparktrack-route": "challenger"})
            if answer.status_code != 200 or answer.json()["predictions"] != expected[index]:
                wrong.append(f"{index}: {answer.status_code} {answer.text[:200]}")

    run_concurrently(send, [(i,) for i in range(8)])
    assert not wrong, wrong[:5]


def test_a_request_that_breaks_the_model_inside_a_batch_fails_alone(tmp_path):
    store, _ = python_model_store(tmp_path, _slow_or_broken_model(), "broken")
    config = write_config(tmp_path / "broken.toml", name="broken", batching="on",
                          routes=(("only", "models:/broken@Champion", 100),))
    answers: list[tuple[int, int, str]] = []
    with Server(tmp_path, store, "--config", config) as server:
        def send(calls: int) -> None:
            for _ in range(20):
                answer = post(server.url, _records(calls=calls))
                answers.append((calls, answer.status_code, answer.text))

        run_concurrently(send, [(calls,) for calls in (-1, 1, 2, 3, -1, 4)])
    for calls, status, text in answers:
        if calls < 0:
            assert status == 500 and "calls must not be negative" in text
        else:
            assert status == 200 and json.loads(text) == {"predictions": [calls * 2.0]}, (calls, text)


def test_model_errors_timeouts_a_full_queue_and_the_token(tmp_path):
    store, _ = python_model_store(tmp_path, _slow_or_broken_model(), "slow")
    config = write_config(tmp_path / "slow.toml", name="slow", routes=(("only", "models:/slow@Champion", 100),),
                          request_timeout=1.0, max_concurrency=1, max_queue=0)
    env = {"SPARKTRACK_SERVING_TOKEN": "s3cret"}
    with Server(tmp_path, store, "--config", config, env=env) as server:
        auth = {"authorization": "Bearer s3cret"}
        missing = post(server.url, GOOD)
        assert missing.status_code == 401 and missing.json()["error_code"] == "UNAUTHENTICATED"
        assert missing.headers["www-authenticate"] == "Bearer"
        assert post(server.url, GOOD, authorization="Bearer wrong").status_code == 401
        assert httpx.get(server.url + "/metadata").status_code == 401
        ok = post(server.url, GOOD, **auth)
        assert ok.status_code == 200 and ok.json() == {"predictions": [6.0]}
        with_params = post(server.url, {**json.loads(GOOD), "params": {"factor": 10}}, **auth)
        assert with_params.json() == {"predictions": [30]}
        broken = post(server.url, _records(calls=-1), **auth)
        assert broken.status_code == 500 and broken.json()["error_code"] == "INTERNAL_ERROR"
        assert "calls must not be negative" in broken.json()["message"]
        results: dict[str, httpx.Response] = {}

        def slow(name: str) -> None:
            results[name] = post(server.url, _records(calls=500), **auth)

        first = threading.Thread(target=slow, args=("first",))
        first.start()
        time.sleep(0.3)
        second = post(server.url, GOOD, **auth)
        first.join()
        assert second.status_code == 503 and second.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert results["first"].status_code == 504 and results["first"].json()["error_code"] == "DEADLINE_EXCEEDED"
        time.sleep(2.5)  # the timed-out scoring finishes in its thread; the server serves on
        assert post(server.url, GOOD, **auth).status_code == 200


def test_sigterm_drains_the_request_in_flight_commits_its_row_and_the_access_log_is_json(tmp_path):
    store, run_id = python_model_store(tmp_path, _slow_or_broken_model(), "slow")
    server = Server(tmp_path, store, f"runs:/{run_id}/model")
    answers: list[httpx.Response] = []
    slow = threading.Thread(target=lambda: answers.append(post(server.url, _records(calls=500))))
    slow.start()
    time.sleep(0.5)
    server.process.send_signal(signal.SIGTERM)
    slow.join()
    assert server.process.wait(60) in (0, -signal.SIGTERM)
    assert answers[0].status_code == 200 and answers[0].json() == {"predictions": [1000.0]}
    assert answers[0].headers["x-sparktrack-model-version"] == run_id  # a runs:/ URI has no version
    rows = inference_rows(store)
    assert list(rows["request_id"]) == [answers[0].headers["x-request-id"]]
    assert rows["model_version"].isna().all() and rows["execution_time_ms"].iloc[0] >= 2900
    access = [json.loads(line) for line in server.log().splitlines() if line.startswith('{"request_id"')]
    assert access == [{"request_id": answers[0].headers["x-request-id"], "method": "POST", "path": "/invocations",
                       "status": 200, "ms": access[0]["ms"], "route": "default", "model_version": None,
                       "client": access[0]["client"]}]
    assert access[0]["ms"] >= 2900 and access[0]["client"].startswith("127.0.0.1:")


def test_serve_refuses_unknown_models_and_bad_configs_with_exit_2(tmp_path, capsys):
    from sparktrack.cli import main
    from sparktrack.testing import fresh_store

    store = str(tmp_path / "store")
    with fresh_store(root=store):
        assert main(["--store", store, "serve", "models:/nope@Champion"]) == 2
        assert "nope" in capsys.readouterr().err
        assert main(["--store", store, "serve", "runs:/"]) == 2
        assert "run id" in capsys.readouterr().err
        assert main(["--store", store, "serve"]) == 2
        assert "MODEL_URI" in capsys.readouterr().err
        bad = tmp_path / "bad.toml"
        bad.write_text('[endpoint]\nname = "x"\nroutes = []\nworkerz = 2\n')
        assert main(["--store", store, "serve", "--config", str(bad)]) == 2
        assert "workerz" in capsys.readouterr().err


@pytest.mark.parametrize("text, words", [
    ('[endpoint]\nname = "bad name!"\n[[endpoint.routes]]\nname = "a"\nmodel = "m"\n', "Endpoint name"),
    ('[endpoint]\nname = "e"\nroutes = []\n', "no routes"),
    ('[endpoint]\nname = "e"\n[[endpoint.routes]]\nname = "a"\nmodel = "m"\ntraffic = 150\n', "traffic 150"),
    ('[endpoint]\nname = "e"\n[[endpoint.routes]]\nname = "a"\nmodel = "m"\ntraffic = nan\n', "traffic nan"),
    ('[endpoint]\nname = "e"\n[[endpoint.routes]]\nname = "a"\nmodel = "m"\ntraffic = 0\n', "adds up to 0"),
    ('[endpoint]\nname = "e"\nsampling_fraction = 0\n[[endpoint.routes]]\nname = "a"\nmodel = "m"\n',
     "sampling_fraction"),
    ('[endpoint]\nname = "e"\nport = 70000\n[[endpoint.routes]]\nname = "a"\nmodel = "m"\n', "port"),
    ('[endpoint]\nname = "e"\n[[endpoint.routes]]\nname = "a"\nmodel = "m"\n'
     '[[endpoint.routes]]\nname = "a"\nmodel = "n"\n', "same name"),
    ('[serving]\nname = "e"\n', "exactly one table, [endpoint]"),
])
def test_endpoint_config_errors_name_the_key_and_the_fix(tmp_path, text, words):
    from sparktrack.serving import load_config

    path = tmp_path / "endpoint.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as raised:
        load_config(str(path))
    assert words in str(raised.value)


def test_endpoints_lists_configs_and_whether_each_is_serving(served, tmp_path, capsys):
    from sparktrack.cli import main

    server, _, _ = served
    write_config(tmp_path / "up.toml", name="up", port=server.port)
    write_config(tmp_path / "down.toml", name="down", port=1)
    assert main(["endpoints", "--dir", str(tmp_path), "--format", "json"]) == 0
    listed = {row["endpoint"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed["up"]["state"] == "serving" and listed["down"]["state"] == "not running"
    assert "champion=models:/churn@Champion (90)" in listed["up"]["routes"]
