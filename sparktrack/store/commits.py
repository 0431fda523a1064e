"""Commits to the store's tables, all through delta-rs (see engine.delta): immediate appends,
uniqueness claims, and the record buffer's batches, with their replay after a crash.

A batch (see store.buffer) is committed table by table, side by side, each commit carrying the
Delta transaction action ``(buffer id, batch number)``. A batch that some tables took before
another failed is retried only on the tables that did not take it; a dead process's batch is
replayed only to the tables whose transaction version shows it has not been committed. Spools
written by a release that marked its commits only in ``userMetadata`` are checked against the
tables' commit history instead.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Mapping, TypeVar

from sparktrack.errors import StoreError
from sparktrack.store import layout
from sparktrack.store.buffer import BUFFER_ID_PREFIX
from sparktrack.store.layout import Table

if TYPE_CHECKING:
    import pyarrow as pa

    from sparktrack.engine.delta import DeltaTables

T = TypeVar("T")
#: Tables of one batch committed side by side.
_PARALLEL_COMMITS = 4


class Commits:
    def __init__(self, tables: DeltaTables, root: str, spool_dir: str):
        self.tables = tables
        self._root = root
        self._spool_dir = spool_dir
        self._pool = ThreadPoolExecutor(max_workers=_PARALLEL_COMMITS, thread_name_prefix="sparktrack-commit")
        self._committed: dict[tuple[str, int], set[str]] = {}  # batch -> tables that took it

    def append(self, table: Table, rows: list[tuple], *, txn: tuple[str, int] | None = None) -> None:
        """Append rows (tuples in column order, times as epoch ms) to a table in one commit."""
        marker = _marker(txn) if txn else None
        try:
            self.tables.append(table.name, table.arrow(rows), txn=txn, metadata=marker)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - delta-rs and the filesystem: one clear error
            raise StoreError(f"Could not write {len(rows)} rows to {self.tables.uri(table.name)}: "
                             f"{cause(exc)}") from exc

    def claim(self, table: Table, row: tuple, key: Mapping[str, Any]) -> bool:
        """Append ``row`` unless a row with the same ``key`` values (column -> value) is in the
        table; race-free across processes (see DeltaTables.claim). True when it was appended."""
        import pyarrow.compute as pc

        def taken(rows: pa.Table) -> bool:
            match = None
            for column, value in key.items():
                equal = pc.equal(rows[column], value)
                match = equal if match is None else pc.and_(match, equal)
            return bool(rows.num_rows) and bool(pc.any(match).as_py())

        try:
            return self.tables.claim(table.name, table.arrow([row]), table.schema, taken)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"Could not write to {self.tables.uri(table.name)}: {cause(exc)}") from exc

    # -- the record buffer's batches --------------------------------------------------------
    def commit_batch(self, batch: dict[str, list[tuple]], txn: tuple[str, int]) -> None:
        """Commit one buffered batch. A retry of a batch that some tables took before another
        failed commits only to the others."""
        done = self._committed.setdefault(txn, set())
        self._commit(batch, txn, done)
        del self._committed[txn]

    def replay_batch(self, batch: dict[str, list[tuple]], txn: tuple[str, int]) -> None:
        """Commit a dead process's batch to the tables that have not taken it."""
        names = [*batch, layout.METRICS_LATEST.name] if batch.get(layout.METRICS.name) else list(batch)
        if txn[0].startswith(BUFFER_ID_PREFIX):
            done = {name for name in names if self.tables.committed(name, txn)}
        else:  # a spool of schema version 2 or older: its commits are marked in userMetadata only
            marker = _marker(txn)
            done = {name for name in names if marker in self.tables.commit_markers(name, f"sparktrack:{txn[0]}:")}
        self._commit(batch, txn, done)

    def _commit(self, batch: dict[str, list[tuple]], txn: tuple[str, int], done: set[str]) -> None:
        """Append each table's rows of a batch, skipping the tables in ``done`` and adding those
        that take it. Every table is waited for before a failure is raised, so ``done`` is exact."""
        records = sum(len(rows) for rows in batch.values())
        if batch.get(layout.METRICS.name):  # derived, so a replayed spool segment derives it too
            batch = {**batch, layout.METRICS_LATEST.name: layout.latest_points(batch[layout.METRICS.name])}
        todo = [t for t in layout.ALL_TABLES if batch.get(t.name) and t.name not in done]
        futures = [(t, self._submit(self.append, t, batch[t.name], txn=txn)) for t in todo]
        failed: list[tuple[str, BaseException]] = []
        for table, future in futures:
            try:
                future.result()
                done.add(table.name)
            except Exception as exc:  # noqa: BLE001 - reported below, with every failed table
                failed.append((table.name, exc))
        if failed:
            raise StoreError(
                f"Could not commit {records} records to the store at {self._root}: "
                f"{cause(failed[0][1])} (writing {', '.join(name for name, _ in failed)}). They stay "
                f"spooled under {self._spool_dir} and are committed on the next try or the next time "
                "the store is opened."
            ) from failed[0][1]

    def _submit(self, action: Callable[..., T], *args: object, **kwargs: object) -> Future:
        """Run ``action`` on the pool; in the calling thread once the pool is shut down, as it is
        at interpreter exit before the atexit hook that commits what is left."""
        try:
            return self._pool.submit(action, *args, **kwargs)
        except RuntimeError:
            future: Future = Future()
            try:
                future.set_result(action(*args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
                future.set_exception(exc)
            return future

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def cause(exc: BaseException) -> str:
    """What went wrong, in one line: the innermost cause delta-rs or the OS reports."""
    while exc.__cause__ is not None and not isinstance(exc, StoreError):
        exc = exc.__cause__
    text = str(exc).strip()
    if isinstance(exc, StoreError) and ": " in text:
        text = text.split(": ", 1)[1]  # "Could not write N rows to <table>: <cause>"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:  # the OS error delta-rs wraps, e.g. "No space left on device (os error 28)"
        if "os error" in line or "Errno" in line:
            return line
    return lines[0] if lines else type(exc).__name__


def _marker(txn: tuple[str, int]) -> str:
    return f"sparktrack:{txn[0]}:{txn[1]}"
