"""The monitor's output tables: their columns, the rows a refresh builds from the summaries of
``profile``, and the write that replaces the recomputed windows' rows in one commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from sparktrack.engine.location import sql_string
from sparktrack.monitoring import statistics as stats
from sparktrack.monitoring.profile import CATEGORICAL, NUMERIC, SNAPSHOT, TOP_K

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparktrack.tracking.datasets import TableRef

TABLE_ROW = ":table"
CONSECUTIVE, BASELINE = "CONSECUTIVE", "BASELINE"
QUALITY = ("accuracy", "precision_macro", "precision_weighted", "recall_macro", "recall_weighted", "f1_macro",
           "f1_weighted", "roc_auc", "log_loss", "mse", "rmse", "mae", "r2", "mape")
#: The group columns, in profile.GROUP's order.
GROUP_COLUMNS = ("window_start_us", "window_end_us", "slice_key", "slice_value", "model_version", "model_name")
INPUT, BASELINE_LOG = "INPUT", "BASELINE"
#: The columns as built on the driver (windows as epoch microseconds), then converted.
PROFILE_STAGED = ", ".join([
    "window_start_us bigint, window_end_us bigint, granularity string, slice_key string, slice_value string",
    "model_version string, model_name string, log_type string, column_name string, data_type string",
    "count bigint, num_nulls bigint, avg double",
    "stddev double, min double, max double, quantiles array<double>, distinct_count bigint",
    "frequent_items array<struct<item: string, count: bigint>>",
    *[f"{name} double" for name in QUALITY], "table_version bigint"])
DRIFT_STAGED = ", ".join([
    "window_start_us bigint, window_end_us bigint, cmp_start_us bigint, cmp_end_us bigint, drift_type string",
    "granularity string, slice_key string, slice_value string, model_version string, model_name string",
    "column_name string",
    "data_type string, count_delta double, avg_delta double, percent_null_delta double",
    "distinct_count_delta double, ks_test struct<statistic: double, pvalue: double>",
    "chi_squared_test struct<statistic: double, pvalue: double>, population_stability_index double",
    "js_distance double, tv_distance double, l_infinity_distance double, wasserstein_distance double",
    "bounds struct<ks_statistic: double, wasserstein_distance: double>, table_version bigint"])


def profile_rows(granularity: str | None, key: tuple, summary: Mapping[str, Any],
                 categories: Mapping[str, Mapping[str, int]], kinds: Mapping[str, str], types: Mapping[str, str],
                 table_version: int, log_type: str = INPUT) -> list[dict[str, Any]]:
    """The rows of one group: one per column, and the ``:table`` row (row count, quality). A
    baseline's rows (``log_type`` BASELINE) have no window and no granularity."""
    base = dict(zip(GROUP_COLUMNS, key), granularity=granularity, table_version=table_version, log_type=log_type)
    rows = []
    for name, kind in kinds.items():
        if name not in summary["columns"]:
            continue
        metrics = dict(summary["columns"][name])
        row = {**base, "column_name": name, "data_type": types[name], "count": metrics.pop("count"),
               "num_nulls": summary["rows"] - summary["columns"][name]["count"], **metrics}
        if kind == CATEGORICAL:
            counts = categories.get(name, {})
            top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_K]
            row.update(distinct_count=len(counts), frequent_items=[{"item": k, "count": n} for k, n in top])
        rows.append(row)
    rows.append({**base, "column_name": TABLE_ROW, "data_type": None, "count": summary["rows"],
                 **quality(summary["quality"]), **summary.get("custom", {})})
    return rows


def quality(aggregated: Mapping[str, Any]) -> dict[str, float | None]:
    """The quality columns from the aggregates (``q_*``) and the driver-side metrics."""
    out: dict[str, Any] = {name: aggregated.get(name) for name in
                           ("precision_macro", "precision_weighted", "recall_macro", "recall_weighted", "f1_macro",
                            "f1_weighted", "roc_auc")}
    out["accuracy"] = aggregated.get("q_accuracy")
    out["log_loss"] = None if aggregated.get("q_not_binary") else aggregated.get("q_log_loss")
    if aggregated.get("q_not_binary"):
        out["roc_auc"] = None
    if aggregated.get("q_n"):
        mse, var_y = aggregated["q_mse"], aggregated["q_var_y"]
        out.update(mse=mse, rmse=float(np.sqrt(mse)), mae=aggregated["q_mae"], mape=aggregated["q_mape"],
                   r2=(1 - mse / var_y) if var_y else None)
    return out


def drift_row(drift_type: str, granularity: str, key: tuple, cmp_window: tuple, name: str, kind: str, data_type: str,
              window: Mapping[str, Any], compared: Mapping[str, Any], table_version: int) -> dict[str, Any]:
    """One column's drift between a group (``window``) and what it is compared with: each side
    is ``{"rows", "metrics", "counts" (categorical) or "binned" (numeric)}``."""
    row: dict[str, Any] = dict(zip(GROUP_COLUMNS, key))
    row.update(cmp_start_us=cmp_window[0], cmp_end_us=cmp_window[1], drift_type=drift_type, granularity=granularity,
               column_name=name, data_type=data_type, table_version=table_version)
    mine, theirs = window["metrics"], compared["metrics"]
    row["count_delta"] = float(mine["count"] - theirs["count"])
    if window["rows"] and compared["rows"]:
        row["percent_null_delta"] = (100 * (1 - mine["count"] / window["rows"])
                                     - 100 * (1 - theirs["count"] / compared["rows"]))
    if kind == NUMERIC:
        if mine.get("avg") is not None and theirs.get("avg") is not None:
            row["avg_delta"] = mine["avg"] - theirs["avg"]
        if mine.get("distinct_count") is not None and theirs.get("distinct_count") is not None:
            row["distinct_count_delta"] = float(mine["distinct_count"] - theirs["distinct_count"])
        a, b = compared.get("binned"), window.get("binned")
        if a is not None and b is not None:
            ks, ks_bound = stats.ks_test(a, b)
            wasserstein = stats.wasserstein_distance(a, b)
            row.update(ks_test={"statistic": ks.statistic, "pvalue": ks.pvalue},
                       wasserstein_distance=wasserstein.value,
                       population_stability_index=stats.population_stability_index(a, b),
                       bounds={"ks_statistic": ks_bound, "wasserstein_distance": wasserstein.bound})
    else:
        a, b = compared.get("counts") or {}, window.get("counts") or {}
        row["distinct_count_delta"] = float(len(b) - len(a))
        chi = stats.chi_squared_test(a, b)
        if chi is not None:
            row["chi_squared_test"] = {"statistic": chi.statistic, "pvalue": chi.pvalue}
        row.update(js_distance=stats.js_distance(a, b), tv_distance=stats.tv_distance(a, b),
                   population_stability_index=stats.categorical_psi(a, b),
                   l_infinity_distance=stats.l_infinity_distance(a, b))
    return row


def table_drift_row(drift_type: str, granularity: str, key: tuple, cmp_window: tuple, mine: Mapping[str, Any],
                    theirs: Mapping[str, Any], table_version: int) -> dict[str, Any]:
    """The ``:table`` drift row of a comparison (of the two ``:table`` profile rows): the row
    count's delta, and the custom drift metrics of the whole row (input_columns [":table"])."""
    row: dict[str, Any] = dict(zip(GROUP_COLUMNS, key))
    row.update(cmp_start_us=cmp_window[0], cmp_end_us=cmp_window[1], drift_type=drift_type, granularity=granularity,
               column_name=TABLE_ROW, table_version=table_version, count_delta=float(mine["count"] - theirs["count"]))
    return row


def window_predicate(granularity: str, windows: Iterable[int | None]) -> str:
    """The SQL that picks the rows of ``windows`` (starts in epoch µs) of ``granularity``."""
    predicate = f"granularity = {sql_string(granularity)}"
    if granularity == SNAPSHOT:
        return predicate
    listed = ", ".join(f"timestamp_micros({int(w)})" for w in sorted({w for w in windows if w is not None}))
    return f"{predicate} AND window.start IN ({listed or 'NULL'})"


def write(spark: SparkSession, target: TableRef, rows: Sequence[Mapping[str, Any]], staged: str,
          granularity: str | None, windows: Iterable[int | None], drift: bool, predicate: str | None = None) -> None:
    """Replace the rows of ``windows`` (of ``granularity``; None: the baseline's rows) in
    ``target`` by ``rows``, or those ``predicate`` picks, in one commit (Delta's replaceWhere):
    a re-run writes the same rows again."""
    from pyspark.sql import functions as F

    names = column_names(staged)
    frame = spark.createDataFrame([tuple(row.get(n) for n in names) for row in rows], staged)

    def window(prefix: str) -> Any:
        return F.struct(F.timestamp_micros(f"{prefix}_start_us").alias("start"),
                        F.timestamp_micros(f"{prefix}_end_us").alias("end"))

    columns = [window("window").alias("window")]
    if drift:
        columns.append(window("cmp").alias("window_cmp"))
    columns += [F.col(n) for n in names if not n.endswith("_us")]
    columns.append(F.current_timestamp().alias("computed_at"))
    frame = frame.select(*columns)
    if predicate is None:
        predicate = f"log_type = '{BASELINE_LOG}'" if granularity is None else window_predicate(granularity, windows)
    writer = (frame.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
              .option("mergeSchema", "true"))
    if target.exists(spark):
        writer.save(target.path) if target.path is not None else writer.saveAsTable(target.name)
    else:
        writer = frame.write.format("delta").mode("overwrite")
        writer.save(target.path) if target.path is not None else writer.saveAsTable(target.name)


def column_names(staged: str) -> list[str]:
    """The top-level column names of a DDL string."""
    return [part.strip().split(" ")[0].strip("`") for part in _split_columns(staged)]


def _split_columns(staged: str) -> list[str]:
    """Top-level column definitions of a DDL string (commas inside <...> kept)."""
    parts, depth, current = [], 0, ""
    for char in staged:
        depth += char == "<"
        depth -= char == ">"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in [*parts, current] if p.strip()]
