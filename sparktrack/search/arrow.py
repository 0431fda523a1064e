"""A bound search (see search.grammar) evaluated on an Arrow table in the driver, with the
semantics of the Spark compilation (``search.spark``): the same rows, in the same order.

The table holds the schema's attribute columns and, for each map lookup the query makes
(``Query.keys``), a column named as the filter writes it (``metrics.acc``) with nulls where a row
lacks the key; for datasets, a list column per key (``datasets.name``: the names of each run's
datasets)."""

from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING, Any

from sparktrack.search.grammar import NULL_OPS, Comparison, Query, Target
from sparktrack.search.schemas import NUMBER, TIME

if TYPE_CHECKING:
    import pyarrow as pa

    from sparktrack.search.schemas import SearchSchema


def apply(table: pa.Table, query: Query) -> pa.Table:
    """The rows of ``table`` that match ``query``, in its order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    conditions = [_condition(_values(table, target, compare=True), target, comparison)
                  for target, comparison in query.conditions]
    chosen = table.filter(reduce(pc.and_, conditions)) if conditions else table
    sort_keys, helpers = [], {}
    for number, (target, ascending) in enumerate(query.ordering):
        values = _values(chosen, target, compare=False)
        if target.numeric:  # numbers, then NaN, then missing: whatever the direction
            rank = pc.if_else(pc.is_null(values), 2, pc.if_else(pc.is_nan(values), 1, 0))
            helpers[f"_rank_{number}"] = rank
            sort_keys.append((f"_rank_{number}", "ascending"))
        helpers[f"_value_{number}"] = values
        sort_keys.append((f"_value_{number}", "ascending" if ascending else "descending"))
    return chosen.take(pc.sort_indices(pa.table(helpers), sort_keys=sort_keys))


def _values(table: pa.Table, target: Target, compare: bool) -> pa.ChunkedArray:
    """The target's values; time attributes as epoch milliseconds when compared (Spark's
    ``unix_millis``), as they are when sorted. A key no row has is all nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if target.name not in table.column_names:
        kind = pa.list_(pa.string()) if target.kind == "list" else pa.float64() if target.numeric else pa.string()
        return pa.chunked_array([pa.nulls(table.num_rows, kind)])
    values = table.column(target.name)
    if target.kind == "time" and compare:  # integer division: exact, and times are not negative
        return pc.divide(pc.cast(pc.cast(values, pa.timestamp("us")), pa.int64()), 1000)
    return values


def _condition(values: pa.ChunkedArray, target: Target, comparison: Comparison) -> pa.ChunkedArray:
    """True where the comparison holds; false where Spark's would be false or NULL."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if comparison.op in NULL_OPS:  # a missing key is null; a NaN metric is a value
        missing = pc.is_null(values)
        return missing if comparison.op == "IS NULL" else pc.invert(missing)
    if target.kind != "list":
        return _holds(values, target, comparison)
    # A list (a run's datasets): true when one of its elements satisfies the comparison.
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    hits = _holds(pc.list_flatten(values), target, comparison)
    found = np.zeros(len(values), dtype=bool)
    found[np.asarray(pc.list_parent_indices(values).filter(hits))] = True
    return pa.chunked_array([pa.array(found)])


def _holds(values: pa.Array | pa.ChunkedArray, target: Target, comparison: Comparison) -> pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    op, value = comparison.op, comparison.value
    if op in ("LIKE", "ILIKE"):
        result = pc.match_like(values, str(value), ignore_case=op == "ILIKE")
    elif op in ("IN", "NOT IN"):
        matched = pc.is_in(values, value_set=pa.array(list(value), pa.string()))  # type: ignore[arg-type]
        result = matched if op == "IN" else pc.invert(matched)
    else:
        result = getattr(pc, _COMPARE[op])(values, pa.scalar(value))
        if target.numeric:  # only != holds for NaN, as in Python (see search.spark)
            result = pc.if_else(pc.is_nan(values), op == "!=", result)
    return pc.and_(pc.fill_null(result, False), pc.is_valid(values))  # NULL (a missing key) never holds


_COMPARE = {"=": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal",
            ">": "greater", ">=": "greater_equal"}


def rows_table(rows: list[dict[str, Any]], schema: SearchSchema, keys: dict[str, list[str]],
               ids: dict[str, str] | None = None) -> pa.Table:
    """Rows (dicts, with their tags as a ``tags`` dict) as ``apply`` takes them: the columns
    ``schema`` reads and ``ids`` (column -> kind), times as UTC timestamps, and a ``tags.<key>``
    column per tag key the search names."""
    import pyarrow as pa

    kinds = {**(ids or {}), **schema.columns()}
    arrow = {TIME: pa.timestamp("us", tz="UTC"), NUMBER: pa.int64()}
    columns = {name: pa.array([row[name] for row in rows], arrow.get(kind, pa.string()))
               for name, kind in sorted(kinds.items()) if not rows or name in rows[0]}
    for key in keys.get("tags", []):
        columns[f"tags.{key}"] = pa.array([row["tags"].get(key) for row in rows], pa.string())
    return pa.table(columns)
