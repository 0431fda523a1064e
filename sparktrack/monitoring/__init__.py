"""Monitoring: profile, drift and model quality tables over prediction, inference and feature
tables, in the shape of Databricks' Lakehouse Monitoring.

    from sparktrack import monitoring

    monitoring.create_monitor("/data/predictions/churn", profile_type="inference", timestamp_col="ts",
                              granularities=["1 day"], label_col="churned", baseline="/data/train/churn")
    monitoring.refresh_monitor("/data/predictions/churn")   # incremental: only the windows that changed
    spark.sql("SELECT * FROM delta.`/data/predictions/churn_drift_metrics`")

Each function is a thin wrapper over ``MonitoringClient`` on the store ``store`` (default: the
fluent API's) and the session ``spark`` (default: the one sparktrack resolves). The statistics
and their error bounds are in ``sparktrack.monitoring.statistics``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparktrack.monitoring.monitor import (Monitor, MonitorConfig, MonitoringClient, MonitorNotFoundError,
                                           RefreshResult)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["Monitor", "MonitorConfig", "MonitorNotFoundError", "MonitoringClient", "RefreshResult",
           "create_monitor", "delete_monitor", "get_monitor", "refresh_monitor", "update_monitor"]


def _client(spark: SparkSession | None, store: str | None) -> MonitoringClient:
    from sparktrack.client import SparkTrackClient
    from sparktrack.tracking import fluent

    fluent_client = fluent.client()
    same = store is None or store == fluent_client.store_root
    return MonitoringClient(fluent_client if same and spark is None else SparkTrackClient(store, spark))


def create_monitor(table: str, *, spark: SparkSession | None = None, store: str | None = None,
                   **arguments: Any) -> Monitor:
    """Record a monitor on ``table`` (a Delta path or catalog name): the arguments are
    ``MonitoringClient.create_monitor``'s, documented in the README's "Monitoring" section."""
    return _client(spark, store).create_monitor(table, **arguments)


def update_monitor(table: str, *, spark: SparkSession | None = None, store: str | None = None,
                   **arguments: Any) -> Monitor:
    """Replace the monitor's config; the next refresh recomputes every window."""
    return _client(spark, store).update_monitor(table, **arguments)


def refresh_monitor(table: str, *, spark: SparkSession | None = None, store: str | None = None) -> RefreshResult:
    return _client(spark, store).refresh_monitor(table)


def get_monitor(table: str, *, spark: SparkSession | None = None, store: str | None = None) -> Monitor:
    return _client(spark, store).get_monitor(table)


def delete_monitor(table: str, *, spark: SparkSession | None = None, store: str | None = None) -> None:
    _client(spark, store).delete_monitor(table)
