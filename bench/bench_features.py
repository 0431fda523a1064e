"""Point-in-time join benchmark: ``create_training_set(...).load_df()`` written to Delta, against
the plan Feast's Spark offline store runs (a range join on key and time, then ``row_number`` over
each spine row, then joins back), built here with the same Spark session, in one process run.

    python bench/bench_features.py [--keys 20000] [--versions 100] [--spine 200000] [--repeats 1]
                                   [--dir DIR]

The issue's full scale is 100,000 keys x 100 versions (10M feature rows) against a 1M-row spine;
the defaults are a fifth of it, so that it finishes in minutes on 2 cores (``--keys 100000
--spine 1000000`` runs the full one). Set-up, not counted: a time-series feature table (5 double
features, one row per key and version at random times) created with ``create_table``, and a spine
of random keys and times. Timed, each written to a Delta table (in alternating order,
``--repeats`` times): sparktrack's plan, Feast's, the range join + ``row_number`` core of Feast's
alone (lighter than what Feast runs, for reference), and a plain key join of the same spine
against a table of one row per key, for scale. All share one session and its settings
(``spark.sql.shuffle.partitions`` 8). Checked: the three point-in-time plans give the same rows
(``exceptAll`` both ways is empty), and a sample of 20,000 spine rows matches
``pandas.merge_asof`` by key. A difference exits 1. Printed too: the exchanges in sparktrack's
physical plan.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import finish  # noqa: E402

FEATURES = [f"f{i}" for i in range(5)]


def feast_plan(spine, table, window_seconds: int | None):
    """The steps of Feast's Spark offline store (``MULTIPLE_FEATURE_VIEW_POINT_IN_TIME_JOIN`` in
    ``feast/infra/offline_stores/contrib/spark_offline_store/spark.py``), for one feature view
    with no created-timestamp column, written here with the DataFrame API:

    1. the entity frame gets a row id, its key and time cast to strings and concatenated, and its
       distinct (key, time, id) rows are the left side;
    2. the feature rows are cut to the entity frame's time range (two ``collect`` jobs, min and
       max, as Feast runs them; the lower bound only with a TTL);
    3. ``base``: those rows joined on the key with ``feature_ts <= event_ts`` (and within the TTL);
    4. ``latest``: ``row_number()`` over each id, ordered by feature time descending, kept at 1;
    5. ``base`` joined to ``latest`` on (id, feature time), then the entity frame left-joined to
       that on the id.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    entity = spine.withColumn("__uid", F.concat(F.col("customer_id").cast("string"),
                                                F.col("event_time").cast("string")))
    lo = spine.agg(F.min("event_time")).collect()[0][0]
    hi = spine.agg(F.max("event_time")).collect()[0][0]
    rows = table.select(F.col("ts").alias("__ts"), "customer_id", *FEATURES).where(F.col("__ts") <= F.lit(hi))
    if window_seconds:
        rows = rows.where(F.col("__ts") >= F.lit(lo) - F.expr(f"INTERVAL {window_seconds} SECONDS"))
    left = entity.select("customer_id", "event_time", "__uid").distinct()
    condition = (rows.customer_id == left.customer_id) & (rows.__ts <= left.event_time)
    if window_seconds:
        condition = condition & (rows.__ts >= left.event_time - F.expr(f"INTERVAL {window_seconds} SECONDS"))
    base = rows.join(left, condition, "inner").select(rows["*"], left.__uid)
    latest = base.withColumn("__rank", F.row_number().over(
        Window.partitionBy("__uid").orderBy(F.col("__ts").desc()))).where("__rank = 1").select("__uid", "__ts")
    cleaned = base.join(latest, ["__uid", "__ts"]).select("__uid", *FEATURES)
    return entity.join(cleaned, "__uid", "left").select(*spine.columns, *FEATURES)


def range_join_core(spine, table, window_seconds: int | None):
    """The core of Feast's plan alone, lighter than what Feast runs: the range join, then
    ``row_number()`` over each spine row carrying the features (so Spark limits each spine row's
    matches to one before the shuffle), with no string id, no bounds jobs and no joins back."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spine = spine.withColumn("__row", F.monotonically_increasing_id())
    right = table.select(F.col("customer_id").alias("__key"), F.col("ts").alias("__ts"), *FEATURES)
    condition = (spine.customer_id == right.__key) & (right.__ts <= spine.event_time)
    if window_seconds:
        condition = condition & (right.__ts >= spine.event_time - F.expr(f"INTERVAL {window_seconds} SECONDS"))
    joined = spine.join(right, condition, "left")
    ranked = joined.withColumn("__rank", F.row_number().over(
        Window.partitionBy("__row").orderBy(F.col("__ts").desc_nulls_last())))
    return ranked.where("__rank = 1").select(*spine.columns[:-1], *FEATURES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--spine", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--lookback-days", type=int, default=0,
                        help="the lookups' lookback window (Feast's TTL); 0: none (default)")
    parser.add_argument("--dir")
    args = parser.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-features-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    import datetime as dt

    import pandas as pd
    from pyspark.sql import functions as F

    from sparktrack.features import FeatureEngineeringClient, FeatureLookup
    from sparktrack.session import spark_session

    spark = spark_session(master="local[*]", conf={"spark.sql.shuffle.partitions": "8",
                                                   "spark.sql.session.timeZone": "UTC"})
    spark.sparkContext.setLogLevel("ERROR")
    fe = FeatureEngineeringClient(spark=spark)
    span = 365 * 86400
    window = args.lookback_days * 86400 or None
    start = dt.datetime(2025, 1, 1)
    rows = args.keys * args.versions
    table_df = spark.range(rows).select(
        (F.col("id") % args.keys).alias("customer_id"),
        (F.lit(start) + F.make_interval(secs=(F.rand(1) * span).cast("int"))).alias("ts"),
        *(F.rand(10 + i).alias(name) for i, name in enumerate(FEATURES)),
    ).dropDuplicates(["customer_id", "ts"])
    table_path = str(work / "features")
    fe.create_table(name=table_path, primary_keys=["customer_id", "ts"], timeseries_column="ts", df=table_df)
    spine_path = str(work / "spine")
    spark.range(args.spine).select(
        (F.rand(2) * args.keys).cast("long").alias("customer_id"),
        (F.lit(start) + F.make_interval(secs=(F.rand(3) * span).cast("int"))).alias("event_time"),
        (F.rand(4) > 0.5).cast("int").alias("label"),
    ).write.format("delta").save(spine_path)
    latest_path = str(work / "latest")
    table_df.groupBy("customer_id").agg(*(F.max(f).alias(f) for f in FEATURES)) \
        .write.format("delta").save(latest_path)
    spine = spark.read.format("delta").load(spine_path)
    table = fe.read_table(name=table_path)
    feature_rows = table.count()
    print(f"Point-in-time benchmark: spine {args.spine:,} rows over {args.keys:,} keys, feature table "
          f"{feature_rows:,} rows ({args.versions} versions per key, {len(FEATURES)} features), "
          f"lookback {f'{args.lookback_days} days' if window else 'none'}, "
          f"local[*] on {os.cpu_count()} CPUs; the issue's full scale is 1,000,000 spine rows and "
          f"10,000,000 feature rows, this is {args.spine / 1_000_000:.0%} and {rows / 10_000_000:.0%} of it")

    def ours():
        return fe.create_training_set(df=spine, label="label", feature_lookups=[
            FeatureLookup(table_name=table_path, lookup_key="customer_id", timestamp_lookup_key="event_time",
                          lookback_window=dt.timedelta(seconds=window) if window else None)]).load_df()

    def feast():
        return feast_plan(spine, table, window)

    def core():
        return range_join_core(spine, table, window)

    def key_join():
        return spine.join(spark.read.format("delta").load(latest_path), "customer_id", "left")

    plan = ours()._jdf.queryExecution().executedPlan().toString()
    shuffles = sum(" Exchange hashpartitioning" in line or " Exchange rangepartitioning" in line
                   or line.lstrip(" +-:").startswith("Exchange ") for line in plan.splitlines())
    print(f"  sparktrack's physical plan: {shuffles} shuffle exchange(s), "
          f"{plan.count('BroadcastExchange')} broadcast(s)")
    plans = {"sparktrack": ours, "Feast's plan": feast, "range join core": core, "plain key join": key_join}
    slugs = {"sparktrack": "sparktrack", "Feast's plan": "feast", "range join core": "core",
             "plain key join": "key_join"}
    times: dict[str, list[float]] = {name: [] for name in plans}
    for repeat in range(args.repeats):
        order = list(plans) if repeat % 2 == 0 else list(reversed(plans))
        for name in order:
            out = str(work / f"out-{slugs[name]}-{repeat}")
            began = time.perf_counter()
            plans[name]().write.format("delta").save(out)
            times[name].append(time.perf_counter() - began)
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in median.items():
        print(f"  {name:<16} {seconds:8.1f} s   (runs: {', '.join(f'{v:.1f}' for v in times[name])})")
    speedup = median["Feast's plan"] / median["sparktrack"]
    print(f"  Feast's plan / sparktrack: {speedup:.2f}x (target >= 3x)")
    print(f"  range join core / sparktrack: {median['range join core'] / median['sparktrack']:.2f}x")
    print(f"  sparktrack / plain key join: {median['sparktrack'] / median['plain key join']:.2f}x")

    failures = []
    ours_out = spark.read.format("delta").load(str(work / "out-sparktrack-0"))
    columns = ["customer_id", "event_time", "label", *FEATURES]
    if ours_out.count() != args.spine:
        failures.append(f"sparktrack gave {ours_out.count()} rows against a {args.spine}-row spine")
    for name in ("Feast's plan", "range join core"):
        other = spark.read.format("delta").load(str(work / f"out-{slugs[name]}-0"))
        extra = ours_out.select(columns).exceptAll(other.select(columns)).count()
        missing = other.select(columns).exceptAll(ours_out.select(columns)).count()
        print(f"  sparktrack against {name}: {extra} rows only in sparktrack's, {missing} only in the other")
        if extra or missing:
            failures.append(f"sparktrack and {name} differ: {extra} rows only in sparktrack's, "
                            f"{missing} only in the other")
    sample = ours_out.orderBy(F.rand(5)).limit(20_000).toPandas()
    keys = sample.customer_id.unique().tolist()
    features = table.where(F.col("customer_id").isin(keys)).toPandas()
    expected = pd.merge_asof(sample[["customer_id", "event_time", "label"]].sort_values("event_time"),
                             features.sort_values("ts"), left_on="event_time", right_on="ts", by="customer_id",
                             direction="backward", tolerance=pd.Timedelta(seconds=window) if window else None)
    merged = sample.merge(expected, on=["customer_id", "event_time", "label"], suffixes=("", "_pandas"))
    differing = sum(int(((merged[f] != merged[f"{f}_pandas"]) & ~(merged[f].isna() & merged[f"{f}_pandas"].isna())).sum())
                    for f in FEATURES)
    print(f"  sample of {len(sample):,} rows against pandas.merge_asof: {differing} differing values")
    if differing:
        failures.append(f"{differing} values differ from pandas.merge_asof in the sample")
    spark.stop()
    return finish(failures, "the three plans agree on every row, and the sample agrees with pandas.merge_asof")


if __name__ == "__main__":
    sys.exit(main())
