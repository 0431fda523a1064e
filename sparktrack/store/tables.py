"""The store's Delta tables: one canonical schema per table, and the SQL views over them.

Every table is append-only. "Current state" (a run's status, a tag's value) is the latest event,
computed by the views, so concurrent writers only ever blind-append and never conflict.
"""

from __future__ import annotations

from dataclasses import dataclass

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

#: Bumped when a table's schema or meaning changes; a store records the version that wrote it.
SCHEMA_VERSION = 1


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
INPUTS = Table(name="inputs", doc="Datasets a run logged as inputs.", schema=_schema(
    ("run_id", S, False), ("name", S, False), ("digest", S, False), ("source_type", S, False),
    ("source", S, False), ("delta_version", L, True), ("schema_json", S, True),
    ("context", S, True), ("logged_at", T, False),
))

ALL_TABLES = (
    STORE_META, EXPERIMENTS, EXPERIMENT_EVENTS, RUNS, RUN_EVENTS, PARAMS, TAGS, METRICS, INPUTS,
)
BY_NAME = {table.name: table for table in ALL_TABLES}

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
    "latest_metrics": """
        SELECT run_id, key, max_by(value, struct(step, timestamp)) AS value,
               max(step) AS step, max(timestamp) AS timestamp
        FROM {t[metrics]} GROUP BY run_id, key
    """,
    # One row per run: its latest state, params, tags and latest metrics as maps.
    "runs_current": """
        SELECT r.run_id, r.experiment_id, r.run_name, r.user_id,
               coalesce(s.status, 'RUNNING') AS status,
               r.start_time, s.end_time,
               coalesce(s.lifecycle_stage, 'active') AS lifecycle_stage,
               r.artifact_uri, r.parent_run_id, r.spark_app_id,
               coalesce(m.metrics, map()) AS metrics,
               coalesce(p.params, map()) AS params,
               coalesce(g.tags, map()) AS tags
        FROM {t[runs]} r
        LEFT JOIN (
            SELECT run_id,
                   max_by(status, struct(event_time, seq)) FILTER (WHERE status IS NOT NULL) AS status,
                   max_by(end_time, struct(event_time, seq)) FILTER (WHERE status IS NOT NULL) AS end_time,
                   max_by(lifecycle_stage, struct(event_time, seq))
                       FILTER (WHERE lifecycle_stage IS NOT NULL) AS lifecycle_stage
            FROM {t[run_events]} GROUP BY run_id
        ) s USING (run_id)
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
}
