"""A bound search (see search.grammar) compiled to Spark Columns over a DataFrame with the
schema's columns and map columns: the views' rows (``sparktrack.runs``...), plus for datasets an
array of structs ``datasets`` (name, digest, context). Values are literal Column arguments, never
SQL text. Same semantics as ``search.arrow``: both pass one corpus."""

from __future__ import annotations

import operator
from functools import reduce
from typing import TYPE_CHECKING, Callable, Iterator

from sparktrack.search.grammar import NULL_OPS, Comparison, Query, Target

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def _lookup(target: Target) -> Column:
    """The value to sort on: a map lookup (NULL when the key is missing) or a column."""
    from pyspark.sql import functions as F

    column = F.col(target.column)
    return column.getItem(target.key) if target.kind == "map" else column


def _compared(target: Target) -> Column:
    """The value to compare: as :func:`_lookup`, with times as epoch milliseconds."""
    from pyspark.sql import functions as F

    return F.unix_millis(_lookup(target)) if target.kind == "time" else _lookup(target)


_COMPARE: dict[str, Callable[[Column, Column], Column]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _condition(target: Target, comparison: Comparison) -> Column:
    from pyspark.sql import functions as F

    if comparison.op in NULL_OPS:  # a missing key is null; a NaN metric is a value
        missing = _lookup(target).isNull()
        return missing if comparison.op == "IS NULL" else ~missing
    if target.kind == "list":  # one of the run's datasets satisfies it
        return F.exists(F.col(f"`{target.column}`"), lambda item: _holds(item[target.key], target, comparison))
    return _holds(_compared(target), target, comparison)


def _holds(lhs: Column, target: Target, comparison: Comparison) -> Column:
    from pyspark.sql import functions as F

    op, value = comparison.op, comparison.value
    if op == "LIKE":
        return lhs.like(str(value))
    if op == "ILIKE":
        return lhs.ilike(str(value))
    if op in ("IN", "NOT IN"):
        matched = lhs.isin(*value)  # type: ignore[misc]
        return matched if op == "IN" else ~matched
    condition = _COMPARE[op](lhs, F.lit(value))
    if not target.numeric:
        return condition
    # Spark orders NaN above every number and equal to itself; MLflow (Python) makes only != true.
    return F.when(F.isnan(lhs), F.lit(op == "!=")).otherwise(condition)


def compile_filter(query: Query) -> Column | None:
    """The query's filter as one boolean Column; None when it has no condition."""
    if not query.conditions:
        return None
    return reduce(operator.and_, (_condition(target, comparison) for target, comparison in query.conditions))


def _sort_columns(target: Target, ascending: bool) -> Iterator[Column]:
    from pyspark.sql import functions as F

    column = _lookup(target)
    if target.numeric:  # numbers, then NaN, then missing: whatever the direction
        yield F.when(column.isNull(), 2).when(F.isnan(column), 1).otherwise(0).asc()
    yield column.asc_nulls_last() if ascending else column.desc_nulls_last()


def compile_order_by(query: Query) -> list[Column]:
    """Sort Columns for the query's ordering, the schema's tie-breakers last. Missing values
    sort last in both directions."""
    return [column for target, asc in query.ordering for column in _sort_columns(target, asc)]


def apply(frame: DataFrame, query: Query) -> DataFrame:
    """``frame`` filtered and sorted by ``query``."""
    condition = compile_filter(query)
    return (frame if condition is None else frame.filter(condition)).orderBy(*compile_order_by(query))
