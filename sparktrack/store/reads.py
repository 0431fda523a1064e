"""Reads of the store's tables: whole tables (kept between reads, brought up to date with only
what was committed since), rows by column values, one run's rows by file statistics, rows "as
of" a time, and values derived from rows, computed once per version of their tables."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Mapping, Sequence, TypeVar

from sparktrack.store.layout import Table

if TYPE_CHECKING:
    import pyarrow as pa

    from sparktrack.engine.delta import DeltaTables

T = TypeVar("T")
#: Derived values kept (see ``memo``).
_MEMO_SIZE = 8


class Reads:
    def __init__(self, tables: DeltaTables):
        self.tables = tables
        self._memo: OrderedDict[tuple, object] = OrderedDict()
        self._memo_lock = threading.Lock()

    def rows(self, table: Table, as_of: dt.datetime | None = None) -> pa.Table:
        """The table's rows at its latest version; with ``as_of``, the rows written by then (the
        tables are append-only, so that is the table as it stood then)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        rows = self.tables.rows(table.name, table.schema)
        if as_of is None:
            return rows
        return rows.filter(pc.less_equal(rows[table.time_column], pa.scalar(as_of, pa.timestamp("us", tz="UTC"))))

    def read(self, *reads: tuple[Table, Mapping[str, Sequence[str]]],
             as_of: dt.datetime | None = None) -> list[pa.Table]:
        """For each ``(table, {column: values})``, the rows whose columns each hold one of the
        values (no condition: every row)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        found = []
        for table, where in reads:
            rows = self.rows(table, as_of)
            for column, values in where.items():
                rows = rows.filter(pc.is_in(rows[column], value_set=pa.array(list(values), rows.schema.field(column).type)))
            found.append(rows)
        return found

    def matching(self, table: Table, column: str, value: str) -> pa.Table:
        """The rows whose ``column`` is ``value``, read from only the files that can hold it."""
        return self.tables.rows_matching(table.name, table.schema, column, value)

    def matching_any(self, table: Table, column: str, values: Sequence[str]) -> pa.Table:
        """The rows whose ``column`` is one of ``values``, read from only the files that can hold one."""
        return self.tables.rows_matching_any(table.name, table.schema, column, values)

    def memo(self, key: tuple, sources: Sequence[Table], compute: Callable[[], T]) -> T:
        """``compute()``, remembered (the last few keys) for as long as none of ``sources`` has a
        new commit: what derives from a table's rows is computed once per version."""
        key = (key, self.tables.versions(*(table.name for table in sources)))
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]  # type: ignore[return-value]
        value = compute()
        with self._memo_lock:
            self._memo[key] = value
            while len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)
        return value

    def forget(self) -> None:
        with self._memo_lock:
            self._memo.clear()
        self.tables.forget()
