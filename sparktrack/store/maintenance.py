"""Compaction and clean-up of a store's Delta tables: OPTIMIZE (Z-ORDER on the metrics table),
then VACUUM with the tables' retention (Delta's default: 7 days), which keeps concurrent readers,
writers and time travel within that window safe.

Both are safe while other processes log: OPTIMIZE rewrites files without changing data, which
Delta lets commit beside blind appends (an insert-only MERGE that loses to it retries), and
VACUUM deletes only files that no version inside the retention window reads.

Delta 4.4 ignores ``VACUUM ... RETAIN n HOURS`` unless n is 0, so the retention is the table
property ``delta.deletedFileRetentionDuration``; ``purge=True`` is ``RETAIN 0 HOURS``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from sparktrack.errors import InvalidValueError
from sparktrack.store import tables

if TYPE_CHECKING:
    from sparktrack.store.delta_store import DeltaStore

#: Z-ORDER columns per table: one run's history of one key is then a few files, and one key's
#: latest values (what a search on it reads) are a few files too.
ZORDER_COLUMNS = {"metrics": ("run_id", "key"), "metrics_latest": ("key", "run_id")}
#: Tables maintained side by side: each is a few small Spark jobs that leave cores idle.
_PARALLEL_TABLES = 4
_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
#: VACUUM lists a table's files with this many tasks (Spark's default: 10,000). A store table is one
#: flat directory, and 10,000 tasks cost ~30 s per table on a 2-core machine; 2 per core cost ~2 s.
_LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


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


def maintain(store: DeltaStore, *, table_names: Sequence[str] | None = None, zorder: bool = False,
             vacuum: bool = True, purge: bool = False) -> list[TableReport]:
    """OPTIMIZE (and VACUUM) each of the store's tables; returns file counts before and after.

    ``purge`` vacuums with no retention at all (``RETAIN 0 HOURS``): every file the current
    version does not read is deleted, so time travel ends and a process that is writing or
    reading the store meanwhile can fail. Use it only when nothing else uses the store."""
    names = list(table_names) if table_names else [t.name for t in tables.ALL_TABLES]
    unknown = [n for n in names if n not in tables.BY_NAME]
    if unknown:
        raise InvalidValueError("tables", names, f"names of store tables; unknown {unknown}, known "
                                f"{[t.name for t in tables.ALL_TABLES]}")
    if purge and not vacuum:
        raise InvalidValueError("purge", purge, "False when vacuum is False (purging is a VACUUM)")
    conf = store.spark.conf
    saved = {key: conf.get(key, None) for key in (_RETENTION_CHECK, _LISTING_PARALLELISM)}
    conf.set(_LISTING_PARALLELISM, str(2 * store.spark.sparkContext.defaultParallelism))
    if purge:
        conf.set(_RETENTION_CHECK, "false")
    try:
        with ThreadPoolExecutor(max_workers=_PARALLEL_TABLES, thread_name_prefix="sparktrack-maintain") as pool:
            return list(pool.map(lambda name: _maintain_table(store, name, zorder, vacuum, purge), names))
    finally:
        for key, value in saved.items():
            if value is None:
                conf.unset(key)
            else:
                conf.set(key, value)


def _maintain_table(store: DeltaStore, name: str, zorder: bool, vacuum: bool, purge: bool) -> TableReport:
    spark = store.spark
    ref = f"delta.`{store.path(name).replace('`', '``')}`"
    started = time.monotonic()
    files_before, bytes_before = _detail(store, ref)
    stored_before = _stored_files(store, name)
    columns = ZORDER_COLUMNS.get(name) if zorder else None
    statement = f"OPTIMIZE {ref}" + (f" ZORDER BY ({', '.join(columns)})" if columns else "")
    store.retry(lambda: spark.sql(statement).collect())
    if vacuum:
        spark.sql(f"VACUUM {ref}" + (" RETAIN 0 HOURS" if purge else "")).collect()
    files_after, bytes_after = _detail(store, ref)
    return TableReport(
        table=name, files_before=files_before, files_after=files_after,
        stored_files_before=stored_before, stored_files_after=_stored_files(store, name),
        bytes_before=bytes_before, bytes_after=bytes_after,
        seconds=round(time.monotonic() - started, 2),
    )


def _detail(store: DeltaStore, ref: str) -> tuple[int, int]:
    row = store.spark.sql(f"DESCRIBE DETAIL {ref}").select("numFiles", "sizeInBytes").first()
    return int(row[0] or 0), int(row[1] or 0)


def _stored_files(store: DeltaStore, name: str) -> int:
    """Parquet files under the table's directory, whether or not a snapshot still reads them."""
    jvm = store.spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(store.path(name))
    fs = path.getFileSystem(store.spark.sparkContext._jsc.hadoopConfiguration())
    files = fs.listFiles(path, True)
    count = 0
    while files.hasNext():
        status = files.next()
        if status.getPath().getName().endswith(".parquet") and "/_delta_log/" not in status.getPath().toString():
            count += 1
    return count
