"""The process's default store and SparkSession: what ``set_tracking_uri`` sets, and what every
client created without a store follows (as ``MlflowClient()`` follows ``mlflow.set_tracking_uri``).

Process-wide, as MLflow's tracking URI is: a thread started later logs to the same store.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_lock = threading.Lock()
_store: str | None = None
_spark: SparkSession | None = None


def set_default(store: str | None, spark: SparkSession | None = None) -> None:
    """Use ``store`` (None: the ``store`` setting) and ``spark`` for clients created without them."""
    global _store, _spark
    with _lock:
        _store, _spark = store, spark


def store() -> str | None:
    """The default store root, or None for the ``store`` setting."""
    return _store


def spark() -> SparkSession | None:
    """The session given to ``set_tracking_uri``, if any."""
    return _spark
