"""The store's tables read in the driver with pyarrow, without Spark, when the store is on local disk.

A Delta table is its log: JSON commits ``_delta_log/<version>.json`` (and Parquet checkpoints that
sum them up) that add and remove Parquet data files. The store's tables are append-only, not
partitioned and use no reader features, so their rows at the latest version are the rows of the
files the log leaves live. Reading those with pyarrow costs milliseconds, where a Spark read of
the same table pays a snapshot job, a file-listing job and a scan job (0.3 s for an unchanged
table, 1-1.5 s after a commit, 7-9 s for the first read in a cold JVM; measured 2026-12-01).

Each table's rows are kept between reads, with the list of live files they came from. A read lists
the log, replays only the commits since the last read and reads only the files they added; a
commit that removes files (OPTIMIZE, which rewrites them) makes the next read read every live file
again. A table outside what this reader understands (a reader feature such as deletion vectors or
column mapping, partition columns, more than ``SPARKTRACK_LOCAL_READ_LIMIT_MB`` of live files)
reads as ``None``, and the caller reads it with Spark instead.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from sparktrack.store.tables import Table

_COMMIT_SUFFIX = ".json"
_CHECKPOINT_SUFFIX = ".checkpoint.parquet"


class Unsupported(Exception):
    """The table uses something this reader does not implement; read it with Spark."""


#: What makes a read fall back to Spark: besides ``Unsupported``, a file that went between the
#: listing and its read (log clean-up, VACUUM), or one pyarrow or json cannot parse.
READ_ERRORS = (Unsupported, OSError, ValueError)


@dataclass
class _Replayed:
    version: int
    #: live data files: path relative to the table (decoded) -> (size in bytes, the add action's
    #: ``stats`` JSON or None)
    files: dict[str, tuple[int, str | None]]


@dataclass
class _Cached:
    version: int = -1
    files: dict[str, tuple[int, str | None]] = field(default_factory=dict)  # as in _Replayed
    rows: pa.Table | None = None  # the rows of all those files
    lock: threading.Lock = field(default_factory=threading.Lock)


#: Chunks a table's rows may hold (about one per commit read) before they are made one.
_MAX_CHUNKS = 32


class LocalSnapshots:
    """The current rows of the Delta tables under a local directory (``<root>/<table name>``)."""

    def __init__(self, root: str, limit_bytes: int):
        self._root = root
        self._limit = limit_bytes
        self._cached: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def read(self, table: Table) -> pa.Table | None:
        """The table's rows at its latest version, in the table's Arrow schema; None when this
        reader cannot read it (then read it with Spark)."""
        found = self._read(table)
        return None if found is None else found[0]

    def read_matching(self, table: Table, column: str, value: str, **equal: str) -> pa.Table | None:
        """The rows whose ``column`` holds ``value`` and each column of ``equal`` its value, read
        from only the live files whose statistics for ``column`` admit the value (and only their
        row groups that do): one run's metric history reads the few files that hold that run,
        whatever the size of the table. Nothing is kept but the file list. None when this reader
        cannot read the table, or the files to read are over the size limit."""
        import pyarrow as pa

        from sparktrack.store.tables import arrow_schema

        with self._lock:
            listed = self._cached.setdefault(f"{table.name} files", _Cached())
        with listed.lock:
            try:
                replayed = self._replayed(table, listed)
            except READ_ERRORS:
                listed.version, listed.files = -1, {}
                return None
            listed.version, listed.files = replayed.version, replayed.files
        paths = [path for path, (_, stats) in replayed.files.items() if _may_hold(stats, column, value)]
        if sum(replayed.files[path][0] for path in paths) > self._limit:
            return None
        schema = arrow_schema(table)
        conditions = [(name, "==", wanted) for name, wanted in {column: value, **equal}.items()]
        try:
            parts = [_read_file(os.path.join(self._root, table.name, path), schema, conditions) for path in paths]
        except READ_ERRORS:
            return None
        return pa.concat_tables(parts) if parts else schema.empty_table()

    def versions(self, *tables: Table) -> tuple[int, ...] | None:
        """The versions that reading these tables now gives (reading them), or None when one of
        them cannot be read here."""
        found = []
        for table in tables:
            read = self._read(table)
            if read is None:
                return None
            found.append(read[1])
        return tuple(found)

    def commit_infos(self, table: Table) -> list[dict]:
        """The ``commitInfo`` of every commit still in the log, oldest first."""
        log_dir = self._log_dir(table)
        infos = []
        for version in sorted(_log_listing(log_dir)[0]):
            for action in _read_commit(log_dir, version):
                if "commitInfo" in action:
                    infos.append({"version": version, **action["commitInfo"]})
        return infos

    def forget(self) -> None:
        with self._lock:
            self._cached.clear()

    def _read(self, table: Table) -> tuple[pa.Table, int] | None:
        """The table's rows and the version they are at, or None."""
        with self._lock:
            cached = self._cached.setdefault(table.name, _Cached())
        with cached.lock:
            try:
                return self._refresh(table, cached), cached.version
            except READ_ERRORS:
                cached.version, cached.files, cached.rows = -1, {}, None
                return None

    # -- replay -----------------------------------------------------------------------------------
    def _log_dir(self, table: Table) -> str:
        return os.path.join(self._root, table.name, "_delta_log")

    def _refresh(self, table: Table, cached: _Cached) -> pa.Table:
        import pyarrow as pa

        from sparktrack.store.tables import arrow_schema

        replayed = self._replayed(table, cached)
        if replayed.version == cached.version and cached.rows is not None:
            return cached.rows
        size = sum(size for size, _ in replayed.files.values())
        if size > self._limit:
            raise Unsupported(f"{table.name} holds {size} bytes of live files, over the limit")
        schema = arrow_schema(table)
        kept = cached.rows if cached.rows is not None and cached.files.keys() <= replayed.files.keys() else None
        new = [path for path in replayed.files if kept is None or path not in cached.files]
        parts = ([kept] if kept is not None else []) + [
            _read_file(os.path.join(self._root, table.name, path), schema) for path in new]
        rows = pa.concat_tables(parts) if parts else schema.empty_table()
        if rows.num_columns and rows.column(0).num_chunks > _MAX_CHUNKS:
            rows = rows.combine_chunks()
        cached.version, cached.files, cached.rows = replayed.version, replayed.files, rows
        return rows

    def _replayed(self, table: Table, cached: _Cached) -> _Replayed:
        """The table's live files at its latest version: ``cached``'s when that is the latest,
        else its files with the later commits applied (a copy), else (the log was cleaned up past
        them, or the table was made again with fewer versions) replayed from the log."""
        log_dir = self._log_dir(table)
        commits, checkpoints = _log_listing(log_dir)
        latest = max(commits | checkpoints)
        if latest == cached.version:
            return _Replayed(cached.version, cached.files)
        if 0 <= cached.version < latest and all(v in commits for v in range(cached.version + 1, latest + 1)):
            replayed = _Replayed(cached.version, dict(cached.files))
            _apply(log_dir, replayed, range(cached.version + 1, latest + 1))
            return replayed
        return _replay(log_dir, commits, checkpoints, latest)


def _log_listing(log_dir: str) -> tuple[set[int], set[int]]:
    """The versions of the commits and of the single-file checkpoints in a table's log."""
    try:
        names = os.listdir(log_dir)
    except FileNotFoundError:
        raise Unsupported(f"{log_dir} does not exist") from None
    commits, checkpoints = set(), set()
    for name in names:
        stem = name[:20]
        if not stem.isdigit():
            continue
        suffix = name[20:]
        if suffix == _COMMIT_SUFFIX:
            commits.add(int(stem))
        elif suffix == _CHECKPOINT_SUFFIX:
            checkpoints.add(int(stem))
        elif suffix.startswith(".checkpoint."):
            raise Unsupported(f"multi-part or v2 checkpoint {name}")
    if not commits and not checkpoints:
        raise Unsupported(f"{log_dir} holds no commit")
    return commits, checkpoints


def _replay(log_dir: str, commits: set[int], checkpoints: set[int], latest: int) -> _Replayed:
    """The live files at ``latest``, from the newest checkpoint whose later commits are all in the
    log, else from version 0."""
    for start in sorted((c for c in checkpoints if c <= latest), reverse=True):
        if all(v in commits for v in range(start + 1, latest + 1)):
            replayed = _read_checkpoint(os.path.join(log_dir, f"{start:020d}{_CHECKPOINT_SUFFIX}"), start)
            _apply(log_dir, replayed, range(start + 1, latest + 1))
            return replayed
    if not all(v in commits for v in range(0, latest + 1)):
        raise Unsupported(f"{log_dir} lacks commits before {latest} and a checkpoint that covers them")
    replayed = _Replayed(-1, {})
    _apply(log_dir, replayed, range(0, latest + 1))
    return replayed


def _apply(log_dir: str, replayed: _Replayed, versions: range) -> None:
    for version in versions:
        for action in _read_commit(log_dir, version):
            if "add" in action:
                add = action["add"]
                replayed.files[_relative(add["path"])] = (add.get("size", 0), add.get("stats"))
            elif "remove" in action:
                replayed.files.pop(_relative(action["remove"]["path"]), None)
            elif "protocol" in action:
                _check_protocol(action["protocol"])
            elif "metaData" in action:
                _check_metadata(action["metaData"])
        replayed.version = version


def _read_commit(log_dir: str, version: int) -> list[dict]:
    with open(os.path.join(log_dir, f"{version:020d}{_COMMIT_SUFFIX}"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _read_checkpoint(path: str, version: int) -> _Replayed:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    checkpoint = pq.read_table(path, columns=["add", "protocol", "metaData"])
    for row in checkpoint.column("protocol").drop_null().to_pylist():
        _check_protocol(row)
    for row in checkpoint.column("metaData").drop_null().to_pylist():
        _check_metadata(row)
    adds = checkpoint.column("add").drop_null()
    paths = pc.struct_field(adds, "path").to_pylist()
    sizes = pc.struct_field(adds, "size").to_pylist()
    has_stats = any(f.name == "stats" for f in adds.type)
    stats = pc.struct_field(adds, "stats").to_pylist() if has_stats else [None] * len(paths)
    return _Replayed(version, {_relative(p): (s or 0, j) for p, s, j in zip(paths, sizes, stats)})


def _may_hold(stats: str | None, column: str, value: str) -> bool:
    """Whether a file whose add action carries these statistics may hold rows with ``column`` =
    ``value`` (no statistics: it may). Delta truncates long strings' bounds so that they still
    bound the values (a prefix as minimum, a prefix raised as maximum)."""
    if not stats:
        return True
    parsed = json.loads(stats)
    low, high = (parsed.get(bound, {}).get(column) for bound in ("minValues", "maxValues"))
    if low is None or high is None:  # no bounds for the column: all null, or not collected
        return parsed.get("numRecords") != parsed.get("nullCount", {}).get(column)
    return low <= value <= high


def _check_protocol(protocol: dict) -> None:
    if protocol.get("minReaderVersion", 1) > 1 or protocol.get("readerFeatures"):
        raise Unsupported(f"reader protocol {protocol}")


def _check_metadata(metadata: dict) -> None:
    configuration = metadata.get("configuration") or {}
    if isinstance(configuration, list):  # a map read from a checkpoint: (key, value) pairs
        configuration = dict(configuration)
    if metadata.get("partitionColumns"):
        raise Unsupported(f"partition columns {metadata['partitionColumns']}")
    if configuration.get("delta.columnMapping.mode", "none") != "none":
        raise Unsupported("column mapping")


def _relative(path: str) -> str:
    """A data file's path relative to its table, as the log's URI-encoded path decodes."""
    if "://" in path or path.startswith("file:") or path.startswith("/"):
        raise Unsupported(f"absolute data file path {path}")
    return urllib.parse.unquote(path)


def _read_file(path: str, schema: pa.Schema, conditions: list[tuple] | None = None) -> pa.Table:
    """One data file's rows (those meeting pyarrow ``conditions``, if any) in the table's schema (a
    column the file lacks reads as nulls)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Spark writes INT96 times by default, which pyarrow reads in ns unless told: the year 9999
    # (a valid end_time) is past what int64 nanoseconds hold.
    data = pq.read_table(path, filters=conditions or None, coerce_int96_timestamp_unit="us")
    columns = []
    for target in schema:
        if target.name in data.column_names:
            columns.append(data.column(target.name).cast(target.type))
        else:
            columns.append(pa.nulls(data.num_rows, target.type))
    return pa.Table.from_arrays(columns, schema=schema)
