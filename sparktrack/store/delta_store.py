"""The store: path-based Delta tables under one root, bootstrapped once, visible to spark.sql.

Writes are blind appends (``append``) except where a uniqueness rule must hold across processes
(experiment names), which uses an insert-only MERGE that Delta checks for conflicts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from functools import lru_cache
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Mapping, Sequence, TypeVar

import pyarrow as pa

from sparktrack import __version__, settings
from sparktrack.entities import now_ms
from sparktrack.errors import SchemaVersionError, StoreError
from sparktrack.store import tables
from sparktrack.store.artifacts import URI_SCHEME
from sparktrack.store.buffer import RecordBuffer, replay_orphans
from sparktrack.store.locking import CommitLock
from sparktrack.store.snapshots import READ_ERRORS, LocalSnapshots
from sparktrack.store.tables import Table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: A plain SQL identifier: a database name, or one part of a catalog table name.
SQL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def normalize_root(root: str) -> tuple[str, str | None]:
    """The store root as a URI, and its local directory when it is on local disk."""
    if root.startswith("file:"):
        local = re.sub(r"^file:(//)?", "", root)
        local = os.path.abspath(local)
        return f"file:{local}", local
    if URI_SCHEME.match(root):
        return root.rstrip("/"), None
    local = os.path.abspath(os.path.expanduser(root))
    return f"file:{local}", local


def delta_concurrency_errors() -> tuple[type[BaseException], ...]:
    """Delta's concurrent-modification exceptions; they share no base class in Python."""
    from delta import exceptions as de

    return (
        de.ConcurrentAppendException,
        de.ConcurrentDeleteReadException,
        de.ConcurrentDeleteDeleteException,
        de.ConcurrentTransactionException,
        de.MetadataChangedException,
        de.ProtocolChangedException,
        de.ConcurrentWriteException,
    )


class DeltaStore:
    """All of a store's Delta tables, its commit lock, its record buffer and its artifact root."""

    def __init__(self, spark: SparkSession, root: str | None = None, database: str | None = None):
        self.spark = spark
        self.root, self.local_root = normalize_root(settings.STORE.get(root))
        self.database = settings.DATABASE.get(database)
        if not SQL_IDENTIFIER.match(self.database):
            raise StoreError(
                f"Database name {self.database!r} is not a plain SQL identifier; use letters, "
                "digits and underscores (SPARKTRACK_DATABASE)."
            )
        self.artifact_root = f"{self.root}/artifacts"
        self._locks = {name: CommitLock(self.local_root, name)
                       for name in [t.name for t in tables.ALL_TABLES] + ["bootstrap"]}
        self._pool = ThreadPoolExecutor(max_workers=len(tables.ALL_TABLES), thread_name_prefix="sparktrack")
        self._committed: dict[tuple[str, int], set[str]] = {}  # batch -> tables that took it
        self._memo: OrderedDict[tuple, object] = OrderedDict()
        self._memo_lock = threading.Lock()
        self.snapshots = (LocalSnapshots(os.path.join(self.local_root, "tables"), settings.LOCAL_READ_LIMIT.get() << 20)
                          if self.local_root else None)
        self._bootstrap()
        key = hashlib.sha1(self.root.encode()).hexdigest()[:16]
        self.spool_dir = os.path.join(settings.SPOOL_DIR.get(), key)
        replayed = replay_orphans(self.spool_dir, self.replay_batch)
        self._markers.cache_clear()
        if replayed:
            logger.warning("sparktrack: replayed %d spooled records into %s", replayed, self.root)
        self.buffer = RecordBuffer(
            self.commit_batch, self.spool_dir, settings.FLUSH_INTERVAL.get(), settings.FLUSH_SIZE.get()
        )
        self.register_catalog()

    # -- layout -------------------------------------------------------------------------------
    def path(self, table: Table | str) -> str:
        name = table if isinstance(table, str) else table.name
        return f"{self.root}/tables/{name}"

    def table(self, table: Table | str) -> DataFrame:
        return self.spark.read.format("delta").load(self.path(table))

    def view(self, name: str, as_of: dt.datetime | None = None) -> DataFrame:
        return self.spark.sql(self.view_sql(name, as_of))

    def view_sql(self, name: str, as_of: dt.datetime | None = None, runs: str | None = None) -> str:
        """A view's SQL, reading tables by path, with the views it builds on inlined.

        With ``as_of``, every table is read as it stood then: the tables are append-only, so that
        is the rows written at or before ``as_of`` (latest metrics come from the full history, as a
        commit's last point may be later than ``as_of`` while earlier points of it are not).
        With ``runs``, a relation with a ``run_id`` column, the tables keyed by run are read only
        for those runs (a semi-join below each aggregation, where Spark does not push one)."""
        quoted = {}
        for t in tables.ALL_TABLES:
            source = tables.METRICS if as_of is not None and t is tables.METRICS_LATEST else t
            ref = f"delta.`{self.path(source).replace('`', '``')}`"
            if as_of is not None:
                micros = int(as_of.timestamp() * 1_000_000)  # no time zone involved
                ref = f"(SELECT * FROM {ref} WHERE {tables.TIME_COLUMNS[source.name]} <= timestamp_micros({micros}))"
            if runs is not None and t in tables.RUN_TABLES:
                ref = f"(SELECT * FROM {ref} WHERE run_id IN (SELECT run_id FROM {runs}))"
            quoted[t.name] = ref
        inner = {
            v: f"({self.view_sql(v, as_of, runs)})" for v in tables.VIEWS if "{v[" + v + "]}" in tables.VIEWS[name]
        }
        return tables.VIEWS[name].format(t=quoted, v=inner)

    # -- bootstrap ----------------------------------------------------------------------------
    def _bootstrap(self) -> None:
        from delta.tables import DeltaTable

        present = self._pool.map(lambda t: DeltaTable.isDeltaTable(self.spark, self.path(t)), tables.ALL_TABLES)
        missing = [t for t, there in zip(tables.ALL_TABLES, present) if not there]
        if missing:
            with self._locks["bootstrap"].hold():
                list(self._pool.map(self._create, missing))
        (meta,) = self.read_rows((tables.STORE_META, {}))
        found = max(meta["schema_version"].to_pylist(), default=None)
        if found is not None and found > tables.SCHEMA_VERSION:
            raise SchemaVersionError(self.root, found, tables.SCHEMA_VERSION)
        if found is not None and found < 2:
            self._migrate_to_2()
        if found != tables.SCHEMA_VERSION:
            self.append(tables.STORE_META, [(tables.SCHEMA_VERSION, __version__, now_ms())])
        if tables.EXPERIMENTS in missing:
            from sparktrack.tracking.experiments import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME

            self.insert_if_absent(
                tables.EXPERIMENTS,
                [(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME,
                  f"{self.artifact_root}/{DEFAULT_EXPERIMENT_ID}", now_ms())],
                key="name",
            )

    def _migrate_to_2(self) -> None:
        """Fill ``metrics_latest`` (new in schema version 2) from the full metric history."""
        from pyspark.sql import functions as F

        with self._locks["bootstrap"].hold():
            if self.table(tables.METRICS_LATEST).isEmpty():
                latest = (
                    self.table(tables.METRICS).groupBy("run_id", "key")
                    .agg(F.max_by(F.struct("value", "step", "timestamp"),
                                  F.struct("step", "timestamp", "value")).alias("p"))
                    .select("run_id", "key", "p.value", "p.step", "p.timestamp")
                )
                latest.write.format("delta").mode("append").save(self.path(tables.METRICS_LATEST))
                logger.warning("sparktrack: migrated %s to schema version 2 (metrics_latest)", self.root)

    def _create(self, table: Table) -> None:
        from delta.tables import DeltaTable

        try:
            (
                DeltaTable.createIfNotExists(self.spark)
                .location(self.path(table))
                .addColumns(table.schema)
                .property("delta.appendOnly", "false")
                .execute()
            )
        except delta_concurrency_errors():
            if not DeltaTable.isDeltaTable(self.spark, self.path(table)):
                raise

    def register_catalog(self) -> None:
        """Expose tables and views as ``<database>.<name>`` so that spark.sql sees them."""
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.database}")

        def create(name: str, kind: str, source: str) -> None:
            if kind == "table":
                body = f"SELECT * FROM delta.`{self.path(source).replace('`', '``')}`"
            else:
                body = self.view_sql(source)
            self.spark.sql(f"CREATE OR REPLACE VIEW {self.database}.{name} AS {body}")

        # Side by side: each statement resolves its tables' Delta logs, mostly waiting on I/O.
        list(self._pool.map(lambda item: create(item[0], *item[1]), tables.CATALOG_NAMES.items()))

    # -- writes -------------------------------------------------------------------------------
    def frame(self, table: Table, rows: list[tuple]) -> DataFrame:
        columns = list(zip(*rows)) if rows else [[] for _ in table.schema.fields]
        arrays = [
            pa.array(values, type=tables.arrow_type(field.dataType, time_unit="ms"))
            for field, values in zip(table.schema.fields, columns)
        ]
        arrow = pa.Table.from_arrays(arrays, names=[f.name for f in table.schema.fields])
        return self.spark.createDataFrame(arrow, schema=table.schema)

    def append(self, table: Table, rows: list[tuple], marker: str | None = None) -> None:
        """Blind-append rows (tuples in schema order, times as epoch ms) to a table, as one file:
        the rows arrive in Arrow batches of 10,000, and a file per batch would cost a task each
        and leave readers more files (a 2,000-row commit: 0.76 s against 0.50 s, measured)."""
        writer = self.frame(table, rows).coalesce(1).write.format("delta").mode("append")
        if marker is not None:
            writer = writer.option("userMetadata", marker)
        with self.locked(table):
            self.retry(lambda: writer.save(self.path(table)))

    def commit_batch(self, batch: dict[str, list[tuple]], txn: tuple[str, int]) -> None:
        """Commit one buffered batch (see store.buffer), its tables side by side. A retry of a
        batch that some tables took before another failed commits only to the others."""
        done = self._committed.setdefault(txn, set())
        self._commit(batch, txn, done)
        del self._committed[txn]

    def replay_batch(self, batch: dict[str, list[tuple]], txn: tuple[str, int]) -> None:
        """Commit a dead process's batch to the tables whose history lacks its marker."""
        marker = _marker(txn)
        names = [*batch, tables.METRICS_LATEST.name] if batch.get(tables.METRICS.name) else batch
        self._commit(batch, txn, {name for name in names if marker in self._markers(name, txn[0])})

    @lru_cache(maxsize=256)  # noqa: B019 - read once per table and dead buffer while replaying
    def _markers(self, table: str, buffer_id: str) -> frozenset[str]:
        """The markers of a buffer's batches in the table's history (its log's commit infos).
        Read per buffer, once its spool lock is taken (it is dead): markers read earlier would
        miss the commits a buffer alive then made before it died."""
        from pyspark.sql import functions as F

        prefix = f"sparktrack:{buffer_id}:"
        if self.snapshots is not None:
            try:
                infos = self.snapshots.commit_infos(tables.BY_NAME[table])
                return frozenset(m for m in (i.get("userMetadata") for i in infos)
                                 if isinstance(m, str) and m.startswith(prefix))
            except READ_ERRORS:
                pass
        history = self.spark.sql(f"DESCRIBE HISTORY delta.`{self.path(table).replace('`', '``')}`")
        rows = history.filter(F.col("userMetadata").startswith(prefix)).select("userMetadata")
        return frozenset(row[0] for row in rows.collect())

    def _commit(self, batch: dict[str, list[tuple]], txn: tuple[str, int], done: set[str]) -> None:
        """Append each table's rows of a batch, skipping the tables in ``done`` and adding those
        that take it. Every table is waited for before a failure is raised, so ``done`` is exact."""
        marker = _marker(txn)
        records = sum(len(rows) for rows in batch.values())
        if batch.get(tables.METRICS.name):  # derived, so a replayed spool segment derives it too
            batch = {**batch, tables.METRICS_LATEST.name: tables.latest_points(batch[tables.METRICS.name])}
        todo = [t for t in tables.ALL_TABLES if batch.get(t.name) and t.name not in done]
        futures = [(t, self._submit(self.append, t, batch[t.name], marker)) for t in todo]
        failed: list[tuple[str, BaseException]] = []
        for table, future in futures:
            try:
                future.result()
                done.add(table.name)
            except Exception as exc:  # noqa: BLE001 - reported below, with every failed table
                failed.append((table.name, exc))
        if failed:
            raise StoreError(
                f"Could not commit {records} records to the store at {self.root}: "
                f"{_cause(failed[0][1])} (writing {', '.join(name for name, _ in failed)}). They stay "
                f"spooled under {self.spool_dir} and are committed on the next try or the next time "
                "the store is opened."
            ) from failed[0][1]

    def _submit(self, action: Callable[..., T], *args: object) -> Future:
        """Run ``action`` on the pool; in the calling thread once the pool is shut down, as it is
        at interpreter exit before the atexit hook that commits what is left."""
        try:
            return self._pool.submit(action, *args)
        except RuntimeError:
            future: Future = Future()
            try:
                future.set_result(action(*args))
            except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
                future.set_exception(exc)
            return future

    def read_rows(self, *reads: tuple[Table, Mapping[str, Sequence[str]]]) -> list[pa.Table]:
        """For each ``(table, {column: values})``, the table's rows whose columns each hold one of
        the values (no condition: every row), as Arrow. On a local store they come from the
        driver's snapshots of the tables (see store.snapshots); otherwise, or where a snapshot
        cannot be read, from narrow Spark reads run side by side."""
        import pyarrow.compute as pc

        found: list[pa.Table | None] = [None] * len(reads)
        if self.snapshots is not None:
            for i, (table, where) in enumerate(reads):
                rows = self.snapshots.read(table)
                if rows is not None:
                    for column, values in where.items():
                        rows = rows.filter(pc.is_in(rows[column], value_set=pa.array(list(values), pa.string())))
                    found[i] = rows
        missing = [i for i, rows in enumerate(found) if rows is None]
        spark_read = self.read_parallel(*(self._narrow(*reads[i]) for i in missing), arrow=True)
        for i, rows in zip(missing, spark_read):
            found[i] = rows.cast(tables.arrow_schema(reads[i][0]))
        return found

    def memo(self, key: tuple, sources: Sequence[Table], compute: Callable[[], T]) -> T:
        """``compute()``, remembered (the last few keys) for as long as none of ``sources`` has a
        new commit: what derives from the rows of local snapshots is computed once per version.
        Stores not on local disk compute it every time."""
        versions = self.snapshots.versions(*sources) if self.snapshots is not None else None
        if versions is None:
            return compute()
        key = (key, versions)
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]  # type: ignore[return-value]
        value = compute()
        with self._memo_lock:
            self._memo[key] = value
            while len(self._memo) > 8:
                self._memo.popitem(last=False)
        return value

    def _narrow(self, table: Table, where: Mapping[str, Sequence[str]]) -> DataFrame:
        from pyspark.sql import functions as F

        frame = self.table(table)
        for column, values in where.items():
            values = list(values)
            if len(values) <= 1:  # a literal, which Delta's and Parquet's statistics can skip files by
                frame = frame.filter(F.col(column) == F.lit(values[0]) if values else F.lit(False))
            elif len(values) <= 100:
                frame = frame.filter(F.col(column).isin(*values))
            else:
                wanted = self.spark.createDataFrame(pa.table({column: pa.array(values, pa.string())}))
                frame = frame.join(F.broadcast(wanted), column, "left_semi")
        return frame

    def read_parallel(self, *frames: DataFrame, arrow: bool = False) -> list:
        """Collect several small queries at once (one Spark job each, run side by side), as
        lists of Rows or, with ``arrow``, as Arrow tables."""
        futures = [self._submit(frame.toArrow if arrow else frame.collect) for frame in frames]
        return [future.result() for future in futures]

    def locked(self, table: Table):
        """Hold the table's commit lock (local stores; re-entrant), e.g. around a read-then-MERGE."""
        return self._locks[table.name].hold()

    def insert_if_absent(self, table: Table, rows: list[tuple], key: str | tuple[str, ...]) -> None:
        """Insert rows whose ``key`` (a column or columns) is not yet in the table: an
        insert-only MERGE.

        The MERGE reads the table, so two concurrent inserts of the same key conflict in Delta
        and the loser retries, then finds the key present."""
        from delta.tables import DeltaTable

        keys = (key,) if isinstance(key, str) else key
        condition = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        source = self.frame(table, rows)

        def merge() -> None:
            (
                DeltaTable.forPath(self.spark, self.path(table)).alias("t")
                .merge(source.alias("s"), condition)
                .whenNotMatchedInsertAll()
                .execute()
            )

        with self.locked(table):
            self.retry(merge)

    def retry(self, action: Callable[[], T], attempts: int = 20) -> T:
        """Run a Delta write, retrying on Delta's concurrent-modification exceptions."""
        errors = delta_concurrency_errors()
        for attempt in range(attempts):
            try:
                return action()
            except errors:
                if attempt == attempts - 1:
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Commit what is buffered, then let Delta drop its cached logs and snapshots of this
        store's tables (about 20 MB of driver heap per store, kept for the session otherwise)."""
        self.buffer.close()
        self._pool.shutdown(wait=False)
        with self._memo_lock:
            self._memo.clear()
        if self.snapshots is not None:
            self.snapshots.forget()
        if self.spark.sparkContext._jsc is None:  # the session was stopped first: nothing cached
            return
        jvm = self.spark._jvm
        delta_log = getattr(getattr(jvm.org.apache.spark.sql.delta, "DeltaLog$"), "MODULE$")
        for t in tables.ALL_TABLES:
            delta_log.invalidateCache(self.spark._jsparkSession, jvm.org.apache.hadoop.fs.Path(self.path(t)))


def _cause(exc: BaseException) -> str:
    """What went wrong, in one line: the innermost Java exception behind a Spark error, else the
    first line of the message."""
    java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    if java is not None:
        try:
            while java.getCause() is not None:
                java = java.getCause()
            return f"{java.getClass().getName()}: {java.getMessage()}"
        except Exception:  # noqa: BLE001 - the JVM is gone; fall back to the Python text
            pass
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _marker(txn: tuple[str, int]) -> str:
    return f"sparktrack:{txn[0]}:{txn[1]}"
