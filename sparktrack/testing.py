"""Helpers for testing code that logs to sparktrack (and for sparktrack's own tests)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from sparktrack.store.store import close_stores
from sparktrack.tracking import fluent

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparktrack.client import SparkTrackClient


@contextmanager
def fresh_store(spark: SparkSession | None = None, root: str | None = None,
                spool_dir: str | None = None) -> Iterator[SparkTrackClient]:
    """Point the fluent API (and clients created without a store) at a new, empty store (a temp
    dir unless ``root`` is given), with its own spool directory (a temp dir unless ``spool_dir``
    is given), and ``spark`` as the session for what needs one.

    On exit, runs left open fail the block, buffered records are committed, and the fluent API
    goes back to its default store."""
    with tempfile.TemporaryDirectory(prefix="sparktrack-test-") as tmp:
        root = root or os.path.join(tmp, "store")
        old_spool = os.environ.get("SPARKTRACK_SPOOL_DIR")
        os.environ["SPARKTRACK_SPOOL_DIR"] = spool_dir or os.path.join(tmp, "spool")
        fluent.set_tracking_uri(root, spark)
        try:
            yield fluent.client()
            leaked = fluent.active_run()
            if leaked is not None:
                while fluent.active_run() is not None:
                    fluent.end_run()
                raise AssertionError(f"The test left run {leaked.info.run_id} open; end it.")
        finally:
            while fluent.active_run() is not None:
                fluent.end_run()
            close_stores()
            fluent.forget_clients()
            fluent.set_tracking_uri(None)
            if old_spool is None:
                os.environ.pop("SPARKTRACK_SPOOL_DIR", None)
            else:
                os.environ["SPARKTRACK_SPOOL_DIR"] = old_spool
