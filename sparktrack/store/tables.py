"""The store's Delta tables: one canonical schema per table, and the SQL views over them.

Every table is append-only. "Current state" (a run's status, a tag's value) is the latest event,
computed by the views, so concurrent writers only ever blind-append and never conflict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

if TYPE_CHECKING:
    import pyarrow as pa

#: Bumped when a table's schema or meaning changes; a store records the version that wrote it.
#: 2 added ``metrics_latest`` (a store at 1 is migrated when opened, see DeltaStore._bootstrap).
SCHEMA_VERSION = 2


def _schema(*fields: tuple[str, object, bool]) -> StructType:
    return StructType([StructField(name, kind, nullable) for name, kind, nullable in fields])


S, L, D, T, B, I = StringType(), LongType(), DoubleType(), TimestampType(), BooleanType(), IntegerType()


@dataclass(frozen=True, kw_only=True)
class Table:
    name: str
    schema: StructType
    doc: str


STORE_META = Table(name="store_meta", doc="One row per bootstrap or migration.", schema=_schema(
    ("schema_version", I, False), ("sparktrack_version", S, False), ("created_at", T, False),
))
EXPERIMENTS = Table(name="experiments", doc="One row per experiment, written once.", schema=_schema(
    ("experiment_id", S, False), ("name", S, False), ("artifact_location", S, False),
    ("creation_time", T, False),
))
EXPERIMENT_EVENTS = Table(
    name="experiment_events", doc="Lifecycle changes and tags of experiments.", schema=_schema(
        ("experiment_id", S, False), ("kind", S, False), ("key", S, True), ("value", S, True),
        ("event_time", T, False),
    ))
RUNS = Table(name="runs", doc="One row per run, written at start.", schema=_schema(
    ("run_id", S, False), ("experiment_id", S, False), ("run_name", S, True), ("user_id", S, True),
    ("start_time", T, False), ("artifact_uri", S, False), ("parent_run_id", S, True),
    ("spark_app_id", S, True),
))
RUN_EVENTS = Table(
    name="run_events", doc="Status and lifecycle changes of runs (latest wins).", schema=_schema(
        ("run_id", S, False), ("status", S, True), ("end_time", T, True),
        ("lifecycle_stage", S, True), ("event_time", T, False), ("seq", L, False),
    ))
PARAMS = Table(name="params", doc="Run params (the first value logged wins).", schema=_schema(
    ("run_id", S, False), ("key", S, False), ("value", S, False), ("logged_at", T, False),
    ("seq", L, False),
))
TAGS = Table(name="tags", doc="Run tag events; deleted marks a delete_tag.", schema=_schema(
    ("run_id", S, False), ("key", S, False), ("value", S, True), ("deleted", B, False),
    ("logged_at", T, False), ("seq", L, False),
))
METRICS = Table(name="metrics", doc="Full metric history, long format.", schema=_schema(
    ("run_id", S, False), ("key", S, False), ("value", D, False), ("step", L, False),
    ("timestamp", T, False),
))
METRICS_LATEST = Table(
    name="metrics_latest",
    doc="Per commit, the last point of each run's metric (as latest_metrics orders them): what "
        "latest_metrics and searches read instead of the full history.",
    schema=METRICS.schema,
)
INPUTS = Table(name="inputs", doc="Datasets a run logged as inputs.", schema=_schema(
    ("run_id", S, False), ("name", S, False), ("digest", S, False), ("source_type", S, False),
    ("source", S, False), ("delta_version", L, True), ("schema_json", S, True),
    ("context", S, True), ("logged_at", T, False),
))

REGISTERED_MODELS = Table(
    name="registered_models", doc="One row per registered model name ever used (MERGE on name).",
    schema=_schema(
        ("model_id", S, False), ("name", S, False), ("creation_time", T, False),
        ("user_id", S, True), ("renamed_from", S, True),
    ))
MODEL_VERSIONS = Table(
    name="model_versions", doc="One row per model version (MERGE on model_id, version).",
    schema=_schema(
        ("model_id", S, False), ("version", L, False), ("version_id", S, False),
        ("source", S, False), ("run_id", S, True), ("creation_time", T, False), ("user_id", S, True),
    ))
REGISTRY_EVENTS = Table(
    name="registry_events", doc="Every registry change: the audit log and the source of state.",
    schema=_schema(
        ("event_id", S, False), ("event_time", T, False), ("seq", L, False), ("user_id", S, True),
        ("model_id", S, False), ("name", S, False), ("version", L, True), ("action", S, False),
        ("key", S, True), ("value", S, True), ("before", S, True), ("after", S, True),
    ))

ALL_TABLES = (
    STORE_META, EXPERIMENTS, EXPERIMENT_EVENTS, RUNS, RUN_EVENTS, PARAMS, TAGS, METRICS,
    METRICS_LATEST, INPUTS, REGISTERED_MODELS, MODEL_VERSIONS, REGISTRY_EVENTS,
)

#: The tables with one or more rows per run, keyed by ``run_id``.
RUN_TABLES = (RUNS, RUN_EVENTS, PARAMS, TAGS, METRICS, METRICS_LATEST, INPUTS)

#: The column that says when each row was written, for reads "as of" a time.
TIME_COLUMNS = {
    "store_meta": "created_at", "experiments": "creation_time", "experiment_events": "event_time",
    "runs": "start_time", "run_events": "event_time", "params": "logged_at", "tags": "logged_at",
    "metrics": "timestamp", "metrics_latest": "timestamp", "inputs": "logged_at",
    "registered_models": "creation_time", "model_versions": "creation_time",
    "registry_events": "event_time",
}
BY_NAME = {table.name: table for table in ALL_TABLES}


def arrow_type(spark_type: object, time_unit: str = "us") -> pa.DataType:
    """The Arrow type of a column: as Spark's ``toArrow`` gives it, or with times in another unit
    (rows to write hold epoch milliseconds). Times are in UTC."""
    import pyarrow as pa

    return {
        StringType: pa.string(),
        LongType: pa.int64(),
        IntegerType: pa.int32(),
        DoubleType: pa.float64(),
        BooleanType: pa.bool_(),
        TimestampType: pa.timestamp(time_unit, tz="UTC"),
    }[type(spark_type)]


def arrow_schema(table: Table) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(f.name, arrow_type(f.dataType)) for f in table.schema.fields])


def latest_points(rows: list[tuple]) -> list[tuple]:
    """Of metric rows ``(run_id, key, value, step, timestamp)``, the latest of each run and key:
    the greatest ``(step, timestamp, value)``, NaN above every number as in Spark's ordering, so
    that these rows and the ``latest_metrics`` view agree."""
    latest: dict[tuple[str, str], tuple] = {}
    for row in rows:
        held = latest.get((row[0], row[1]))
        if held is None or _point_order(row) > _point_order(held):
            latest[row[0], row[1]] = row
    return list(latest.values())


def _point_order(row: tuple) -> tuple:
    value = row[2]
    return (row[3], row[4], True, 0.0) if math.isnan(value) else (row[3], row[4], False, value)


# --------------------------------------------------------------------------------------------------
# Views. ``{t[name]}`` is replaced by a quoted reference to each table's path.

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

VIEWS["model_lineage"] = """
    SELECT mv.name, mv.version, mv.aliases, mv.current_stage, mv.run_id, mv.source,
           r.experiment_id, r.run_name, r.status AS run_status,
           r.tags['sparktrack.source.git.commit'] AS git_commit,
           r.tags['sparktrack.source.name'] AS source_name,
           r.params, r.metrics, coalesce(i.inputs, array()) AS inputs
    FROM {v[model_versions_current]} mv
    LEFT JOIN {v[runs_current]} r USING (run_id)
    LEFT JOIN (
        SELECT run_id,
               collect_list(struct(name, source_type, source, delta_version, context)) AS inputs
        FROM {t[inputs]} GROUP BY run_id
    ) i USING (run_id)
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
}
