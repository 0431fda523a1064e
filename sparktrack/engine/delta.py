"""The store's Delta tables through delta-rs (``deltalake``): created, appended to, claimed,
read and maintained without a JVM.

Commits:

* ``append`` is a blind append. delta-rs rebases it over commits that landed meanwhile (appends
  never conflict), up to ``REBASES`` times; past that it backs off and tries again, up to
  ``ATTEMPTS`` times. An append may carry a Delta transaction action ``(app id, version)``; every try
  first asks the table whether that transaction is already in, so a commit whose outcome was lost
  (a dropped connection) is never applied twice.
* ``claim`` appends rows only if the table, read at its latest version ``v``, does not hold them
  yet, in a commit that must be version ``v + 1``: delta-rs writes a commit with a put-if-absent
  (an atomic rename-no-replace on local disk, a conditional put on S3), so if any other commit
  took ``v + 1`` first, the claim fails, reads again and decides again. Names and version numbers
  claimed this way are unique across processes without a lock.

Reads keep each table's rows in memory with the list of files they came from. A read checks for
a new commit (one stat of the next log entry), brings the table up to date when there is one
(``update_incremental``: only the new commits are read), then reads only the files added since; a
commit that removed files (compaction) makes it read every live file again. The rows a process
appends itself are added to what it holds without reading their file back.
Files are read with ``pyarrow.dataset`` on a native ``pyarrow.fs`` filesystem (delta-rs's own
Python filesystem can abort the interpreter at exit while pyarrow's threads still use it).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from sparktrack.engine.location import fs_path, join_uri
from sparktrack.errors import StoreError

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.fs as pafs
    from deltalake import DeltaTable

FORKED = ("sparktrack's store was opened in the parent of this forked process, and delta-rs (its "
          "engine) does not survive fork. Start worker processes with multiprocessing's 'spawn' "
          "start method (multiprocessing.get_context('spawn')), or open the store after forking.")

#: Rebases delta-rs does inside one append (cheap: re-reading the new commits).
REBASES = 25
#: Attempts of an append or a claim, with jittered exponential backoff between them.
ATTEMPTS = 12
_BACKOFF_FIRST, _BACKOFF_MAX = 0.02, 2.0
#: A table with more live files than this, and at most ``AUTO_COMPACT_BYTES`` of them, is
#: rewritten as one file by the process that committed to it, right after its commit: delta-rs's
#: commit cost grows with the files a table holds (a 1-row append took 6 ms at 10 files, 33 ms at
#: 250 and 12 ms again after compaction, measured), and every buffered flush or registry change
#: adds one. The rewrite is a claim (see ``_compact_if_fragmented``), not delta-rs's OPTIMIZE.
AUTO_COMPACT_FILES = 32
AUTO_COMPACT_BYTES = 16 << 20
#: Chunks a table's cached rows may hold (about one per read that found new files) before they
#: are made one.
_MAX_CHUNKS = 32


def _holds(table: DeltaTable, txn: tuple[str, int]) -> bool:
    version = table.transaction_version(txn[0])
    return version is not None and version >= txn[1]


def open_table(uri: str, storage_options: Mapping[str, str] | None = None, detail: str = "") -> DeltaTable:
    """A Delta table outside the store's own (a user's table, a monitor's output) at its latest
    version, by delta-rs; TableNotFoundError when there is none at ``uri`` or it cannot be read
    (``detail`` says what it was wanted for)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError as NoDeltaTable

    from sparktrack.engine.location import engine_uri
    from sparktrack.errors import TableNotFoundError

    try:
        return DeltaTable(engine_uri(uri), storage_options=dict(storage_options or {}))
    except NoDeltaTable:
        raise TableNotFoundError(uri, f"there is no Delta table at that path{detail}") from None
    except OSError as exc:
        raise TableNotFoundError(uri, f"it cannot be read ({str(exc).splitlines()[0]}){detail}") from None


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1``: doubling from 20 ms to 2 s, jittered so
    that writers that collided do not collide again."""
    return min(_BACKOFF_MAX, _BACKOFF_FIRST * 2**attempt) * random.uniform(0.5, 1.5)


@dataclass
class _Handle:
    """One table's delta-rs handle and the rows read through it, guarded by ``lock``."""

    uri: str
    table: DeltaTable | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    files: frozenset[str] = frozenset()
    rows: pa.Table | None = None
    rows_version: int = -1


class DeltaTables:
    """The Delta tables in one directory (``base``), each opened once and read incrementally."""

    def __init__(self, base: str, storage_options: Mapping[str, str], filesystem: pafs.FileSystem):
        from sparktrack.engine.location import engine_uri

        self.base = base
        self._base_engine = engine_uri(base)
        self._options = dict(storage_options)
        self._fs = filesystem
        self._handles: dict[str, _Handle] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    # -- opening ------------------------------------------------------------------------------
    def uri(self, name: str) -> str:
        """The table's URI as the store spells its root (``file:/...``, ``s3a://...``)."""
        return join_uri(self.base, name)

    def _handle(self, name: str) -> _Handle:
        if os.getpid() != self._pid:  # delta-rs would panic in a forked child
            raise StoreError(FORKED)
        with self._lock:
            handle = self._handles.get(name)
            if handle is None:
                handle = self._handles[name] = _Handle(uri=join_uri(self._base_engine, name))
            return handle

    def _open(self, handle: _Handle) -> DeltaTable:
        """The handle's table, opened on first use and brought up to date."""
        from deltalake import DeltaTable

        if handle.table is None:
            handle.table = DeltaTable(handle.uri, storage_options=self._options)
        elif self._has_new_commit(handle):
            try:
                handle.table.update_incremental()
            except Exception:  # noqa: BLE001 - log files it needs were cleaned up: open afresh
                handle.table = DeltaTable(handle.uri, storage_options=self._options)
        return handle.table

    def _has_new_commit(self, handle: _Handle) -> bool:
        """Whether the commit after the handle's version exists: one stat of
        ``_delta_log/<version + 1>.json`` (a HEAD request on object storage), where delta-rs's
        ``update_incremental`` lists the whole log (3.4 ms for a 250-commit log on local disk,
        measured; the stat: 3 us)."""
        import pyarrow.fs as pafs

        following = f"{fs_path(handle.uri)}/_delta_log/{handle.table.version() + 1:020d}.json"
        return self._fs.get_file_info(following).type != pafs.FileType.NotFound

    def exists(self, name: str) -> bool:
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(self._handle(name).uri, storage_options=self._options)

    def create(self, name: str, schema: pa.Schema, configuration: Mapping[str, str] | None = None) -> None:
        """Create the table if it does not exist (several processes may race to create it)."""
        from deltalake import DeltaTable
        from deltalake.exceptions import CommitFailedError, DeltaError

        handle = self._handle(name)
        try:
            DeltaTable.create(handle.uri, schema, mode="ignore", configuration=dict(configuration or {}),
                              storage_options=self._options)
        except (CommitFailedError, DeltaError):
            if not self.exists(name):  # another process's create won: the table is there
                raise

    def set_properties(self, name: str, properties: Mapping[str, str]) -> None:
        """Set table properties (a metadata commit) where they differ."""
        handle = self._handle(name)
        with handle.lock:
            table = self._open(handle)
            if any(table.metadata().configuration.get(k) != v for k, v in properties.items()):
                self.maintain(name, lambda t: t.alter.set_table_properties(dict(properties), raise_if_not_exists=False))

    def version(self, name: str) -> int:
        handle = self._handle(name)
        with handle.lock:
            return self._open(handle).version()

    # -- reads --------------------------------------------------------------------------------
    def rows(self, name: str, schema: pa.Schema) -> pa.Table:
        """Every row of the table at its latest version, in ``schema``."""
        handle = self._handle(name)
        with handle.lock:
            return self._rows(handle, schema)

    def _rows(self, handle: _Handle, schema: pa.Schema) -> pa.Table:
        import pyarrow as pa

        table = self._open(handle)
        if handle.rows is not None and table.version() == handle.rows_version:
            return handle.rows
        files = frozenset(table.file_uris())
        if handle.rows is None or not handle.files <= files:  # first read, or files were removed
            rows = self._read_files(sorted(files), schema)
        else:
            added = self._read_files(sorted(files - handle.files), schema)
            rows = pa.concat_tables([handle.rows, added]) if added.num_rows else handle.rows
            if rows.column(0).num_chunks > _MAX_CHUNKS:
                rows = rows.combine_chunks()
        handle.files, handle.rows, handle.rows_version = files, rows, table.version()
        return rows

    def rows_matching(self, name: str, schema: pa.Schema, column: str, value: str) -> pa.Table:
        """The rows whose ``column`` equals ``value``, from only the files whose Delta statistics
        admit it (a table clustered by that column holds it in one or two files). Not cached."""
        import pyarrow.compute as pc

        handle = self._handle(name)
        with handle.lock:
            files = self._open(handle).file_uris(file_pruning_predicate=[(column, "=", value)])
        # Within the files, Parquet's row-group statistics skip the groups that cannot hold it.
        return self._read_files(files, schema, pc.field(column) == value)

    def rows_matching_any(self, name: str, schema: pa.Schema, column: str, values: Sequence[str]) -> pa.Table:
        """The rows whose ``column`` is one of ``values``, from only the files whose Delta
        statistics admit one of them: one read for many runs' rows. Not cached."""
        import pyarrow.compute as pc

        handle = self._handle(name)
        with handle.lock:
            files = self._open(handle).file_uris(file_pruning_predicate=[(column, "in", list(values))])
        return self._read_files(files, schema, pc.field(column).isin(list(values)))

    def _read_files(self, files: Sequence[str], schema: pa.Schema, where: pc.Expression | None = None) -> pa.Table:
        import pyarrow.dataset as ds

        # Spark writes times as INT96; read them as microseconds (nanoseconds overflow after 2262).
        fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(coerce_int96_timestamp_unit="us"))
        fragments = [fmt.make_fragment(fs_path(file), filesystem=self._fs) for file in files]
        return ds.FileSystemDataset(fragments, schema, fmt, self._fs).to_table(filter=where)

    def versions(self, *names: str) -> tuple[int, ...]:
        return tuple(self.version(name) for name in names)

    def committed(self, name: str, txn: tuple[str, int]) -> bool:
        """Whether the table holds transaction ``txn`` (app id, version), or a later one of that app."""
        handle = self._handle(name)
        with handle.lock:
            return _holds(self._open(handle), txn)

    def commit_markers(self, name: str, prefix: str) -> frozenset[str]:
        """The ``userMetadata`` of the table's commits that starts with ``prefix`` (every commit
        is read: for spools of a release that marked its commits only there)."""
        handle = self._handle(name)
        with handle.lock:
            history = self._open(handle).history()
        return frozenset(m for m in (h.get("userMetadata") for h in history)
                         if isinstance(m, str) and m.startswith(prefix))

    def commit_time(self, name: str, version: int) -> dt.datetime | None:
        """When version ``version`` of the table was committed; None when there is no such version
        (or its commit was cleaned up). Read from the latest version's history: delta-rs 1.6's
        history of a table loaded at an older version numbers its commits wrongly."""
        handle = self._handle(name)
        with handle.lock:
            table = self._open(handle)
            if not 0 <= version <= table.version():
                return None
            commits = table.history(table.version() - version + 1)
        found = [c["timestamp"] for c in commits if c.get("version") == version]
        return dt.datetime.fromtimestamp(found[0] / 1000, tz=dt.timezone.utc) if found else None

    # -- commits ------------------------------------------------------------------------------
    def append(self, name: str, rows: pa.Table, *, txn: tuple[str, int] | None = None,
               metadata: str | None = None) -> None:
        """Blind-append ``rows`` in one commit, retried with backoff when other writers keep
        winning; with ``txn`` (app id, version), at most once."""
        from deltalake import CommitProperties, Transaction, write_deltalake
        from deltalake.exceptions import CommitFailedError

        properties = CommitProperties(
            custom_metadata={"userMetadata": metadata} if metadata else None,
            app_transactions=[Transaction(txn[0], txn[1])] if txn else None,
            max_commit_retries=REBASES,
        )
        handle = self._handle(name)
        for attempt in range(ATTEMPTS):
            with handle.lock:
                table = self._open(handle)
                if txn and _holds(table, txn):
                    return  # an earlier try committed it, though its caller saw it fail
                before = table.version()
                try:
                    write_deltalake(table, rows, mode="append", commit_properties=properties)
                except CommitFailedError:
                    pass
                else:
                    self._after_commit(handle, before, rows, rows.schema)
                    return
            time.sleep(backoff(attempt))
        raise StoreError(f"Could not append to {self.uri(name)}: other writers committed first "
                         f"{ATTEMPTS} times in a row (each attempt rebased up to {REBASES} times).")

    def claim(self, name: str, rows: pa.Table, schema: pa.Schema,
              taken: Callable[[pa.Table], bool]) -> bool:
        """Append ``rows`` unless ``taken(current rows)``, in a commit that lands only if no other
        commit landed since those rows were read. True when the rows were appended."""
        from deltalake import CommitProperties, write_deltalake
        from deltalake.exceptions import CommitFailedError

        handle = self._handle(name)
        for attempt in range(ATTEMPTS):
            with handle.lock:
                if taken(self._rows(handle, schema)):
                    return False
                before = handle.table.version()
                try:
                    write_deltalake(handle.table, rows, mode="append",
                                    commit_properties=CommitProperties(max_commit_retries=0))
                except CommitFailedError:
                    pass  # another commit took the next version: read again and decide again
                else:
                    self._after_commit(handle, before, rows, schema)
                    return True
            time.sleep(backoff(attempt))
        raise StoreError(f"Could not claim rows in {self.uri(name)}: other writers committed first "
                         f"{ATTEMPTS} times in a row.")

    def _after_commit(self, handle: _Handle, before: int, rows: pa.Table, schema: pa.Schema) -> None:
        """Keep the rows just committed in memory, and compact the table if it needs it. Neither
        may turn a commit that landed into a failure (its caller would commit it again)."""
        try:
            self._remember_written(handle, before, rows)
            self._compact_if_fragmented(handle, schema)
        except Exception:  # noqa: BLE001
            logger.warning("After a commit to %s: could not keep its rows or compact it; the next "
                           "read reads the table afresh", handle.uri, exc_info=True)
            handle.rows = None

    def _remember_written(self, handle: _Handle, before: int, rows: pa.Table) -> None:
        """After an append that became the next version of the rows held in memory, add the rows
        it wrote to them without reading its file back (reading a 1-row file costs 2 ms)."""
        import pyarrow as pa

        table = handle.table
        if handle.rows is None or handle.rows_version != before or table.version() != before + 1:
            return  # other commits came between: the next read reads the new files
        files = frozenset(table.file_uris())
        if len(files - handle.files) != 1 or not handle.files <= files:
            return
        handle.rows = pa.concat_tables([handle.rows, rows.cast(handle.rows.schema)])
        handle.files, handle.rows_version = files, table.version()

    def _compact_if_fragmented(self, handle: _Handle, schema: pa.Schema) -> None:
        """Rewrite a small table that has many files (see ``AUTO_COMPACT_FILES``) as one file.

        The rewrite is an overwrite with the rows of version ``v`` that must commit as ``v + 1``,
        like a claim: if any other commit landed first it fails and is dropped (the next commit
        tries again), and the append it raced retries. delta-rs's OPTIMIZE is not used here:
        delta-rs 1.6.6 lets two concurrent compactions of the same files both commit, which
        doubles their rows (reproduced with two processes), and it ignores ``max_commit_retries``.
        The rows come from memory, and are checked against the row counts in the table's
        statistics before anything is written."""
        import pyarrow as pa
        from deltalake import CommitProperties, write_deltalake
        from deltalake.exceptions import CommitFailedError, DeltaError, SchemaMismatchError

        table = handle.table
        if len(table.file_uris()) <= AUTO_COMPACT_FILES:
            return
        files = pa.table(table.get_add_actions())
        if sum(files.column("size_bytes").to_pylist()) > AUTO_COMPACT_BYTES:
            return  # large: left to the maintenance job
        counts = files.column("num_records").to_pylist()
        rows = self._rows(handle, schema)
        if None in counts or sum(counts) != rows.num_rows:
            return  # no statistics to check the rows against: left to the maintenance job
        version = table.version()
        try:
            write_deltalake(table, rows, mode="overwrite", commit_properties=CommitProperties(
                max_commit_retries=0, custom_metadata={"userMetadata": "sparktrack: compaction"}))
        except (CommitFailedError, DeltaError, SchemaMismatchError):
            return
        if table.version() == version + 1:
            handle.files, handle.rows_version = frozenset(table.file_uris()), table.version()

    # -- maintenance --------------------------------------------------------------------------
    def maintain(self, name: str, action: Callable[[DeltaTable], Any]) -> Any:
        """Run ``action`` (a delta-rs operation: compaction, vacuum, checkpoint) on the table,
        retried with backoff when a concurrent commit conflicts with it."""
        from deltalake.exceptions import CommitFailedError

        handle = self._handle(name)
        for attempt in range(ATTEMPTS):
            with handle.lock:
                try:
                    return action(self._open(handle))
                except CommitFailedError:
                    if attempt == ATTEMPTS - 1:
                        raise
            time.sleep(backoff(attempt))
        raise AssertionError("unreachable")

    def live_files(self, name: str) -> tuple[int, int]:
        """(count, bytes) of the data files the table's latest version reads."""
        import pyarrow as pa

        handle = self._handle(name)
        with handle.lock:
            actions = pa.table(self._open(handle).get_add_actions())
        return actions.num_rows, int(sum(actions.column("size_bytes").to_pylist()))

    def stored_files(self, name: str) -> int:
        """Parquet files in the table's directory, whether or not its latest version reads them."""
        import pyarrow.fs as pafs

        base = fs_path(self._handle(name).uri)
        infos = self._fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        return sum(1 for info in infos if info.path.endswith(".parquet") and "/_delta_log/" not in info.path)

    def forget(self) -> None:
        """Drop every handle and the rows read through them."""
        with self._lock:
            self._handles.clear()
