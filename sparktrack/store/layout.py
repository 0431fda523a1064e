"""The store's layout: its tables, one canonical Arrow schema each, and how rows are built.

Every table is append-only. "Current state" (a run's status, a tag's value) is the latest event,
folded in Python (``tracking.run_rows``, ``tracking.experiments``, ``registry.state``) and in the
SQL views (``sparktrack.views``) by the same rules, so concurrent writers only ever append.

A store root holds ``tables/<name>`` (Delta tables), ``artifacts/`` (experiments' default
artifact roots) and nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import pyarrow as pa

#: Bumped when a table's schema or meaning changes; a store records the versions that opened it.
#: 2 added ``metrics_latest``. 3: the tables are written by delta-rs, and each buffered batch's
#: commit carries a Delta transaction action (app id = buffer id, version = batch number) that
#: replays check. 4 added ``inference_log`` (the requests serving endpoints answered). 5 added
#: ``feature_table_events`` (what each feature table was after each change). 6 added
#: ``monitor_events`` (each monitor's config and refresh state after each change). A store at 1 to
#: 5 is upgraded when opened (see store.bootstrap).
SCHEMA_VERSION = 6

STRING, LONG, INT, DOUBLE, BOOL, TIME, DATE = "string", "bigint", "int", "double", "boolean", "timestamp", "date"


@dataclass(frozen=True, kw_only=True)
class Table:
    name: str
    columns: tuple[tuple[str, str, bool], ...]  # (name, Spark SQL type, nullable)
    time_column: str  # when each row was written, for reads "as of" a time
    doc: str

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.columns)

    @cached_property
    def _defaults(self) -> dict[str, Any]:
        return {name: None for name, _, nullable in self.columns if nullable}

    def row(self, **values: Any) -> tuple:
        """A row of this table in column order, from its values by name (nullable columns may be
        left out). Times are epoch milliseconds."""
        merged = {**self._defaults, **values}
        if len(merged) != len(self.columns):
            unknown = sorted(set(values) - set(self.names))
            missing = sorted(set(self.names) - set(merged))
            raise TypeError(f"{self.name} row: unknown columns {unknown}, missing columns {missing}")
        return tuple(merged[name] for name in self.names)

    @cached_property
    def schema(self) -> pa.Schema:
        """The Arrow schema rows are read in: times as microseconds in UTC, as Delta stores them."""
        import pyarrow as pa

        return pa.schema([pa.field(name, arrow_type(kind), nullable) for name, kind, nullable in self.columns])

    def arrow(self, rows: Sequence[tuple]) -> pa.Table:
        """Rows (tuples in column order, times as epoch milliseconds, dates as days since the
        epoch) as an Arrow table in :attr:`schema`."""
        import pyarrow as pa

        columns = list(zip(*rows)) if rows else [[] for _ in self.columns]
        arrays = []
        for (name, kind, _), values in zip(self.columns, columns):
            if kind == TIME:
                arrays.append(pa.array(values, pa.timestamp("ms", tz="UTC")).cast(arrow_type(TIME)))
            elif kind == DATE:
                arrays.append(pa.array(values, pa.int32()).cast(pa.date32()))
            else:
                arrays.append(pa.array(values, arrow_type(kind)))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {STRING: pa.string(), LONG: pa.int64(), INT: pa.int32(), DOUBLE: pa.float64(),
            BOOL: pa.bool_(), TIME: pa.timestamp("us", tz="UTC"), DATE: pa.date32()}[kind]


def _table(name: str, time_column: str, doc: str, *columns: tuple[str, str, bool]) -> Table:
    return Table(name=name, columns=columns, time_column=time_column, doc=doc)


S, L, I, D, B, T, DT = STRING, LONG, INT, DOUBLE, BOOL, TIME, DATE

STORE_META = _table("store_meta", "created_at", "One row per bootstrap or upgrade.",
                    ("schema_version", I, False), ("sparktrack_version", S, False), ("created_at", T, False))
EXPERIMENTS = _table("experiments", "creation_time", "One row per experiment, claimed by name.",
                     ("experiment_id", S, False), ("name", S, False), ("artifact_location", S, False),
                     ("creation_time", T, False))
EXPERIMENT_EVENTS = _table("experiment_events", "event_time", "Lifecycle changes and tags of experiments.",
                           ("experiment_id", S, False), ("kind", S, False), ("key", S, True),
                           ("value", S, True), ("event_time", T, False))
RUNS = _table("runs", "start_time", "One row per run, written at start.",
              ("run_id", S, False), ("experiment_id", S, False), ("run_name", S, True), ("user_id", S, True),
              ("start_time", T, False), ("artifact_uri", S, False), ("parent_run_id", S, True),
              ("spark_app_id", S, True))
RUN_EVENTS = _table("run_events", "event_time", "Status and lifecycle changes of runs (latest wins).",
                    ("run_id", S, False), ("status", S, True), ("end_time", T, True),
                    ("lifecycle_stage", S, True), ("event_time", T, False), ("seq", L, False))
PARAMS = _table("params", "logged_at", "Run params (the first value logged wins).",
                ("run_id", S, False), ("key", S, False), ("value", S, False), ("logged_at", T, False),
                ("seq", L, False))
TAGS = _table("tags", "logged_at", "Run tag events; deleted marks a delete_tag.",
              ("run_id", S, False), ("key", S, False), ("value", S, True), ("deleted", B, False),
              ("logged_at", T, False), ("seq", L, False))
METRIC_COLUMNS = (("run_id", S, False), ("key", S, False), ("value", D, False), ("step", L, False),
                  ("timestamp", T, False))
METRICS = _table("metrics", "timestamp", "Full metric history, long format.", *METRIC_COLUMNS)
METRICS_LATEST = _table(
    "metrics_latest", "timestamp",
    "Per commit, the last point of each run's metric (as latest_metrics orders them): what "
    "latest_metrics and searches read instead of the full history.", *METRIC_COLUMNS)
INPUTS = _table("inputs", "logged_at", "Datasets a run logged as inputs.",
                ("run_id", S, False), ("name", S, False), ("digest", S, False), ("source_type", S, False),
                ("source", S, False), ("delta_version", L, True), ("schema_json", S, True),
                ("context", S, True), ("logged_at", T, False))
REGISTERED_MODELS = _table("registered_models", "creation_time",
                           "One row per registered model name ever used, claimed by name.",
                           ("model_id", S, False), ("name", S, False), ("creation_time", T, False),
                           ("user_id", S, True), ("renamed_from", S, True))
MODEL_VERSIONS = _table("model_versions", "creation_time",
                        "One row per model version, claimed by (model_id, version).",
                        ("model_id", S, False), ("version", L, False), ("version_id", S, False),
                        ("source", S, False), ("run_id", S, True), ("creation_time", T, False),
                        ("user_id", S, True))
REGISTRY_EVENTS = _table("registry_events", "event_time",
                         "Every registry change: the audit log and the source of state.",
                         ("event_id", S, False), ("event_time", T, False), ("seq", L, False),
                         ("user_id", S, True), ("model_id", S, False), ("name", S, False),
                         ("version", L, True), ("action", S, False), ("key", S, True), ("value", S, True),
                         ("before", S, True), ("after", S, True))
INFERENCE_LOG = _table("inference_log", "timestamp",
                       "One row per request a serving endpoint answered (or a sample of them).",
                       ("request_id", S, False), ("client_request_id", S, True), ("endpoint", S, False),
                       ("timestamp", T, False), ("date", DT, False), ("status_code", I, False),
                       ("execution_time_ms", L, False), ("model_name", S, True), ("model_version", L, True),
                       ("route", S, True), ("request", S, True), ("response", S, True),
                       ("sampling_fraction", D, False))
FEATURE_TABLE_EVENTS = _table(
    "feature_table_events", "event_time",
    "One row per change to a feature table (create, write, tag, drop), with the whole table as it "
    "was after the change: the latest row of a name is its current state.",
    ("name", S, False), ("location", S, False), ("action", S, False), ("primary_keys", S, False),
    ("timeseries_column", S, True), ("features_json", S, False), ("description", S, True),
    ("tags_json", S, False), ("delta_version", L, True), ("event_time", T, False), ("seq", L, False),
    ("user_id", S, True))
MONITOR_EVENTS = _table(
    "monitor_events", "event_time",
    "One row per change to a monitor (create, refresh, delete), with its whole config and refresh "
    "state after the change: the latest row of a monitored table is its monitor.",
    ("table_name", S, False), ("action", S, False), ("config_json", S, False), ("state_json", S, False),
    ("table_version", L, True), ("event_time", T, False), ("seq", L, False), ("user_id", S, True))

ALL_TABLES = (
    STORE_META, EXPERIMENTS, EXPERIMENT_EVENTS, RUNS, RUN_EVENTS, PARAMS, TAGS, METRICS,
    METRICS_LATEST, INPUTS, REGISTERED_MODELS, MODEL_VERSIONS, REGISTRY_EVENTS, INFERENCE_LOG,
    FEATURE_TABLE_EVENTS, MONITOR_EVENTS,
)
#: The tables with one or more rows per run, keyed by ``run_id``.
RUN_TABLES = (RUNS, RUN_EVENTS, PARAMS, TAGS, METRICS, METRICS_LATEST, INPUTS)
BY_NAME = {table.name: table for table in ALL_TABLES}


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
