"""The monitor's HTML report: written from real refreshes (local Spark and Delta, one session,
small tables), offline (no http(s) script, link or request), rendered in headless Chromium
(Debian's chromium and chromedriver, which tests/install-chromium.sh installs) with every chart
drawn and no JavaScript error; the baseline rows of the profile table (log_type = 'BASELINE')
drawn against the latest window; and the bad-input cases.

The screenshot of the rendered report is kept as a test artifact, tests/artifacts/monitor_report.png
(under the repository, ignored by git)."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sparktrack.errors import InvalidValueError
from sparktrack.monitoring import MonitoringClient, MonitorNotFoundError
from sparktrack.monitoring.report import MonitorNotRefreshedError, write_report

START = pd.Timestamp("2026-03-01", tz="UTC")
ARTIFACTS = pathlib.Path(__file__).parent / "artifacts"
SCREENSHOT = ARTIFACTS / "monitor_report.png"
CHARTS = ".js-plotly-plot"
#: What a rendered chart has: plotly's SVG with at least one trace drawn in it.
DRAWN = ".main-svg .scatterlayer .trace, .main-svg .barlayer .trace"


def _predictions(rng: np.random.Generator, days: int, per_day: int, shifted_from: int | None = None) -> pd.DataFrame:
    """Two model versions; from day ``shifted_from`` on, x, c and so the predictions shift."""
    frames = []
    for day in range(days):
        shifted = shifted_from is not None and day >= shifted_from
        x = rng.normal(0.8 if shifted else 0.0, 1.0, per_day)
        c = rng.choice(["a", "b", "c"], per_day, p=[0.6, 0.3, 0.1] if shifted else [0.3, 0.4, 0.3])
        label = (x + rng.normal(0, 1, per_day) > 0.3).astype(int)
        frames.append(pd.DataFrame({
            "ts": START + pd.Timedelta(days=day) + pd.to_timedelta(rng.integers(0, 86_399, per_day), unit="s"),
            "x": x, "c": c, "model_version": rng.choice([1, 2], per_day), "label": label,
            "prediction": (x > 0.3).astype(int)}))
    return pd.concat(frames, ignore_index=True)


def _write(spark, frame: pd.DataFrame, path: str) -> None:
    spark.createDataFrame(frame).write.format("delta").mode("overwrite").save(path)


@pytest.fixture(scope="module")
def monitored(spark, tmp_path_factory):
    """A classification monitor with a baseline and a slice, and a regression one with neither
    label chart nor baseline, each refreshed once (for the module: the tests only read them)."""
    from sparktrack.testing import fresh_store

    tmp = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(15)
    with fresh_store(spark) as client:
        monitors = MonitoringClient(client)
        table, baseline = str(tmp / "preds"), str(tmp / "train")
        _write(spark, _predictions(rng, 3, 300, shifted_from=2), table)
        _write(spark, _predictions(rng, 1, 500).drop(columns=["ts", "model_version"]), baseline)
        monitors.create_monitor(table, timestamp_col="ts", label_col="label", baseline=baseline,
                                slicing_exprs=["c"], columns=["x", "c", "prediction"])
        monitors.refresh_monitor(table)
        sales = str(tmp / "sales")
        _write(spark, _predictions(rng, 2, 100)[["ts", "x", "c"]], sales)
        monitors.create_monitor(sales, profile_type="timeseries", timestamp_col="ts", prediction_col=None,
                                columns=["x", "c"])
        monitors.refresh_monitor(sales)
        yield monitors.get_monitor(table), monitors.get_monitor(sales), tmp


def _render(driver, page: pathlib.Path, charts: int) -> dict:
    """Open ``page``, wait for its ``charts`` charts, and return what the page drew and logged."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser"), driver.get_log("performance")  # forget the previous page's
    driver.get(page.as_uri())
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        f"return document.querySelectorAll('{CHARTS}').length") >= charts)
    drawn = driver.execute_script(f"""
        return Array.from(document.querySelectorAll('{CHARTS}')).map(chart => ({{
            id: chart.id, svg: chart.querySelectorAll('.main-svg').length,
            traces: chart.querySelectorAll('{DRAWN}').length,
            title: (chart.querySelector('.gtitle') || {{}}).textContent || ''}}));""")
    requests = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    return {"charts": drawn, "text": driver.find_element(By.TAG_NAME, "body").text,
            "errors": [e for e in driver.get_log("browser") if e["level"] == "SEVERE"],
            "urls": [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]}


def _offline(page: pathlib.Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", text, re.I)
    assert not re.search(r"@import|url\(\s*[\"']?(https?:)?//", text.split("<script", 1)[0], re.I)  # the CSS
    assert text.count("<script") == text.count('class="plotly-graph-div"') + 1  # plotly.js once, one per chart
    assert text.count("plotly.js v") == 1


def test_the_report_renders_offline_in_headless_chromium_with_every_chart(spark, monitored, browser):
    from pyspark.sql import functions as F

    monitor, _, tmp = monitored
    page = write_report(spark, monitor, tmp / "out" / "preds.html")
    assert page == tmp / "out" / "preds.html" and page.is_file()
    _offline(page)
    columns = list(monitor.config.column_kinds)
    rendered = _render(browser, page, 2 * len(columns) + 1)
    ids = [c["id"] for c in rendered["charts"]]
    assert ids == [*(f"drift-{i}" for i in range(3)), "quality", *(f"distribution-{i}" for i in range(3))]
    for chart in rendered["charts"]:
        assert chart["svg"] >= 1 and chart["traces"] >= 1, chart
    by_id = {c["id"]: c for c in rendered["charts"]}
    for i, name in enumerate(columns):
        assert by_id[f"drift-{i}"]["title"].startswith(f"{name}: ") and "against the baseline" in (
            by_id[f"drift-{i}"]["title"])
        assert by_id[f"drift-{i}"]["traces"] == 2  # one per model version, the slices left out
    assert by_id["quality"]["traces"] == 2 * 2  # accuracy and f1_macro, per model version
    text = rendered["text"]
    assert monitor.config.table_name in text and f"Delta version at the last refresh\n{monitor.table_version}" in text
    drifting = ", ".join(monitor.config.column_kinds)  # x, c and the predictions shifted on the last day
    assert f"Drifting in the latest window (2026-03-03 UTC) against the baseline: {drifting}." in text
    assert "The latest window (2026-03-03 UTC) against the baseline." in text
    latest = spark.read.format("delta").load(monitor.drift_table).where(
        "drift_type = 'BASELINE' AND slice_key IS NULL AND window.start = '2026-03-03'")
    js = latest.where("column_name = 'c'").agg(F.max("js_distance")).first()[0]
    html = page.read_text(encoding="utf-8")  # the most drifting model version's statistic, of the column's kind
    assert f'<td>c</td><td>JS distance</td><td class="num">{js:.3f}</td>' in html
    psi = latest.where("column_name = 'x'").agg(F.max("population_stability_index")).first()[0]
    assert f'<td>x</td><td>PSI</td><td class="num">{psi:.3f}</td>' in html
    for i, name in enumerate(columns):
        assert by_id[f"distribution-{i}"]["title"].startswith(f"{name}: baseline against the latest window (2026-03-03")
    assert rendered["errors"] == []
    assert rendered["urls"] and all(u.startswith(("file:", "data:", "blob:", "about:")) for u in rendered["urls"])
    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, height + 20)
    browser.save_screenshot(str(SCREENSHOT))
    browser.set_window_size(1400, 1000)
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_monitor_without_label_or_baseline_says_so_and_compares_consecutive_windows(spark, monitored, browser):
    _, monitor, tmp = monitored
    page = write_report(spark, monitor, tmp / "sales.html")
    _offline(page)
    rendered = _render(browser, page, 2 * 2)
    assert [c["id"] for c in rendered["charts"]] == ["drift-0", "drift-1", "distribution-0", "distribution-1"]
    assert all(c["traces"] >= 1 for c in rendered["charts"])
    assert all("against the previous window" in c["title"] for c in rendered["charts"][:2])
    assert all("latest window against the previous one (no baseline)" in c["title"]
               for c in rendered["charts"][2:])
    text = rendered["text"]
    assert "No quality chart: the monitor has no label column" in text
    assert "each window is compared with the previous one (CONSECUTIVE)" in text
    assert "against the previous window" in text.split("Drift over time")[0]
    assert ("The monitor has no baseline: the latest window (2026-03-02 UTC) against the previous one "
            "(2026-03-01 UTC).") in text
    assert rendered["errors"] == []


def test_a_profile_table_from_before_baseline_rows_compares_the_latest_window_with_the_previous(spark, monitored):
    """Output tables written before the profile table had log_type (and the baseline's rows):
    the distributions compare the latest window with the previous one, and say so."""
    monitor, _, tmp = monitored
    profile = spark.read.format("delta").load(monitor.profile_table)
    if "log_type" in profile.columns:
        profile = profile.where("log_type <> 'BASELINE'").drop("log_type")
    old = str(tmp / "old_profile_metrics")
    profile.drop("model_name").write.format("delta").save(old)
    monitor = replace(monitor, config=replace(monitor.config, profile_table=old))
    text = write_report(spark, monitor, tmp / "old.html").read_text(encoding="utf-8")
    for name in monitor.config.column_kinds:
        assert f"{name}: latest window against the previous one (no baseline rows)" in text
    assert ("The profile table has no baseline rows: the latest window (2026-03-03 UTC) against the previous one "
            "(2026-03-02 UTC).") in text
    assert '"name":"previous window, model version 1"' in text and '"name":"baseline' not in text


# -- bad input ---------------------------------------------------------------------------------------

def test_a_report_on_an_unknown_or_never_refreshed_monitor_is_a_clear_error(spark_client, tmp_path):
    monitors = MonitoringClient(spark_client)
    with pytest.raises(MonitorNotFoundError, match=r"No monitor on '/no/such/table'. Create one with create_monitor"):
        monitors.get_monitor("/no/such/table")
    table = str(tmp_path / "fresh")
    _write(spark_client.spark, _predictions(np.random.default_rng(1), 1, 20), table)
    monitor = monitors.create_monitor(table, timestamp_col="ts", columns=["x"])
    with pytest.raises(MonitorNotRefreshedError) as raised:
        write_report(spark_client.spark, monitor, tmp_path / "never.html")
    assert str(raised.value) == (f"The monitor on {table!r} has nothing to report: it has never been refreshed. "
                                 f"Run refresh_monitor({table!r}) to write its output tables first.")
    monitors.refresh_monitor(table)
    shutil.rmtree(f"{table}_drift_metrics")  # dropped by hand after a refresh
    with pytest.raises(MonitorNotRefreshedError) as raised:
        write_report(spark_client.spark, monitors.get_monitor(table), tmp_path / "dropped.html")
    assert str(raised.value) == (
        f"The monitor on {table!r} has nothing to report: {table}_drift_metrics is missing (dropped since the last "
        f"refresh, or the table had no rows at version 0). Run refresh_monitor({table!r}) to write its output "
        f"tables first.")
    with pytest.raises(InvalidValueError, match="write_report path must be a file path such as report.html"):
        write_report(spark_client.spark, monitors.get_monitor(table), tmp_path)
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob(".*partial"))
