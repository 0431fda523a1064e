"""The store's tables and views in Spark SQL: ``sparktrack.runs``, ``sparktrack.metrics``,
``sparktrack.model_lineage``... in the database ``sparktrack`` (setting ``database``).

Spark only reads the store's tables (delta-rs writes them). ``register_views(spark)`` makes them
visible in a session; ``sparktrack.sql(...)`` does so on its first call. The views fold the
append-only tables by the rules the Python folds use (``tracking.run_rows``,
``tracking.experiments``, ``registry.state``): the latest event wins.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sparktrack.engine.location import SQL_IDENTIFIER, delta_path_sql
from sparktrack.errors import StoreError
from sparktrack.store import layout

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparktrack.store.store import Store

# ``{t[name]}`` is replaced by a quoted reference to each table's path, ``{v[name]}`` by a view.
VIEWS: dict[str, str] = {
    # Latest state of each experiment, with its tags as a map.
    "experiments_current": """
        SELECT e.experiment_id, e.name, e.artifact_location,
               coalesce(l.lifecycle_stage, 'active') AS lifecycle_stage,
               e.creation_time,
               greatest(e.creation_time, coalesce(l.last_event, e.creation_time)) AS last_update_time,
               coalesce(g.tags, map()) AS tags
        FROM {t[experiments]} e
        LEFT JOIN (
            SELECT experiment_id, max_by(value, event_time) AS lifecycle_stage,
                   max(event_time) AS last_event
            FROM {t[experiment_events]} WHERE kind = 'lifecycle' GROUP BY experiment_id
        ) l USING (experiment_id)
        LEFT JOIN (
            SELECT experiment_id,
                   map_from_entries(collect_list(struct(key, value))) AS tags
            FROM (
                SELECT experiment_id, key, max_by(value, event_time) AS value
                FROM {t[experiment_events]} WHERE kind = 'tag' GROUP BY experiment_id, key
            ) WHERE value IS NOT NULL GROUP BY experiment_id
        ) g USING (experiment_id)
    """,
    "params_current": """
        SELECT run_id, key, min_by(value, struct(logged_at, seq)) AS value,
               min(logged_at) AS logged_at
        FROM {t[params]} GROUP BY run_id, key
    """,
    "tags_current": """
        SELECT run_id, key, latest.value AS value, logged_at FROM (
            SELECT run_id, key, max_by(struct(value, deleted), struct(logged_at, seq)) AS latest,
                   max(logged_at) AS logged_at
            FROM {t[tags]} GROUP BY run_id, key
        ) WHERE NOT latest.deleted
    """,
    # Each run's latest point of each metric: the greatest (step, timestamp, value).
    "latest_metrics": """
        SELECT run_id, key, latest.value AS value, latest.step AS step, latest.timestamp AS timestamp
        FROM (
            SELECT run_id, key,
                   max_by(struct(value, step, timestamp), struct(step, timestamp, value)) AS latest
            FROM {t[metrics_latest]} GROUP BY run_id, key
        )
    """,
    # A run's attributes and state, without its params, tags and metrics.
    "run_state": """
        SELECT r.run_id, r.experiment_id, r.run_name, r.user_id,
               coalesce(s.status, 'RUNNING') AS status,
               r.start_time, s.end_time,
               coalesce(s.lifecycle_stage, 'active') AS lifecycle_stage,
               r.artifact_uri, r.parent_run_id, r.spark_app_id
        FROM {t[runs]} r
        LEFT JOIN (
            SELECT run_id,
                   max_by(status, struct(event_time, seq)) FILTER (WHERE status IS NOT NULL) AS status,
                   max_by(end_time, struct(event_time, seq)) FILTER (WHERE status IS NOT NULL) AS end_time,
                   max_by(lifecycle_stage, struct(event_time, seq))
                       FILTER (WHERE lifecycle_stage IS NOT NULL) AS lifecycle_stage
            FROM {t[run_events]} GROUP BY run_id
        ) s USING (run_id)
    """,
    # One row per run: its latest state, params, tags and latest metrics as maps.
    "runs_current": """
        SELECT r.*,
               coalesce(m.metrics, map()) AS metrics,
               coalesce(p.params, map()) AS params,
               coalesce(g.tags, map()) AS tags
        FROM {v[run_state]} r
        LEFT JOIN (
            SELECT run_id, map_from_entries(collect_list(struct(key, value))) AS metrics
            FROM {v[latest_metrics]} GROUP BY run_id
        ) m USING (run_id)
        LEFT JOIN (
            SELECT run_id, map_from_entries(collect_list(struct(key, value))) AS params
            FROM {v[params_current]} GROUP BY run_id
        ) p USING (run_id)
        LEFT JOIN (
            SELECT run_id, map_from_entries(collect_list(struct(key, value))) AS tags
            FROM {v[tags_current]} GROUP BY run_id
        ) g USING (run_id)
    """,
    # One row per scored record of each answered request (status 200): the record's position in
    # its request, its values as a map of column name to JSON text, and its prediction as JSON
    # text. Every request format the server takes is read: dataframe_split (CSV requests are
    # logged in that form), dataframe_records, and instances/inputs as records or as columns.
    "inference_records": """
    SELECT request_id, client_request_id, endpoint, timestamp, date, model_name, model_version,
           route, sampling_fraction, pos AS record_index, record,
           element_at(predictions, pos + 1) AS prediction
    FROM (
        SELECT *, from_json(response, 'struct<predictions: array<string>>').predictions AS predictions,
               CASE
                 WHEN split_form IS NOT NULL THEN
                   transform(split_form.data, r -> map_from_arrays(split_form.columns, r))
                 WHEN records_form IS NOT NULL THEN records_form
                 WHEN columns_form IS NOT NULL THEN
                   transform(sequence(0, size(element_at(map_values(columns_form), 1)) - 1),
                             i -> map_from_arrays(map_keys(columns_form),
                                                  transform(map_values(columns_form), c -> c[i])))
               END AS records
        FROM (
            SELECT *,
                   from_json(get_json_object(request, '$.dataframe_split'),
                             'struct<columns: array<string>, data: array<array<string>>>') AS split_form,
                   from_json(coalesce(get_json_object(request, '$.dataframe_records'),
                                      get_json_object(request, '$.instances'),
                                      get_json_object(request, '$.inputs')),
                             'array<map<string, string>>') AS records_form,
                   from_json(coalesce(get_json_object(request, '$.instances'),
                                      get_json_object(request, '$.inputs')),
                             'map<string, array<string>>') AS columns_form
            FROM {t[inference_log]}
            WHERE status_code = 200
        )
    ) LATERAL VIEW posexplode(records) AS pos, record
""",
}

_LATEST = "max_by({col}, struct(event_time, seq))"


def _current_entries(set_action: str, delete_action: str, group: str) -> str:
    """(group..., key, value) of keys whose latest event is ``set_action`` (not deleted)."""
    return f"""
        SELECT {group}, key, latest.value AS value FROM (
            SELECT {group}, key, max_by(struct(value, action), struct(event_time, seq)) AS latest
            FROM {{t[registry_events]}}
            WHERE action IN ('{set_action}', '{delete_action}') GROUP BY {group}, key
        ) WHERE latest.action = '{set_action}'
    """


VIEWS["registered_models_current"] = f"""
    SELECT m.model_id, coalesce(e.renamed_to, m.name) AS name, m.creation_time,
           greatest(m.creation_time, coalesce(e.last_event, m.creation_time)) AS last_updated_time,
           e.description, coalesce(e.deleted, false) AS deleted,
           coalesce(g.entries, map()) AS tags,
           coalesce(a.aliases, map()) AS aliases, m.user_id
    FROM (SELECT * FROM {{t[registered_models]}} WHERE renamed_from IS NULL) m
    LEFT JOIN (
        SELECT model_id, max(event_time) AS last_event,
               {_LATEST.format(col="value")} FILTER (WHERE action = 'rename_model') AS renamed_to,
               {_LATEST.format(col="value")} FILTER (WHERE action = 'set_model_description') AS description,
               {_LATEST.format(col="action = 'delete_model'")}
                   FILTER (WHERE action IN ('delete_model', 'restore_model')) AS deleted
        FROM {{t[registry_events]}} GROUP BY model_id
    ) e USING (model_id)
    LEFT JOIN (
        SELECT model_id, map_from_entries(collect_list(struct(key, value))) AS entries
        FROM ({_current_entries("set_model_tag", "delete_model_tag", "model_id")}) GROUP BY model_id
    ) g USING (model_id)
    LEFT JOIN (
        SELECT model_id, map_from_entries(collect_list(struct(key, CAST(value AS BIGINT)))) AS aliases
        FROM ({_current_entries("set_alias", "delete_alias", "model_id")}) GROUP BY model_id
    ) a USING (model_id)
"""

VIEWS["model_versions_current"] = f"""
    SELECT r.name, v.version, v.model_id, v.source, v.run_id, v.creation_time,
           greatest(v.creation_time, coalesce(e.last_event, v.creation_time)) AS last_updated_time,
           coalesce(e.stage, 'None') AS current_stage, e.description,
           coalesce(e.deleted, false) AS deleted, 'READY' AS status,
           coalesce(g.entries, map()) AS tags,
           coalesce(al.aliases, array()) AS aliases, v.user_id
    FROM {{t[model_versions]}} v
    JOIN {{v[registered_models_current]}} r USING (model_id)
    LEFT JOIN (
        SELECT model_id, version, max(event_time) AS last_event,
               {_LATEST.format(col="value")} FILTER (WHERE action = 'transition_stage') AS stage,
               {_LATEST.format(col="value")} FILTER (WHERE action = 'set_version_description') AS description,
               {_LATEST.format(col="action = 'delete_version'")}
                   FILTER (WHERE action IN ('delete_version', 'restore_version')) AS deleted
        FROM {{t[registry_events]}} WHERE version IS NOT NULL GROUP BY model_id, version
    ) e USING (model_id, version)
    LEFT JOIN (
        SELECT model_id, version, map_from_entries(collect_list(struct(key, value))) AS entries
        FROM ({_current_entries("set_version_tag", "delete_version_tag", "model_id, version")})
        GROUP BY model_id, version
    ) g USING (model_id, version)
    LEFT JOIN (
        SELECT model_id, CAST(value AS BIGINT) AS version, sort_array(collect_list(key)) AS aliases
        FROM ({_current_entries("set_alias", "delete_alias", "model_id")}) GROUP BY model_id, value
    ) al USING (model_id, version)
"""

# The feature tables each run's models looked their features up in (inputs logged by
# FeatureEngineeringClient.log_model with context 'feature_lookup'), at the version trained on.
VIEWS["run_feature_tables"] = """
    SELECT DISTINCT run_id, name AS feature_table, source AS location, delta_version,
           from_json(schema_json, 'struct<fields: array<struct<name: string>>>').fields.name AS columns
    FROM {t[inputs]} WHERE context = 'feature_lookup'
"""

VIEWS["feature_lineage"] = """
    SELECT mv.name AS model_name, mv.version AS model_version, mv.aliases, mv.run_id,
           f.feature_table, f.location, f.delta_version, f.columns
    FROM {v[model_versions_current]} mv
    JOIN {v[run_feature_tables]} f USING (run_id)
"""

VIEWS["model_lineage"] = """
    SELECT mv.name, mv.version, mv.aliases, mv.current_stage, mv.run_id, mv.source,
           r.experiment_id, r.run_name, r.status AS run_status,
           r.tags['sparktrack.source.git.commit'] AS git_commit,
           r.tags['sparktrack.source.name'] AS source_name,
           r.params, r.metrics, coalesce(i.inputs, array()) AS inputs,
           coalesce(f.features, array()) AS features
    FROM {v[model_versions_current]} mv
    LEFT JOIN {v[runs_current]} r USING (run_id)
    LEFT JOIN (
        SELECT run_id,
               collect_list(struct(name, source_type, source, delta_version, context)) AS inputs
        FROM {t[inputs]} GROUP BY run_id
    ) i USING (run_id)
    LEFT JOIN (
        SELECT run_id, collect_list(struct(feature_table, location, delta_version, columns)) AS features
        FROM {v[run_feature_tables]} GROUP BY run_id
    ) f USING (run_id)
"""

def _latest_events(table: str, key: str, gone: str) -> str:
    """Each ``key``'s latest event (``e``) of an event log whose every row holds the whole state,
    and when it was created; keys whose latest event is ``gone`` left out."""
    return f"""(
        SELECT {key}, max_by(struct(*), struct(event_time, seq)) AS e,
               max(event_time) FILTER (WHERE action = 'create') AS created
        FROM {{t[{table}]}} GROUP BY {key}
    ) WHERE e.action != '{gone}'"""


# Each feature table's latest recorded state (see features.store): not dropped.
VIEWS["feature_tables_current"] = f"""
    SELECT e.name, e.location, from_json(e.primary_keys, 'array<string>') AS primary_keys,
           e.timeseries_column,
           from_json(e.features_json, 'array<struct<name: string, type: string>>') AS features,
           e.description, from_json(e.tags_json, 'map<string, string>') AS tags, e.delta_version,
           created AS creation_time, e.event_time AS last_updated_time, e.user_id
    FROM {_latest_events("feature_table_events", "name", "drop")}
"""

# Each monitor's latest recorded state (see monitoring.store): not deleted.
VIEWS["monitors_current"] = f"""
    SELECT e.table_name, get_json_object(e.config_json, '$.profile_type') AS profile_type,
           from_json(get_json_object(e.config_json, '$.granularities'), 'array<string>') AS granularities,
           get_json_object(e.config_json, '$.baseline') AS baseline,
           get_json_object(e.config_json, '$.profile_table') AS profile_table,
           get_json_object(e.config_json, '$.drift_table') AS drift_table,
           get_json_object(e.config_json, '$.alerts_table') AS alerts_table,
           e.table_version AS last_refreshed_version, e.config_json, e.state_json,
           created AS creation_time, e.event_time AS last_updated_time, e.user_id
    FROM {_latest_events("monitor_events", "table_name", "delete")}
"""

#: The names users see in the ``sparktrack`` database: view name -> (kind, source).
CATALOG_NAMES: dict[str, tuple[str, str]] = {
    "experiments": ("view", "experiments_current"),
    "runs": ("view", "runs_current"),
    "params": ("view", "params_current"),
    "tags": ("view", "tags_current"),
    "latest_metrics": ("view", "latest_metrics"),
    "metrics": ("table", "metrics"),
    "inputs": ("table", "inputs"),
    "run_events": ("table", "run_events"),
    "experiment_events": ("table", "experiment_events"),
    "params_log": ("table", "params"),
    "tags_log": ("table", "tags"),
    "runs_log": ("table", "runs"),
    "experiments_log": ("table", "experiments"),
    "registered_models": ("view", "registered_models_current"),
    "model_versions": ("view", "model_versions_current"),
    "model_lineage": ("view", "model_lineage"),
    "registry_audit": ("table", "registry_events"),
    "inference_log": ("table", "inference_log"),
    "inference_records": ("view", "inference_records"),
    "feature_tables": ("view", "feature_tables_current"),
    "feature_table_events": ("table", "feature_table_events"),
    "feature_lineage": ("view", "feature_lineage"),
    "monitors": ("view", "monitors_current"),
    "monitor_events": ("table", "monitor_events"),
}


_registered: set[tuple[int, str, str]] = set()
_registered_lock = threading.Lock()


def view_sql(store: Store, name: str) -> str:
    """A view's SQL, reading the store's tables by path, with the views it builds on inlined."""
    quoted = {t.name: delta_path_sql(store.table_uri(t, for_spark=True)) for t in layout.ALL_TABLES}
    inner = {v: f"({view_sql(store, v)})" for v in VIEWS if "{v[" + v + "]}" in VIEWS[name]}
    return VIEWS[name].format(t=quoted, v=inner)


def register_views(spark: SparkSession, store: Store, database: str) -> str:
    """Create (or replace) the store's views in ``database`` of ``spark``'s catalog, once per
    session, store and database. Returns the database."""
    from concurrent.futures import ThreadPoolExecutor

    if not SQL_IDENTIFIER.match(database):
        raise StoreError(f"Database name {database!r} is not a plain SQL identifier; use letters, "
                         "digits and underscores (SPARKTRACK_DATABASE).")
    key = (id(spark._jsparkSession), store.root, database)
    with _registered_lock:
        if key in _registered:
            return database
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")

        def create(item: tuple[str, tuple[str, str]]) -> None:
            name, (kind, source) = item
            if kind == "table":
                body = f"SELECT * FROM {delta_path_sql(store.table_uri(source, for_spark=True))}"
            else:
                body = view_sql(store, source)
            spark.sql(f"CREATE OR REPLACE VIEW {database}.{name} AS {body}")

        # Side by side: each statement resolves its tables' Delta logs, mostly waiting on I/O.
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="sparktrack-views") as pool:
            list(pool.map(create, CATALOG_NAMES.items()))
        _registered.add(key)
    store.on_close(lambda: _forget(spark, store, key))
    return database


def _forget(spark: SparkSession, store: Store, key: tuple[int, str, str]) -> None:
    """Let Delta drop its cached logs and snapshots of the store's tables (about 20 MB of driver
    heap per store, kept for the session otherwise)."""
    with _registered_lock:
        _registered.discard(key)
    if spark.sparkContext._jsc is None:  # the session was stopped first: nothing cached
        return
    jvm = spark._jvm
    delta_log = getattr(getattr(jvm.org.apache.spark.sql.delta, "DeltaLog$"), "MODULE$")
    for table in layout.ALL_TABLES:
        delta_log.invalidateCache(spark._jsparkSession, jvm.org.apache.hadoop.fs.Path(store.table_uri(table, True)))
