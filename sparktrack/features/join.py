"""Point-in-time lookups in Spark: for each row of a spine, the feature row with the same key and
the latest timestamp at or before the row's (inclusive), in one sort-based pass per feature table.

The spine's rows and the feature rows are put in one frame (a union), partitioned by the key and
ordered by time, feature rows first at equal times; a window's ``last(struct, ignorenulls)``
then carries each feature row forward to the spine rows after it. That is one shuffle, and no
row is multiplied, whatever the number of versions per key (a range join with ``row_number``
multiplies every spine row by the versions before it first). Only feature rows whose key is in
the spine (a broadcast semi-join on the spine's keys, when they are small enough to broadcast)
and whose time is in the spine's range (less the lookback window; one small job finds it) take
part.

The features travel as one struct, which is null only on spine rows: a feature row whose
values are null is carried as it is, so a stored null stays null and never falls back to an
older value. The struct holds the feature row's time only when a lookback window needs it. A
table without a timeseries column is an exact key join.
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
    time = F.col(_q(plan.table_time)).cast("timestamp")
    carried = [F.col(_q(t)).alias(out) for t, out in plan.features]
    if plan.lookback is not None:  # the carried row's time, for the gap to the spine row's
        carried.append(time.alias(_FEATURE_TIME))
    rows = table.select(*(F.col(_q(t)).alias(s) for s, t in plan.keys), time.alias(_TIME),
                        F.struct(*carried).alias(_FEATURES)) \
        .where(F.col(_TIME).isNotNull() & _all([F.col(_q(s)).isNotNull() for s in keys]))
    rows = _in_spine_range(rows, spine, plan)
    # No distinct(): a broadcast semi-join drops the build side's duplicate keys itself, and a
    # distinct would be one more shuffle of the spine before the window's.
    rows = rows.join(spine.select(*(_q(k) for k in keys)), on=keys, how="left_semi")
    left = spine.select("*", F.col(_q(plan.spine_time)).cast("timestamp").alias(_TIME),
                        F.lit(True).alias(_IS_SPINE))
    combined = left.unionByName(rows.withColumn(_IS_SPINE, F.lit(False)), allowMissingColumns=True)
    window = (Window.partitionBy(*(_q(k) for k in keys))
              .orderBy(F.col(_TIME).asc_nulls_first(), F.col(_IS_SPINE).asc())
              .rowsBetween(Window.unboundedPreceding, Window.currentRow))
    found = F.last(F.col(_FEATURES), ignorenulls=True).over(window)
    scored = combined.withColumn(_FEATURES, found).where(F.col(_IS_SPINE))
    # A spine row whose time is null sorts before every feature row of its key, so it finds none.
    matched = F.col(_FEATURES).isNotNull()
    if plan.lookback is not None:
        matched = F.col(f"{_FEATURES}.{_FEATURE_TIME}") >= F.col(_TIME) - F.expr(_interval(plan.lookback))
    return scored.select(*(F.col(_q(c)) for c in spine.columns), *_outputs(plan, table, matched))


def _in_spine_range(rows: DataFrame, spine: DataFrame, plan: JoinPlan) -> DataFrame:
    """``rows`` less those after the spine's last time, or (with a lookback window) before its
    first time less the window: one small job for the spine's bounds."""
    from pyspark.sql import functions as F

    time = F.col(_q(plan.spine_time)).cast("timestamp")
    bounds = spine.agg(F.min(time).alias("lo"), F.max(time).alias("hi")).collect()[0]
    if bounds.hi is None:  # no spine row has a time, so none finds a feature row
        return rows.where(F.lit(False))
    rows = rows.where(F.col(_TIME) <= F.lit(bounds.hi))
    if plan.lookback is not None:
        rows = rows.where(F.col(_TIME) >= F.lit(bounds.lo) - F.expr(_interval(plan.lookback)))
    return rows


def _interval(window: dt.timedelta) -> str:
    return f"INTERVAL {int(window.total_seconds() * 1_000_000)} MICROSECONDS"


def _all(conditions: Sequence[Column]) -> Column:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result & condition
    return result
