"""Monitoring benchmark (issue 15): a monitor's full and incremental refresh on a prediction table,
its drift statistics against Evidently's on the same window and reference, and against scipy's.

    python bench/bench_monitoring.py [--rows 2000000] [--reference-rows N] [--window-rows 1000000]
                                     [--days 30] [--repeats 3] [--tvd] [--dir DIR]

The issue's scale is a 10M-row prediction table (``--rows 10000000``) with 10 features (6 numeric,
2 of them integers and one with 2% nulls; 3 string and 1 boolean), 30 daily windows and 2 model
versions; the default is a fifth of it, to finish in minutes on 2 cores. Set-up, not counted,
with Spark and fixed seeds: the prediction table (``request_id``, ``ts``, ``model_version``, the
features, ``prediction``, ``label``), where 5 of the features shift from day 20 on, and a
reference table (the baseline: the same features and prediction, unshifted; ``--rows / 10`` rows
unless ``--reference-rows``, so 1M at the issue's scale).

1. Refresh. An inference monitor (daily windows, per model version, the 10 features and the
   prediction, the label for quality, the reference as baseline) is created and refreshed whole;
   then one new day is appended and the refresh timed again, ``--repeats`` times (a new day each);
   then a refresh with nothing new. Target: the incremental refresh's median at most 1/10 of the
   full one.
2. Against Evidently (``evidently`` from PyPI), on the latest ``--window-rows`` predictions (written
   to a Delta table of their own) against the reference: Evidently's ``Report`` of ``ValueDrift``
   metrics with the stattests that match sparktrack's (numeric: ``ks``, ``wasserstein``, ``psi``;
   categorical: ``chisquare``, ``jensenshannon``, ``psi``), from pandas frames (the ``toPandas`` is not
   timed; ``Dataset.from_pandas`` is), against a full refresh of a snapshot monitor on the window
   table with the reference as baseline (a new monitor and output tables each time). Both sides
   are warmed up once (the JVM's start and the first Spark jobs are not counted), then alternate,
   ``--repeats`` times; medians. Target: Evidently's time at least 5x sparktrack's. Printed too:
   Evidently's stattest functions called alone (no Report), and with ``--tvd`` its ``TVD``
   stattest (a 1000-permutation p-value, which sparktrack does not compute), once on one column.
3. Against scipy, on the same window and reference collected to numpy: each drift row's KS
   statistic and Wasserstein distance within its ``bounds``, the chi-squared test, JS distance, TV
   and L-infinity distances to rounding (``scipy.stats.chi2_contingency(correction=False)``,
   ``scipy.spatial.distance.jensenshannon(base=2)``, numpy), and the PSI against numpy (on the
   categories, and for a numeric column on the monitor's own bins: ``profile.pooled_edges`` on the
   same tables). Evidently's values are
   printed beside sparktrack's where the two compute the same thing.

A missed target, or a statistic outside its bound, exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import finish  # noqa: E402

NUMERIC = ["amount", "score", "ratio", "visits", "age", "balance"]
CATEGORICAL = ["country", "device", "category", "premium"]
FEATURES = NUMERIC + CATEGORICAL
SHIFTED = ["amount", "score", "visits", "country", "category"]
START = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
EVIDENTLY_NUMERIC = ("ks", "wasserstein", "psi")
EVIDENTLY_CATEGORICAL = ("chisquare", "jensenshannon", "psi")
#: "To rounding" for the exact statistics, as tests/test_monitoring.py checks them.
EXACT_ABS, EXACT_REL, PVALUE_REL = 1e-12, 1e-9, 1e-7


def predictions(spark, first: int, last: int, days: int, shift_day: int | None, seed: int, day: int | None = None):
    """Rows ``first`` to ``last - 1`` (their ``request_id``), spread evenly over ``days`` days in
    order, or all on ``day``; deterministic for a seed. The SHIFTED features move from day
    ``shift_day`` on (never, for None)."""
    from pyspark.sql import functions as F

    parts = max(2, (last - first) // 500_000)
    day = F.lit(day).cast("long") if day is not None else ((F.col("id") - first) * days / (last - first)).cast("long")
    on = ((day >= shift_day) if shift_day is not None else F.lit(False)).cast("double")  # 1.0 once shifted

    def rand(i):
        return F.rand(seed * 100 + i)

    def randn(i):
        return F.randn(seed * 100 + i)

    country = rand(10)
    linear = 0.8 * randn(3) + 0.3 * F.col("ratio") - 0.5  # ratio: the column defined in the same select
    return (spark.range(first, last, 1, parts)
            .select("id", day.alias("day"), on.alias("on"))
            .select(
                F.col("id").alias("request_id"),
                F.timestamp_seconds(F.lit(int(START.timestamp())) + F.col("day") * 86_400
                                    + (rand(1) * 86_400).cast("long")).alias("ts"),
                F.when(rand(2) < 0.5, 1).otherwise(2).alias("model_version"),
                F.exp(randn(4) * 0.8 + 3 + 0.15 * F.col("on")).alias("amount"),
                (randn(5) + 0.25 * F.col("on")).alias("score"),
                rand(6).alias("ratio"),
                F.floor(-F.log(1 - rand(7)) * (3 + F.col("on"))).cast("int").alias("visits"),
                (18 + F.floor(rand(8) * 60)).cast("int").alias("age"),
                F.when(rand(9) < 0.02, F.lit(None)).otherwise(randn(11) * 2 + 10).alias("balance"),
                F.when(country < 0.5 - 0.1 * F.col("on"), "fr").when(country < 0.8, "de")
                 .otherwise("es").alias("country"),
                F.concat(F.lit("d"), F.floor(F.pow(rand(12), 1.5) * 10).cast("string")).alias("device"),
                F.concat(F.lit("k"), F.floor(F.pow(rand(13), 2 - 0.3 * F.col("on")) * 50).cast("string"))
                 .alias("category"),
                (rand(14) < 0.3).alias("premium"),
                linear.alias("__linear"))
            .select("*", (F.col("__linear") > 0).cast("int").alias("prediction"),
                    (rand(15) < 1 / (1 + F.exp(-2 * F.col("__linear")))).cast("int").alias("label"))
            .drop("__linear"))


def timed(call) -> tuple[float, object]:
    began = time.perf_counter()
    result = call()
    return time.perf_counter() - began, result


def runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="prediction rows (the issue's: 10,000,000)")
    parser.add_argument("--reference-rows", type=int, help="baseline rows (default: --rows / 10)")
    parser.add_argument("--window-rows", type=int, default=1_000_000,
                        help="rows of the window compared with Evidently and scipy (the issue's: 1,000,000)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tvd", action="store_true",
                        help="also time Evidently's TVD stattest once on one column (minutes at 1M rows)")
    parser.add_argument("--dir")
    args = parser.parse_args()
    reference_rows = args.reference_rows or args.rows // 10
    window_rows = min(args.window_rows, args.rows)
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-monitoring-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    import evidently
    from pyspark.sql import functions as F

    from sparktrack.monitoring import MonitoringClient
    from sparktrack.session import spark_session
    from sparktrack.testing import fresh_store

    spark = spark_session(master="local[*]", conf={"spark.sql.shuffle.partitions": "8",
                                                   "spark.driver.memory": "6g"})
    spark.sparkContext.setLogLevel("ERROR")
    table, reference, window = str(work / "predictions"), str(work / "reference"), str(work / "window")
    shift_day = args.days * 2 // 3
    predictions(spark, 0, args.rows, args.days, shift_day, seed=1).write.format("delta").save(table)
    predictions(spark, 0, reference_rows, args.days, None, seed=2) \
        .select(*FEATURES, "prediction", "label").write.format("delta").save(reference)
    spark.read.format("delta").load(table).where(F.col("request_id") >= args.rows - window_rows) \
        .select(*FEATURES).write.format("delta").save(window)
    per_day = args.rows // args.days
    print(f"Monitoring benchmark: {args.rows:,} prediction rows ({args.rows / 10_000_000:.0%} of the issue's "
          f"10M) over {args.days} daily windows x 2 model versions, {len(NUMERIC)} numeric + "
          f"{len(CATEGORICAL)} categorical features ({', '.join(SHIFTED)} shifted from day {shift_day}); "
          f"reference (baseline) {reference_rows:,} rows; new days of {per_day:,} rows; the window against "
          f"Evidently and scipy: the latest {window_rows:,} predictions. local[*] on {os.cpu_count()} CPUs, "
          f"evidently {evidently.__version__}")
    failures: list[str] = []

    with fresh_store(spark, root=str(work / "store")) as client:
        monitors = MonitoringClient(client)
        warm = str(work / "warm-up")  # the first monitor jobs (class loading, codegen) are not counted
        spark.read.format("delta").load(table).limit(20_000).write.format("delta").save(warm)
        monitors.create_monitor(warm, timestamp_col="ts", label_col="label", baseline=reference,
                                columns=[*FEATURES, "prediction"])
        monitors.refresh_monitor(warm)

        print("\n1. Refresh of the inference monitor (daily windows, 2 model versions, 11 columns, label, "
              "baseline)")
        monitors.create_monitor(table, timestamp_col="ts", label_col="label", baseline=reference,
                                columns=[*FEATURES, "prediction"])
        full, result = timed(lambda: monitors.refresh_monitor(table))
        monitor = monitors.get_monitor(table)
        drift_rows = spark.read.format("delta").load(monitor.drift_table).count()
        profile_rows = spark.read.format("delta").load(monitor.profile_table).count()
        print(f"  full refresh:        {full:8.2f} s   ({len(result.recomputed['1 day'])} windows; "
              f"{profile_rows:,} profile rows, {drift_rows:,} drift rows)")
        increments = []
        for i in range(args.repeats):
            day = args.days + i
            first = args.rows + i * per_day
            predictions(spark, first, first + per_day, args.days, shift_day, seed=10 + i, day=day) \
                .write.format("delta").mode("append").save(table)
            seconds, result = timed(lambda: monitors.refresh_monitor(table))
            increments.append(seconds)
            expected = [int((START + dt.timedelta(days=day)).timestamp() * 1_000_000)]
            if result.recomputed["1 day"] != expected or any(result.removed.values()):
                failures.append(f"the refresh after day {day} recomputed {result.recomputed} and removed "
                                f"{result.removed}, not the new day alone")
        incremental = statistics.median(increments)
        print(f"  incremental refresh: {incremental:8.2f} s   (one new day of {per_day:,} rows, median of "
              f"{args.repeats}: {runs(increments)})")
        idle = []
        for _ in range(args.repeats):
            seconds, result = timed(lambda: monitors.refresh_monitor(table))
            idle.append(seconds)
            if result.changed:
                failures.append(f"a refresh with nothing new changed {result.recomputed}")
        print(f"  nothing new:         {statistics.median(idle):8.3f} s   (median of {args.repeats}: "
              f"{', '.join(f'{v:.3f}' for v in idle)})")
        ratio = incremental / full
        print(f"  incremental / full:  {ratio:8.3f}   (target at most 0.1)")
        if ratio > 0.1:
            failures.append(f"the incremental refresh took {ratio:.3f} of the full one (target at most 0.1)")

        failures += against_evidently_and_scipy(spark, monitors, window, reference, work, args.repeats, args.tvd)
    spark.stop()
    return finish(failures, "incremental refresh at most 1/10 of the full one, at least 5x Evidently, and "
                            "every statistic within its bound of scipy's")


def against_evidently_and_scipy(spark, monitors, window: str, reference: str, work: Path, repeats: int,
                                tvd: bool) -> list[str]:
    import numpy as np
    from evidently import DataDefinition, Dataset, Report
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.calculations.stattests.tvd_stattest import _total_variation_distance
    from evidently.legacy.core import ColumnType
    from evidently.metrics import ValueDrift

    failures = []
    collect, (current, baseline) = timed(lambda: [spark.read.format("delta").load(path).select(*FEATURES).toPandas()
                                                   for path in (window, reference)])
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    metrics = ([ValueDrift(column=c, method=m) for c in NUMERIC for m in EVIDENTLY_NUMERIC]
               + [ValueDrift(column=c, method=m) for c in CATEGORICAL for m in EVIDENTLY_CATEGORICAL])

    def evidently_report():
        return Report(metrics).run(Dataset.from_pandas(current, data_definition=definition),
                                   Dataset.from_pandas(baseline, data_definition=definition))

    def evidently_stattests():
        """Evidently's stattest functions alone, on the columns as its drift calculation cleans them."""
        found = {}
        for name in FEATURES:
            kind = ColumnType.Numerical if name in NUMERIC else ColumnType.Categorical
            ref, cur = (frame[name].replace([-np.inf, np.inf], np.nan).dropna() for frame in (baseline, current))
            for method in EVIDENTLY_NUMERIC if name in NUMERIC else EVIDENTLY_CATEGORICAL:
                found[name, method] = get_stattest(ref, cur, kind, method)(ref, cur, kind, None).drift_score
        return found

    attempt = iter(range(1_000_000))

    def ours():
        number = next(attempt)
        if number:
            monitors.delete_monitor(window)
        monitors.create_monitor(window, profile_type="snapshot", model_id_col=None, prediction_col=None,
                                baseline=reference, columns=FEATURES, output_dir=str(work / f"snapshot-{number}"))
        return timed(lambda: monitors.refresh_monitor(window))[0]

    print(f"\n2. Drift of the window ({len(current):,} rows) against the reference ({len(baseline):,} rows), "
          f"10 features; after one untimed warm-up of each, median of {repeats}")
    ours()
    evidently_report()
    times: dict[str, list[float]] = {"sparktrack": [], "Evidently Report": [], "Evidently stattests": []}
    snapshot = None
    for repeat in range(repeats):
        order = list(times) if repeat % 2 == 0 else list(reversed(times))
        for name in order:
            if name == "sparktrack":
                times[name].append(ours())
            elif name == "Evidently Report":
                seconds, snapshot = timed(evidently_report)
                times[name].append(seconds)
            else:
                seconds, bare = timed(evidently_stattests)
                times[name].append(seconds)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"  sparktrack, snapshot monitor full refresh:       {median['sparktrack']:7.2f} s  "
          f"(runs: {runs(times['sparktrack'])})")
    print("      computes: per column count, nulls, avg, stddev, min, max, 101 quantiles, distinct count, top 10 "
          "categories, for the window and the baseline; numeric: KS statistic and p-value, Wasserstein, PSI, "
          "bounds; categorical: chi-squared test, JS, TV, L-inf, PSI; count/avg/null/distinct deltas; writes the "
          "profile and drift Delta tables and records the refresh")
    print(f"  Evidently, Report of {len(metrics)} ValueDrift metrics:       {median['Evidently Report']:7.2f} s  "
          f"(runs: {runs(times['Evidently Report'])})")
    print("      computes: numeric: ks_2samp p-value, Wasserstein normed by the reference's std, PSI on Sturges "
          "bins; categorical: chi-square goodness-of-fit p-value, JS distance (natural log), PSI; per metric, its "
          "plot data (histograms, correlations, binned means)")
    print(f"  Evidently, the same stattest functions alone:     {median['Evidently stattests']:7.2f} s  "
          f"(runs: {runs(times['Evidently stattests'])})")
    speedup = median["Evidently Report"] / median["sparktrack"]
    print(f"  Evidently Report / sparktrack:    {speedup:6.2f}x (target at least 5x)")
    print(f"  Evidently stattests / sparktrack: {median['Evidently stattests'] / median['sparktrack']:6.2f}x")
    print(f"  (not counted: Evidently's input, the window and the reference collected with toPandas, {collect:.2f} s)")
    if speedup < 5:
        failures.append(f"Evidently's Report took {speedup:.2f}x sparktrack's time (target at least 5x)")
    name = CATEGORICAL[0]
    if tvd:
        ref, cur = baseline[name], current[name]
        seconds, result = timed(lambda: get_stattest(ref, cur, ColumnType.Categorical, "TVD")(
            ref, cur, ColumnType.Categorical, None))
        print(f"  Evidently's TVD stattest on {name!r} alone (1000 permutations, a p-value sparktrack does not "
              f"compute; not in the ratio): {seconds:.2f} s, p-value {result.drift_score:.4g}")
    else:
        print("  Evidently's TVD stattest (a 1000-permutation p-value, which sparktrack does not compute) is left "
              "out; --tvd times it on one column")

    found = {}
    for item in snapshot.dict()["metrics"]:
        found[item["config"]["column"], item["config"]["method"]] = float(item["value"])
    for key, value in bare.items():
        if not math.isclose(found[key], float(value), rel_tol=1e-9, abs_tol=1e-300):
            failures.append(f"Evidently's Report and its stattest gave {found[key]} and {value} for {key}")
    monitor = monitors.get_monitor(window)
    drift = spark.read.format("delta").load(monitor.drift_table).toPandas().set_index("column_name")
    pooled = [spark.read.format("delta").load(path) for path in (window, reference)]
    failures += against_scipy(drift, current, baseline, pooled, found, _total_variation_distance)
    return failures


def against_scipy(drift, current, baseline, pooled, evidently_values, evidently_tvd) -> list[str]:
    """Our drift rows against scipy and numpy on the same values; Evidently's beside them."""
    import numpy as np
    import pandas as pd
    from scipy import stats as st
    from scipy.spatial.distance import jensenshannon

    from sparktrack.monitoring import profile
    from sparktrack.monitoring import statistics as S

    failures = []
    deviations: dict[str, list[tuple[float, float]]] = {}  # statistic -> (deviation, its bound)

    def check(statistic: str, column: str, deviation: float, bound: float, inside: bool) -> None:
        deviations.setdefault(statistic, []).append((deviation, bound))
        if not inside:
            failures.append(f"{column}: {statistic} is {deviation:.3g} from scipy's, outside its bound {bound:.3g}")

    edges = profile.pooled_edges(pooled, NUMERIC)  # the monitor's shared bins, from the same tables
    print("\n3. sparktrack's drift rows against scipy / numpy on the same values (Evidently's beside them)")
    print(f"  {'column':<9} {'statistic':<22} {'sparktrack':>13} {'scipy/numpy':>13} {'bound':>10} "
          f"{'Evidently':>13}  note")
    for name in FEATURES:
        row = drift.loc[name]
        a = baseline[name].dropna().to_numpy()
        b = current[name].dropna().to_numpy()
        if name in NUMERIC:
            a, b = a.astype(float), b.astype(float)
            reference = st.ks_2samp(a, b)
            ks, ks_bound = row.ks_test["statistic"], row.bounds["ks_statistic"]
            check("ks statistic", name, reference.statistic - ks, ks_bound,
                  ks - 1e-12 <= reference.statistic <= ks + ks_bound + 1e-12)
            en = len(a) * len(b) / (len(a) + len(b))
            at_true, at_upper = (st.kstwobign.sf(math.sqrt(en) * d) for d in (reference.statistic, ks + ks_bound))
            pvalue = row.ks_test["pvalue"]
            check("ks p-value (bracket)", name, at_true - pvalue, pvalue - at_upper,
                  at_upper * (1 - 1e-9) <= at_true <= pvalue * (1 + 1e-9) + 1e-300)
            wasserstein, w_bound = row.wasserstein_distance, row.bounds["wasserstein_distance"]
            exact_w = st.wasserstein_distance(a, b)
            check("wasserstein", name, exact_w - wasserstein, w_bound, abs(exact_w - wasserstein) <= w_bound + 1e-12)
            coarse = S.psi_edges(edges[name])
            p = np.bincount(np.searchsorted(coarse, a, side="right") - 1, minlength=len(coarse) - 1)[:len(coarse) - 1]
            q = np.bincount(np.searchsorted(coarse, b, side="right") - 1, minlength=len(coarse) - 1)[:len(coarse) - 1]
            psi = S.psi_from_proportions(p / len(a), q / len(b))
            ours_psi = row.population_stability_index
            check("psi", name, psi - ours_psi, EXACT_ABS + EXACT_REL * abs(psi),
                  math.isclose(psi, ours_psi, rel_tol=EXACT_REL, abs_tol=EXACT_ABS))
            norm = max(float(np.std(a)), 0.001)
            lines = [("ks statistic", ks, reference.statistic, ks_bound, None, "scipy within [ours, ours + bound]"),
                     ("ks p-value", pvalue, reference.pvalue, None, evidently_values[name, "ks"],
                      "scipy/Evidently: ks_2samp's"),
                     ("wasserstein", wasserstein, exact_w, w_bound, evidently_values[name, "wasserstein"] * norm,
                      "Evidently's normed one x the reference's std"),
                     ("psi", ours_psi, psi, None, evidently_values[name, "psi"],
                      "numpy on our pooled deciles; Evidently: Sturges bins")]
        else:
            a, b = a.astype(str), b.astype(str)
            keys = sorted(set(a) | set(b))
            p = pd.Series(a).value_counts().reindex(keys, fill_value=0).to_numpy(float)
            q = pd.Series(b).value_counts().reindex(keys, fill_value=0).to_numpy(float)
            reference = st.chi2_contingency(np.vstack([p, q]), correction=False)
            chi, chi_p = row.chi_squared_test["statistic"], row.chi_squared_test["pvalue"]
            check("chi-squared statistic", name, reference.statistic - chi, EXACT_REL * reference.statistic,
                  math.isclose(chi, reference.statistic, rel_tol=EXACT_REL))
            check("chi-squared p-value", name, reference.pvalue - chi_p, PVALUE_REL * reference.pvalue + 1e-300,
                  math.isclose(chi_p, reference.pvalue, rel_tol=PVALUE_REL, abs_tol=1e-300))
            p, q = p / p.sum(), q / q.sum()
            fp, fq = np.maximum(p, S.PSI_FLOOR), np.maximum(q, S.PSI_FLOOR)  # by hand, with the same floor
            exact = {"js_distance": jensenshannon(p, q, base=2), "tv_distance": 0.5 * np.abs(p - q).sum(),
                     "l_infinity_distance": np.abs(p - q).max(),
                     "population_stability_index": float(((fq - fp) * np.log(fq / fp)).sum())}
            short = {"js_distance": "js", "tv_distance": "tv", "l_infinity_distance": "l_infinity",
                     "population_stability_index": "psi"}
            for statistic, value in exact.items():
                check(short[statistic], name, value - row[statistic], EXACT_ABS,
                      abs(value - row[statistic]) <= EXACT_ABS)
            tvd = evidently_tvd(pd.Series(a), pd.Series(b))
            lines = [("chi-squared statistic", chi, reference.statistic, None, None, ""),
                     ("chi-squared p-value", chi_p, reference.pvalue, None, evidently_values[name, "chisquare"],
                      "Evidently: goodness of fit, not homogeneity"),
                     ("js distance (base 2)", row.js_distance, exact["js_distance"], None,
                      evidently_values[name, "jensenshannon"] / math.sqrt(math.log(2)),
                      "Evidently's (natural log) / sqrt(ln 2)"),
                     ("tv distance", row.tv_distance, exact["tv_distance"], None, tvd, "Evidently: TVD's statistic"),
                     ("l_inf distance", row.l_infinity_distance, exact["l_infinity_distance"], None, None, ""),
                     ("psi", row.population_stability_index, exact["population_stability_index"], None,
                      evidently_values[name, "psi"], "numpy and Evidently on the categories")]
        for statistic, mine, theirs, bound, other, note in lines:
            print(f"  {name:<9} {statistic:<22} {mine:13.6g} {theirs:13.6g} "
                  f"{'' if bound is None else f'{bound:10.3g}':>10} {'' if other is None else f'{other:13.6g}':>13}"
                  f"  {note}")
    print("\n  Largest deviation from scipy/numpy per statistic, and the bound it was checked against:")
    for statistic, found in deviations.items():
        deviation, bound = max(found, key=lambda pair: abs(pair[0]))
        used = max(abs(d) / b if b > 0 else (0.0 if d == 0 else math.inf) for d, b in found)
        print(f"    {statistic:<22} {deviation:+.3g} (bound {bound:.3g}; at most {used:.0%} of its bound)")
    return failures


if __name__ == "__main__":
    sys.exit(main())
