"""Serialises Delta commits to a store on local disk.

Delta's commit protocol on ``file:`` relies on a rename that is not guarded against a concurrent
writer of the same version, so two JVMs committing at once can silently lose a commit. Every commit
to a table of a local store therefore holds an exclusive ``fcntl`` lock on
``<root>/_locks/<table>.lock`` (one lock per table: commits to different tables never conflict).
HDFS, ADLS and GCS commit atomically and need no lock; S3 with several drivers needs Delta's
``S3DynamoDBLogStore``.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from typing import Iterator


class CommitLock:
    def __init__(self, local_root: str | None, name: str):
        self._path = os.path.join(local_root, "_locks", f"{name}.lock") if local_root else None
        self._mutex = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock across threads and processes; re-entrant within a thread."""
        with self._mutex:
            if self._path is not None and self._depth == 0:
                os.makedirs(os.path.dirname(self._path), exist_ok=True)
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._fd is not None and self._depth == 0:
                    os.close(self._fd)  # closing the descriptor releases the flock
                    self._fd = None
