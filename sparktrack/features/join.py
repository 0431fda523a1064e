"""Point-in-time lookups in Spark: for each row of a spine, the feature row with the same key and
the latest timestamp at or before the row's (inclusive), in one sort-based pass per feature table.

The spine's rows and the feature rows are put in one frame (a union), partitioned by the key and
ordered by time, feature rows first at equal times; a window's ``last(struct, ignorenulls)``
then carries each feature row forward to the spine rows after it. That is one shuffle, and no
row is multiplied, whatever the number of versions per key (a range join with ``row_number``
multiplies every spine row by the versions before it first). Only feature rows whose key is in
the spine and whose time is in the spine's range (less the lookback window) take part.

The features travel as one struct, which is null only on spine rows: a feature row whose
values are null is carried as it is, so a stored null stays null and never falls back to an
older value. A table without a timeseries column is an exact key join.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack.engine.location import quote_identifier as _q

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_FEATURES = "__sparktrack_features"
_TIME = "__sparktrack_time"
_IS_SPINE = "__sparktrack_is_spine"
_FEATURE_TIME = "__sparktrack_feature_time"


@dataclass(frozen=True)
class JoinPlan:
    """One lookup, resolved against its table: which spine columns meet which table columns, and
    what comes out."""

    keys: tuple[tuple[str, str], ...]  # (spine column, table column) pairs
    features: tuple[tuple[str, str], ...]  # (table column, output column) pairs
    spine_time: str | None = None  # the spine's timestamp column, for a time-series table
    table_time: str | None = None  # the table's timeseries column
    lookback: dt.timedelta | None = None
    defaults: Mapping[str, Any] | None = None  # output column -> value for a missing key


def lookup(spine: DataFrame, table: DataFrame, plan: JoinPlan) -> DataFrame:
    """``spine`` with the plan's features added after its columns, one row per spine row. A row
    whose key has no feature row (at or before its time, within the lookback window) gets nulls,
    or the plan's defaults; a feature row's null values stay null."""
    if plan.table_time is None:
        return _exact(spine, table, plan)
    return _as_of(spine, table, plan)


def _exact(spine: DataFrame, table: DataFrame, plan: JoinPlan) -> DataFrame:
    from pyspark.sql import functions as F

    right = table.select(*(F.col(_q(t)).alias(f"__key{i}") for i, (_, t) in enumerate(plan.keys)),
                         F.struct(*(F.col(_q(t)).alias(out) for t, out in plan.features)).alias(_FEATURES))
    condition = [spine[_q(s)] == right[f"__key{i}"] for i, (s, _) in enumerate(plan.keys)]
    joined = spine.join(right, on=_all(condition), how="left")
    matched = F.col(_FEATURES).isNotNull()
    return joined.select(*(spine[_q(c)] for c in spine.columns), *_outputs(plan, table, matched))


def _outputs(plan: JoinPlan, table: DataFrame, matched: Column) -> list[Column]:
    """Each feature where a feature row matched, else its default (null when none is given)."""
    from pyspark.sql import functions as F

    defaults = plan.defaults or {}
    columns = []
    for column, out in plan.features:
        value = F.when(matched, F.col(f"{_FEATURES}.{_q(out)}"))
        if out in defaults:
            value = value.otherwise(F.lit(defaults[out]).cast(table.schema[column].dataType))
        columns.append(value.alias(out))
    return columns


def _as_of(spine: DataFrame, table: DataFrame, plan: JoinPlan) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = [s for s, _ in plan.keys]
    time_column = plan.spine_time
    bounds = spine.agg(F.min(_q(time_column)).alias("lo"), F.max(_q(time_column)).alias("hi")).collect()[0]
    rows = table.select(
        *(F.col(_q(t)).alias(s) for s, t in plan.keys),
        F.col(_q(plan.table_time)).cast("timestamp").alias(_TIME),
        F.struct(*(F.col(_q(t)).alias(out) for t, out in plan.features),
                 F.col(_q(plan.table_time)).cast("timestamp").alias(_FEATURE_TIME)).alias(_FEATURES),
    ).where(F.col(_TIME).isNotNull() & _all([F.col(_q(s)).isNotNull() for s in keys]))
    if bounds.hi is not None:
        rows = rows.where(F.col(_TIME) <= F.lit(bounds.hi))
        if plan.lookback is not None:
            rows = rows.where(F.col(_TIME) >= F.lit(bounds.lo) - F.expr(_interval(plan.lookback)))
    rows = rows.join(spine.select(*(_q(k) for k in keys)).distinct(), on=keys, how="left_semi")
    left = spine.select("*", F.col(_q(time_column)).cast("timestamp").alias(_TIME),
                        F.lit(True).alias(_IS_SPINE))
    right = rows.withColumn(_IS_SPINE, F.lit(False))
    combined = left.unionByName(right, allowMissingColumns=True)
    window = (Window.partitionBy(*(_q(k) for k in keys))
              .orderBy(F.col(_TIME).asc_nulls_first(), F.col(_IS_SPINE).asc())
              .rowsBetween(Window.unboundedPreceding, Window.currentRow))
    found = F.last(F.col(_FEATURES), ignorenulls=True).over(window)
    scored = combined.withColumn(_FEATURES, found).where(F.col(_IS_SPINE))
    matched = F.col(f"{_FEATURES}.{_FEATURE_TIME}").isNotNull() & F.col(_TIME).isNotNull()
    if plan.lookback is not None:
        matched = matched & (F.col(f"{_FEATURES}.{_FEATURE_TIME}")
                             >= F.col(_TIME) - F.expr(_interval(plan.lookback)))
    return scored.select(*(F.col(_q(c)) for c in spine.columns), *_outputs(plan, table, matched))


def _interval(window: dt.timedelta) -> str:
    return f"INTERVAL {int(window.total_seconds() * 1_000_000)} MICROSECONDS"


def _all(conditions: Sequence[Column]) -> Column:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result & condition
    return result
