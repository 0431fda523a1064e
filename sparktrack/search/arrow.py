"""A bound search (see search.grammar) evaluated on an Arrow table in the driver, with the
semantics of the Spark compilation (``search.spark``): the same rows, in the same order.

The table holds the schema's attribute columns and, for each map lookup the query makes
(``Query.keys``), a column named as the filter writes it (``metrics.acc``) with nulls where a row
lacks the key."""

from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING

from sparktrack.search.grammar import Comparison, Query, Target

if TYPE_CHECKING:
    import pyarrow as pa


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
    ``unix_millis``), as they are when sorted. A map key no row has is all nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    name = target.name
    if name not in table.column_names:
        return pa.chunked_array([pa.nulls(table.num_rows, pa.float64() if target.numeric else pa.string())])
    values = table.column(name)
    if target.kind == "time" and compare:  # integer division: exact, and times are not negative
        return pc.divide(pc.cast(pc.cast(values, pa.timestamp("us")), pa.int64()), 1000)
    return values


def _condition(values: pa.ChunkedArray, target: Target, comparison: Comparison) -> pa.ChunkedArray:
    """True where the comparison holds; false where Spark's would be false or NULL."""
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
        if target.numeric:  # only != holds for NaN, as in Python (see _condition)
            result = pc.if_else(pc.is_nan(values), op == "!=", result)
    return pc.and_(pc.fill_null(result, False), pc.is_valid(values))  # NULL (a missing key) never holds


_COMPARE = {"=": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal",
                  ">": "greater", ">=": "greater_equal"}
