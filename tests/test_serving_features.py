"""Serving a model logged with its training set: a real `sparktrack serve` on loopback looks the
features up in in-memory snapshots of real Delta feature tables (read by delta-rs), follows their
new versions, and gives the predictions `fe.score_batch` gives on Spark."""

from __future__ import annotations

import datetime as dt
import json
import time

import httpx
import pytest

from _serving import Server, feature_model_store
from sparktrack.client import SparkTrackClient
from sparktrack.errors import InvalidValueError
from sparktrack.features import FeatureEngineeringClient

pytestmark = pytest.mark.slow
MODEL = "models:/churn_features/1"
LATER = dt.datetime(2030, 1, 1)  # after every feature row: score_batch takes the latest ones


@pytest.fixture(scope="module")
def served(spark, tmp_path_factory):
    """A store with a tree logged on two feature tables (deletion vectors on), and a server."""
    tmp = tmp_path_factory.mktemp("serving-features")
    store, tables, _ = feature_model_store(spark, tmp)
    config = tmp / "features.toml"
    config.write_text(f'[endpoint]\nname = "features"\nfeature_refresh_interval = 0.2\n'
                      f'[[endpoint.routes]]\nname = "default"\nmodel = "{MODEL}"\n')
    with Server(tmp, store, "--config", str(config), env={"SPARKTRACK_FLUSH_INTERVAL": "0.5"}) as server:
        yield server, store, tables


@pytest.fixture
def fe(spark, served):
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return FeatureEngineeringClient(client=SparkTrackClient(served[1], spark))


def post(server, records):
    return httpx.post(server.url + "/invocations", json={"dataframe_records": records}, timeout=30)


def batch_scored(spark, fe, rows) -> list[float]:
    """What score_batch gives for distinct (customer_id, tenure[, spend]) rows, in their order,
    scored after every feature row."""
    schema = "customer_id long, event_time timestamp, tenure double" + (", spend double" if len(rows[0]) > 2 else "")
    df = spark.createDataFrame([(r[0], LATER, *r[1:]) for r in rows], schema)
    scored = fe.score_batch(model_uri=MODEL, df=df).toPandas()  # in no particular order
    by_row = {(r.customer_id, r.tenure): r.prediction for r in scored.itertuples()}
    return [by_row[r[0], r[1]] for r in rows]


def test_a_request_with_keys_and_training_columns_gets_score_batchs_prediction(served, spark, fe):
    server, store, (activity, profile) = served
    # 1-4 have both tables; 5's latest spend is a stored null (it stays null); 6 has no profile
    # (its default age); 8 has no activity (nulls, as in training)
    rows = [(c, float(t)) for c, t in [(1, 3), (2, 9), (4, 0), (5, 7), (6, 2), (8, 11), (2, 1)]]
    answer = post(server, [{"customer_id": c, "tenure": t} for c, t in rows])
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pytest.approx(batch_scored(spark, fe, rows))

    metadata = httpx.get(server.url + "/metadata").json()["routes"][0]["feature_spec"]
    assert metadata["keys"] == ["customer_id", "event_time"] and metadata["training_columns"] == ["tenure"]
    assert metadata["snapshot_versions"][profile] == 1 and metadata["snapshot_versions"][activity] >= 1
    assert [lookup["table_name"] for lookup in metadata["lookups"]] == [activity, profile]

    # The inference table keeps the request as sent, without the looked-up features.
    request_id = answer.headers["x-request-id"]
    logged = _logged_request(store, request_id)
    assert json.loads(logged) == {"dataframe_records": [{"customer_id": c, "tenure": t} for c, t in rows]}


def test_a_feature_sent_in_the_request_is_used_as_sent(served, spark, fe):
    server, _, _ = served
    rows = [(1, 3.0, 500.0), (4, 0.0, 0.0), (8, 11.0, 35.0)]
    answer = post(server, [{"customer_id": c, "tenure": t, "spend": s} for c, t, s in rows])
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pytest.approx(batch_scored(spark, fe, rows))
    looked_up = post(server, [{"customer_id": c, "tenure": t} for c, t, _ in rows]).json()["predictions"]
    assert looked_up != answer.json()["predictions"]


def test_a_write_table_is_served_within_seconds_and_changes_the_prediction(served, spark, fe):
    """A MERGE that updates rows of a table with deletion vectors: the snapshot has the new values."""
    server, _, (activity, _) = served
    request = [{"customer_id": 7, "tenure": 4.0}, {"customer_id": 3, "tenure": 4.0}]
    before = post(server, request).json()["predictions"]
    version = _snapshot_versions(server)[activity]
    # 7's latest row is updated in place (a deletion vector marks the old one), 3 gets a newer row
    fe.write_table(name=activity, df=spark.createDataFrame(
        [(7, dt.datetime(2026, 3, 11), 0.5, 0.0), (3, dt.datetime(2026, 3, 20), 1.0, 0.0)],
        "customer_id long, ts timestamp, spend double, visits double"))
    metrics = spark.sql(f"DESCRIBE HISTORY delta.`{activity}` LIMIT 1").collect()[0].operationMetrics
    assert int(metrics["numTargetDeletionVectorsAdded"]) > 0, metrics

    deadline = time.monotonic() + 15
    while _snapshot_versions(server)[activity] == version:
        assert time.monotonic() < deadline, "the server did not pick the new version up in 15 s"
        time.sleep(0.1)
    assert _snapshot_versions(server)[activity] == version + 1
    after = post(server, request).json()["predictions"]
    assert after == pytest.approx(batch_scored(spark, fe, [(7, 4.0), (3, 4.0)]))
    assert after[0] != before[0] and after[1] != before[1]


def test_missing_keys_are_a_400_unknown_keys_get_the_training_defaults_and_tables_are_checked(served, spark, fe):
    server, _, (_, profile) = served
    answer = post(server, [{"tenure": 1.0}])
    assert answer.status_code == 400
    assert answer.json() == {"error_code": "INVALID_PARAMETER_VALUE", "message": (
        "The input lacks the lookup key columns that model models:/churn_features/1 looks its features "
        "up by: missing ['customer_id']; present ['tenure']. Send each row's keys ['customer_id'] and "
        "the columns it was trained on besides its looked-up features ['tenure']; a looked-up feature "
        "sent as a column is used as sent.")}
    # every feature sent: no key is needed
    full = post(server, [{"tenure": 1.0, "spend": 5.0, "visits": 1.0, "customer_age": 30}])
    assert full.status_code == 200, full.text

    unknown = post(server, [{"customer_id": 12345, "tenure": 2.0}])
    assert unknown.status_code == 200, unknown.text
    assert unknown.json()["predictions"] == pytest.approx(batch_scored(spark, fe, [(12345, 2.0)]))

    # At load: a catalog name, or a table without a feature the model needs, is a clear error.
    from sparktrack.features.online import OnlineLookup
    from sparktrack.features.spec import FeatureSpec

    spec = httpx.get(server.url + "/metadata").json()["routes"][0]["feature_spec"]
    spec["lookups"][1]["table_name"] = "ml.customer_profile"
    with pytest.raises(InvalidValueError, match=r"must be a Delta table path: serving reads feature tables "
                                                r"with delta-rs, without Spark.*got 'ml.customer_profile'"):
        OnlineLookup(FeatureSpec.from_dict(spec), model="model m")
    spec["lookups"][1]["table_name"] = profile
    spec["lookups"][1]["features"][0]["name"] = "birth_year"
    with pytest.raises(InvalidValueError, match=rf"The feature table {profile} must be a table with the "
                                                r"feature column\(s\) \['birth_year'\] that model m was trained with"):
        OnlineLookup(FeatureSpec.from_dict(spec), model="model m")


def _snapshot_versions(server) -> dict[str, int]:
    return httpx.get(server.url + "/metadata").json()["routes"][0]["feature_spec"]["snapshot_versions"]


def _logged_request(store: str, request_id: str, timeout: float = 20) -> str:
    from deltalake import DeltaTable

    table = f"{store}/tables/inference_log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if DeltaTable.is_deltatable(table):  # not before the first commit
            rows = DeltaTable(table).to_pandas()
            found = rows[rows.request_id == request_id]
            if len(found):
                return found.iloc[0]["request"]
        time.sleep(0.2)
    raise AssertionError(f"request {request_id} was not committed to the inference log in {timeout} s")
