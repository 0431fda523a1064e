"""Compaction and clean-up of a store's tables, through delta-rs: compaction (Z-ORDER on the
metric tables), VACUUM with the tables' retention (Delta's default: 7 days), then a checkpoint and
the clean-up of expired log files.

Everything is safe while other processes log: compaction rewrites files without changing data
and commits beside blind appends (a claim that loses to it reads again and retries), VACUUM
deletes only files that no version inside the retention window reads, and a checkpoint only
sums up the log. No JVM is needed.

Two compactions of one table must not run at once: delta-rs 1.6.6 commits both, and the rows of
the files they both rewrote are then there twice. Run one maintenance job at a time per store.
(The rewrites of small tables after a commit, engine.delta's ``_compact_if_fragmented``, are
claims and safe beside anything.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from sparktrack.errors import InvalidValueError
from sparktrack.store import layout

if TYPE_CHECKING:
    from sparktrack.store.store import Store

#: Z-ORDER columns per table: one run's history of one key is then a few files, and one key's
#: latest values (what a search on it reads) are a few files too.
ZORDER_COLUMNS = {"metrics": ("run_id", "key"), "metrics_latest": ("key", "run_id")}


@dataclass(frozen=True)
class TableReport:
    table: str
    files_before: int  # data files in the current snapshot
    files_after: int
    stored_files_before: int  # data files on storage, including ones only old versions read
    stored_files_after: int
    bytes_before: int
    bytes_after: int
    seconds: float


def maintain(store: Store, *, table_names: Sequence[str] | None = None, zorder: bool = False,
             vacuum: bool = True, purge: bool = False, retain_hours: float | None = None) -> list[TableReport]:
    """Compact (and vacuum and checkpoint) each of the store's tables; returns file counts.

    ``retain_hours`` overrides the tables' retention for VACUUM (it may not be below the tables'
    ``delta.deletedFileRetentionDuration`` unless ``purge``). ``purge`` vacuums with no retention
    at all: every file the current version does not read is deleted, so time travel ends and a
    process that is reading the store meanwhile can fail. Use it only when nothing else uses
    the store."""
    names = list(table_names) if table_names else [t.name for t in layout.ALL_TABLES]
    unknown = [n for n in names if n not in layout.BY_NAME]
    if unknown:
        raise InvalidValueError("tables", names, f"names of store tables; unknown {unknown}, known "
                                f"{[t.name for t in layout.ALL_TABLES]}")
    if purge and not vacuum:
        raise InvalidValueError("purge", purge, "False when vacuum is False (purging is a VACUUM)")
    if retain_hours is not None and (isinstance(retain_hours, bool) or not isinstance(retain_hours, (int, float))
                                     or not 0 <= retain_hours < 1e6):
        raise InvalidValueError("retain_hours", retain_hours, "a number of hours from 0")
    store.flush()
    return [_maintain_table(store, name, zorder, vacuum, purge, retain_hours) for name in names]


def _maintain_table(store: Store, name: str, zorder: bool, vacuum: bool, purge: bool,
                    retain_hours: float | None) -> TableReport:
    tables = store.tables
    started = time.monotonic()
    files_before, bytes_before = tables.live_files(name)
    stored_before = tables.stored_files(name)
    columns = ZORDER_COLUMNS.get(name) if zorder else None
    if columns:
        tables.maintain(name, lambda table: table.optimize.z_order(list(columns)))
    else:
        tables.maintain(name, lambda table: table.optimize.compact())
    if vacuum:
        hours = 0 if purge else retain_hours
        tables.maintain(name, lambda table: table.vacuum(retention_hours=hours, dry_run=False,
                                                         enforce_retention_duration=not purge))
    tables.maintain(name, lambda table: (table.create_checkpoint(), table.cleanup_metadata()))
    files_after, bytes_after = tables.live_files(name)
    return TableReport(
        table=name, files_before=files_before, files_after=files_after,
        stored_files_before=stored_before, stored_files_after=tables.stored_files(name),
        bytes_before=bytes_before, bytes_after=bytes_after,
        seconds=round(time.monotonic() - started, 2),
    )
