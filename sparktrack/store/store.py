"""``Store``: one store root in this process, opened once: its Delta tables (through delta-rs),
its reads, its commits, its record buffer and spool, and its artifact root. No Spark.

``open_store(root)`` returns the process's one ``Store`` per root, so every client of a root
shares one buffer (one spool, one background flusher). The domain stores (``tracking.store``,
``registry.store``) are built on it.

delta-rs's runtime does not survive ``fork``: a child forked after a store was opened cannot use
it (nor open another), and gets a ``StoreError`` saying so. Start worker processes with
multiprocessing's ``spawn`` (or ``forkserver``) start method, or before opening a store.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import logging
import os
import threading
from typing import Any, Callable, TypeVar

from sparktrack import settings
from sparktrack.engine.delta import FORKED, DeltaTables
from sparktrack.engine.location import Location, spark_uri
from sparktrack.errors import StoreError
from sparktrack.store import layout
from sparktrack.store.bootstrap import bootstrap
from sparktrack.store.buffer import RecordBuffer, replay_orphans
from sparktrack.store.commits import Commits
from sparktrack.store.layout import Table
from sparktrack.store.reads import Reads

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Store:
    """A store root opened in this process."""

    def __init__(self, root: str | None = None):
        self.location = Location.parse(settings.STORE.get(root), settings.STORAGE_OPTIONS.get())
        self.root = self.location.uri
        self.artifact_root = self.location.child("artifacts")
        self.tables = DeltaTables(self.location.child("tables"), self.location.storage_options,
                                  self.location.filesystem())
        self.spool_dir = os.path.join(settings.SPOOL_DIR.get(),
                                      hashlib.sha1(self.root.encode()).hexdigest()[:16])
        self.reads = Reads(self.tables)
        self.commits = Commits(self.tables, self.root, self.spool_dir)
        try:
            bootstrap(self.root, self.reads, self.commits, self.artifact_root)
            replayed = replay_orphans(self.spool_dir, self.commits.replay_batch)
        except StoreError:
            raise
        except OSError as exc:
            raise StoreError(f"Cannot open the store at {self.root}: {exc}") from exc
        if replayed:
            logger.warning("sparktrack: replayed %d spooled records into %s", replayed, self.root)
        self.buffer = RecordBuffer(self.commits.commit_batch, self.spool_dir,
                                   settings.FLUSH_INTERVAL.get(), settings.FLUSH_SIZE.get())
        self._pid = os.getpid()
        #: Orders events that share a millisecond (run events, params, tags, registry events).
        self.seq = itertools.count(1)
        self._on_close: list[Callable[[], None]] = []
        self._shared: dict[type, Any] = {}
        self._shared_lock = threading.Lock()

    def shared(self, kind: Callable[[Store], T]) -> T:
        """The one ``kind(self)`` of this store: the domain stores (tracking, registry) keep what
        they know of runs and experiments in memory, and every client of one store must see the
        same."""
        with self._shared_lock:
            if kind not in self._shared:
                self._shared[kind] = kind(self)
            return self._shared[kind]

    def table_uri(self, table: Table | str, for_spark: bool = False) -> str:
        """A table's URI; with ``for_spark``, as Spark's connectors spell it (``s3a://``)."""
        uri = self.tables.uri(table if isinstance(table, str) else table.name)
        return spark_uri(uri) if for_spark else uri

    def flush(self) -> None:
        self.buffer.flush()

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the store is closed (e.g. to let Spark forget its tables)."""
        self._on_close.append(callback)

    def close(self) -> None:
        """Commit what is buffered and let go of the tables' cached rows."""
        if os.getpid() != self._pid:
            return
        self.buffer.close()
        self.commits.close()
        self.reads.forget()
        for callback in self._on_close:
            callback()
        self._on_close.clear()


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()
_forked = False


def open_store(root: str | None = None) -> Store:
    """The process's one store for ``root`` (default: the ``store`` setting), opened on first use."""
    if _forked:
        raise StoreError(FORKED)
    uri = Location.parse(settings.STORE.get(root)).uri
    with _stores_lock:
        store = _stores.get(uri)
        if store is None:
            store = _stores[uri] = Store(uri)
            atexit.register(store.close)
        return store


def close_stores() -> None:
    """Commit every open store's buffered records and forget the stores (tests, notebooks)."""
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.close()


def _after_fork_in_child() -> None:
    """The child's copies of the stores are unusable: their buffers refuse records."""
    global _forked
    if _stores:
        _forked = True
        for store in _stores.values():
            store.buffer.disown(FORKED)


os.register_at_fork(after_in_child=_after_fork_in_child)

__all__ = ["FORKED", "Store", "close_stores", "layout", "open_store"]
