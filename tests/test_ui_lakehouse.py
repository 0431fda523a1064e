"""The UI's monitoring and feature-table pages and API: a monitor refreshed and a feature table
written with real local Spark and Delta, then read by a real ``sparktrack ui`` process with no
java on its PATH (delta-rs reads the output and feature tables), over HTTP and in headless
Chromium."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest

from _serving import register_forests, training_frame
from _ui import serve


@pytest.fixture(scope="module")
def lakehouse(spark, tmp_path_factory):
    """A prediction table of 3 days (x shifts on day 2) monitored against a baseline, a feature
    table written twice, and a table batch-scored by a registered forest."""
    from sparktrack import monitoring
    from sparktrack.features import FeatureEngineeringClient
    from sparktrack.testing import fresh_store

    tmp = tmp_path_factory.mktemp("ui-lakehouse")
    store = str(tmp / "store")
    rng = np.random.default_rng(4)
    days = []
    for day in range(3):
        days.append(pd.DataFrame({"ts": pd.Timestamp("2026-03-01", tz="UTC") + pd.Timedelta(days=day)
                                  + pd.to_timedelta(rng.integers(0, 86_399, 400), unit="s"),
                                  "x": rng.normal(1.5 if day == 2 else 0.0, 1.0, 400),
                                  "c": rng.choice(["a", "b"], 400), "prediction": rng.integers(0, 2, 400)}))
    table, baseline, features = str(tmp / "preds"), str(tmp / "train"), str(tmp / "customer_features")
    spark.createDataFrame(pd.concat(days, ignore_index=True)).write.format("delta").save(table)
    spark.createDataFrame(pd.DataFrame({"x": rng.normal(0.0, 1.0, 800), "c": rng.choice(["a", "b"], 800)})) \
        .write.format("delta").save(baseline)
    with fresh_store(spark, root=store) as client:
        monitoring.MonitoringClient(client).create_monitor(table, timestamp_col="ts", baseline=baseline,
                                                           columns=["x", "c"])
        monitoring.MonitoringClient(client).refresh_monitor(table)
        fe = FeatureEngineeringClient(client=client)
        frame = spark.createDataFrame([(1, 10.0, "gold"), (2, 20.0, "silver")], "customer_id int, spend double, tier string")
        fe.create_table(name=features, primary_keys=["customer_id"], df=frame, description="spend per customer")
        fe.write_table(name=features, df=spark.createDataFrame([(3, 5.0, "gold")], frame.schema))
        from sparktrack.scoring import batch_score

        register_forests(client, versions=1)
        customers, scored = str(tmp / "customers"), str(tmp / "scored")
        spark.createDataFrame(training_frame(rows=50)[0]).write.format("delta").save(customers)
        result = batch_score("models:/churn@Champion", customers, scored, store=store, spark=spark)
    drift = spark.read.format("delta").load(table + "_drift_metrics").where("slice_key IS NULL").toPandas()
    with serve(tmp, store) as server:
        yield server, table, features, drift, scored, result


def test_the_monitors_api_lists_the_monitor_and_its_drift_over_time_as_spark_wrote_it(lakehouse):
    server, table, _, drift, _, _ = lakehouse
    (monitor,) = httpx.get(server.url + "/api/monitors").json()["monitors"]
    assert (monitor["table"], monitor["baseline"], sorted(monitor["columns"])) == (table, table.replace("preds", "train"), ["c", "x"])
    assert monitor["last_refreshed_version"] == 0 and monitor["drift_table"] == table + "_drift_metrics"
    rows = httpx.get(server.url + "/api/monitors/drift", params={"table": table}).json()["rows"]
    assert len(rows) == len(drift)
    baseline_x = {r["window_start"][:10]: r["population_stability_index"] for r in rows
                  if r["drift_type"] == "BASELINE" and r["column_name"] == "x"}
    expected = drift[(drift.drift_type == "BASELINE") & (drift.column_name == "x")]
    assert baseline_x == {str(w["start"])[:10]: psi for w, psi in zip(expected.window, expected.population_stability_index)}
    assert baseline_x["2026-03-03"] > 0.2 > baseline_x["2026-03-01"]  # the shift of day 2
    assert all(r["js_distance"] is not None for r in rows if r["column_name"] == "c")


def test_the_feature_table_api_has_its_schema_versions_and_no_models_yet(lakehouse):
    server, _, features, _, _, _ = lakehouse
    (listed,) = httpx.get(server.url + "/api/feature-tables").json()["feature_tables"]
    assert listed["name"] == features and listed["primary_keys"] == ["customer_id"]
    detail = httpx.get(server.url + "/api/feature-tables/detail", params={"name": features}).json()
    assert detail["feature_table"]["features"] == [{"name": "spend", "type": "double"}, {"name": "tier", "type": "string"}]
    versions = [v["version"] for v in detail["versions"]]
    assert versions == sorted(versions, reverse=True) and versions[-1] == 0 and len(versions) >= 2
    assert versions[0] == detail["feature_table"]["delta_version"] and detail["versions"][0]["operation"] == "MERGE"
    assert detail["trained_models"] == []


@pytest.mark.parametrize("path, params, status, message", [
    ("/api/monitors/drift", {}, 400, "table is required"),
    ("/api/monitors/drift", {"table": "/no/such/table"}, 404, "No monitor on '/no/such/table'"),
    ("/api/feature-tables/detail", {"name": "/no/such/features"}, 404, "No feature table '/no/such/features'"),
    ("/api/feature-tables", {"filter": "name LIKE"}, 400, "at position"),
    ("/api/lineage/predictions", {"table": "/no/such/predictions"}, 404, "No table '/no/such/predictions'"),
    ("/api/lineage/predictions", {}, 400, "table is required"),
])
def test_bad_monitoring_and_feature_requests_get_json_errors(lakehouse, path, params, status, message):
    server = lakehouse[0]
    answer = httpx.get(server.url + path, params=params)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["message"]


def test_the_monitor_and_feature_table_pages_draw_in_headless_chromium(lakehouse, browser):
    from selenium.webdriver.common.by import By

    from test_ui_pages import _open, _wait

    server, table, features, _, scored, result = lakehouse
    assert table in _open(browser, server.url + "/monitors", "monitors")
    _open(browser, f"{server.url}/monitors/view?table={table}", "monitor")
    _wait(browser, "return document.querySelector(\".chart[data-metric='population_stability_index']\") !== null")
    traces = browser.execute_script(
        "return document.querySelector(\".chart[data-metric='population_stability_index']\").data.map(t => t.name)")
    assert sorted(traces) == ["c", "x"]
    assert features in _open(browser, server.url + "/feature-tables", "feature_tables")
    text = _open(browser, f"{server.url}/feature-tables/view?name={features}", "feature_table")
    assert "spend per customer" in text and "MERGE" in browser.find_element(By.ID, "versions").text
    assert browser.find_element(By.ID, "features").text.split("\n")[1:] == ["spend double", "tier string"]
    _open(browser, f"{server.url}/lineage/predictions?table={scored}", "prediction_lineage")
    browser.find_element(By.LINK_TEXT, "churn v1").click()
    _wait(browser, "return document.body.dataset.ready === 'true' && document.getElementById('lineage') !== null")
    assert result.model_run_id in browser.find_element(By.ID, "lineage").text or \
        browser.find_element(By.CSS_SELECTOR, "#lineage a").get_attribute("href").endswith(result.model_run_id)


def test_a_prediction_tables_batches_lead_to_the_model_version_and_run_that_scored_them(lakehouse):
    server, table, _, _, scored, result = lakehouse
    (batch,) = httpx.get(server.url + "/api/lineage/predictions", params={"table": scored}).json()["batches"]
    assert (batch["batch_id"], batch["rows"], batch["model_name"], batch["model_version"], batch["model_run_id"]) == (
        result.batch_id, 50, "churn", 1, result.model_run_id)
    assert batch["first_scored_at"] <= batch["last_scored_at"]
    assert (batch["input"], batch["input_version"], batch["feature_table_versions"]) == (result.input, 0, {})
    wrong = httpx.get(server.url + "/api/lineage/predictions", params={"table": table})
    assert wrong.status_code == 400 and "it lacks ['model_name'" in wrong.json()["message"]
