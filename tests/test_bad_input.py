"""Bad input gets a clear error naming what was received, and the store is left unchanged."""

from __future__ import annotations

import math

import pytest

import sparktrack
from sparktrack import Metric, Param, RunTag
from sparktrack.errors import (
    ConfigError,
    InvalidNameError,
    InvalidValueError,
    LimitExceededError,
    SparkTrackError,
)
from sparktrack.tracking import validation

LONG_KEY = "k" * 251

CASES = [
    # (description, call(client, run_id), error type, message fragment)
    ("metric key too long", lambda c, r: c.log_metric(r, LONG_KEY, 1.0), LimitExceededError,
     "Metric key is 251 characters long (starts 'kkkk"),
    ("param key too long", lambda c, r: c.log_param(r, LONG_KEY, 1), LimitExceededError, "limit is 250"),
    ("tag key too long", lambda c, r: c.set_tag(r, LONG_KEY, 1), LimitExceededError, "limit is 250"),
    ("param value too long", lambda c, r: c.log_param(r, "p", "v" * 6001), LimitExceededError,
     "Param 'p' value is 6001 characters long"),
    ("tag value too long", lambda c, r: c.set_tag(r, "t", "v" * 5001), LimitExceededError,
     "Tag 't' value is 5001 characters long (starts 'vvvv"),
    ("key with bad characters", lambda c, r: c.log_metric(r, "acc;drop", 1.0), InvalidNameError,
     "Invalid metric key 'acc;drop': names may contain only"),
    ("key with ..", lambda c, r: c.log_param(r, "a/../b", 1), InvalidNameError, "'..'"),
    ("absolute key", lambda c, r: c.set_tag(r, "/etc", 1), InvalidNameError, "start with '/'"),
    ("empty key", lambda c, r: c.log_metric(r, "", 1.0), InvalidNameError, "Invalid metric key ''"),
    ("non-string key", lambda c, r: c.log_metric(r, 42, 1.0), InvalidNameError, "must be a string, not int"),
    ("string metric value", lambda c, r: c.log_metric(r, "m", "0.5"), InvalidValueError,
     "Metric 'm' value must be a number"),
    ("None metric value", lambda c, r: c.log_metric(r, "m", None), InvalidValueError, "got None"),
    ("float step", lambda c, r: c.log_metric(r, "m", 1.0, step=1.5), InvalidValueError,
     "Metric step must be an integer; got 1.5"),
    ("negative timestamp", lambda c, r: c.log_metric(r, "m", 1.0, timestamp=-1), InvalidValueError,
     "epoch milliseconds"),
    ("bad batch item", lambda c, r: c.log_batch(r, metrics=[Metric(key="ok", value=1.0, timestamp=1),
                                                             Metric(key="bad", value="x", timestamp=1)]),
     InvalidValueError, "Metric 'bad' value"),
    ("bad batch param", lambda c, r: c.log_batch(r, params=[Param(key="ok", value=1),
                                                             Param(key="bad!", value=2)]),
     InvalidNameError, "'bad!'"),
    ("bad batch tag", lambda c, r: c.log_batch(r, tags=[RunTag(key="t", value="x" * 5001)]),
     LimitExceededError, "limit is 5000"),
    ("unknown run id", lambda c, r: c.log_metric("0123abcd", "m", 1.0), SparkTrackError,
     "No run with id '0123abcd'"),
    ("run id with quotes", lambda c, r: c.get_run("x' OR '1'='1"), InvalidNameError, "Invalid run id"),
    ("run name too long", lambda c, r: c.create_run("0", run_name="n" * 251), LimitExceededError,
     "Run name is 251 characters long"),
    ("empty experiment name", lambda c, r: c.create_experiment("  "), InvalidNameError,
     "Invalid experiment name '  '"),
    ("experiment name not a str", lambda c, r: c.create_experiment(None), InvalidNameError, "non-empty string"),
    ("unknown experiment", lambda c, r: c.create_run("deadbeef"), SparkTrackError,
     "No experiment with id 'deadbeef'"),
    ("bad status", lambda c, r: c.set_terminated(r, "DONE"), InvalidValueError,
     "Run status must be one of RUNNING"),
    ("bad view type", lambda c, r: c.search_runs(["0"], run_view_type="SOME"), InvalidValueError,
     "ACTIVE_ONLY, DELETED_ONLY or ALL"),
    ("bad max_results", lambda c, r: c.search_runs(["0"], max_results=0), InvalidValueError,
     "max_results must be an integer from 1"),
    ("bad output format", lambda c, r: c.search_runs(["0"], output_format="json"), InvalidValueError,
     "one of 'list', 'pandas', 'spark'"),
    ("filter injection", lambda c, r: c.search_runs(["0"], "params.x = 'a'; DROP TABLE runs"),
     SparkTrackError, "position"),
    ("filter with OR", lambda c, r: c.search_runs(["0"], "metrics.a > 1 OR metrics.b > 1"),
     SparkTrackError, "OR is not supported"),
    ("order_by garbage", lambda c, r: c.search_runs(["0"], order_by=["metrics.a SIDEWAYS"]),
     SparkTrackError, "SIDEWAYS"),
    ("artifact path traversal", lambda c, r: c.log_text(r, "x", "../../etc/passwd"), InvalidNameError,
     "without '..'"),
    ("missing local artifact", lambda c, r: c.log_artifact(r, "/no/such/file"), SparkTrackError,
     "No artifact or local file at '/no/such/file'"),
    ("log_text of bytes", lambda c, r: c.log_text(r, b"x", "a.txt"), InvalidValueError, "must be a str"),
]


@pytest.fixture
def run_id(client):
    run = client.create_run("0", run_name="target")
    client.log_param(run.info.run_id, "kept", "yes")
    client.flush()
    return run.info.run_id


def _snapshot(client):
    client.flush()
    names = ("runs", "metrics", "params", "tags", "experiments")
    return {n: client.spark.sql(f"SELECT count(*) AS n FROM {client.database}.{n}").first()["n"] for n in names}


def test_bad_inputs_raise_documented_errors_and_change_nothing(client, run_id):
    before = _snapshot(client)
    for description, call, error, fragment in CASES:
        with pytest.raises(error) as caught:
            call(client, run_id)
        assert fragment in str(caught.value), f"{description}: {caught.value}"
    assert _snapshot(client) == before


def test_nan_and_infinities_are_stored_faithfully(client, run_id):
    for key, value in [("nan", math.nan), ("pinf", math.inf), ("ninf", -math.inf)]:
        client.log_metric(run_id, key, value)
    client.flush()  # spark.sql sees what is committed
    rows = {r.key: r.value for r in client.spark.sql(
        f"SELECT key, value FROM sparktrack.metrics WHERE run_id = '{run_id}'").collect()}
    assert math.isnan(rows["nan"]) and rows["pinf"] == math.inf and rows["ninf"] == -math.inf


@pytest.mark.parametrize("key", ["a" * 250, "val/loss", "epoch:1", "a b", "x-y_z.w"])
def test_keys_mlflow_accepts_are_accepted(key):
    assert validation.validate_key(key, "metric") == key


def test_unknown_config_key_is_an_error(tmp_path, monkeypatch):
    from sparktrack import settings

    conf = tmp_path / "sparktrack.toml"
    conf.write_text('[sparktrack]\nstore = "/tmp/x"\nstroe = "/tmp/y"\n')
    monkeypatch.setenv("SPARKTRACK_CONF", str(conf))
    settings._read_config.cache_clear()
    with pytest.raises(ConfigError, match=r"Unknown key\(s\) \['stroe'\]"):
        settings.STORE.get()
    conf.write_text('[sparktrack]\nflush_interval = -1\n')
    settings._read_config.cache_clear()
    with pytest.raises(ConfigError, match="must be a number greater than 0"):
        settings.FLUSH_INTERVAL.get()
    conf.write_text('[sparktrack]\nstore = "/data/store"\n[sparktrack.spark]\n"spark.executor.memory" = "2g"\n')
    settings._read_config.cache_clear()
    assert settings.STORE.get() == "/data/store"
    assert settings.SPARK_CONF.get() == {"spark.executor.memory": "2g"}
    monkeypatch.setenv("SPARKTRACK_STORE", "/env/wins")
    assert settings.STORE.get() == "/env/wins"
    assert settings.STORE.get("/argument/wins") == "/argument/wins"
    settings._read_config.cache_clear()
