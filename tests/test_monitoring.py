"""Monitoring: the drift statistics against scipy (and PSI, TV and L∞ by hand in numpy), the
profile and quality metrics against numpy and sklearn, incremental and idempotent refreshes, and
the bad-input cases. Real local Spark and Delta, one session, a few small tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality
from scipy import stats as st
from scipy.spatial.distance import jensenshannon

from sparktrack import monitoring
from sparktrack.errors import AlreadyExistsError, InvalidValueError, TableNotFoundError
from sparktrack.monitoring import profile
from sparktrack.monitoring import statistics as S
from sparktrack.store import layout

DAY_US = 86_400 * 1_000_000
START = pd.Timestamp("2026-03-01", tz="UTC")


# -- the statistics on their own ---------------------------------------------------------------

def _binned(edges: np.ndarray, values: np.ndarray) -> S.Binned:
    index = np.searchsorted(edges, values, side="right") - 1
    return S.Binned(edges, np.bincount(index, minlength=len(edges) - 1)[: len(edges) - 1])


def _edges(*samples: np.ndarray) -> np.ndarray:
    """As profile.pooled_edges builds them, from numpy's quantiles."""
    pool = np.concatenate(samples)
    values = np.unique(np.concatenate([[pool.min()], np.quantile(pool, np.linspace(0, 1, profile.DRIFT_BINS + 1)),
                                       [pool.max()]]))
    return np.unique(np.concatenate([values, np.nextafter(values, np.inf)]))


@pytest.mark.parametrize("shift", [0.0, 0.4])
def test_numeric_statistics_match_scipy_within_their_bounds_and_psi_matches_numpy(shift):
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 1, 4000), rng.normal(shift, 1, 3000)
    edges = _edges(a, b)
    left, right = _binned(edges, a), _binned(edges, b)
    (ks, bound) = S.ks_test(left, right)
    reference = st.ks_2samp(a, b)
    assert ks.statistic - 1e-12 <= reference.statistic <= ks.statistic + bound + 1e-12
    assert bound <= 2.5 / profile.DRIFT_BINS  # about one pooled bin's mass
    en = len(a) * len(b) / (len(a) + len(b))
    assert ks.pvalue == pytest.approx(st.kstwobign.sf(math.sqrt(en) * ks.statistic), rel=1e-9, abs=1e-300)
    assert (ks.pvalue < 1e-6) == (shift > 0) and (reference.pvalue < 1e-6) == (shift > 0)
    wasserstein = S.wasserstein_distance(left, right)
    assert abs(wasserstein.value - st.wasserstein_distance(a, b)) <= wasserstein.bound + 1e-12
    coarse = S.psi_edges(edges)  # by hand: proportions on the pooled deciles, floored, then the sum
    p = np.histogram(a, coarse)[0] / len(a)
    q = np.histogram(b, coarse)[0] / len(b)
    p, q = np.maximum(p, S.PSI_FLOOR), np.maximum(q, S.PSI_FLOOR)
    assert S.population_stability_index(left, right) == pytest.approx(float(((q - p) * np.log(q / p)).sum()),
                                                                       rel=1e-12, abs=1e-15)
    assert (S.population_stability_index(left, right) > 0.1) == (shift > 0)


def test_a_discrete_column_has_an_exact_ks_statistic():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 5, 2000).astype(float), rng.integers(0, 6, 1500).astype(float)
    ks, bound = S.ks_test(_binned(_edges(a, b), a), _binned(_edges(a, b), b))
    assert bound == 0 and ks.statistic == pytest.approx(st.ks_2samp(a, b).statistic, abs=1e-12)
    assert S.wasserstein_distance(_binned(_edges(a, b), a), _binned(_edges(a, b), b)).value == pytest.approx(
        st.wasserstein_distance(a, b), abs=1e-9)


@pytest.mark.parametrize("window", [{"a": 300, "b": 500, "c": 200}, {"a": 100, "b": 500, "c": 250, "d": 150}])
def test_categorical_statistics_match_scipy_and_numpy(window):
    baseline = {"a": 310, "b": 480, "c": 210}
    keys = sorted(set(baseline) | set(window))
    p = np.array([baseline.get(k, 0) for k in keys], float)
    q = np.array([window.get(k, 0) for k in keys], float)
    reference = st.chi2_contingency(np.vstack([p, q]), correction=False)
    chi = S.chi_squared_test(baseline, window)
    assert chi.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert chi.pvalue == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)
    p, q = p / p.sum(), q / q.sum()
    assert S.js_distance(baseline, window) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert S.tv_distance(baseline, window) == pytest.approx(0.5 * np.abs(p - q).sum(), abs=1e-15)
    assert S.l_infinity_distance(baseline, window) == pytest.approx(np.abs(p - q).max(), abs=1e-15)
    floored_p, floored_q = np.maximum(p, S.PSI_FLOOR), np.maximum(q, S.PSI_FLOOR)
    assert S.categorical_psi(baseline, window) == pytest.approx(
        float(((floored_q - floored_p) * np.log(floored_q / floored_p)).sum()), rel=1e-12)


def test_the_distributions_match_scipy():
    for x in (0.05, 0.3, 0.8, 1.1799, 1.18, 1.5, 2.5, 4.0):
        assert S.kolmogorov_sf(x) == pytest.approx(st.kstwobign.sf(x), rel=1e-10, abs=1e-300)
    for dof in (1, 2, 3, 7, 40):
        for x in (0.001, 0.5, 2.0, 9.0, 35.0, 150.0):
            assert S.chi2_sf(x, dof) == pytest.approx(st.chi2.sf(x, dof), rel=1e-9, abs=1e-300)


# -- tables ----------------------------------------------------------------------------------------

def _predictions(rng: np.random.Generator, days: range, shifted_from: int, per_day: int = 600) -> pd.DataFrame:
    """Two model versions a day; from day ``shifted_from`` on, x and the category shift."""
    frames = []
    for day in days:
        shifted = day >= shifted_from
        n = per_day
        x = rng.normal(0.8 if shifted else 0.0, 1.0, n)
        c = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1] if shifted else [0.3, 0.4, 0.3])
        label = (x + rng.normal(0, 1, n) > 0.3).astype(int)
        proba = 1 / (1 + np.exp(-(x - 0.3)))
        frames.append(pd.DataFrame({
            "ts": START + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.integers(0, 86_399, n), unit="s"),
            "x": x, "c": c, "model_version": rng.choice([1, 2], n), "label": label,
            "prediction": (proba > 0.5).astype(int), "proba": proba}))
    return pd.concat(frames, ignore_index=True)


def _write(spark, frame: pd.DataFrame, path: str, mode: str = "overwrite") -> None:
    spark.createDataFrame(frame).write.format("delta").mode(mode).save(path)


def _read(spark, path: str) -> pd.DataFrame:
    """An output table, with the day (from START) of each row's window, and of its window_cmp."""
    from pyspark.sql import functions as F

    frame = spark.read.format("delta").load(path)
    start_us = int(START.timestamp() * 1_000_000)
    days = [((F.unix_micros(F.col(f"{c}.start")) - start_us) / DAY_US).cast("int").alias(name)
            for c, name in (("window", "day"), ("window_cmp", "cmp_day")) if c in frame.columns]
    return frame.select("*", *days).toPandas()


def _day(frame: pd.DataFrame, day: int) -> pd.DataFrame:
    lo = START + pd.Timedelta(days=day)
    ts = pd.to_datetime(frame["ts"], utc=True)
    return frame[(ts >= lo) & (ts < lo + pd.Timedelta(days=1))]


@pytest.fixture(scope="module")
def classified(spark, tmp_path_factory):
    """A prediction table of 3 days (day 2 shifted), a baseline like days 0 and 1, refreshed once
    (once for the module: the tests only read it)."""
    from sparktrack.testing import fresh_store

    with fresh_store(spark):
        yield _classified(spark, tmp_path_factory.mktemp("classified"))


def _classified(spark, tmp_path):
    rng = np.random.default_rng(11)
    data = _predictions(rng, range(3), shifted_from=2)
    base = _predictions(rng, range(1), shifted_from=9, per_day=1000)
    table, baseline = str(tmp_path / "preds"), str(tmp_path / "train")
    _write(spark, data, table)
    _write(spark, base.drop(columns=["ts", "model_version", "proba"]), baseline)
    monitoring.create_monitor(table, timestamp_col="ts", label_col="label", probability_col="proba",
                              baseline=baseline, slicing_exprs=["c"], columns=["x", "c", "prediction"],
                              custom_metrics=CUSTOM_METRICS, alerts=["squared_avg(x) > 1.3", "x_square_gap > 0.4"])
    result = monitoring.refresh_monitor(table)
    return spark, table, data, base, result


#: Databricks' three kinds of custom metric, each on a column and on the whole row.
CUSTOM_METRICS = [
    {"type": "aggregate", "name": "squared_avg", "input_columns": ["x"],
     "definition": "avg(`{{input_column}}` * `{{input_column}}`)",
     "output_data_type": '{"name": "output", "type": "double", "nullable": true, "metadata": {}}'},
    {"type": "CUSTOM_METRIC_TYPE_AGGREGATE", "name": "false_positives", "input_columns": [":table"],
     "definition": "sum(CASE WHEN {{prediction_col}} = 1 AND {{label_col}} = 0 THEN 1 ELSE 0 END)",
     "output_data_type": "bigint"},
    {"type": "derived", "name": "rms_deviation", "input_columns": ["x"],
     "definition": "sqrt(squared_avg - avg * avg)"},
    {"type": "derived", "name": "fp_share", "input_columns": [":table"], "definition": "false_positives / count"},
    {"type": "drift", "name": "x_square_gap", "input_columns": ["x"],
     "definition": "{{current_df}}.squared_avg - {{base_df}}.squared_avg"},
    {"type": "drift", "name": "row_ratio", "input_columns": [":table"],
     "definition": "{{current_df}}.count / {{base_df}}.count"},
]


def test_custom_aggregate_derived_and_drift_metrics_are_columns_of_the_output_tables(classified):
    spark, table, data, base, result = classified
    rows = _read(spark, table + "_profile_metrics")
    rows = rows[rows.slice_key.isna()]
    for _, row in rows[rows.log_type == "INPUT"].iterrows():
        mine = _day(data, row.day)
        mine = mine[mine.model_version == int(row.model_version)]
        if row.column_name == "x":
            assert row.squared_avg == pytest.approx((mine.x ** 2).mean())
            assert row.rms_deviation == pytest.approx(mine.x.std(ddof=0))
        else:
            assert pd.isna(row.squared_avg) and pd.isna(row.rms_deviation)
        if row.column_name == ":table":
            positives = int(((mine.prediction == 1) & (mine.label == 0)).sum())
            assert row.false_positives == positives and row.fp_share == pytest.approx(positives / len(mine))
        else:
            assert pd.isna(row.false_positives)
    baseline = rows[rows.log_type == "BASELINE"].set_index("column_name")
    assert baseline.loc["x", "squared_avg"] == pytest.approx((base.x ** 2).mean())
    assert baseline.loc[":table", "false_positives"] == ((base.prediction == 1) & (base.label == 0)).sum()
    drift = _read(spark, table + "_drift_metrics")
    drift = drift[drift.slice_key.isna()]
    for _, row in drift.iterrows():
        mine = _day(data, row.day)
        mine = mine[mine.model_version == int(row.model_version)]
        theirs = base if row.drift_type == "BASELINE" else _day(data, row.day - 1)
        theirs = theirs if row.drift_type == "BASELINE" else theirs[theirs.model_version == int(row.model_version)]
        if row.column_name == "x":
            assert row.x_square_gap == pytest.approx((mine.x ** 2).mean() - (theirs.x ** 2).mean())
        else:
            assert pd.isna(row.x_square_gap)
        if row.column_name == ":table":
            assert row.row_ratio == pytest.approx(len(mine) / len(theirs)) and row.count_delta == len(mine) - len(theirs)
    assert len(drift[drift.column_name == ":table"]) == 2 * (3 + 2)  # 2 models, 3 BASELINE and 2 CONSECUTIVE windows
    fired = {(a["rule"], a["window_start_us"] // DAY_US - int(START.timestamp()) // 86_400) for a in result.triggered}
    assert {day for rule, day in fired if rule == "squared_avg(x) > 1.3"} == {2}  # x's mean moves by 0.8 on day 2
    assert {day for rule, day in fired if rule == "x_square_gap > 0.4"} == {2}


def test_drift_rows_match_scipy_on_windows_with_and_without_a_shift(classified):
    spark, table, data, base, result = classified
    assert len(result.recomputed["1 day"]) == 3
    drift = _read(spark, table + "_drift_metrics")
    whole = drift[drift.slice_key.isna()]
    assert set(whole.drift_type) == {"CONSECUTIVE", "BASELINE"}
    consecutive = whole[(whole.drift_type == "CONSECUTIVE") & (whole.column_name != ":table")]
    assert len(consecutive) == 2 * 2 * 3  # 2 windows with a previous one, 2 models
    for _, row in whole.iterrows():
        day = row.day
        mine = _day(data, day)
        mine = mine[mine.model_version == int(row.model_version)]
        if row.drift_type == "BASELINE":
            theirs = base
        else:
            assert row.cmp_day == day - 1
            theirs = _day(data, day - 1)
            theirs = theirs[theirs.model_version == int(row.model_version)]
        if row.column_name == "c":
            keys = sorted(set(mine.c) | set(theirs.c))
            p = theirs.c.value_counts().reindex(keys, fill_value=0).to_numpy(float)
            q = mine.c.value_counts().reindex(keys, fill_value=0).to_numpy(float)
            reference = st.chi2_contingency(np.vstack([p, q]), correction=False)
            assert row.chi_squared_test["statistic"] == pytest.approx(reference.statistic, rel=1e-9)
            assert row.chi_squared_test["pvalue"] == pytest.approx(reference.pvalue, rel=1e-7, abs=1e-300)
            p, q = p / p.sum(), q / q.sum()
            assert row.js_distance == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
            assert row.tv_distance == pytest.approx(0.5 * np.abs(p - q).sum(), abs=1e-12)
            assert row.l_infinity_distance == pytest.approx(np.abs(p - q).max(), abs=1e-12)
            assert row.ks_test is None and pd.isna(row.wasserstein_distance)
        elif row.column_name == "x":
            reference = st.ks_2samp(theirs.x, mine.x)
            bound = row.bounds["ks_statistic"]
            assert row.ks_test["statistic"] - 1e-12 <= reference.statistic <= row.ks_test["statistic"] + bound + 1e-12
            assert bound < 0.05
            assert abs(row.wasserstein_distance - st.wasserstein_distance(theirs.x, mine.x)) <= (
                row.bounds["wasserstein_distance"] + 1e-12)
            assert row.avg_delta == pytest.approx(mine.x.mean() - theirs.x.mean(), abs=1e-9)
            assert (row.ks_test["pvalue"] < 1e-4) == (day == 2), (row.drift_type, day, row.model_version)
            assert (row.population_stability_index > 0.2) == (day == 2), (row.drift_type, day, row.model_version)
        elif row.column_name == "prediction":
            # a 0/1 column: one-value bins make the statistic exact
            assert row.bounds["ks_statistic"] == 0
            assert row.ks_test["statistic"] == pytest.approx(st.ks_2samp(theirs.prediction, mine.prediction).statistic,
                                                            abs=1e-12)
        assert row.count_delta == len(mine) - len(theirs)


def test_profile_and_quality_rows_match_numpy_and_sklearn(classified):
    from sklearn import metrics

    spark, table, data, base, _ = classified
    rows = _read(spark, table + "_profile_metrics")
    baseline = rows[rows.log_type == "BASELINE"]
    rows = rows[rows.log_type == "INPUT"]
    whole = baseline[baseline.slice_key.isna()].set_index("column_name")
    assert whole.loc[":table", "count"] == len(base) and whole.loc["x", "avg"] == pytest.approx(base.x.mean())
    assert baseline.day.isna().all() and baseline.granularity.isna().all() and baseline.model_version.isna().all()
    first = _day(data, 0)
    first = first[first.model_version == 1]
    mine = rows[rows.slice_key.isna() & (rows.model_version == "1") & (rows.day == 0)]
    x = mine[mine.column_name == "x"].iloc[0]
    assert (x["count"], x.num_nulls) == (len(first), 0)
    assert x.avg == pytest.approx(first.x.mean()) and x.stddev == pytest.approx(first.x.std())
    assert (x["min"], x["max"]) == (first.x.min(), first.x.max())
    assert len(x.quantiles) == 101 and x.quantiles[0] == first.x.min() and x.quantiles[-1] == first.x.max()
    ranks = np.searchsorted(np.sort(first.x), x.quantiles[50], side="right") / len(first)
    assert abs(ranks - 0.5) <= 1 / profile.ACCURACY + 1 / len(first)
    # HyperLogLog++: within 5 relative standard errors (as the 0.05 this was at an rsd of 0.01)
    assert abs(x.distinct_count - first.x.nunique()) <= 5 * profile.DISTINCT_RSD * first.x.nunique()
    c = mine[mine.column_name == "c"].iloc[0]
    counts = first.c.value_counts()
    assert c.distinct_count == len(counts)
    assert [(i["item"], i["count"]) for i in c.frequent_items] == sorted(counts.items(), key=lambda t: (-t[1], t[0]))
    quality = mine[mine.column_name == ":table"].iloc[0]
    assert quality["count"] == len(first)
    y, p = first.label, first.prediction
    assert quality.accuracy == pytest.approx(metrics.accuracy_score(y, p))
    for average in ("macro", "weighted"):
        assert quality[f"precision_{average}"] == pytest.approx(
            metrics.precision_score(y, p, average=average, zero_division=0))
        assert quality[f"recall_{average}"] == pytest.approx(metrics.recall_score(y, p, average=average, zero_division=0))
        assert quality[f"f1_{average}"] == pytest.approx(metrics.f1_score(y, p, average=average, zero_division=0))
    assert quality.roc_auc == pytest.approx(metrics.roc_auc_score(y, first.proba))
    assert quality.log_loss == pytest.approx(metrics.log_loss(y, first.proba))
    assert pd.isna(quality.mse)
    sliced = rows[(rows.slice_key == "c") & (rows.slice_value == "a") & (rows.column_name == ":table")]
    assert sliced["count"].sum() == (data.c == "a").sum()


def test_the_spark_binning_counts_what_numpy_counts(spark):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"g": rng.integers(0, 2, 800), "v": np.round(rng.exponential(2.0, 800), 2)})
    df = spark.createDataFrame(frame)
    edges = profile.pooled_edges([df], ["v"])["v"]
    assert edges[0] == frame.v.min() and edges[-2] == frame.v.max()
    counted = profile.histograms(df, {"v": edges}, ("g",))
    for g in (0, 1):
        expected = np.bincount(np.searchsorted(edges, frame.v[frame.g == g], side="right") - 1,
                               minlength=len(edges) - 1)
        assert counted[(g,)]["v"].tolist() == expected[: len(edges) - 1].tolist()


# -- refreshes -------------------------------------------------------------------------------------

def _regression(rng: np.random.Generator, days: range) -> pd.DataFrame:
    frames = []
    for day in days:
        x = rng.normal(day * 0.1, 1, 60)
        y = 2 * x + rng.normal(0, 0.5, 60) + 5
        frames.append(pd.DataFrame({
            "ts": START + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.integers(0, 86_399, 60), unit="s"),
            "x": x, "y": y, "yhat": 2 * x + 5.1}))
    return pd.concat(frames, ignore_index=True)


def test_a_refresh_recomputes_only_the_windows_that_changed_and_a_rerun_changes_nothing(spark_client, tmp_path):
    from sklearn import metrics

    spark = spark_client.spark
    rng = np.random.default_rng(21)
    table = str(tmp_path / "sales")
    data = _regression(rng, range(3))
    _write(spark, data, table)
    monitoring.create_monitor(table, profile_type="timeseries", timestamp_col="ts", label_col="y",
                              prediction_col="yhat", problem_type="regression", columns=["x"])
    first = monitoring.refresh_monitor(table)
    assert len(first.recomputed["1 day"]) == 3
    profiles, drift = table + "_profile_metrics", table + "_drift_metrics"
    before = _read(spark, profiles)
    q = before[(before.column_name == ":table") & (before.day == 0)].iloc[0]
    day0 = _day(data, 0)
    assert q.mse == pytest.approx(metrics.mean_squared_error(day0.y, day0.yhat))
    assert q.rmse == pytest.approx(math.sqrt(metrics.mean_squared_error(day0.y, day0.yhat)))
    assert q.mae == pytest.approx(metrics.mean_absolute_error(day0.y, day0.yhat))
    assert q.r2 == pytest.approx(metrics.r2_score(day0.y, day0.yhat))
    assert q.mape == pytest.approx(metrics.mean_absolute_percentage_error(day0.y, day0.yhat))
    assert pd.isna(q.accuracy) and q.model_version is None

    new_day = _regression(rng, range(3, 4))
    _write(spark, new_day, table, mode="append")
    second = monitoring.refresh_monitor(table)
    assert second.recomputed["1 day"] == [int((START + pd.Timedelta(days=3)).timestamp() * 1_000_000)]
    after = _read(spark, profiles)
    old_windows = after[after.day < 3]
    assert set(old_windows.computed_at) == set(before.computed_at)  # untouched rows
    assert len(after) == len(before) + 2  # the new day: x and :table
    drift_rows = _read(spark, drift)
    assert len(drift_rows) == 3 and drift_rows.drift_type.unique().tolist() == ["CONSECUTIVE"]

    profile_snapshot = spark.read.format("delta").load(profiles)
    drift_snapshot = spark.read.format("delta").load(drift)
    versions = [_version(spark, profiles), _version(spark, drift)]
    third = monitoring.refresh_monitor(table)
    assert not third.changed
    assert [_version(spark, profiles), _version(spark, drift)] == versions
    assert_df_equality(spark.read.format("delta").load(profiles), profile_snapshot, ignore_row_order=True)
    assert_df_equality(spark.read.format("delta").load(drift), drift_snapshot, ignore_row_order=True)

    # a delete of day 1 drops its rows and recomputes day 2's drift, which now compares with day 0
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, table).delete(f"ts >= '{(START + pd.Timedelta(days=1)).isoformat()}' AND "
                                            f"ts < '{(START + pd.Timedelta(days=2)).isoformat()}'")
    fourth = monitoring.refresh_monitor(table)
    assert fourth.removed["1 day"] == [int((START + pd.Timedelta(days=1)).timestamp() * 1_000_000)]
    drift_rows = _read(spark, drift)
    assert sorted(zip(drift_rows.day, drift_rows.cmp_day)) == [(2, 0), (3, 2)]
    assert monitoring.get_monitor(table).table_version == fourth.table_version

    import shutil  # an output table dropped by hand is computed again whole

    shutil.rmtree(drift)
    assert sorted(monitoring.refresh_monitor(table).recomputed["1 day"]) == sorted(
        int((START + pd.Timedelta(days=d)).timestamp() * 1_000_000) for d in (0, 2, 3))
    assert sorted(zip(*[_read(spark, drift)[c] for c in ("day", "cmp_day")])) == [(2, 0), (3, 2)]


def _version(spark, path: str) -> int:
    return spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").collect()[0].version


def test_an_append_extends_the_fingerprints_and_an_update_or_delete_hashes_the_table_again(spark_client, tmp_path):
    """After an append the refresh reads only the new files and adds their fingerprints to the
    old ones; after an update or a delete it hashes the whole table. Either way the fingerprints
    are a full recomputation's, and the baseline's summary kept in the state is a fresh one's."""
    from delta.tables import DeltaTable

    from sparktrack.monitoring import reuse

    spark = spark_client.spark
    rng = np.random.default_rng(31)
    table, copy, baseline = str(tmp_path / "preds"), str(tmp_path / "copy"), str(tmp_path / "train")
    _write(spark, _predictions(rng, range(2), shifted_from=9, per_day=200), table)
    _write(spark, _predictions(rng, range(1), shifted_from=9, per_day=300).drop(columns=["ts", "model_version",
                                                                                        "proba"]), baseline)
    arguments = dict(timestamp_col="ts", label_col="label", baseline=baseline, slicing_exprs=["c"],
                     columns=["x", "c", "prediction"], granularities=["1 day", "2 days"])
    monitoring.create_monitor(table, **arguments)
    monitoring.refresh_monitor(table)

    def full() -> dict[str, dict[str, str]]:
        config = monitoring.get_monitor(table).config
        frame = spark.read.format("delta").load(table)
        return {g: profile.fingerprints(frame, config, g) for g in config.windowings}

    def day_us(day: int) -> int:
        return int((START + pd.Timedelta(days=day)).timestamp() * 1_000_000)

    before = _version(spark, table)
    _write(spark, _predictions(rng, range(1, 3), shifted_from=9, per_day=50), table, mode="append")  # day 1, new 2
    files = reuse.appended_files(table, before, _version(spark, table), {})
    old_files = set(spark.read.format("delta").option("versionAsOf", before).load(table).inputFiles())
    assert files and not set(files) & old_files
    assert set(files) | old_files == set(spark.read.format("delta").load(table).inputFiles())
    result = monitoring.refresh_monitor(table)
    assert result.recomputed["1 day"] == [day_us(1), day_us(2)]
    state = monitoring.get_monitor(table).state
    assert state["fingerprints"] == full() and "baseline_summary" in state

    spark.read.format("delta").load(table).write.format("delta").save(copy)  # the same rows, refreshed whole
    monitoring.create_monitor(copy, **arguments)
    monitoring.refresh_monitor(copy)
    fresh = monitoring.get_monitor(copy).state
    assert fresh["fingerprints"] == state["fingerprints"]
    assert fresh["baseline_summary"] == state["baseline_summary"]

    deltas = DeltaTable.forPath(spark, table)
    for change in (lambda: deltas.update(f"ts < '{(START + pd.Timedelta(days=1)).isoformat()}'", {"x": "x + 1"}),
                   lambda: deltas.delete(f"ts >= '{(START + pd.Timedelta(days=2)).isoformat()}'")):
        before = _version(spark, table)
        change()
        assert reuse.appended_files(table, before, _version(spark, table), {}) is None
        monitoring.refresh_monitor(table)
        assert monitoring.get_monitor(table).state["fingerprints"] == full()
    assert sorted(full()["1 day"]) == [str(day_us(0)), str(day_us(1))]


def test_monitors_are_rows_in_the_store_and_delete_forgets_one(spark_client, tmp_path):
    spark = spark_client.spark
    table = str(tmp_path / "snap")
    _write(spark, pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}), table)
    monitor = monitoring.create_monitor(table, profile_type="snapshot", model_id_col=None, prediction_col=None)
    assert monitoring.get_monitor(table).config == monitor.config
    with pytest.raises(AlreadyExistsError, match="delete_monitor"):
        monitoring.create_monitor(table, profile_type="snapshot")
    result = monitoring.refresh_monitor(table)
    assert result.recomputed == {"snapshot": [None]}
    rows = _read(spark, table + "_profile_metrics")
    assert sorted(rows.column_name) == [":table", "c", "x"] and rows.granularity.unique().tolist() == ["snapshot"]
    events = spark_client.store.reads.rows(layout.MONITOR_EVENTS).to_pylist()
    assert [e["action"] for e in events] == ["create", "refresh"]
    db = spark_client.database
    listed = spark_client.sql(f"SELECT table_name, profile_type, baseline, drift_table, last_refreshed_version "
                              f"FROM {db}.monitors")
    expected = spark.createDataFrame([(table, "snapshot", None, table + "_drift_metrics", 0)], listed.schema)
    assert_df_equality(listed, expected)
    monitoring.delete_monitor(table)
    with pytest.raises(monitoring.MonitorNotFoundError, match="create_monitor"):
        monitoring.get_monitor(table)
    assert spark_client.sql(f"SELECT * FROM {db}.monitors").count() == 0
    assert spark_client.sql(f"SELECT action FROM {db}.monitor_events").count() == 3


# -- bad input -------------------------------------------------------------------------------------

@pytest.fixture
def small_table(spark_client, tmp_path):
    spark = spark_client.spark
    table = str(tmp_path / "small")
    frame = pd.DataFrame({"ts": [START, START + pd.Timedelta(hours=1)], "x": [1.0, 2.0], "c": ["a", "b"],
                          "model_version": [1, 1], "prediction": [0, 1], "n": ["1", "2"]})
    _write(spark, frame, table)
    other = str(tmp_path / "other_baseline")
    _write(spark, pd.DataFrame({"x": ["not", "numeric"], "z": [1, 2]}), other)
    return spark_client, table, other


def _metric(**changes):
    return {"type": "aggregate", "name": "m", "input_columns": ["x"], "definition": "avg(`{{input_column}}`)",
            **changes}


@pytest.mark.parametrize("arguments, error, message", [
    ({"table": "/no/such/table"}, TableNotFoundError, "No table '/no/such/table'"),
    ({"columns": ["nope"]}, InvalidValueError, "create_monitor columns must be a column of"),
    ({"timestamp_col": "x"}, InvalidValueError, "a timestamp or date column; it is double"),
    ({"timestamp_col": "missing"}, InvalidValueError, "create_monitor timestamp_col must be a column"),
    ({"profile_type": "snapshot", "label_col": "prediction"}, InvalidValueError, "None for a snapshot profile"),
    ({"granularities": ["1 fortnight"]}, InvalidValueError, "a window duration Spark parses"),
    ({"granularities": "1 day"}, InvalidValueError, "a non-empty list of window durations"),
    ({"baseline": "OTHER"}, InvalidValueError, "missing ['c'], of another kind {'x': 'string'}"),
    ({"baseline": "/no/such/baseline"}, TableNotFoundError, "No table '/no/such/baseline'"),
    ({"slicing_exprs": ["no_such_column > 1"]}, InvalidValueError, "a SQL expression over the columns"),
    ({"profile_type": "batch"}, InvalidValueError, "one of ['inference', 'snapshot', 'timeseries']"),
    ({"custom_metrics": [{"name": "x"}]}, InvalidValueError, "a mapping with the keys"),
    ({"custom_metrics": {"name": "m"}}, InvalidValueError, "a list of metrics"),
    ({"custom_metrics": [_metric(type="sum")]}, InvalidValueError, "one of ['aggregate', 'derived', 'drift']"),
    ({"custom_metrics": [_metric(name="no-dash")]}, InvalidValueError, "a SQL identifier"),
    ({"custom_metrics": [_metric(name="avg")]}, InvalidValueError, "a name no other metric or output column has"),
    ({"custom_metrics": [_metric(name="js_distance")]}, InvalidValueError, "a name no other metric"),
    ({"custom_metrics": [_metric(), _metric()]}, InvalidValueError, "a name no other metric"),
    ({"custom_metrics": [_metric(input_columns=["nope"])]}, InvalidValueError, "a monitored column, one of ['x', 'c']"),
    ({"custom_metrics": [_metric(definition="`{{input_column}}` * 2")]}, InvalidValueError,
     "a SQL expression Spark can evaluate here"),
    ({"custom_metrics": [_metric(definition="avg({{label_col}})")]}, InvalidValueError,
     "the templates the monitor fills here (input_column, prediction_col); {{label_col}} has no value"),
    ({"custom_metrics": [_metric(output_data_type="decimal(99,0)")]}, InvalidValueError, "a Spark SQL type"),
    ({"custom_metrics": [_metric(output_data_type="{not json")]}, InvalidValueError, "a DataType's or StructField's"),
    ({"custom_metrics": [_metric(type="derived", definition="sqrt(no_such_metric)")]}, InvalidValueError,
     "a SQL expression Spark can evaluate here"),
    ({"custom_metrics": [_metric(type="drift", definition="{{input_column}} - 1")]}, InvalidValueError,
     "(current_df, base_df); {{input_column}} has no value in a drift metric"),
    ({"custom_metrics": [_metric(type="derived", definition="'text'", output_data_type="string")], "alerts": ["m > 1"]},
     InvalidValueError, "The metric of alert rule 'm > 1' must be one of"),
])
def test_bad_input_is_a_clear_error_and_records_nothing(small_table, arguments, error, message):
    client, table, other = small_table
    arguments = {"table": table, "timestamp_col": "ts", "columns": ["x", "c"], **arguments}
    if arguments.get("baseline") == "OTHER":
        arguments["baseline"] = other
    with pytest.raises(error) as raised:
        monitoring.create_monitor(arguments.pop("table"), **arguments)
    assert message in str(raised.value)
    assert client.store.reads.rows(layout.MONITOR_EVENTS).num_rows == 0


# -- the baseline by lineage -----------------------------------------------------------------------

def test_with_no_baseline_a_prediction_table_is_compared_with_the_data_its_model_version_was_trained_on(
        spark, tmp_path):
    """jobs/train.py trains churn_gbt on version 0 of the churn table; the table then changes
    (fewer rows, dearer contracts) and version 1 is scored. The monitor, given no baseline,
    compares the predictions with version 0: the lineage the run recorded."""
    from pyspark.sql import functions as F

    from sparktrack.demo import churn_frame, write_churn_table
    from sparktrack.jobs import train as train_job
    from sparktrack.scoring import batch_score
    from sparktrack.testing import fresh_store

    churn, predictions = str(tmp_path / "churn"), str(tmp_path / "predictions")
    with fresh_store(spark, root=str(tmp_path / "store")):
        write_churn_table(spark, churn, 1000)
        config = str(Path(__file__).resolve().parent.parent / "conf" / "jobs" / "train_churn.toml")
        train_job.train(train_job.load_config(config, [f'input="{churn}"', "estimator.params.maxDepth=3",
                                                       "estimator.params.maxIter=5", "gate.greater_than=0.5"]))
        trained = spark.read.format("delta").load(churn).toPandas()
        (churn_frame(spark, 700, seed=3).withColumn("monthly_charges", F.col("monthly_charges") + 40)
         .write.format("delta").mode("overwrite").save(churn))
        batch_score("models:/churn_gbt@Champion", churn, predictions)
        scored = spark.read.format("delta").load(predictions).toPandas()

        monitor = monitoring.create_monitor(predictions, timestamp_col="scored_at", label_col="churned")
        assert monitor.config.lineage and monitor.config.model_name_col == "model_name"
        assert "batch_id" not in monitor.config.column_kinds and "prediction" in monitor.config.column_kinds
        monitoring.refresh_monitor(predictions)
        drift = spark.read.format("delta").load(predictions + "_drift_metrics").toPandas()
        baseline = drift[(drift.drift_type == "BASELINE") & drift.slice_key.isna()].set_index("column_name")
        assert set(baseline.model_version) == {"1"} and set(baseline.model_name) == {"churn_gbt"}
        assert "prediction" not in baseline.index  # the training data has no prediction to compare with
        charges = baseline.loc["monthly_charges"]
        reference = st.ks_2samp(trained.monthly_charges, scored.monthly_charges).statistic
        assert charges.ks_test["statistic"] - 1e-12 <= reference <= charges.ks_test["statistic"] + charges.bounds[
            "ks_statistic"] + 1e-12
        assert charges.population_stability_index > 1 and baseline.loc["tenure_months"].population_stability_index < 0.1
        assert charges.count_delta == 700 - 1000
        profile_rows = spark.read.format("delta").load(predictions + "_profile_metrics").toPandas()
        base_rows = profile_rows[(profile_rows.log_type == "BASELINE") & profile_rows.slice_key.isna()]
        table_row = base_rows[base_rows.column_name == ":table"].iloc[0]
        assert (table_row["count"], table_row.model_version, table_row.model_name) == (1000, "1", "churn_gbt")
        state = monitoring.get_monitor(predictions).state["baseline"]
        assert state == {"churn_gbt/1": {"source": state["churn_gbt/1"]["source"], "delta_version": 0,
                                         "feature_tables": {}}}
        assert not monitoring.refresh_monitor(predictions).changed


# -- alerts ----------------------------------------------------------------------------------------

def test_alert_rules_are_checked_at_each_refresh_kept_in_the_alerts_table_and_posted(spark_client, tmp_path):
    from _alert_sink import AlertSink

    spark = spark_client.spark
    rng = np.random.default_rng(21)
    table, baseline = str(tmp_path / "preds"), str(tmp_path / "train")
    _write(spark, _predictions(rng, range(2), shifted_from=1, per_day=400), table)
    _write(spark, _predictions(rng, range(1), shifted_from=9, per_day=800).drop(columns=["ts", "model_version"]),
           baseline)
    rules = ["population_stability_index > 0.2", {"metric": "accuracy", "op": "<", "threshold": 0.99},
             "count(x) < 1", "ks_test.pvalue(x) < 0.001"]
    with AlertSink() as sink:
        monitoring.create_monitor(table, timestamp_col="ts", label_col="label", baseline=baseline,
                                  columns=["x", "c"], alerts=rules, alert_url=sink.url)
        result = monitoring.refresh_monitor(table)
        alerts = _read(spark, table + "_alerts")
        assert set(alerts.state) == {"TRIGGERED", "OK"} and result.delivery_error is None
        psi = alerts[alerts.metric == "population_stability_index"].set_index(["day", "model_version", "column_name"])
        assert len(psi) == 2 * 2 * 2  # 2 days, 2 model versions, 2 columns
        assert set(psi.loc[1].state) == {"TRIGGERED"} and set(psi.loc[0].state) == {"OK"}
        drift = _read(spark, table + "_drift_metrics")
        first = drift[(drift.drift_type == "BASELINE") & drift.slice_key.isna() & (drift.day == 1)
                      & (drift.model_version == "2") & (drift.column_name == "c")].iloc[0]
        assert psi.loc[(1, "2", "c"), "value"] == first.population_stability_index
        accuracy = alerts[alerts.metric == "accuracy"]
        assert len(accuracy) == 4 and set(accuracy.state) == {"TRIGGERED"} and accuracy.column_name.isna().all()
        assert set(alerts[alerts.rule == "count(x) < 1"].state) == {"OK"}
        ks = alerts[alerts.rule == "ks_test.pvalue(x) < 0.001"]
        assert set(ks[ks.day == 0].state) == {"OK"} and set(ks[ks.day == 1].state) == {"TRIGGERED"}
        assert len(sink.received) == 1
        posted = sink.received[0]
        assert posted["path"] == "/alerts" and posted["content_type"] == "application/json"
        assert posted["body"]["monitor"] == table and posted["body"]["table_version"] == 0
        assert len(posted["body"]["alerts"]) == len(result.triggered) == (alerts.state == "TRIGGERED").sum()
        assert {"rule", "window_start", "model_version", "column_name", "value", "threshold"} <= set(
            posted["body"]["alerts"][0])

        # nothing new: nothing recomputed, checked or posted again
        assert not monitoring.refresh_monitor(table).changed and len(sink.received) == 1
        # a new day (no shift) is checked; the earlier windows' alerts stay
        _write(spark, _predictions(rng, range(2, 3), shifted_from=9, per_day=400), table, mode="append")
        monitoring.refresh_monitor(table)
        after = _read(spark, table + "_alerts")
        assert set(after.day) == {0, 1, 2} and len(after[after.day < 2]) == len(alerts)
        assert set(after[(after.day == 2) & (after.metric == "population_stability_index")].state) == {"OK"}


@pytest.mark.parametrize("rule, message", [
    ("no_such_metric > 1", "The metric of alert rule 'no_such_metric > 1' must be one of"),
    ("psi >> 1", "'<metric> <op> <threshold>'"),
    ("avg(nope) > 1", "a monitored column, one of ['x', 'c']"),
    ("avg(x) > nan", "a finite number"),
    ("rmse > 1", "rmse is a regression metric"),
    ({"metric": "count", "op": "<"}, "a mapping with metric, op and threshold"),
])
def test_a_bad_alert_rule_is_a_clear_error_and_records_nothing(small_table, rule, message):
    client, table, _ = small_table
    with pytest.raises(InvalidValueError) as raised:
        monitoring.create_monitor(table, timestamp_col="ts", columns=["x", "c"], alerts=[rule])
    assert message in str(raised.value)
    with pytest.raises(InvalidValueError, match="an http:// or https:// URL"):
        monitoring.create_monitor(table, timestamp_col="ts", columns=["x", "c"], alert_url="ftp://x")
    assert client.store.reads.rows(layout.MONITOR_EVENTS).num_rows == 0


def test_the_monitor_job_rejects_a_bad_config_with_exit_code_2(small_table, tmp_path, capsys):
    from sparktrack.jobs import BAD_INPUT
    from sparktrack.jobs import monitor as monitor_job

    client, table, _ = small_table
    config = tmp_path / "monitor.toml"
    config.write_text(f'[monitor]\ntable = "{table}"\ntimestamp_col = "ts"\nalerts = ["accuracy < 0.5"]\n'
                      f'store = "{client.store_root}"\n')
    assert monitor_job.main(["--config", str(config)]) == BAD_INPUT
    assert "model quality needs label_col" in capsys.readouterr().err
    assert monitor_job.main(["--config", str(config), "--set", "no_such_key=1"]) == BAD_INPUT
    assert "Unknown key(s) ['no_such_key']" in capsys.readouterr().err
    assert client.store.reads.rows(layout.MONITOR_EVENTS).num_rows == 0


# -- late labels -----------------------------------------------------------------------------------

def test_labels_that_arrive_late_update_the_quality_of_past_windows_only(spark_client, tmp_path):
    from sklearn import metrics

    spark = spark_client.spark
    rng = np.random.default_rng(31)
    data = _predictions(rng, range(3), shifted_from=9, per_day=300)
    data["request_id"] = [f"r{i}" for i in range(len(data))]
    table, labels = str(tmp_path / "served"), str(tmp_path / "labels")
    _write(spark, data.drop(columns=["label"]), table)
    day = ((pd.to_datetime(data.ts, utc=True) - START) / pd.Timedelta(days=1)).astype(int)
    _write(spark, data[day == 0][["request_id", "label"]], labels)
    monitoring.create_monitor(table, timestamp_col="ts", label_col="label", label_table=labels,
                              id_cols=["request_id"], columns=["x"])
    monitoring.refresh_monitor(table)
    quality = _read(spark, table + "_profile_metrics")
    quality = quality[(quality.column_name == ":table") & quality.slice_key.isna()].set_index(["day", "model_version"])
    assert quality.loc[(0, "1"), "accuracy"] == pytest.approx(metrics.accuracy_score(
        *(data[(day == 0) & (data.model_version == 1)][c] for c in ("label", "prediction"))))
    assert quality.loc[[1, 2], "accuracy"].isna().all()

    # the labels of day 2 arrive: only the window whose labels changed is recomputed
    late = data[day == 2][["request_id", "label"]]
    _write(spark, late, labels, mode="append")
    result = monitoring.refresh_monitor(table)
    assert [((s - int(START.timestamp() * 1e6)) // DAY_US) for s in result.recomputed["1 day"]] == [2]
    after = _read(spark, table + "_profile_metrics")
    after = after[(after.column_name == ":table") & after.slice_key.isna()].set_index(["day", "model_version"])
    mine = data[(day == 2) & (data.model_version == 2)]
    assert after.loc[(2, "2"), "accuracy"] == pytest.approx(metrics.accuracy_score(mine.label, mine.prediction))
    assert after.loc[(0, "1"), "accuracy"] == quality.loc[(0, "1"), "accuracy"] and after.loc[1, "accuracy"].isna().all()
    assert after.loc[(2, "2"), "count"] == len(mine)  # the join multiplied no row
    assert not monitoring.refresh_monitor(table).changed


@pytest.mark.parametrize("arguments, message", [
    ({"label_table": "/no/such/labels", "id_cols": ["n"]}, "No table '/no/such/labels'"),
    ({"label_table": "LABELS", "id_cols": ["nope"]}, "columns of both the table and the label_table"),
    ({"label_table": "LABELS", "id_cols": "n"}, "the columns that join a row to its label"),
    ({"label_table": "LABELS", "id_cols": ["n"], "label_col": "missing"}, "a column of the label_table"),
    ({"id_cols": ["n"]}, "None without a label_table"),
])
def test_a_bad_label_table_is_a_clear_error(small_table, tmp_path, arguments, message):
    client, table, _ = small_table
    labels = str(tmp_path / "labels")
    _write(client.spark, pd.DataFrame({"n": ["1"], "y": [1]}), labels)
    arguments = {"label_col": "y", **arguments}
    if arguments.get("label_table") == "LABELS":
        arguments["label_table"] = labels
    with pytest.raises((InvalidValueError, TableNotFoundError)) as raised:
        monitoring.create_monitor(table, timestamp_col="ts", columns=["x"], **arguments)
    assert message in str(raised.value)
    assert client.store.reads.rows(layout.MONITOR_EVENTS).num_rows == 0


# -- the CLI ---------------------------------------------------------------------------------------

def test_the_monitor_cli_creates_refreshes_shows_and_deletes(spark_client, tmp_path, capsys):
    import json

    from sparktrack import cli
    from sparktrack.jobs import ALERT_TRIGGERED

    spark, root = spark_client.spark, spark_client.store_root
    rng = np.random.default_rng(41)
    table, baseline = str(tmp_path / "preds"), str(tmp_path / "train")
    _write(spark, _predictions(rng, range(2), shifted_from=1, per_day=300), table)
    _write(spark, _predictions(rng, range(1), shifted_from=9, per_day=600).drop(columns=["ts", "model_version"]),
           baseline)
    config = tmp_path / "monitor.toml"
    config.write_text(f'[monitor]\ntable = "{table}"\ntimestamp_col = "ts"\nbaseline = "{baseline}"\n'
                      f'columns = ["x", "c"]\nalerts = ["js_distance > 0.1"]\n')
    assert cli.main(["--store", root, "monitor", "create", "--config", str(config)]) == 0
    assert f"Monitor on {table}: created" in capsys.readouterr().err
    assert cli.main(["--store", root, "monitor", "create", "--config", str(config), "--set", "columns=['x']"]) == 0
    assert f"Monitor on {table}: updated" in capsys.readouterr().err

    # js_distance is a categorical column's statistic: with x alone, nothing to trigger
    assert cli.main(["--store", root, "monitor", "refresh", table, "--format", "json"]) == 0
    (done,) = json.loads(capsys.readouterr().out)
    assert done["recomputed_windows"] == {"1 day": 2} and done["triggered"] == 0
    assert cli.main(["--store", root, "monitor", "refresh", "--config", str(config), "--format", "json"]) == \
        ALERT_TRIGGERED
    out, err = capsys.readouterr()
    (done,) = json.loads(out)
    assert "updated" in err and done["triggered_rules"] == ["js_distance > 0.1"] and done["table_version"] == 0

    assert cli.main(["--store", root, "monitor", "show", "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["table"], listed["baseline"], listed["alerts"]) == (table, baseline, "js_distance > 0.1")
    assert cli.main(["--store", root, "monitor", "show", table, "--format", "json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert shown["columns"] == "c,x" and shown["last_refreshed_version"] == 0 and shown["windows"] == {"1 day": 2}

    assert cli.main(["--store", root, "monitor", "refresh", table, "--config", str(config)]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli.main(["--store", root, "monitor", "show", "/no/such/table"]) == 2
    assert "No monitor on '/no/such/table'" in capsys.readouterr().err
    assert cli.main(["--store", root, "monitor", "delete", table]) == 0
    assert cli.main(["--store", root, "monitor", "show"]) == 0
    assert "No monitors." in capsys.readouterr().out


# -- the inference records of a served model ---------------------------------------------------------

def test_the_inference_records_a_server_logged_are_a_monitor_input_typed_by_the_model_signature(spark, tmp_path):
    """A real server answers requests in two formats; the monitor on
    sparktrack.inference_records reads its inference log, types the records as the forest's
    signature says, and profiles and drifts them against the training frame."""
    import json
    import signal

    import httpx

    from _serving import Server, forest_store, training_frame
    from sparktrack.client import SparkTrackClient

    store, _ = forest_store(tmp_path, versions=1)
    rng = np.random.default_rng(3)
    sent = pd.DataFrame({"tenure": rng.integers(0, 72, 40), "charges": rng.uniform(60, 140, 40).round(2),
                         "calls": rng.integers(0, 10, 40)})
    with Server(tmp_path, store, "models:/churn@Champion") as server:
        for part in np.array_split(sent, 4):
            records = json.loads(part.to_json(orient="records"))
            body = {"dataframe_records": records} if len(part) % 2 else {
                "dataframe_split": {"columns": list(part.columns), "data": json.loads(part.to_json(orient="values"))}}
            assert httpx.post(server.url + "/invocations", json=body).status_code == 200
        server.stop(signal.SIGTERM)
    train, _ = training_frame()
    baseline = str(tmp_path / "train")
    _write(spark, train, baseline)
    client = monitoring.MonitoringClient(SparkTrackClient(store, spark))
    monitor = client.create_monitor("sparktrack.inference_records", baseline=baseline,
                                    columns=["tenure", "charges", "calls"])
    assert monitor.config.column_types == {"tenure": "bigint", "charges": "double", "calls": "bigint"}
    assert monitor.config.timestamp_col == "timestamp" and monitor.profile_table.endswith(
        "/monitoring/inference_records_profile_metrics")
    result = client.refresh_monitor("sparktrack.inference_records")
    assert len(result.recomputed["1 day"]) == 1
    rows = spark.read.format("delta").load(monitor.profile_table).where("log_type = 'INPUT' AND slice_key IS NULL")
    charges = rows.where("column_name = 'charges'").first()
    assert (charges["count"], charges.model_name, charges.model_version) == (40, "churn", "1")
    assert charges.avg == pytest.approx(sent.charges.mean()) and charges["max"] == sent.charges.max()
    drift = spark.read.format("delta").load(monitor.drift_table).where("drift_type = 'BASELINE' AND slice_key IS NULL")
    by_column = {row.column_name: row for row in drift.collect()}
    assert set(by_column) == {"tenure", "charges", "calls"}
    assert by_column["charges"].avg_delta == pytest.approx(sent.charges.mean() - train.charges.mean())
    reference = st.ks_2samp(train.charges, sent.charges).statistic
    ks = by_column["charges"].ks_test
    assert ks.statistic - 1e-12 <= reference <= ks.statistic + by_column["charges"].bounds.ks_statistic + 1e-12
    assert client.refresh_monitor("sparktrack.inference_records").changed is False


def test_a_monitor_on_inference_records_before_any_request_says_how_to_get_them(spark, tmp_path):
    from _serving import forest_store
    from sparktrack.client import SparkTrackClient
    from sparktrack.errors import NotFoundError

    store, _ = forest_store(tmp_path, versions=1)
    client = monitoring.MonitoringClient(SparkTrackClient(store, spark))
    with pytest.raises(NotFoundError, match="has no inference records yet: an endpoint writes them"):
        client.create_monitor("sparktrack.inference_records")
    assert client.list_monitors() == []
