"""The UI's monitoring and feature-table API, through the monitoring and feature clients, read
without a JVM (the store's records, and the output and feature tables' Delta logs by delta-rs):

    GET /api/monitors                          the monitors and what their last refresh saw
    GET /api/monitors/drift?table=T            a monitor's drift over time (whole table, first granularity)
    GET /api/feature-tables                    the feature tables
    GET /api/feature-tables/detail?name=N      one: keys, features and types, its Delta versions, the models trained on it
    GET /api/lineage/predictions?table=PATH    a prediction table's batches, each with its model version and run
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparktrack.ui.api import bad_request, handled

if TYPE_CHECKING:
    from starlette.requests import Request

    from sparktrack.client import SparkTrackClient


def routes(client: SparkTrackClient) -> list:
    from starlette.routing import Route

    return [Route("/api/monitors", handled(client, _monitors), methods=["GET"]),
            Route("/api/monitors/drift", handled(client, _drift), methods=["GET"]),
            Route("/api/feature-tables", handled(client, _feature_tables), methods=["GET"]),
            Route("/api/feature-tables/detail", handled(client, _feature_table), methods=["GET"]),
            Route("/api/lineage/predictions", handled(client, _predictions), methods=["GET"])]


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name, "").strip()
    if not value:
        raise bad_request(f"{name} is required, e.g. ?{name}=/data/predictions/churn.")
    return value


def _monitors(client: SparkTrackClient, request: Request) -> dict[str, Any]:
    from sparktrack.monitoring import MonitoringClient

    monitors = MonitoringClient(client)
    found = []
    for table in monitors.list_monitors():
        monitor = monitors.get_monitor(table)
        config = monitor.config
        found.append({"table": table, "profile_type": config.profile_type, "granularities": list(config.windowings),
                      "baseline": config.baseline or ("lineage" if config.lineage else None),
                      "columns": list(config.column_kinds), "alerts": [r.rule for r in config.alert_rules],
                      "last_refreshed_version": monitor.table_version, "profile_table": config.profile_table,
                      "drift_table": config.drift_table, "alerts_table": config.alerts_table})
    return {"monitors": found}


def _drift(client: SparkTrackClient, request: Request) -> dict[str, Any]:
    from sparktrack.monitoring import MonitoringClient

    table = _required(request, "table")
    return {"table": table, "rows": MonitoringClient(client).drift_history(table)}


def _feature_tables(client: SparkTrackClient, request: Request) -> dict[str, Any]:
    from sparktrack.features import FeatureEngineeringClient

    found = FeatureEngineeringClient(client=client).search_tables(filter_string=request.query_params.get("filter"))
    return {"feature_tables": [_table_json(t) for t in found]}


def _feature_table(client: SparkTrackClient, request: Request) -> dict[str, Any]:
    from sparktrack.features import FeatureEngineeringClient

    name = _required(request, "name")
    features = FeatureEngineeringClient(client=client)
    history = features.table_history(name=name)  # an unknown name is a 404 here
    table = next(t for t in features.search_tables(max_results=10_000) if t.name == name)
    return {"feature_table": _table_json(table), "versions": history, "trained_models": features.trained_on(name=name)}


def _predictions(client: SparkTrackClient, request: Request) -> dict[str, Any]:
    from sparktrack.scoring.lineage import batches

    table = _required(request, "table")
    return {"table": table, "batches": batches(table, client.store.location.storage_options)}


def _table_json(table: Any) -> dict[str, Any]:
    return {"name": table.name, "location": table.location, "primary_keys": list(table.primary_keys),
            "timeseries_column": table.timeseries_column, "description": table.description, "tags": table.tags,
            "delta_version": table.delta_version,
            "features": [{"name": n, "type": table.schema[n]} for n in table.features]}
