"""The Spark side of a refresh: each pass is one aggregation over the rows of the windows being
recomputed (and the baseline), and returns small per-group summaries to the driver.

- ``fingerprints``: per window, the row count and the sum of a 64-bit hash of the columns the
  monitor reads (what tells a refresh which windows changed);
- ``profiles``: per group (window, slice, model version), the column metrics and model quality
  (a numeric column's distinct count is HyperLogLog++'s, relative standard error ``DISTINCT_RSD``,
  5%; a categorical column's is exact);
- ``category_counts``: exact counts per category of the categorical columns;
- ``pooled_edges`` and ``histograms``: the shared binning of each numeric column (quantiles of
  all the values compared) and the counts per bin.

A group is ``(window start, window end, slice key, slice value, model version, model name)``;
windows are carried as epoch microseconds so no session time zone enters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from sparktrack.monitoring.monitor import MonitorConfig

#: Quantiles of each numeric column in the profile (0%, 1%, ..., 100%).
QUANTILES = [i / 100 for i in range(101)]
#: Bins of the shared binning of a numeric column for drift (quantiles of the pooled values).
DRIFT_BINS = 200
#: percentile_approx's accuracy: a quantile's rank is off by at most n / ACCURACY.
ACCURACY = 10_000
#: approx_count_distinct's relative standard deviation for numeric columns (HyperLogLog++): the
#: distinct count's relative standard error is 5%. Spark's and Databricks' default; at 0.01 the
#: sketch cost about ten times more per column and aggregation (measured at 10M rows).
DISTINCT_RSD = 0.05
#: Categories kept in frequent_items.
TOP_K = 10
SNAPSHOT = "snapshot"
#: The group columns a windowed frame gets (named so as not to meet a user's column).
GROUP = ("__window_start_us", "__window_end_us", "__slice_key", "__slice_value", "__model_version",
         "__model_name")
SLICE = GROUP[2:4]
#: What a baseline's groups are keyed by: the slice and the model (null for an explicit baseline).
BASELINE_GROUP = GROUP[2:]
NUMERIC, CATEGORICAL = "numeric", "categorical"
#: The Spark SQL types of numeric columns (decimals are numeric too) and of categorical ones.
NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double")
CATEGORICAL_TYPES = ("string", "boolean")
MAPE_EPSILON = float(np.finfo(np.float64).eps)  # as sklearn's mean_absolute_percentage_error


def kind_of(spark_type: str) -> str | None:
    """NUMERIC or CATEGORICAL for a column of ``spark_type``; None for a type not profiled."""
    if spark_type in NUMERIC_TYPES or spark_type.startswith("decimal"):
        return NUMERIC
    return CATEGORICAL if spark_type in CATEGORICAL_TYPES else None


def windowed(frame: DataFrame, config: MonitorConfig, granularity: str) -> DataFrame:
    """``frame`` with the GROUP columns: the window's start and end for ``granularity`` (null for
    a snapshot), one row per slice it belongs to (slice key and value; the whole table is the
    null slice) and the model version and name as strings."""
    from pyspark.sql import functions as F

    if granularity == SNAPSHOT:
        start = end = F.lit(None).cast("bigint")
    else:
        window = F.window(F.col(config.timestamp_col).cast("timestamp"), granularity)
        start, end = F.unix_micros(window.start), F.unix_micros(window.end)
    slices = [F.struct(F.lit(None).cast("string").alias("k"), F.lit(None).cast("string").alias("v"))]
    slices += [F.struct(F.lit(text).alias("k"), F.expr(text).cast("string").alias("v"))
               for text in config.slicing_exprs]
    def model(column: str | None) -> Column:
        return F.col(column).cast("string") if column else F.lit(None).cast("string")

    ws, we, sk, sv, mv, mn = GROUP
    return (frame.select("*", start.alias(ws), end.alias(we), model(config.model_id_col).alias(mv),
                         model(config.model_name_col).alias(mn),
                         F.explode(F.array(*slices)).alias("__slice"))
            .select("*", F.col("__slice.k").alias(sk), F.col("__slice.v").alias(sv))
            .drop("__slice"))


def since(frame: DataFrame, config: MonitorConfig, starts: Sequence[int | None]) -> DataFrame:
    """``frame``'s rows at or after the earliest of the windows ``starts`` (all of them for a
    snapshot): what in_windows keeps is among them, and Delta skips the files whose timestamps
    all fall before it (an incremental refresh reads the new days' files, not the whole table)."""
    from pyspark.sql import functions as F

    if None in starts or not starts:
        return frame
    return frame.where(F.col(config.timestamp_col).cast("timestamp") >= F.timestamp_micros(F.lit(min(starts))))


def in_windows(frame: DataFrame, starts: Sequence[int | None]) -> DataFrame:
    from pyspark.sql import functions as F

    if None in starts:
        return frame
    return frame.where(F.col(GROUP[0]).isin(list(starts)))


def fingerprints(frame: DataFrame, config: MonitorConfig, granularity: str) -> dict[str, str]:
    """Per window start (as a string; "" for a snapshot): "<rows>:<sum of xxhash64>" of the
    columns the monitor reads. One pass, no shuffle of rows."""
    from pyspark.sql import functions as F

    if granularity == SNAPSHOT:
        start = F.lit(None).cast("bigint")
    else:
        start = F.unix_micros(F.window(F.col(config.timestamp_col).cast("timestamp"), granularity).start)
    read = [F.col(c) for c in config.read_columns]
    rows = (frame.groupBy(start.alias("s"))
            .agg(F.count(F.lit(1)).alias("n"), F.sum(F.xxhash64(*read).cast("decimal(38,0)")).alias("h"))
            .collect())
    return {"" if r.s is None else str(r.s): f"{r.n}:{r.h}" for r in rows}


def _key(row: Any) -> tuple:
    return tuple(row[name] for name in GROUP)


def profiles(frame: DataFrame, config: MonitorConfig, baseline: bool = False) -> dict[tuple, dict[str, Any]]:
    """Per group: ``rows``, each column's metrics (``columns[name]``, with the custom aggregate
    metrics), the quality metrics and the :table row's custom aggregates (``custom``). A
    ``baseline`` gets no quality metrics, and the custom aggregates it cannot compute (no label,
    say) are left out."""
    from pyspark.sql import functions as F

    from sparktrack.monitoring import custom

    aggs: list[Column] = [F.count(F.lit(1)).alias("rows")]
    for i, (name, kind) in enumerate(config.column_kinds.items()):
        col = F.col(name)
        aggs.append(F.count(col).alias(f"c{i}_count"))
        if kind == NUMERIC:
            value = col.cast("double")
            aggs += [F.avg(value).alias(f"c{i}_avg"), F.stddev_samp(value).alias(f"c{i}_stddev"),
                     F.min(value).alias(f"c{i}_min"), F.max(value).alias(f"c{i}_max"),
                     F.percentile_approx(value, QUANTILES, ACCURACY).alias(f"c{i}_quantiles"),
                     F.approx_count_distinct(col, DISTINCT_RSD).alias(f"c{i}_distinct")]
    aggs += [] if baseline else _quality_aggregates(config)
    customs = custom.aggregates(config.custom, list(config.column_kinds), config.prediction_col, config.label_col,
                                check=frame if baseline else None)
    aggs += [value.alias(f"x{j}") for j, (_, _, value) in enumerate(customs)]
    found: dict[tuple, dict[str, Any]] = {}
    for row in frame.groupBy(*GROUP).agg(*aggs).collect():
        columns = {}
        for i, (name, kind) in enumerate(config.column_kinds.items()):
            metrics = {"count": row[f"c{i}_count"]}
            if kind == NUMERIC:
                metrics.update(avg=row[f"c{i}_avg"], stddev=row[f"c{i}_stddev"], min=row[f"c{i}_min"],
                               max=row[f"c{i}_max"], quantiles=row[f"c{i}_quantiles"],
                               distinct_count=row[f"c{i}_distinct"])
            columns[name] = metrics
        quality = {k: row[k] for k in row.asDict() if k.startswith("q_")}
        table = {}
        for j, (name, column, _) in enumerate(customs):
            (columns[column] if column is not None else table)[name] = row[f"x{j}"]
        found[_key(row)] = {"rows": row["rows"], "columns": columns, "quality": quality, "custom": table}
    if config.label_col and config.problem_type == "classification" and not baseline:
        for key, metrics in classification_quality(frame, config).items():
            found[key]["quality"].update(metrics)
    return found


def _quality_aggregates(config: MonitorConfig) -> list[Column]:
    from pyspark.sql import functions as F

    if not config.label_col:
        return []
    y, p = F.col(config.label_col), F.col(config.prediction_col)
    both = y.isNotNull() & p.isNotNull()
    if config.problem_type == "regression":
        y, p = y.cast("double"), p.cast("double")
        error = F.when(both, p - y)
        return [F.count(error).alias("q_n"), F.avg(error * error).alias("q_mse"), F.avg(F.abs(error)).alias("q_mae"),
                F.var_pop(F.when(both, y)).alias("q_var_y"),
                F.avg(F.abs(error) / F.greatest(F.abs(y), F.lit(MAPE_EPSILON))).alias("q_mape")]
    aggs = [F.avg(F.when(both, (y.cast("string") == p.cast("string")).cast("double"))).alias("q_accuracy")]
    if config.probability_col:
        prob = F.least(F.greatest(F.col(config.probability_col).cast("double"), F.lit(1e-15)), F.lit(1 - 1e-15))
        target = y.cast("double")
        loss = -(target * F.log(prob) + (1 - target) * F.log(1 - prob))
        aggs.append(F.avg(F.when(target.isin(0.0, 1.0) & prob.isNotNull(), loss)).alias("q_log_loss"))
        aggs.append(F.max(F.when(y.isNotNull() & ~target.isin(0.0, 1.0), 1).otherwise(0)).alias("q_not_binary"))
    return aggs


def classification_quality(frame: DataFrame, config: MonitorConfig) -> dict[tuple, dict[str, float]]:
    """Per group: precision, recall and F1 (macro and weighted, as sklearn with
    zero_division=0) from the confusion counts, and the exact ROC AUC when there are
    probabilities of class 1 (ties counted half, as the Mann-Whitney statistic)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    y, p = F.col(config.label_col).cast("string"), F.col(config.prediction_col).cast("string")
    confusion: dict[tuple, dict[tuple[str, str], int]] = {}
    counted = frame.where(y.isNotNull() & p.isNotNull()).groupBy(*GROUP, y.alias("y"), p.alias("p")).count()
    for row in counted.collect():
        confusion.setdefault(_key(row), {})[row.y, row.p] = row["count"]
    found = {key: _prf(cells) for key, cells in confusion.items()}
    if config.probability_col:
        score, target = F.col(config.probability_col).cast("double"), F.col(config.label_col).cast("double")
        per_score = (frame.where(score.isNotNull() & target.isin(0.0, 1.0))
                     .groupBy(*GROUP, score.alias("s"))
                     .agg(F.sum((target == 1).cast("long")).alias("pos"), F.sum((target == 0).cast("long")).alias("neg")))
        below = F.sum("neg").over(Window.partitionBy(*GROUP).orderBy("s")
                                  .rowsBetween(Window.unboundedPreceding, -1))
        ranked = per_score.select("*", F.coalesce(below, F.lit(0)).alias("below"))
        aucs = ranked.groupBy(*GROUP).agg(
            (F.sum(F.col("pos") * (F.col("below") + F.col("neg") / 2)) / (F.sum("pos") * F.sum("neg"))).alias("auc"))
        for row in aucs.collect():
            found.setdefault(_key(row), {})["roc_auc"] = row.auc
    return found


def _prf(cells: Mapping[tuple[str, str], int]) -> dict[str, float]:
    labels = sorted({y for y, _ in cells} | {p for _, p in cells})
    support = {c: sum(n for (y, _), n in cells.items() if y == c) for c in labels}
    predicted = {c: sum(n for (_, p), n in cells.items() if p == c) for c in labels}
    total = sum(support.values())
    precision, recall, f1 = {}, {}, {}
    for c in labels:
        hit = cells.get((c, c), 0)
        precision[c] = hit / predicted[c] if predicted[c] else 0.0
        recall[c] = hit / support[c] if support[c] else 0.0
        both = precision[c] + recall[c]
        f1[c] = 2 * precision[c] * recall[c] / both if both else 0.0
    out = {}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        out[f"{name}_macro"] = sum(values.values()) / len(labels)
        out[f"{name}_weighted"] = sum(values[c] * support[c] for c in labels) / total if total else 0.0
    return out


def category_counts(frame: DataFrame, names: Sequence[str], keys: Sequence[str] = GROUP) -> dict[tuple, dict[str, dict[str, int]]]:
    """Per group and categorical column: the exact count of each non-null value. One pass."""
    from pyspark.sql import functions as F

    if not names:
        return {}
    cells = F.explode(F.array(*[F.struct(F.lit(n).alias("column_name"), F.col(n).cast("string").alias("value"))
                                for n in names])).alias("cell")
    counted = (frame.select(*keys, cells).select(*keys, "cell.column_name", "cell.value")
               .where(F.col("value").isNotNull()).groupBy(*keys, "column_name", "value").count())
    found: dict[tuple, dict[str, dict[str, int]]] = {}
    for row in counted.collect():
        key = tuple(row[k] for k in keys)
        found.setdefault(key, {}).setdefault(row.column_name, {})[row.value] = row["count"]
    return found


def pooled_edges(frames: Sequence[DataFrame], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Per numeric column, the shared bin edges: the exact min, DRIFT_BINS quantiles of all the
    values of ``frames`` and the exact max, each followed by the next float (so each of those
    values has a bin of its own, and the last edge is above the max). One pass."""
    from pyspark.sql import functions as F

    if not names:
        return {}
    pooled = None
    for frame in frames:
        part = frame.select(*[(F.col(n) if n in frame.columns else F.lit(None)).cast("double").alias(f"c{i}")
                              for i, n in enumerate(names)])
        pooled = part if pooled is None else pooled.unionByName(part)
    probabilities = [i / DRIFT_BINS for i in range(DRIFT_BINS + 1)]
    aggs = []
    for i in range(len(names)):
        col = F.when(~F.isnan(f"c{i}"), F.col(f"c{i}"))
        aggs += [F.percentile_approx(col, probabilities, ACCURACY).alias(f"q{i}"), F.min(col).alias(f"lo{i}"),
                 F.max(col).alias(f"hi{i}")]
    row = pooled.agg(*aggs).collect()[0]
    edges = {}
    for i, name in enumerate(names):
        if row[f"lo{i}"] is None:
            continue
        values = np.unique(np.array([row[f"lo{i}"], *row[f"q{i}"], row[f"hi{i}"]], dtype=float))
        values = np.unique(np.concatenate([values, np.nextafter(values, np.inf)]))  # one-value bins
        if len(values) < 3:  # Bucketizer wants two bins at least
            values = np.append(values, np.nextafter(values[-1], np.inf))
        edges[name] = values
    return edges


def histograms(frame: DataFrame, edges: Mapping[str, np.ndarray], keys: Sequence[str] = GROUP
               ) -> dict[tuple, dict[str, np.ndarray]]:
    """Per group and numeric column, the counts of non-null values per shared bin. One pass:
    Spark ML's Bucketizer (a binary search per value) and one aggregation."""
    from pyspark.ml.feature import Bucketizer
    from pyspark.sql import functions as F

    names = [n for n in edges if n in frame.columns]  # a baseline may lack some (a prediction, say)
    if not names:
        return {}
    staged = frame.select(*keys, *[F.when(~F.isnan(F.col(n).cast("double")), F.col(n).cast("double")).alias(f"c{i}")
                                   for i, n in enumerate(names)])
    staged = staged.fillna(float("nan"), subset=[f"c{i}" for i in range(len(names))])
    bucketed = Bucketizer(splitsArray=[list(map(float, edges[n])) for n in names],
                          inputCols=[f"c{i}" for i in range(len(names))],
                          outputCols=[f"b{i}" for i in range(len(names))], handleInvalid="keep").transform(staged)
    cells = F.explode(F.array(*[F.struct(F.lit(i).alias("column"), F.col(f"b{i}").cast("int").alias("bin"))
                                for i in range(len(names))])).alias("cell")
    counted = (bucketed.select(*keys, cells).select(*keys, "cell.column", "cell.bin")
               .groupBy(*keys, "column", "bin").count())
    found: dict[tuple, dict[str, np.ndarray]] = {}
    for row in counted.collect():
        name = names[row.column]
        bins = len(edges[name]) - 1
        if row.bin >= bins:  # NaN and null: Bucketizer's extra bucket
            continue
        key = tuple(row[k] for k in keys)
        counts = found.setdefault(key, {}).setdefault(name, np.zeros(bins, dtype=np.int64))
        counts[row.bin] += row["count"]
    return found
